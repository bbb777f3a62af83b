//! End to end through the binary: synth, train, resume, eval, predict, score, info, configs
//! (`extends`, `--set`, preset names), and the bad-input paths (exit code 2 with a clear
//! message).

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

fn medseg() -> Command {
    Command::cargo_bin("medseg").expect("binary builds")
}

/// A tiny experiment: MSA-U2Net-tiny, 32-px patches, 3 batches of 2 per epoch.
fn tiny_config(epochs: usize) -> String {
    format!(
        r#"
name = "tiny"
seed = 3
[model]
preset = "msa-u2net-tiny"
[data]
dataset = "drive"
split = {{ scheme = "official", val_fraction = 0.34, seed = 3 }}
sampling = {{ patches = {{ size = [32, 32], foreground_bias = 0.5 }} }}
augment = {{ flip = true, rot90 = true, p_affine = 0.0, rotate_deg = 0.0, scale = 0.0, brightness = 0.0, contrast = 0.0, gamma = 0.0, p_elastic = 0.0 }}
[loss]
bce = {{ kind = "focal", alpha = 0.25, gamma = 2.0 }}
w_dice = 1.0
[optim]
kind = "adamw"
lr = 2e-3
[schedule]
warmup_epochs = 1
decay = {{ kind = "cosine", min_lr = 1e-4 }}
[train]
epochs = {epochs}
batch_size = 2
batches_per_epoch = 3
tiling = {{ tile = [48, 48], overlap = 0.25, batch = 4, blend = {{ gaussian = {{ sigma_scale = 0.125 }} }} }}
"#
    )
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        medseg()
            .args([
                "synth", "--kind", "vessels", "--count", "6", "--size", "48", "--out",
            ])
            .arg(dir.path().join("data"))
            .assert()
            .success();
        Fixture { dir }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn config(&self, name: &str, epochs: usize) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, tiny_config(epochs)).unwrap();
        p
    }
    fn train(&self, config: &Path, out: &str) -> assert_cmd::assert::Assert {
        medseg()
            .args(["train", "--quiet", "--config"])
            .arg(config)
            .arg("--data-root")
            .arg(self.path("data"))
            .arg("--out")
            .arg(self.path(out))
            .assert()
    }
}

fn csv_column(run: &Path, col: usize) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(col).unwrap().to_string())
        .collect()
}

#[test]
fn train_eval_predict_score() {
    let f = Fixture::new();
    let cfg = f.config("tiny.toml", 2);
    f.train(&cfg, "run")
        .success()
        .stderr(predicate::str::contains("done: 2 epochs"));
    let run = f.path("run");
    for file in [
        "config.toml",
        "metrics.csv",
        "curves.png",
        "model_best.safetensors",
        "model_final.safetensors",
        "checkpoint/last.json",
    ] {
        assert!(run.join(file).exists(), "{file} missing");
    }
    assert_eq!(csv_column(&run, 0), ["1", "2"]);
    // an existing run folder is never overwritten without --force
    f.train(&cfg, "run")
        .code(2)
        .stderr(predicate::str::contains("--force"));

    medseg()
        .args(["eval", "--run"])
        .arg(&run)
        .arg("--root")
        .arg(f.path("data"))
        .assert()
        .success()
        .stdout(predicate::str::contains("pooled"));
    let eval = run.join("eval-test");
    for file in [
        "metrics.json",
        "metrics.csv",
        "timing.csv",
        "roc.png",
        "pr.png",
    ] {
        assert!(eval.join(file).exists(), "eval/{file} missing");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(eval.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(report["images"].as_array().unwrap().len(), 3);
    let f1 = report["pooled"]["f1"].as_f64().unwrap();

    // the saved probability maps score the same with `medseg score`
    let out = medseg()
        .args(["score", "--pred"])
        .arg(eval.join("prob"))
        .arg("--truth")
        .arg(f.path("data/test/1st_manual"))
        .arg("--fov")
        .arg(f.path("data/test/mask"))
        .arg("--json")
        .arg(f.path("score.json"))
        .assert()
        .success();
    drop(out);
    let scored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.path("score.json")).unwrap()).unwrap();
    let f1_scored = scored["pooled"]["f1"].as_f64().unwrap();
    assert!(
        (f1 - f1_scored).abs() < 1e-3,
        "eval F1 {f1} vs score F1 {f1_scored}"
    );

    medseg()
        .args(["predict", "--weights"])
        .arg(run.join("model_best.safetensors"))
        .arg(f.path("data/test/images"))
        .arg("--out")
        .arg(f.path("pred"))
        .assert()
        .success()
        .stdout(predicate::str::contains("s per image"));
    let n = std::fs::read_dir(f.path("pred")).unwrap().count();
    assert_eq!(n, 9, "prob, mask and overlay for 3 images");

    // the deploy form: exported once, it predicts what the trained form predicts
    medseg()
        .args(["export", "--fuse", "--out"])
        .arg(f.path("fused.safetensors"))
        .arg(&run)
        .assert()
        .success()
        .stdout(predicate::str::contains("deploy form"));
    let meta = medseg::models::weights::read_weights_meta(&f.path("fused.safetensors")).unwrap();
    assert!(meta.fused);
    for (weights, flags, out) in [
        (f.path("fused.safetensors"), vec![], "pred-fused"),
        (
            run.join("model_best.safetensors"),
            vec!["--no-fuse"],
            "pred-unfused",
        ),
    ] {
        medseg()
            .args(["predict", "--weights"])
            .arg(weights)
            .args(flags)
            .arg(f.path("data/test/images"))
            .arg("--out")
            .arg(f.path(out))
            .assert()
            .success();
    }
    let mut files: Vec<_> = std::fs::read_dir(f.path("pred-fused"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with("_prob.png"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 3);
    for name in files {
        let a = image::open(f.path("pred-fused").join(&name))
            .unwrap()
            .into_luma16();
        let b = image::open(f.path("pred-unfused").join(&name))
            .unwrap()
            .into_luma16();
        let worst = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap();
        // 16-bit probabilities: 1e-4 in logits is well under 2 steps of 1/65535
        assert!(
            worst <= 2,
            "{name:?}: fused and unfused differ by {worst}/65535"
        );
    }
}

#[test]
fn cross_validation_eval_pools_every_fold() {
    let f = Fixture::new();
    let mut runs = Vec::new();
    for fold in 0..2 {
        let cfg = f.path(&format!("fold{fold}.toml"));
        let text = tiny_config(1).replace(
            r#"scheme = "official""#,
            &format!("scheme = {{ k-fold = {{ k = 2, fold = {fold} }} }}"),
        );
        std::fs::write(&cfg, text).unwrap();
        let name = format!("fold{fold}");
        f.train(&cfg, &name).success();
        runs.push(f.path(&name));
    }
    // each fold's model scores its own held-out half; one report holds every labelled image once
    medseg()
        .args(["eval", "--last", "--run"])
        .arg(&runs[0])
        .arg("--run")
        .arg(&runs[1])
        .arg("--out")
        .arg(f.path("cv"))
        .assert()
        .success()
        .stdout(predicate::str::contains("pooled"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.path("cv/metrics.json")).unwrap()).unwrap();
    let mut ids: Vec<&str> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "{ids:?}");
    // a fold given twice would score its images twice: refused, naming the image
    medseg()
        .args(["eval", "--run"])
        .arg(&runs[0])
        .arg("--run")
        .arg(&runs[0])
        .arg("--out")
        .arg(f.path("cv2"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("scored twice"));
    // several runs need an explicit output folder
    medseg()
        .args(["eval", "--run"])
        .arg(&runs[0])
        .arg("--run")
        .arg(&runs[1])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--out"));
}

#[test]
fn killed_run_resumes_to_the_same_schedule() {
    let f = Fixture::new();
    let cfg = f.config("tiny.toml", 4);
    f.train(&cfg, "full").success();

    // start the same run, kill it once a checkpoint exists, resume it
    let run = f.path("killed");
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("medseg"))
        .args(["train", "--quiet", "--config"])
        .arg(&cfg)
        .arg("--data-root")
        .arg(f.path("data"))
        .arg("--out")
        .arg(&run)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !run.join("checkpoint/last.json").exists() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    let _ = child.wait();
    let done_before = csv_column(&run, 0).len();
    assert!(
        (1..4).contains(&done_before),
        "killed after {done_before} epochs"
    );

    medseg()
        .args(["train", "--quiet", "--resume"])
        .arg(&run)
        .assert()
        .success();
    assert_eq!(csv_column(&run, 0), ["1", "2", "3", "4"]);
    // same learning-rate schedule as the uninterrupted run
    assert_eq!(csv_column(&run, 2), csv_column(&f.path("full"), 2));
}

#[test]
fn bad_inputs_exit_2_with_clear_messages() {
    let f = Fixture::new();
    // unknown key, named
    let bad = f.path("bad.toml");
    std::fs::write(
        &bad,
        tiny_config(1).replace("batch_size = 2", "batch_size = 2\nbatchsize = 3"),
    )
    .unwrap();
    f.train(&bad, "r1")
        .code(2)
        .stderr(predicate::str::contains("batchsize"));
    // unknown model preset, named with the valid ones
    std::fs::write(&bad, tiny_config(1).replace("msa-u2net-tiny", "unet3")).unwrap();
    f.train(&bad, "r2")
        .code(2)
        .stderr(predicate::str::contains("unet3").and(predicate::str::contains("msa-u2net")));
    // loss key typo inside a defaulted section
    std::fs::write(&bad, tiny_config(1).replace("w_dice = 1.0", "w_dise = 1.0")).unwrap();
    f.train(&bad, "r3")
        .code(2)
        .stderr(predicate::str::contains("w_dise"));
    // missing config file
    f.train(&f.path("absent.toml"), "r4")
        .code(2)
        .stderr(predicate::str::contains("absent.toml"));
    // missing data root
    let cfg = f.config("ok.toml", 1);
    medseg()
        .args(["train", "--config"])
        .arg(&cfg)
        .arg("--data-root")
        .arg(f.path("nowhere"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nowhere"));
    // a GPU backend that was not compiled in says how to rebuild
    if !cfg!(feature = "cuda") {
        medseg()
            .args(["train", "--device", "cuda", "--config"])
            .arg(&cfg)
            .arg("--data-root")
            .arg(f.path("data"))
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--features cuda"));
    }
    // unwritable output folder (a path under a regular file)
    std::fs::write(f.path("file"), "x").unwrap();
    f.train(&cfg, "file/run")
        .code(2)
        .stderr(predicate::str::contains("file/run"));
    // info: unknown model and malformed input shape
    medseg()
        .args(["info", "--model", "unet3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("msa-u2net"));
    medseg()
        .args(["info", "--model", "unet", "--input", "3x64"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("CxHxW"));
    // predict with a file that is not a weights file
    medseg()
        .args(["predict", "--weights"])
        .arg(f.path("file"))
        .arg(f.path("data/test/images"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("file"));
}

#[test]
fn diverging_run_stops_and_keeps_the_last_good_checkpoint() {
    let f = Fixture::new();
    let cfg = f.config("ok.toml", 2);
    f.train(&cfg, "run").success();
    let run = f.path("run");
    let before = std::fs::read(run.join("checkpoint/last.json")).unwrap();
    // continue the same run with an absurd learning rate: the loss overflows
    let text = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let text = text
        .replace("epochs = 2", "epochs = 4")
        .replace("lr = 0.002", "lr = 1e30");
    assert!(
        text.contains("lr = 1e30"),
        "config.toml format changed:\n{text}"
    );
    std::fs::write(run.join("config.toml"), text).unwrap();
    medseg()
        .args(["train", "--quiet", "--resume"])
        .arg(&run)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("NaN or infinite").and(predicate::str::contains("checkpoint")),
        );
    assert_eq!(
        std::fs::read(run.join("checkpoint/last.json")).unwrap(),
        before
    );
    assert!(run.join("model_best.safetensors").exists());
}

#[test]
fn info_reports_parameters_and_flops() {
    medseg()
        .args(["info", "--model", "u2netp", "--input", "3x64x64", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"trainable_params\": 1131181"));
}

/// `info --config` counts the config's network: its preset with its overrides, on the input
/// channels its preprocessing gives (here green channel: 1).
#[test]
fn info_counts_a_configs_network_with_its_overrides() {
    let json = |args: &[&str]| -> serde_json::Value {
        let out = medseg().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/drive/");
    let preset = json(&[
        "info",
        "--model",
        "msa-u2net-plain",
        "--input",
        "1x64x64",
        "--json",
    ]);
    // msa-u2net + `overrides = { unit = { kind = "plain" } }` is the msa-u2net-plain preset.
    let overridden = format!("{repo}msa-u2net-plain-units.toml");
    let same = json(&[
        "info",
        "--config",
        &overridden,
        "--input",
        "1x64x64",
        "--json",
    ]);
    assert_eq!(same["trainable_params"], preset["trainable_params"]);
    assert_eq!(same["macs"], preset["macs"]);
    assert_eq!(same["input"], serde_json::json!([1, 1, 64, 64]));
    // Twice the widths on the upper levels: more parameters than the preset.
    let wide = format!("{repo}msa-u2net-plain-wide.toml");
    let wide = json(&["info", "--config", &wide, "--input", "1x64x64", "--json"]);
    assert!(wide["trainable_params"].as_u64() > preset["trainable_params"].as_u64());
    // A channel count the config's preprocessing does not give, and a missing config.
    medseg()
        .args(["info", "--config", &overridden, "--input", "3x64x64"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("msa-u2net-plain-units.toml"));
    medseg()
        .args(["info", "--config", "no/such.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no/such.toml"));
}

#[test]
fn data_parallel_replicas_train_to_finite_losses() {
    let f = Fixture::new();
    let p = f.path("replicas.toml");
    std::fs::write(
        &p,
        tiny_config(1).replace("batch_size = 2", "batch_size = 2\nreplicas = 2"),
    )
    .unwrap();
    f.train(&p, "run")
        .success()
        .stderr(predicate::str::contains("done: 1 epochs"));
    let losses = csv_column(&f.path("run"), 1);
    assert_eq!(losses.len(), 1);
    let loss: f64 = losses[0].parse().unwrap();
    assert!(loss.is_finite() && loss > 0.0, "{loss}");
    let saved = std::fs::read_to_string(f.path("run").join("config.toml")).unwrap();
    assert!(saved.contains("replicas = 2"), "{saved}");
}

#[test]
fn bench_rejects_replicas_it_cannot_use() {
    // 0 replicas: refused by the argument parser, before any model is built
    medseg()
        .args(["bench", "--model", "msa-u2net-tiny", "--replicas", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--replicas").and(predicate::str::contains("at least 1")));
    // more replicas than patches in the batch
    medseg()
        .args([
            "bench",
            "--model",
            "msa-u2net-tiny",
            "--batch",
            "2",
            "--replicas",
            "3",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--replicas 3 is more than --batch 2",
        ));
}

// Configs through the binary: `extends`, `--set` on `train` and `info --config`, the presets'
// names and aliases, and the resolved config a run folder keeps.

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
    std::fs::write(dir.path().join("base.toml"), tiny_config(4)).unwrap();
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

/// Scale normalisation end to end: a trained run's weights carry the training images' FOV
/// diameter; `data check` reports it; `data resample` writes a doubled test set whose images
/// `eval --scale auto` brings back by 0.5 (timing.csv says so) while `--scale none` leaves them;
/// masks stay at the original size; bad factors exit 2.
#[test]
fn scale_reference_resample_and_auto_scaling() {
    let f = Fixture::new();
    let cfg = f.config("tiny.toml", 1);
    f.train(&cfg, "run").success();
    let weights = f.path("run/model_final.safetensors");
    let meta = medseg::models::weights::read_weights_meta(&weights).unwrap();
    let Some(medseg::infer::scale::ScaleReference::FovDiameter(reference)) = meta.scale_reference
    else {
        panic!("no FOV-diameter reference: {:?}", meta.scale_reference);
    };
    let check = medseg()
        .args(["data", "check", "--dataset", "drive", "--json", "--root"])
        .arg(f.path("data"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let median = report["fov_diameter"]["median"].as_f64().unwrap();
    assert!(
        (median - reference).abs() <= 2.0,
        "check median {median} vs the trained reference {reference}"
    );
    // the fingerprint measures the same FOV and the synthetic vessels' width
    let fp = medseg()
        .args([
            "data",
            "fingerprint",
            "--dataset",
            "drive",
            "--json",
            "--root",
        ])
        .arg(f.path("data"))
        .output()
        .unwrap();
    assert!(
        fp.status.success(),
        "{}",
        String::from_utf8_lossy(&fp.stderr)
    );
    let fp: serde_json::Value = serde_json::from_slice(&fp.stdout).unwrap();
    assert_eq!(fp["cases"], 6);
    let fp_all = fp["fov_diameter"]["median"].as_f64().unwrap();
    assert!((fp_all - median).abs() <= 2.0, "{fp_all} vs {median}");
    let width = fp["structure_width"]["median"].as_f64().unwrap();
    assert!((1.0..8.0).contains(&width), "vessel width {width}");
    assert!(fp["equivalent_diameter"]["median"].as_f64().unwrap() > width);

    medseg()
        .args([
            "data",
            "resample",
            "--dataset",
            "drive",
            "--factor",
            "2",
            "--root",
        ])
        .arg(f.path("data"))
        .arg("--out")
        .arg(f.path("x2"))
        .assert()
        .success()
        .stdout(predicate::str::contains("3 case(s)"));
    let img = image::open(f.path("x2/imagesTs/01.png")).unwrap();
    assert_eq!((img.width(), img.height()), (96, 96));

    let eval = |mode: &str| {
        let out = f.path(&format!("eval-{mode}"));
        medseg()
            .args([
                "eval",
                "--dataset",
                "folder",
                "--split",
                "test",
                "--weights",
            ])
            .arg(&weights)
            .arg("--root")
            .arg(f.path("x2"))
            .args(["--scale", mode, "--out"])
            .arg(&out)
            .assert()
            .success();
        let timing = std::fs::read_to_string(out.join("timing.csv")).unwrap();
        let mut lines = timing.lines();
        assert_eq!(lines.next(), Some("id,seconds,scale,fov_diameter"));
        let scales: Vec<f64> = lines
            .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
            .collect();
        let mask = image::open(out.join("mask/01.png")).unwrap();
        assert_eq!((mask.width(), mask.height()), (96, 96), "{mode}");
        scales
    };
    for s in eval("auto") {
        assert!((s - 0.5).abs() < 0.06, "auto factor {s}");
    }
    assert!(eval("none").iter().all(|&s| s == 1.0));

    for bad in ["0", "-2", "nan", "huge"] {
        medseg()
            .args(["predict", "--weights"])
            .arg(&weights)
            .arg(f.path("x2/imagesTs/01.png"))
            .arg(format!("--scale={bad}"))
            .arg("--out")
            .arg(f.path("p"))
            .assert()
            .code(2)
            .stderr(predicate::str::contains("scale"));
    }
    // a factor that would make a huge image is refused with the reason
    medseg()
        .args(["predict", "--weights"])
        .arg(&weights)
        .arg(f.path("x2/imagesTs/01.png"))
        .args(["--scale", "200", "--out"])
        .arg(f.path("p"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("megapixels"));
}
