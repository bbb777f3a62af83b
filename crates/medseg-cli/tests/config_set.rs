//! Configs through the binary: `extends`, `--set` on `train` and `info --config`, the presets'
//! names and aliases, and the resolved config a run folder keeps.

use assert_cmd::Command;
use predicates::prelude::*;

fn medseg() -> Command {
    Command::cargo_bin("medseg").expect("binary builds")
}

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn info_json(args: &[&str]) -> serde_json::Value {
    let out = medseg()
        .arg("info")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The shipped DRIVE config names its network by preset; `--set` swaps the preset.
#[test]
fn info_counts_the_shipped_drive_network_and_takes_set() {
    let shipped = format!("{REPO}/configs/drive/msa-u2net-plain-wide-long-a05-p96-r2.toml");
    let small = ["--input", "1x64x64"];
    let wide = info_json(&[&["--config", shipped.as_str()][..], &small].concat());
    assert_eq!(wide["trainable_params"], 467_389);
    let plain = info_json(
        &[
            &[
                "--config",
                shipped.as_str(),
                "--set",
                "model.preset=nested-u2net",
            ][..],
            &small,
        ]
        .concat(),
    );
    let preset = info_json(&["--model", "nested-u2net", "--input", "1x64x64"]);
    assert_eq!(plain["trainable_params"], preset["trainable_params"]);
    // the former name still works
    let alias = info_json(&["--model", "msa-u2net-plain", "--input", "1x64x64"]);
    assert_eq!(alias["config"], preset["config"]);
    // a key that does not exist: exit 2, naming it
    medseg()
        .args(["info", "--config", &shipped, "--set", "trian.epochs=3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("trian").and(predicate::str::contains("--set")));
    // an unknown preset lists the valid ones, new names included
    medseg()
        .args(["info", "--model", "nested"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nested-u2net-wide"));
}

/// A tiny experiment: MSA-U2Net-tiny, 32-px patches, 3 batches of 2 per epoch.
const TINY: &str = r#"
name = "tiny"
seed = 3
[model]
preset = "msa-u2net-tiny"
[data]
dataset = "drive"
split = { scheme = "official", val_fraction = 0.34, seed = 3 }
sampling = { patches = { size = [32, 32], foreground_bias = 0.5 } }
augment = { flip = true, rot90 = true, p_affine = 0.0, rotate_deg = 0.0, scale = 0.0, brightness = 0.0, contrast = 0.0, gamma = 0.0, p_elastic = 0.0 }
[optim]
kind = "adamw"
lr = 2e-3
[train]
epochs = 4
batch_size = 2
batches_per_epoch = 3
tiling = { tile = [48, 48], overlap = 0.25, batch = 4, blend = "constant" }
"#;

/// `train` follows `extends`, applies `--set`, and writes the resolved config (no `extends`) into
/// the run folder; a bad `--set` key stops it before any work, naming the key.
#[test]
fn train_resolves_extends_and_set_into_the_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    medseg()
        .args([
            "synth", "--kind", "vessels", "--count", "6", "--size", "48", "--out",
        ])
        .arg(&data)
        .assert()
        .success();
    std::fs::write(dir.path().join("base.toml"), TINY).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let child = dir.path().join("sub/child.toml");
    std::fs::write(
        &child,
        "extends = \"../base.toml\"\nname = \"child\"\n[train]\nbatch_size = 4\n",
    )
    .unwrap();
    let run = dir.path().join("run");
    let train = |sets: &[&str], out: &std::path::Path| {
        let mut cmd = medseg();
        cmd.args(["train", "--quiet", "--config"])
            .arg(&child)
            .arg("--data-root")
            .arg(&data)
            .arg("--out")
            .arg(out);
        for s in sets {
            cmd.args(["--set", s]);
        }
        cmd.assert()
    };
    train(&["train.epochs=1", "seed=5"], &run)
        .success()
        .stderr(predicate::str::contains("done: 1 epochs"));
    let saved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(!saved.contains("extends"), "{saved}");
    for line in [
        "name = \"child\"",
        "seed = 5",
        "epochs = 1",
        "batch_size = 4",
    ] {
        assert!(saved.contains(line), "{line} not in\n{saved}");
    }
    // The saved config stands alone: it trains again as it is.
    medseg()
        .args(["info", "--config"])
        .arg(run.join("config.toml"))
        .assert()
        .success();
    let bad = dir.path().join("bad");
    train(&["train.epochz=1"], &bad)
        .code(2)
        .stderr(predicate::str::contains("train.epochz"));
    assert!(!bad.exists(), "a bad key must stop before the run folder");
    // --set changes a config, so it does not go with --resume (which uses the run's own)
    medseg()
        .args(["train", "--resume"])
        .arg(&run)
        .args(["--set", "train.epochs=2"])
        .assert()
        .code(2);
}
