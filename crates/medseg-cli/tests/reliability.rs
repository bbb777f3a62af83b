//! Nothing lost (docs/reliability.md), through the binary: a run killed twice with SIGKILL and
//! resumed ends with the same weights file, byte for byte, as an uninterrupted one; damaged
//! checkpoints fall back to the newest intact one or exit 2 naming what was wrong; a full disk
//! (`RLIMIT_FSIZE`) stops a checkpoint or an output with a clear error and leaves the earlier
//! files intact; `predict --keep-going` and `--skip-existing` finish a batch.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

fn medseg() -> Command {
    let mut cmd = Command::cargo_bin("medseg").expect("binary builds");
    // One thread: the same floating-point sums in every run, so weights compare bit for bit.
    cmd.env("MEDSEG_THREADS", "1");
    cmd
}

fn medseg_std() -> StdCommand {
    let mut cmd = StdCommand::new(assert_cmd::cargo::cargo_bin("medseg"));
    cmd.env("MEDSEG_THREADS", "1");
    cmd
}

/// A tiny experiment: MSA-U2Net-tiny, 32-px patches, 3 batches of 2 per epoch, validated
/// every epoch on two 48-px images.
fn tiny_config(epochs: usize) -> String {
    format!(
        r#"
name = "tiny"
seed = 5
[model]
preset = "msa-u2net-tiny"
[data]
dataset = "drive"
split = {{ scheme = "official", val_fraction = 0.34, seed = 5 }}
sampling = {{ patches = {{ size = [32, 32], foreground_bias = 0.5 }} }}
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

    fn config(&self, epochs: usize) -> PathBuf {
        let p = self.path(&format!("tiny-{epochs}.toml"));
        std::fs::write(&p, tiny_config(epochs)).unwrap();
        p
    }

    fn train_cmd(&self, config: &Path, out: &str) -> StdCommand {
        let mut cmd = medseg_std();
        cmd.args(["train", "--quiet", "--config"])
            .arg(config)
            .arg("--data-root")
            .arg(self.path("data"))
            .arg("--out")
            .arg(self.path(out));
        cmd
    }

    fn train(&self, config: &Path, out: &str) {
        let status = self.train_cmd(config, out).status().unwrap();
        assert!(status.success(), "training {out} failed");
    }
}

fn resume(run: &Path) -> assert_cmd::assert::Assert {
    medseg()
        .args(["train", "--quiet", "--resume"])
        .arg(run)
        .assert()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The folder `checkpoint/last.json` names, if it can be read.
fn last_checkpoint(run: &Path) -> Option<String> {
    let text = std::fs::read_to_string(run.join("checkpoint/last.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["folder"].as_str().map(str::to_string)
}

/// Runs `cmd` until `until` holds, then kills it with SIGKILL.
fn kill_when(mut cmd: StdCommand, until: impl Fn() -> bool) {
    let mut child = cmd.stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while !until() && start.elapsed() < Duration::from_secs(300) {
        if child.try_wait().unwrap().is_some() {
            panic!("the process ended before it could be killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
}

/// No temporary file of an atomic write is left under `dir` (by a run that ended normally).
fn no_temporaries(dir: &Path) -> bool {
    walk(dir).iter().all(|p| {
        let name = p.file_name().unwrap().to_string_lossy();
        !(name.starts_with('.') && name.ends_with(".tmp"))
    })
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn two_kills_and_resumes_end_bit_identical() {
    let f = Fixture::new();
    let cfg = f.config(3);
    f.train(&cfg, "full");
    let run = f.path("killed");
    // Killed once after the first checkpoint, once after the second; resumed each time.
    kill_when(f.train_cmd(&cfg, "killed"), || {
        last_checkpoint(&run).is_some()
    });
    let first = last_checkpoint(&run).unwrap();
    let mut cmd = medseg_std();
    cmd.args(["train", "--quiet", "--resume"]).arg(&run);
    kill_when(cmd, || last_checkpoint(&run).is_some_and(|c| c != first));
    resume(&run).success();
    for file in ["model_final.safetensors", "model_best.safetensors"] {
        assert!(
            read(&run.join(file)) == read(&f.path("full").join(file)),
            "{file} differs from the uninterrupted run's"
        );
    }
    assert!(no_temporaries(&run));
}

#[test]
fn damaged_checkpoints_fall_back_or_exit_2() {
    let f = Fixture::new();
    let cfg = f.config(2);
    f.train(&cfg, "run");
    let run = f.path("run");
    let want = read(&run.join("model_final.safetensors"));
    let ck = run.join("checkpoint");
    let snapshot = f.path("checkpoint-after-2");
    copy_dir(&ck, &snapshot);
    // Each damage to the newest checkpoint (epoch 2) makes the resumed run fall back to
    // epoch 1 with a warning naming the fault, retrain epoch 2 and end where it ended.
    let truncate = |p: &Path| {
        let b = read(p);
        std::fs::write(p, &b[..b.len() / 2]).unwrap();
    };
    let garble = |p: &Path| {
        let mut b = read(p);
        let i = b.len() / 2;
        b[i] ^= 0xff;
        std::fs::write(p, b).unwrap();
    };
    type Damage<'a> = Box<dyn Fn() + 'a>;
    let cases: [(&str, Damage, &str); 4] = [
        (
            "truncated model",
            Box::new(|| truncate(&ck.join("epoch-0002/model.bpk"))),
            "model.bpk",
        ),
        (
            "garbled optimizer",
            Box::new(|| garble(&ck.join("epoch-0002/optim.bpk"))),
            "optim.bpk",
        ),
        (
            "garbled state",
            Box::new(|| std::fs::write(ck.join("epoch-0002/state.json"), "{\"epochs").unwrap()),
            "state.json",
        ),
        (
            "pointer to a deleted folder",
            Box::new(|| std::fs::remove_dir_all(ck.join("epoch-0002")).unwrap()),
            "does not exist",
        ),
    ];
    for (what, damage, named) in cases {
        std::fs::remove_dir_all(&ck).unwrap();
        copy_dir(&snapshot, &ck);
        damage();
        resume(&run)
            .success()
            .stderr(predicate::str::contains(
                "warning: damaged checkpoint passed over",
            ))
            .stderr(predicate::str::contains(named))
            .stderr(predicate::str::contains("after epoch 1"));
        assert!(
            read(&run.join("model_final.safetensors")) == want,
            "{what}: the resumed run ended elsewhere"
        );
    }
    // Nothing intact: exit 2 naming every fault.
    truncate(&ck.join("epoch-0002/model.bpk"));
    garble(&ck.join("epoch-0001/model.bpk"));
    resume(&run)
        .code(2)
        .stderr(predicate::str::contains("no intact checkpoint"))
        .stderr(predicate::str::contains("epoch-0002").and(predicate::str::contains("epoch-0001")));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `cmd` with a file-size limit of `bytes` (`RLIMIT_FSIZE`): writing past it fails with EFBIG,
/// as on a full disk; SIGXFSZ, which would kill the process instead, is ignored.
fn with_file_limit(mut cmd: StdCommand, bytes: u64) -> StdCommand {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

#[test]
fn a_full_disk_keeps_the_earlier_checkpoint_and_outputs() {
    let f = Fixture::new();
    let cfg = f.config(1);
    f.train(&cfg, "run");
    let run = f.path("run");
    let model_before = read(&run.join("checkpoint/epoch-0001/model.bpk"));
    let limit = 32 * 1024;
    assert!(
        model_before.len() as u64 > limit,
        "the checkpoint must exceed the limit"
    );
    // One more epoch, no validation: the checkpoint is the first large file written.
    let toml = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let toml: String = toml
        .lines()
        .map(|l| match l.trim() {
            "epochs = 1" => "epochs = 2\n".to_string(),
            l if l.starts_with("val_every =") => "val_every = 0\n".to_string(),
            _ => format!("{l}\n"),
        })
        .collect();
    assert!(
        toml.contains("\nepochs = 2\n") && toml.contains("\nval_every = 0\n"),
        "{toml}"
    );
    std::fs::write(run.join("config.toml"), toml).unwrap();
    let mut cmd = medseg_std();
    cmd.args(["train", "--quiet", "--resume"]).arg(&run);
    let out = with_file_limit(cmd, limit).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no space left") && stderr.contains("model.bpk"),
        "{stderr}"
    );
    assert_eq!(last_checkpoint(&run).as_deref(), Some("epoch-0001"));
    assert!(read(&run.join("checkpoint/epoch-0001/model.bpk")) == model_before);
    assert!(!run.join("checkpoint/epoch-0002").exists());
    assert!(no_temporaries(&run));
    // With room again, the run continues from the intact checkpoint.
    resume(&run)
        .success()
        .stderr(predicate::str::contains("done: 2 epochs"));

    // predict: the small image's outputs are written, the large one's overlay does not fit.
    let big = f.path("big.png");
    let noise = image::RgbImage::from_fn(300, 300, |x, y| {
        let v = (x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)).wrapping_mul(2_654_435_761);
        image::Rgb([(v >> 8) as u8, (v >> 16) as u8, (v >> 24) as u8])
    });
    noise.save(&big).unwrap();
    let small = f.path("data/test/images/01_test.tif");
    let mut cmd = medseg_std();
    cmd.args(["predict", "--weights"])
        .arg(run.join("model_final.safetensors"))
        .arg(&small)
        .arg(&big)
        .arg("--out")
        .arg(f.path("pred"));
    let out = with_file_limit(cmd, limit).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no space left") && stderr.contains("big_"),
        "{stderr}"
    );
    for kind in ["prob", "mask", "overlay"] {
        image::open(f.path(&format!("pred/01_test_{kind}.png"))).unwrap();
    }
    assert!(!f.path("pred/big_overlay.png").exists());
    assert!(no_temporaries(&f.path("pred")));
}

#[test]
fn predict_keeps_going_and_skips_existing() {
    let f = Fixture::new();
    let cfg = f.config(1);
    f.train(&cfg, "run");
    let weights = f.path("run/model_final.safetensors");
    let inputs = f.path("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    for id in ["01", "02", "03"] {
        std::fs::copy(
            f.path(&format!("data/test/images/{id}_test.tif")),
            inputs.join(format!("{id}_good.tif")),
        )
        .unwrap();
    }
    let good = read(&inputs.join("01_good.tif"));
    std::fs::write(inputs.join("00_truncated.tif"), &good[..good.len() / 3]).unwrap();
    std::fs::write(
        inputs.join("02_garbage.png"),
        b"\x89PNG\r\n\x1a\nnot really",
    )
    .unwrap();
    std::fs::write(inputs.join("03_bomb.pgm"), b"P5\n10001 10000\n255\n").unwrap();
    let predict = |out: &str, extra: &[&str]| {
        let mut cmd = medseg();
        cmd.args(["predict", "--weights"])
            .arg(&weights)
            .arg(&inputs)
            .arg("--out")
            .arg(f.path(out))
            .args(extra);
        cmd.assert()
    };
    // Without --keep-going the first bad file stops the batch.
    predict("stop", &[])
        .code(2)
        .stderr(predicate::str::contains("00_truncated.tif"));
    assert!(!f.path("stop/01_good_mask.png").exists());

    predict("all", &["--keep-going"])
        .code(1)
        .stderr(predicate::str::contains("3 of 6 input(s) failed"));
    let failures: serde_json::Value =
        serde_json::from_slice(&read(&f.path("all/failures.json"))).unwrap();
    let failed: Vec<(String, String)> = failures
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let file = v["file"].as_str().unwrap();
            let name = Path::new(file).file_name().unwrap().to_string_lossy();
            (name.to_string(), v["reason"].as_str().unwrap().to_string())
        })
        .collect();
    let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["00_truncated.tif", "02_garbage.png", "03_bomb.pgm"]);
    assert!(failed[2].1.contains("megapixels"), "{failed:?}");
    for id in ["01", "02", "03"] {
        image::open(f.path(&format!("all/{id}_good_overlay.png"))).unwrap();
    }

    // A batch killed midway continues with --skip-existing: the outputs already there are
    // complete, the rest are written.
    for kind in ["prob", "mask", "overlay"] {
        std::fs::remove_file(f.path(&format!("all/03_good_{kind}.png"))).unwrap();
    }
    predict("all", &["--keep-going", "--skip-existing"])
        .code(1)
        .stdout(predicate::str::contains("2 skipped"))
        .stdout(predicate::str::contains("03_good.tif"))
        .stdout(predicate::str::contains("01_good.tif").not());
    image::open(f.path("all/03_good_overlay.png")).unwrap();

    // No failure: exit 0 and an empty list.
    for bad in ["00_truncated.tif", "02_garbage.png", "03_bomb.pgm"] {
        std::fs::remove_file(inputs.join(bad)).unwrap();
    }
    predict("clean", &["--keep-going"]).success();
    assert_eq!(
        String::from_utf8(read(&f.path("clean/failures.json")))
            .unwrap()
            .trim(),
        "[]"
    );
}

#[test]
fn a_killed_batch_leaves_only_complete_outputs() {
    let f = Fixture::new();
    let cfg = f.config(1);
    f.train(&cfg, "run");
    let inputs = f.path("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    let src = read(&f.path("data/test/images/01_test.tif"));
    for i in 0..12 {
        std::fs::write(inputs.join(format!("{i:02}.tif")), &src).unwrap();
    }
    let out = f.path("out");
    let predict = || {
        let mut cmd = medseg_std();
        cmd.args(["predict", "--weights"])
            .arg(f.path("run/model_final.safetensors"))
            .arg(&inputs)
            .arg("--out")
            .arg(&out);
        cmd
    };
    kill_when(predict(), || out.join("00_overlay.png").exists());
    let pngs = |dir: &Path| -> Vec<PathBuf> {
        walk(dir)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "png"))
            .collect()
    };
    let written = pngs(&out);
    assert!(
        !written.is_empty() && written.len() < 36,
        "{}",
        written.len()
    );
    for p in &written {
        image::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
    let mut cmd = predict();
    let done = cmd.arg("--skip-existing").output().unwrap();
    assert!(done.status.success());
    assert_eq!(pngs(&out).len(), 36);
    assert!(String::from_utf8_lossy(&done.stdout).contains("skipped"));
}
