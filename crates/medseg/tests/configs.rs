//! Every committed experiment config parses and validates, resolves to the effective config
//! recorded for it, and bad ones name the key and the file.
//!
//! The record, `tests/fixtures/effective-configs.json`, holds each config's *effective config*
//! ([`ExperimentConfig::effective_json`]: the experiment with its model resolved, so moving
//! overrides into a preset or renaming a preset is no change) as a SHA-256 of its canonical JSON.
//! Regenerate it only on purpose, when a config's meaning changes:
//! `MEDSEG_RECORD=1 cargo test -p medseg --test configs -- --ignored record_effective_configs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use medseg::train::ExperimentConfig;
use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `configs/**/*.toml`, sorted.
fn committed_configs() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable folder") {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(&p, found);
            } else if p.extension().is_some_and(|e| e == "toml") {
                found.push(p);
            }
        }
    }
    let mut found = Vec::new();
    walk(&repo().join("configs"), &mut found);
    found.sort();
    found
}

/// `configs/...` of a committed config.
fn relative(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

fn effective_configs_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/effective-configs.json")
}

/// Each committed config's effective config as canonical JSON, by relative path.
fn effective_configs() -> BTreeMap<String, String> {
    committed_configs()
        .into_iter()
        .map(|path| {
            let cfg =
                ExperimentConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let json = cfg
                .effective_json()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (relative(&path), serde_json::to_string(&json).unwrap())
        })
        .collect()
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
#[ignore = "rewrites tests/fixtures/effective-configs.json: run on purpose only"]
fn record_effective_configs() {
    // Twice guarded, so that `--include-ignored` runs do not rewrite the record by the way.
    if std::env::var_os("MEDSEG_RECORD").is_none() {
        eprintln!(
            "set MEDSEG_RECORD=1 to rewrite {}",
            effective_configs_fixture().display()
        );
        return;
    }
    let record: BTreeMap<String, String> = effective_configs()
        .into_iter()
        .map(|(path, json)| (path, sha256(&json)))
        .collect();
    let text = serde_json::to_string_pretty(&record).unwrap() + "\n";
    std::fs::write(effective_configs_fixture(), text).unwrap();
}

#[test]
fn every_committed_config_resolves_to_its_recorded_effective_config() {
    let text = std::fs::read_to_string(effective_configs_fixture()).unwrap();
    let record: BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
    let actual = effective_configs();
    let mut problems = Vec::new();
    for (path, json) in &actual {
        match record.get(path) {
            None => problems.push(format!("{path}: not recorded; effective config:\n{json}")),
            Some(sha) if *sha != sha256(json) => {
                problems.push(format!("{path}: effective config changed; now:\n{json}"))
            }
            Some(_) => {}
        }
    }
    for path in record.keys().filter(|p| !actual.contains_key(*p)) {
        problems.push(format!("{path}: recorded but no longer in configs/"));
    }
    assert!(
        problems.is_empty(),
        "{}\n\n(if intended, regenerate the record: MEDSEG_RECORD=1 cargo test -p medseg \
         --test configs -- --ignored record_effective_configs)",
        problems.join("\n\n")
    );
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
        // datasets read through the two-folder layout (Kvasir-SEG) are named by their folder
        if dataset != "synthetic" && cfg.data.dataset != medseg::data::DatasetKind::Folder {
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

/// Writes `files` (name, text) into a temporary folder.
fn temp_configs(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn shipped_drive_config() -> PathBuf {
    repo().join("configs/drive/msa-u2net-plain-wide-long-a05-p96-r2.toml")
}

/// The text of a complete config (a committed one, resolved), to extend in the tests below.
fn resolved_base() -> String {
    ExperimentConfig::load(&repo().join("configs/drive/msa-u2net.toml"))
        .unwrap()
        .to_toml()
}

#[test]
fn extends_merges_tables_key_by_key_and_replaces_other_values() {
    let base = resolved_base();
    let dir = temp_configs(&[
        ("base.toml", &base),
        (
            "sub/child.toml",
            "extends = \"../base.toml\"\nname = \"child\"\n[train]\nepochs = 3\n\
             [data]\nsampling = { patches = { size = [96, 96] } }\n\
             [loss]\nbce = { kind = \"plain\" }\n",
        ),
        (
            "sub/grandchild.toml",
            "extends = \"child.toml\"\nname = \"grandchild\"\nseed = 9\n",
        ),
    ]);
    let parent = ExperimentConfig::load(&dir.path().join("base.toml")).unwrap();
    let cfg = ExperimentConfig::load(&dir.path().join("sub/grandchild.toml")).unwrap();
    assert_eq!((cfg.name.as_str(), cfg.seed), ("grandchild", 9));
    assert_eq!(cfg.train.epochs, 3);
    // the rest of [train] comes from the parent
    assert_eq!(cfg.train.batch_size, parent.train.batch_size);
    let json = cfg.effective_json().unwrap();
    // tables merge: the patch size changes, the foreground bias stays
    assert_eq!(
        json["data"]["sampling"]["patches"],
        serde_json::json!({ "size": [96, 96], "foreground_bias": 0.5 })
    );
    // another `kind` replaces the table whole (no focal alpha left over)
    assert_eq!(json["loss"]["bce"], serde_json::json!({ "kind": "plain" }));
    // the resolved config has no `extends`: a run folder's copy stands alone
    let text = cfg.to_toml();
    assert!(!text.contains("extends"), "{text}");
    let again = ExperimentConfig::from_toml(&text, Path::new("again.toml")).unwrap();
    assert_eq!(again.effective_json().unwrap(), json);
}

#[test]
fn set_overrides_dotted_keys_after_extends() {
    let sets: Vec<String> = [
        "seed=1",
        "data.split.seed = 7",
        "train.epochs=3",
        "data.sampling=whole",
        "train.batches_per_epoch=0",
        "model.preset=nested-u2net",
        "loss.side_weights=[0.5]",
    ]
    .map(String::from)
    .to_vec();
    let cfg = ExperimentConfig::load_with(&shipped_drive_config(), &sets).unwrap();
    let json = cfg.effective_json().unwrap();
    assert_eq!(cfg.seed, 1);
    assert_eq!(json["data"]["split"]["seed"], 7);
    assert_eq!(cfg.train.epochs, 3);
    // a value that is not TOML is a string
    assert_eq!(json["data"]["sampling"], "whole");
    assert_eq!(cfg.model.preset, "nested-u2net");
    assert_eq!(json["loss"]["side_weights"], serde_json::json!([0.5]));
}

#[test]
fn presets_and_aliases_resolve_like_the_overrides_they_replace() {
    // The shipped DRIVE network used to be `msa-u2net-plain` plus these overrides.
    let wide = ExperimentConfig::load(&shipped_drive_config()).unwrap();
    assert_eq!(wide.model.preset, "nested-u2net-wide");
    let stage =
        |h: usize, mid: usize, out: usize| format!("{{ height = {h}, mid = {mid}, out = {out} }}");
    let overrides = format!(
        "model.overrides={{ encoder = [{}, {}, {}, {{ height = 4, mid = 32, out = 64, dilated = true }}], decoder = [{}, {}, {}] }}",
        stage(5, 8, 16),
        stage(4, 12, 24),
        stage(3, 24, 48),
        stage(5, 8, 16),
        stage(4, 12, 24),
        stage(3, 24, 48)
    );
    let spelled = ExperimentConfig::load_with(
        &shipped_drive_config(),
        &["model.preset=msa-u2net-plain".to_string(), overrides],
    )
    .unwrap();
    assert_eq!(
        spelled.effective_json().unwrap(),
        wide.effective_json().unwrap()
    );
}

#[test]
fn bad_extends_and_set_keys_name_the_file_and_key() {
    let base = resolved_base();
    let dir = temp_configs(&[
        ("base.toml", &base),
        ("a.toml", "extends = \"b.toml\"\nname = \"a\"\n"),
        ("b.toml", "extends = \"a.toml\"\nname = \"b\"\n"),
        (
            "orphan.toml",
            "extends = \"no-such.toml\"\nname = \"orphan\"\n",
        ),
        (
            "typo.toml",
            "extends = \"base.toml\"\nname = \"typo\"\n[train]\nepochz = 3\n",
        ),
    ]);
    let err = |file: &str, sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let e = ExperimentConfig::load_with(&dir.path().join(file), &sets).unwrap_err();
        assert!(
            matches!(
                e,
                medseg::Error::InvalidConfig(_) | medseg::Error::MissingFile { .. }
            ),
            "{e:?}"
        );
        e.to_string()
    };
    let cycle = err("a.toml", &[]);
    assert!(
        cycle.contains("cycle") && cycle.contains("a.toml") && cycle.contains("b.toml"),
        "{cycle}"
    );
    let missing = err("orphan.toml", &[]);
    assert!(
        missing.contains("orphan.toml") && missing.contains("no-such.toml"),
        "{missing}"
    );
    let unknown = err("typo.toml", &[]);
    assert!(
        unknown.contains("train.epochz") && unknown.contains("typo.toml"),
        "{unknown}"
    );
    for bad in ["trian.epochs=3", "train.epochz=3"] {
        let set = err("base.toml", &[bad]);
        let key = bad.split('=').next().unwrap();
        assert!(set.contains(key) && set.contains("--set"), "{set}");
    }
    let not_table = err("base.toml", &["seed.value=1"]);
    assert!(not_table.contains("`seed`"), "{not_table}");
    let no_value = err("base.toml", &["train.epochs"]);
    assert!(no_value.contains("KEY=VALUE"), "{no_value}");
    let wrong_type = err("base.toml", &["train.epochs=many"]);
    assert!(wrong_type.contains("train.epochs"), "{wrong_type}");
    let overrides = err("base.toml", &["model.overrides.skip=\"plain\""]);
    assert!(overrides.contains("model.overrides.skip"), "{overrides}");
    // the top file of the command line is missing: MissingFile naming it
    let e = ExperimentConfig::load_with(&dir.path().join("none.toml"), &[]).unwrap_err();
    assert!(matches!(e, medseg::Error::MissingFile { .. }), "{e:?}");
}

/// Configs that exercise the enum variants and optional tables no committed config uses, so
/// that their keys must be documented too.
fn synthetic_variants() -> Vec<ExperimentConfig> {
    let base = repo().join("configs/drive/msa-u2net.toml");
    [
        &[
            "loss.bce={ kind = \"weighted\", pos_weight = 3.0 }",
            "schedule.decay={ kind = \"poly\", power = 0.9 }",
            "train.tiling.blend=\"linear\"",
            "train.tiling.mirror=true",
            "data.augment.elastic={ alpha = 8.0, sigma = 16.0 }",
            "data.preprocess.normalise={ fixed = { mean = [0.5], std = [0.25] } }",
            "model.overrides.unit={ kind = \"factorised\", kernels = [3, 5] }",
            "model.overrides.entry_unit={ kind = \"msac\", dilations = [1, 2] }",
        ][..],
        &[
            "schedule.decay={ kind = \"step\", every_epochs = 10, gamma = 0.5 }",
            "train.tiling.blend=\"constant\"",
            "data.fov=\"derive\"",
            "data.scale=\"reference\"",
            "model.preset=\"unet-pp-ds\"",
        ],
        &[
            "schedule.decay={ kind = \"constant\" }",
            "data.fov=\"full\"",
            "model.preset=\"u2netp\"",
            "model.overrides.node=\"pair\"",
        ],
    ]
    .iter()
    .map(|sets| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        ExperimentConfig::load_with(&base, &sets).unwrap_or_else(|e| panic!("{sets:?}: {e}"))
    })
    .collect()
}

/// docs/training.md is the config reference: every key path of every committed config (and of
/// the variants above) appears there, backticked, e.g. `` `train.tiling.overlap` ``.
#[test]
fn every_config_key_is_documented_in_training_md() {
    let doc = std::fs::read_to_string(repo().join("docs/training.md")).unwrap();
    let mut keys = std::collections::BTreeSet::new();
    let committed = committed_configs()
        .into_iter()
        .map(|p| ExperimentConfig::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
    for cfg in committed.chain(synthetic_variants()) {
        keys.extend(cfg.key_paths().unwrap());
    }
    for key in [
        "train.tiling.overlap",
        "model.overrides.encoder[].height",
        "data.sampling",
    ] {
        assert!(keys.contains(key), "{key} not among {keys:?}");
    }
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !doc.contains(&format!("`{k}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "config keys missing from docs/training.md (add a row for each):\n{}",
        missing
            .iter()
            .map(|k| format!("  `{k}`"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
