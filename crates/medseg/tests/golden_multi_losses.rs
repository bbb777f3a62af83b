//! K-channel losses against MONAI (fixture from `tools/golden/gen_multi_losses.py`: MONAI's
//! `DiceLoss` and `DiceCELoss`, float64, versions in the fixture), plus closed-form checks of
//! the absent-class handling and of the binary path staying what it was.
//!
//! Tolerances (stated in the fixture): loss values 1e-5 relative; gradients 1e-4 relative to the
//! largest reference gradient component of the case.

use std::collections::BTreeMap;
use std::path::PathBuf;

use burn::prelude::*;
use burn::tensor::TensorData;
use medseg::data::labels::{ClassSpec, LabelsConfig};
use medseg::loss::{DiceReduction, LossConfig, soft_dice_loss, softmax_dice_loss};
use serde::Deserialize;

#[derive(Deserialize)]
struct Input {
    shape: [usize; 4],
    logits: Vec<f32>,
    target: Vec<f32>,
}

#[derive(Deserialize)]
struct Tolerance {
    loss_relative: f64,
    grad_relative: f64,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    input: String,
    kind: String,
    mode: String,
    smooth: f64,
    reduction: DiceReduction,
    weights: Vec<f64>,
    loss: f64,
    grad: Vec<f64>,
}

#[derive(Deserialize)]
struct Fixture {
    tolerance: Tolerance,
    inputs: BTreeMap<String, Input>,
    cases: Vec<Case>,
}

fn fixture() -> Fixture {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden/multi_losses.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run tools/golden/gen_multi_losses.py)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tensor(values: Vec<f32>, shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn labels(mode: &str, weights: &[f64]) -> LabelsConfig {
    let classes: Vec<ClassSpec> = (0..3)
        .map(|k| ClassSpec {
            weight: weights.get(k).copied().unwrap_or(1.0),
            ..ClassSpec::new(format!("c{k}"))
        })
        .collect();
    match mode {
        "multi-label" => LabelsConfig::multi_label(classes),
        "multi-class" => LabelsConfig::multi_class(classes),
        m => panic!("unknown mode {m}"),
    }
}

/// The loss medseg computes for one case.
fn medseg_loss(case: &Case, x: Tensor<4>, y: Tensor<4>) -> Tensor<1> {
    match (case.kind.as_str(), case.mode.as_str()) {
        ("dice", "multi-label") => soft_dice_loss(x, y, case.smooth, case.reduction),
        ("dice", "multi-class") => {
            softmax_dice_loss(x, y, case.smooth, case.reduction, &case.weights)
        }
        ("dice-ce", mode) => {
            let mut cfg = LossConfig::new()
                .with_w_bce(1.0)
                .with_w_dice(1.0)
                .with_side_weights(vec![]);
            cfg.dice.smooth = case.smooth;
            cfg.dice.reduction = case.reduction;
            cfg.init_for(&labels(mode, &case.weights))
                .expect("valid loss")
                .terms(x, y)
                .total
        }
        (k, m) => panic!("unknown case kind {k} / {m}"),
    }
}

#[test]
fn k_channel_losses_match_monai() {
    let fx = fixture();
    let device = Device::flex().autodiff();
    assert!(fx.cases.len() >= 10);
    for case in &fx.cases {
        let input = &fx.inputs[&case.input];
        let x = tensor(input.logits.clone(), input.shape, &device).require_grad();
        let y = tensor(input.target.clone(), input.shape, &device);
        let value = medseg_loss(case, x.clone(), y);
        let grads = value.backward();
        let actual = value.into_scalar::<f32>() as f64;
        let err = (actual - case.loss).abs();
        assert!(
            err <= fx.tolerance.loss_relative * case.loss.abs(),
            "{}: got {actual}, MONAI {} (error {err:.3e})",
            case.name,
            case.loss
        );
        let grad: Vec<f32> = x
            .grad(&grads)
            .expect("logits receive a gradient")
            .into_data()
            .try_to_vec()
            .unwrap();
        let scale = case.grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        for (i, (&a, &e)) in grad.iter().zip(&case.grad).enumerate() {
            assert!(
                (a as f64 - e).abs() <= fx.tolerance.grad_relative * scale,
                "{}: grad[{i}] = {a}, MONAI {e}",
                case.name
            );
        }
    }
}

/// A class absent from an image is scored as MONAI does: `s / (Σ p + s)`. Empty prediction
/// -> Dice 1 (loss 0); a confident wrong prediction -> loss near 1; never NaN, even with
/// `s` tiny.
#[test]
fn absent_classes_are_smoothed_not_nan() {
    let device = Device::flex();
    // Image with 2 classes: class 0 present and predicted, class 1 absent.
    let y = tensor(
        vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [1, 2, 2, 2],
        &device,
    );
    let sure = |v: f32| if v > 0.5 { 40.0 } else { -40.0 };
    let perfect = tensor(
        [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0].map(sure).to_vec(),
        [1, 2, 2, 2],
        &device,
    );
    let loss: f32 = soft_dice_loss(perfect, y.clone(), 1e-5, DiceReduction::PerImage).into_scalar();
    assert!(loss.abs() < 1e-4, "perfect prediction: loss {loss}");
    let wrong = tensor(
        [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0].map(sure).to_vec(),
        [1, 2, 2, 2],
        &device,
    );
    let loss: f32 = soft_dice_loss(wrong, y, 1e-5, DiceReduction::PerImage).into_scalar();
    assert!(loss.is_finite());
    assert!((loss - 0.5).abs() < 1e-4, "class 1 wrong: loss {loss}"); // (0 + 1) / 2
}

/// One channel: the per-class Dice is the binary Dice exactly (both reductions), so binary
/// training is unchanged.
#[test]
fn one_channel_dice_is_the_binary_dice() {
    let device = Device::flex();
    let x = tensor(
        (0..32).map(|i| (i as f32 * 0.37).sin() * 3.0).collect(),
        [2, 1, 4, 4],
        &device,
    );
    let y = tensor(
        (0..32).map(|i| ((i * 7) % 3 == 0) as u8 as f32).collect(),
        [2, 1, 4, 4],
        &device,
    );
    for (reduction, dims) in [(DiceReduction::PerImage, 2), (DiceReduction::Batch, 1)] {
        let ours: f32 = soft_dice_loss(x.clone(), y.clone(), 1.0, reduction).into_scalar();
        // The former definition: one ratio per image (or one for the batch) over [C, H, W].
        let p = burn::tensor::activation::sigmoid(x.clone()).reshape([dims, 32 / dims]);
        let t = y.clone().reshape([dims, 32 / dims]);
        let dice = (p.clone() * t.clone())
            .sum_dim(1)
            .mul_scalar(2.0)
            .add_scalar(1.0)
            / (p.sum_dim(1) + t.sum_dim(1)).add_scalar(1.0);
        let former: f32 = dice.mean().neg().add_scalar(1.0).into_scalar();
        assert_eq!(ours.to_bits(), former.to_bits(), "{reduction:?}");
    }
}

/// Multi-class refuses the sigmoid-only options with errors naming the key.
#[test]
fn multi_class_loss_options_are_checked() {
    let mc = labels("multi-class", &[]);
    let err = LossConfig::new()
        .with_bce(medseg::loss::BceKind::Focal {
            alpha: None,
            gamma: 2.0,
        })
        .init_for(&mc)
        .unwrap_err()
        .to_string();
    assert!(err.contains("loss.bce"), "{err}");
    let err = LossConfig::new()
        .with_w_msssim(1.0)
        .init_for(&mc)
        .unwrap_err()
        .to_string();
    assert!(err.contains("loss.w_msssim"), "{err}");
    assert!(
        LossConfig::new()
            .init_for(&labels("multi-label", &[]))
            .is_ok()
    );
}
