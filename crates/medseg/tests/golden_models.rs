//! Golden forward test: the Rust networks reproduce the PyTorch reference logits
//! (`tools/reference/gen_golden_models.py`, torch pinned in `tools/requirements.txt`).

use std::path::PathBuf;

use burn::prelude::*;
use medseg::models::{ModelConfig, weights::load_pytorch_safetensors};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    config: ModelConfig,
    /// K; absent (1) in the binary fixtures.
    #[serde(default = "one")]
    out_channels: usize,
    trainable_params: usize,
    tolerance: f32,
    input_shape: [usize; 4],
    input: Vec<f32>,
    fused: Vec<f32>,
    sides: Vec<Vec<f32>>,
}

fn one() -> usize {
    1
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
        .init_with_outputs(&device, golden.out_channels)
        .expect("fixture config is valid");
    assert_eq!(net.out_channels(), golden.out_channels, "{name}: K");
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

/// K = 3: side heads and the fusion over `heads x K` side maps, as `medseg_ref.py` builds them.
#[test]
fn msa_u2net_tiny_with_three_outputs_matches_pytorch() {
    check("msa_u2net_tiny_k3");
}

/// K = 3 on every deep-supervision head of UNet++ (fused = mean of the heads).
#[test]
fn unet_pp_with_three_outputs_matches_pytorch() {
    check("unet_pp_small_k3");
}

/// A K = 3 network does not load binary weights: the head shapes differ.
#[test]
fn binary_weights_do_not_load_into_a_k_channel_network() {
    let golden: Golden =
        serde_json::from_str(&std::fs::read_to_string(fixture("msa_u2net_tiny.json")).unwrap())
            .unwrap();
    let mut net = golden.config.init_with_outputs(&Device::flex(), 3).unwrap();
    let err =
        load_pytorch_safetensors(&mut net, &fixture("msa_u2net_tiny.safetensors")).unwrap_err();
    assert!(
        err.to_string().contains("msa_u2net_tiny.safetensors"),
        "{err}"
    );
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
