//! Training with several structures per image, end to end through the library on tiny trees:
//! a multi-label JSRT-layout run and a multi-class label-map run, one epoch each, validating
//! per class.

use std::path::Path;

use burn::prelude::*;
use image::{GrayImage, Luma};
use medseg::train::{ExperimentConfig, TrainOptions, train};

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

/// `n` JSRT-layout cases of 16x16 images with 32x32 masks: two "lungs", a "heart" between
/// them, "clavicles" over the lungs' top rows; the image is bright where a structure is.
fn jsrt_tree(root: &Path, n: usize) {
    let rect = |x0: u32, x1: u32, y0: u32, y1: u32| {
        GrayImage::from_fn(32, 32, move |x, y| {
            Luma([if x >= x0 && x < x1 && y >= y0 && y < y1 {
                255
            } else {
                0
            }])
        })
    };
    for i in 0..n as u32 {
        let id = format!("JPCLN{i:03}");
        let o = i % 3;
        save(
            GrayImage::from_fn(16, 16, |x, y| {
                Luma([if (2..14).contains(&y) {
                    60 + 40 * ((x / 4) % 2) as u8
                } else {
                    10
                }])
            }),
            &root.join(format!("images/{id}.png")),
        );
        for (s, m) in [
            ("heart", rect(12, 20, 10 + o, 24)),
            ("left_lung", rect(2, 12, 4, 28)),
            ("right_lung", rect(20, 30, 4, 28)),
            ("left_clavicle", rect(2, 12, 4, 8 + o)),
            ("right_clavicle", rect(20, 30, 4, 8)),
        ] {
            save(m, &root.join(format!("masks/{s}/{id}.gif")));
        }
    }
}

const COMMON: &str = r#"
seed = 5
[model]
preset = "msa-u2net-tiny"
[optim]
kind = "adamw"
lr = 2e-3
[train]
epochs = 1
batch_size = 2
batches_per_epoch = 0
tiling = { tile = [16, 16], overlap = 0.0, batch = 4, blend = "constant" }
"#;

fn run(config: &str, data: &Path, out: &Path) -> f64 {
    let cfg = ExperimentConfig::from_toml(config, Path::new("multi.toml")).unwrap();
    assert!(cfg.out_channels() > 1);
    let opts = TrainOptions {
        data_root: data.to_path_buf(),
        out: out.to_path_buf(),
        device: Device::flex(),
        resume: false,
        force: false,
        threads: 1,
        init: None,
    };
    let summary = train(&cfg, &opts, &mut ()).unwrap();
    let (f1, _) = summary.best.expect("validated");
    assert!((0.0..=1.0).contains(&f1), "{f1}");
    let csv = std::fs::read_to_string(summary.run.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    f1
}

#[test]
fn multi_label_jsrt_layout_trains_and_validates_per_class() {
    let t = tempfile::tempdir().unwrap();
    jsrt_tree(&t.path().join("data"), 6);
    let config = format!(
        r#"name = "jsrt-tiny"
{COMMON}
[data]
dataset = "jsrt"
split = {{ scheme = {{ random = {{ train = 0.5, val = 0.5, test = 0.0 }} }}, seed = 1 }}
fov = "full"
sampling = "whole"
preprocess = {{ channel = "rgb", gamma = 1.0, normalise = "per-image" }}
[data.labels]
mode = "multi-label"
classes = [
  {{ name = "lungs", masks = ["left_lung", "right_lung"] }},
  {{ name = "heart" }},
  {{ name = "clavicles", masks = ["left_clavicle", "right_clavicle"] }},
]
[loss]
w_dice = 1.0
"#
    );
    run(&config, &t.path().join("data"), &t.path().join("run"));
}

#[test]
fn multi_class_label_maps_train_and_validate_per_class() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    for i in 0..6u32 {
        save(
            GrayImage::from_fn(16, 16, |x, _| Luma([(x * 15) as u8])),
            &data.join(format!("images/c{i}.png")),
        );
        save(
            GrayImage::from_fn(16, 16, |x, y| {
                Luma([((x + i) / 6).min(2) as u8 * (y > 1) as u8])
            }),
            &data.join(format!("masks/c{i}.png")),
        );
    }
    let config = format!(
        r#"name = "mc-tiny"
{COMMON}
[data]
dataset = "folder"
split = {{ scheme = {{ random = {{ train = 0.5, val = 0.5, test = 0.0 }} }}, seed = 1 }}
fov = "full"
sampling = "whole"
preprocess = {{ channel = "rgb", gamma = 1.0, normalise = "per-image" }}
[data.labels]
mode = "multi-class"
classes = [{{ name = "background" }}, {{ name = "a", weight = 2.0 }}, {{ name = "b" }}]
[loss]
w_dice = 1.0
"#
    );
    run(&config, &data, &t.path().join("run"));
}
