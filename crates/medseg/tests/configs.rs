//! Every committed experiment config parses and validates, and bad ones name the key.

use std::path::{Path, PathBuf};

use medseg::train::ExperimentConfig;

fn committed_configs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut found = Vec::new();
    for dataset in std::fs::read_dir(&root).expect("configs/ exists") {
        let dir = dataset.unwrap().path();
        if dir.is_dir() {
            for f in std::fs::read_dir(&dir).unwrap() {
                let p = f.unwrap().path();
                if p.extension().is_some_and(|e| e == "toml") {
                    found.push(p);
                }
            }
        }
    }
    found.sort();
    found
}

#[test]
fn committed_configs_are_valid() {
    let configs = committed_configs();
    assert!(configs.len() >= 4, "found {configs:?}");
    for path in configs {
        let cfg =
            ExperimentConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let dataset = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        // configs/<dataset>/ or configs/<dataset>-<study>/ (e.g. drive-ablation)
        let dataset = dataset.split('-').next().unwrap();
        if dataset != "synthetic" {
            assert_eq!(cfg.data.dataset.to_string(), dataset, "{}", path.display());
        }
        cfg.model_config()
            .and_then(|m| m.validate())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // the resolved config round-trips through TOML
        let again = ExperimentConfig::from_toml(&cfg.to_toml(), &path).unwrap();
        assert_eq!(again.to_toml(), cfg.to_toml());
    }
}

#[test]
fn model_overrides_merge_onto_the_preset() {
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/drive/msa-u2net.toml"),
    )
    .unwrap();
    let text = base.replace(
        "preset = \"msa-u2net\"",
        "preset = \"msa-u2net\"\noverrides = { skips = \"plain\", unit = { kind = \"plain\" }, heads = [] }",
    );
    let cfg = ExperimentConfig::from_toml(&text, Path::new("ablation.toml")).unwrap();
    let json = serde_json::to_value(cfg.model_config().unwrap()).unwrap();
    assert_eq!(json["skips"], "plain");
    assert_eq!(json["unit"]["kind"], "plain");
    assert_eq!(
        json["in_channels"], 1,
        "in_channels follows the green-channel preprocessing"
    );
    let bad = base.replace(
        "preset = \"msa-u2net\"",
        "preset = \"msa-u2net\"\noverrides = { skip = \"plain\" }",
    );
    let err = ExperimentConfig::from_toml(&bad, Path::new("typo.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.overrides.skip") && err.contains("typo.toml"),
        "{err}"
    );
}

#[test]
fn train_replicas_default_to_one_and_must_fit_the_batch() {
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/drive/msa-u2net.toml"),
    )
    .unwrap();
    let cfg = ExperimentConfig::from_toml(&base, Path::new("base.toml")).unwrap();
    assert_eq!(cfg.train.replicas, 1);
    let two = base.replace("[train]\n", "[train]\nreplicas = 2\n");
    let cfg = ExperimentConfig::from_toml(&two, Path::new("two.toml")).unwrap();
    assert_eq!(cfg.train.replicas, 2);
    for bad in ["0", "9"] {
        let text = base.replace("[train]\n", &format!("[train]\nreplicas = {bad}\n"));
        let err = ExperimentConfig::from_toml(&text, Path::new("replicas.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("train.replicas") && err.contains("replicas.toml"),
            "{err}"
        );
    }
}
