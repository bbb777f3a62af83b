//! Training with several structures per image, end to end through the library on tiny trees:
//! a multi-label JSRT-layout run and a multi-class label-map run, one epoch each, validating
//! per class.

use std::path::Path;

use burn::prelude::*;
use image::{GrayImage, Luma};
use medseg::data::synth::{SynthConfig, SynthKind, write_dataset};
use medseg::train::{ExperimentConfig, TrainOptions, train};

mod common;
use common::save_grey as save;

/// `n` synthetic JSRT-layout cases of 16x16 images with 32x32 masks.
fn jsrt_tree(root: &Path, n: usize) {
    let cfg = SynthConfig {
        kind: SynthKind::Chest,
        count: n,
        size: 16,
        seed: 3,
    };
    write_dataset(&cfg, root).unwrap();
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

/// Records what a run tells its observer at the start.
#[derive(Default)]
struct Starts(Vec<String>);

impl medseg::train::TrainObserver for Starts {
    fn on_start(&mut self, info: &str) {
        self.0.push(info.to_string());
    }
}

/// `train.init` fine-tunes from a weights file named in the config (as `--init` does), and
/// weights of another network are refused with the path and the key in the message.
#[test]
fn train_init_in_the_config_starts_from_those_weights() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    jsrt_tree(&data, 6);
    let config = |preset: &str, init: Option<&Path>| {
        let init = init.map_or(String::new(), |p| {
            format!("init = {:?}\n", p.display().to_string())
        });
        format!(
            r#"name = "init-tiny"
seed = 5
[model]
preset = "{preset}"
[optim]
kind = "adamw"
lr = 2e-3
[train]
epochs = 1
batch_size = 2
batches_per_epoch = 0
tiling = {{ tile = [16, 16], overlap = 0.0, batch = 4, blend = "constant" }}
{init}[data]
dataset = "jsrt"
split = {{ scheme = {{ random = {{ train = 0.5, val = 0.5, test = 0.0 }} }}, seed = 1 }}
fov = "full"
sampling = "whole"
preprocess = {{ channel = "rgb", gamma = 1.0, normalise = "per-image" }}
[data.labels]
mode = "multi-label"
classes = [{{ name = "heart" }}]
"#
        )
    };
    let train_into = |text: &str, out: &str| {
        let cfg = ExperimentConfig::from_toml(text, Path::new("init.toml")).unwrap();
        let opts = TrainOptions {
            data_root: data.clone(),
            out: t.path().join(out),
            device: Device::flex(),
            resume: false,
            force: false,
            threads: 1,
            init: None,
        };
        let mut starts = Starts::default();
        let result = train(&cfg, &opts, &mut starts);
        (result, starts.0)
    };
    let (first, _) = train_into(&config("msa-u2net-tiny", None), "first");
    let weights = first.unwrap().run.join("model_final.safetensors");

    let (second, starts) = train_into(&config("msa-u2net-tiny", Some(&weights)), "second");
    second.unwrap();
    let expected = format!("initial weights from {}", weights.display());
    assert!(starts.contains(&expected), "{starts:?}");
    // The key is kept in the run folder's config, so that the run says where it started.
    let saved = std::fs::read_to_string(t.path().join("second/config.toml")).unwrap();
    assert!(saved.contains("init = "), "{saved}");

    let (third, _) = train_into(&config("unet", Some(&weights)), "third");
    let message = third.unwrap_err().to_string();
    assert!(
        message.contains("train.init") && message.contains(&weights.display().to_string()),
        "{message}"
    );
}
