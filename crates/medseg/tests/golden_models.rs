//! Golden forward test: the Rust networks reproduce the PyTorch reference logits
//! (`tools/reference/gen_golden_models.py`, torch pinned in `tools/requirements.txt`).

use std::path::PathBuf;

use burn::prelude::*;
use medseg::models::{ModelConfig, weights::load_pytorch_safetensors};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    config: ModelConfig,
    trainable_params: usize,
    tolerance: f32,
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

fn assert_close(name: &str, what: &str, got: &[f32], expected: &[f32], tol: f32) {
    assert_eq!(got.len(), expected.len(), "{name} {what}: length");
    let worst = got
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
        .fold(0.0f32, f32::max);
    assert!(
        worst <= tol,
        "{name} {what}: worst relative error {worst} > {tol}"
    );
}

fn check(name: &str) {
    let text = std::fs::read_to_string(fixture(&format!("{name}.json"))).expect("fixture exists");
    let golden: Golden = serde_json::from_str(&text).expect("fixture parses");
    let device = Device::flex();
    let mut net = golden
        .config
        .init(&device)
        .expect("fixture config is valid");
    assert_eq!(
        net.trainable_params(),
        golden.trainable_params,
        "{name}: parameter count"
    );
    load_pytorch_safetensors(&mut net, &fixture(&format!("{name}.safetensors")))
        .expect("weights load");
    let x = Tensor::<4>::from_data(
        TensorData::new(golden.input.clone(), golden.input_shape),
        &device,
    );
    let out = net.forward(x);
    let vec = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().expect("f32");
    assert_close(
        name,
        "fused",
        &vec(out.fused),
        &golden.fused,
        golden.tolerance,
    );
    assert_eq!(out.sides.len(), golden.sides.len(), "{name}: side count");
    for (k, (side, expected)) in out.sides.into_iter().zip(&golden.sides).enumerate() {
        assert_close(
            name,
            &format!("side {k}"),
            &vec(side),
            expected,
            golden.tolerance,
        );
    }
}

#[test]
fn u2netp_structure_matches_pytorch() {
    check("u2netp_small");
}

#[test]
fn msa_u2net_tiny_matches_pytorch() {
    check("msa_u2net_tiny");
}

#[test]
fn unet_pp_deep_supervision_factorised_matches_pytorch() {
    check("unet_pp_small");
}

#[test]
fn mismatched_weights_are_a_clear_error() {
    let golden: Golden =
        serde_json::from_str(&std::fs::read_to_string(fixture("u2netp_small.json")).unwrap())
            .unwrap();
    let _ = golden.trainable_params;
    let other: Golden =
        serde_json::from_str(&std::fs::read_to_string(fixture("unet_pp_small.json")).unwrap())
            .unwrap();
    let mut net = other.config.init(&Device::flex()).unwrap();
    let err = load_pytorch_safetensors(&mut net, &fixture("u2netp_small.safetensors")).unwrap_err();
    assert!(
        err.to_string().contains("u2netp_small.safetensors"),
        "{err}"
    );
    let err = load_pytorch_safetensors(&mut net, &fixture("absent.safetensors")).unwrap_err();
    assert!(matches!(err, medseg::Error::MissingFile { .. }), "{err}");
}
