//! Official U-2-Net checkpoints: a PyTorch pickle in the official naming
//! (`tools/reference/official_u2net.py fixture`: the `u2netp_small` golden weights renamed)
//! loads into medseg's network of the same structure and reproduces the golden logits; any
//! other checkpoint gets an error naming the offending tensor.

use std::path::PathBuf;

use burn::prelude::*;
use medseg::models::checkpoint::load_official_u2net;
use medseg::models::{ModelConfig, ModelName};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    #[serde(default)]
    config: Option<ModelConfig>,
    #[serde(default)]
    preset: Option<String>,
    input_shape: [usize; 4],
    input: Vec<f32>,
    fused: Vec<f32>,
    sides: Vec<Vec<f32>>,
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden/models")
        .join(name)
}

fn assert_close(what: &str, got: &[f32], expected: &[f32], tol: f32) {
    assert_eq!(got.len(), expected.len(), "{what}: length");
    let worst = got
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
        .fold(0.0f32, f32::max);
    assert!(worst <= tol, "{what}: worst relative error {worst} > {tol}");
}

/// Loads `pth` into `config`'s network and compares every output map with `golden`.
fn check(config: &ModelConfig, pth: &std::path::Path, golden: &Golden, tol: f32) {
    let device = Device::flex();
    let mut net = config.init(&device).unwrap();
    load_official_u2net(&mut net, config, pth).expect("the checkpoint loads");
    let x = Tensor::<4>::from_data(
        TensorData::new(golden.input.clone(), golden.input_shape),
        &device,
    );
    let out = net.forward(x);
    let vec = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
    assert_close("fused", &vec(out.fused), &golden.fused, tol);
    assert_eq!(out.sides.len(), golden.sides.len());
    for (k, (side, expected)) in out.sides.into_iter().zip(&golden.sides).enumerate() {
        assert_close(&format!("side {k}"), &vec(side), expected, tol);
    }
}

fn golden(path: PathBuf) -> Golden {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn official_naming_checkpoint_reproduces_the_reference() {
    let g = golden(fixture("u2netp_small.json"));
    let config = g.config.clone().expect("the fixture has its config");
    check(&config, &fixture("u2netp_small_official.pth"), &g, 1e-5);
}

#[test]
fn mismatched_networks_and_files_are_clear_errors() {
    let device = Device::flex();
    let pth = fixture("u2netp_small_official.pth");
    // The full-width preset: the first tensor whose shape differs is named.
    let config = ModelName::U2netp.config();
    let mut net = config.init(&device).unwrap();
    let err = load_official_u2net(&mut net, &config, &pth)
        .unwrap_err()
        .to_string();
    assert!(err.contains("u2netp_small_official.pth"), "{err}");
    assert!(err.contains("mis-shaped"), "{err}");
    assert!(err.contains("stage"), "names the official tensor: {err}");
    // A network the official naming cannot describe.
    let config = ModelName::MsaU2netTiny.config();
    let mut net = config.init(&device).unwrap();
    let err = load_official_u2net(&mut net, &config, &pth)
        .unwrap_err()
        .to_string();
    assert!(err.contains("plain units"), "{err}");
    // A file that is not a checkpoint, and one that is not there.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pth");
    std::fs::write(&junk, b"not a pickle").unwrap();
    let config = ModelName::U2netp.config();
    let mut net = config.init(&device).unwrap();
    let err = load_official_u2net(&mut net, &config, &junk)
        .unwrap_err()
        .to_string();
    assert!(err.contains("junk.pth") && err.contains("PyTorch"), "{err}");
    let err = load_official_u2net(&mut net, &config, &dir.path().join("gone.pth"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("gone.pth"), "{err}");
}

/// The official definitions themselves (`official_u2net.py official REPO OUT` on a local clone
/// of xuebinqin/U-2-Net): medseg's `u2net` / `u2netp` presets loaded with the official
/// checkpoints compute the official logits.
#[test]
#[ignore = "needs MEDSEG_OFFICIAL_CHECK=DIR from tools/reference/official_u2net.py official"]
fn official_definitions_match() {
    let dir = PathBuf::from(
        std::env::var("MEDSEG_OFFICIAL_CHECK").expect("set MEDSEG_OFFICIAL_CHECK to the folder"),
    );
    for name in ["u2netp", "u2net"] {
        let g = golden(dir.join(format!("{name}.json")));
        assert_eq!(g.preset.as_deref(), Some(name));
        let config = ModelName::parse(name).unwrap().config();
        check(&config, &dir.join(format!("{name}.pth")), &g, 1e-5);
        println!("{name}: the official definition's 7 output maps reproduced within 1e-5");
    }
}
