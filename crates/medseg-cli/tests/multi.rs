//! Several structures per image through the binary, with the same commands as a binary
//! dataset: train a tiny multi-label model on a JSRT-layout tree, evaluate it per class, predict
//! label maps and overlays; and a label map with a value outside the classes exits 2 naming the
//! file and the value.

use std::path::Path;

use assert_cmd::Command;
use image::{GrayImage, Luma};
use predicates::prelude::*;

fn medseg() -> Command {
    Command::cargo_bin("medseg").expect("binary builds")
}

fn save(img: GrayImage, path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::DynamicImage::ImageLuma8(img);
    if path.extension().is_some_and(|e| e == "gif") {
        image::DynamicImage::ImageRgb8(img.to_rgb8())
            .save(path)
            .unwrap();
    } else {
        img.save(path).unwrap();
    }
}

/// `n` JSRT-layout cases: 16x16 images, 32x32 masks (halved on loading).
fn jsrt_tree(root: &Path, n: u32) {
    let rect = |x0: u32, x1: u32, y0: u32, y1: u32| {
        GrayImage::from_fn(32, 32, move |x, y| {
            Luma([if x >= x0 && x < x1 && y >= y0 && y < y1 {
                255
            } else {
                0
            }])
        })
    };
    for i in 0..n {
        let id = format!("JPCLN{i:03}");
        save(
            GrayImage::from_fn(16, 16, |x, _| Luma([(x * 15) as u8])),
            &root.join(format!("images/{id}.png")),
        );
        for (s, m) in [
            ("heart", rect(12, 20, 10 + i % 3, 24)),
            ("left_lung", rect(2, 12, 4, 28)),
            ("right_lung", rect(20, 30, 4, 28)),
            ("left_clavicle", rect(2, 12, 4, 8)),
            ("right_clavicle", rect(20, 30, 4, 8)),
        ] {
            save(m, &root.join(format!("masks/{s}/{id}.gif")));
        }
    }
}

const CONFIG: &str = r#"
name = "jsrt-tiny"
seed = 5
[model]
preset = "msa-u2net-tiny"
[data]
dataset = "jsrt"
split = { scheme = { random = { train = 0.5, val = 0.25, test = 0.25 } }, seed = 1 }
fov = "full"
sampling = "whole"
preprocess = { channel = "grey", gamma = 1.0, normalise = "per-image" }
[data.labels]
mode = "multi-label"
classes = [
  { name = "lungs", masks = ["left_lung", "right_lung"] },
  { name = "heart" },
  { name = "clavicles", masks = ["left_clavicle", "right_clavicle"] },
]
[loss]
w_dice = 1.0
[optim]
kind = "adamw"
lr = 2e-3
[train]
epochs = 1
batch_size = 2
batches_per_epoch = 0
tiling = { tile = [16, 16], overlap = 0.0, batch = 4, blend = "constant" }
"#;

#[test]
fn multi_label_train_eval_predict() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    jsrt_tree(&data, 8);
    let cfg = t.path().join("jsrt.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let run = t.path().join("run");
    medseg()
        .args(["train", "--quiet", "--config"])
        .arg(&cfg)
        .arg("--data-root")
        .arg(&data)
        .arg("--out")
        .arg(&run)
        .assert()
        .success();
    let out = t.path().join("eval");
    medseg()
        .args(["eval", "--run"])
        .arg(&run)
        .arg("--root")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("mean over classes"))
        .stdout(predicate::str::contains("clavicles"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(report["mode"], "multi-label");
    assert_eq!(report["classes"].as_array().unwrap().len(), 3);
    assert!(
        report["classes"][0]["mean"]
            .get("mean_contour_distance")
            .is_some()
    );
    for f in ["labels", "overlay", "prob/heart", "error/lungs"] {
        assert!(
            std::fs::read_dir(out.join(f)).unwrap().count() >= 1,
            "{f} written"
        );
    }
    let pred = t.path().join("pred");
    medseg()
        .args(["predict", "--weights"])
        .arg(run.join("model_best.safetensors"))
        .arg(data.join("images"))
        .arg("--out")
        .arg(&pred)
        .assert()
        .success()
        .stdout(predicate::str::contains("3 classes"));
    let label_map = image::open(pred.join("labels/JPCLN000.png")).unwrap();
    assert_eq!((label_map.width(), label_map.height()), (16, 16));
    let overlay = image::open(pred.join("overlay/JPCLN000.png")).unwrap();
    assert!(overlay.height() > 16, "overlay carries a legend");
    assert!(pred.join("prob/clavicles/JPCLN000.png").is_file());
}

#[test]
fn stray_label_value_exits_2_naming_file_and_value() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    for i in 0..4u32 {
        save(
            GrayImage::from_pixel(8, 8, Luma([80])),
            &data.join(format!("images/c{i}.png")),
        );
        let bad = i == 0;
        save(
            GrayImage::from_fn(8, 8, |x, _| {
                Luma([if bad && x == 7 { 5 } else { (x / 4) as u8 }])
            }),
            &data.join(format!("masks/c{i}.png")),
        );
    }
    let cfg = t.path().join("mc.toml");
    std::fs::write(
        &cfg,
        CONFIG
            .replace("dataset = \"jsrt\"", "dataset = \"folder\"")
            .replace(
                "split = { scheme = { random = { train = 0.5, val = 0.25, test = 0.25 } }, seed = 1 }",
                "split = { scheme = { random = { train = 1.0, val = 0.0, test = 0.0 } }, seed = 1 }",
            )
            .replace("mode = \"multi-label\"", "mode = \"multi-class\"")
            .replace(
                "{ name = \"lungs\", masks = [\"left_lung\", \"right_lung\"] },",
                "{ name = \"background\" },",
            )
            .replace(
                "{ name = \"clavicles\", masks = [\"left_clavicle\", \"right_clavicle\"] },",
                "",
            ),
    )
    .unwrap();
    medseg()
        .args(["train", "--quiet", "--config"])
        .arg(&cfg)
        .arg("--data-root")
        .arg(&data)
        .arg("--out")
        .arg(t.path().join("run"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("c0.png"))
        .stderr(predicate::str::contains("value 5"));
}
