//! Several structures per image through the binary, with the same commands as a binary
//! dataset: train a tiny multi-label model on a JSRT-layout tree, evaluate it per class, predict
//! label maps and overlays, score the maps per class and serve the model; and a label map with a
//! value outside the classes exits 2 naming the file and the value.

use std::path::Path;

use assert_cmd::Command;
use image::{GrayImage, Luma};
use predicates::prelude::*;

mod common;

fn medseg() -> Command {
    Command::cargo_bin("medseg").expect("binary builds")
}

fn save(img: GrayImage, path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save(path).unwrap();
}

/// `n` synthetic JSRT-layout cases: 16x16 images, 32x32 masks (halved on loading).
fn jsrt_tree(root: &Path, n: usize) {
    medseg()
        .args(["synth", "--kind", "chest", "--size", "16", "--count"])
        .arg(n.to_string())
        .arg("--out")
        .arg(root)
        .assert()
        .success()
        .stdout(predicate::str::contains("JSRT"));
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
    let label_map = image::open(pred.join("labels/JPCLN001.png")).unwrap();
    assert_eq!((label_map.width(), label_map.height()), (16, 16));
    let overlay = image::open(pred.join("overlay/JPCLN001.png")).unwrap();
    assert!(overlay.height() > 16, "overlay carries a legend");
    assert!(pred.join("prob/clavicles/JPCLN001.png").is_file());

    // the predicted maps score per class against the masks brought to the image size: the
    // class folders under prob/ are found without flags
    let scored = t.path().join("scored.json");
    medseg()
        .args(["score", "--pred"])
        .arg(pred.join("prob"))
        .arg("--truth")
        .arg(half_size_truth(&data, &t.path().join("truth")))
        .arg("--json")
        .arg(&scored)
        .assert()
        .success()
        .stdout(predicate::str::contains("mean over classes"));
    let scored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&scored).unwrap()).unwrap();
    assert_eq!(scored["classes"].as_array().unwrap().len(), 3);

    // served: one entry per class, the label map as the mask, the classes listed by the models
    let server = common::Server::start_models(
        &[
            "--weights",
            run.join("model_best.safetensors").to_str().unwrap(),
        ],
        &[],
    );
    let models = server.get("/v1/models").json();
    assert_eq!(models["models"][0]["mode"], "multi-label");
    assert_eq!(
        models["models"][0]["classes"],
        serde_json::json!(["lungs", "heart", "clavicles"])
    );
    let image = std::fs::read(data.join("images/JPCLN001.png")).unwrap();
    let reply = server.post("/v1/segment", &image);
    assert_eq!(reply.status, 200);
    let json = reply.json();
    let classes = json["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 3);
    assert_eq!(classes[1]["name"], "heart");
    for c in classes {
        assert!(c["mask_png"].is_string() && c["probability_png"].is_string());
        let f = c["foreground_fraction"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&f));
    }
}

/// The SCR-style class folders of `data`'s masks, halved to the image size and grouped as the
/// config's classes (lungs, heart, clavicles), under `out`.
fn half_size_truth(data: &Path, out: &Path) -> std::path::PathBuf {
    for (class, folders) in [
        ("lungs", &["left_lung", "right_lung"][..]),
        ("heart", &["heart"][..]),
        ("clavicles", &["left_clavicle", "right_clavicle"][..]),
    ] {
        for entry in std::fs::read_dir(data.join("images")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let id = name.trim_end_matches(".png");
            let mut union = GrayImage::new(16, 16);
            for folder in folders {
                let m = image::open(data.join(format!("masks/{folder}/{id}.gif")))
                    .unwrap()
                    .to_luma8();
                for (x, y, p) in union.enumerate_pixels_mut() {
                    // 2x2 majority, ties to foreground (as training does)
                    let on = (0..4)
                        .filter(|i| m.get_pixel(2 * x + i % 2, 2 * y + i / 2)[0] > 127)
                        .count();
                    if on >= 2 {
                        *p = Luma([255]);
                    }
                }
            }
            save(union, &out.join(class).join(format!("{id}.png")));
        }
    }
    out.to_path_buf()
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
