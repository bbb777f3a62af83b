//! Losses against reference libraries (fixtures from `tools/golden/gen_losses.py`: torch,
//! torchvision, pytorch-msssim, computed in float64) plus closed-form and property checks.
//!
//! Tolerances (stated in the fixtures): loss values 1e-5 relative; gradients 1e-4 relative to
//! the largest reference gradient component of the case (`|g - g_ref| <= 1e-4 · max |g_ref|`).

use std::path::PathBuf;

use burn::prelude::*;
use burn::tensor::TensorData;
use medseg::loss::{
    BceKind, BceLossConfig, DiceLossConfig, DiceReduction, FocalLossConfig, LossConfig,
    MsSsimLossConfig, ms_ssim, top_k_bce_with_logits,
};
use medseg::models::SegOutput;
use serde::Deserialize;

fn fixture<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run tools/golden/gen_losses.py)", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn device() -> Device {
    Device::flex().autodiff()
}

fn tensor(values: Vec<f32>, shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn to_vec(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

fn assert_rel(name: &str, actual: f64, expected: f64, rel: f64) {
    let err = (actual - expected).abs();
    assert!(
        err <= rel * expected.abs().max(1e-12),
        "{name}: got {actual}, expected {expected} (error {err:.3e}, allowed {rel:e} relative)"
    );
}

fn assert_grad(name: &str, actual: &[f32], expected: &[f64], rel_to_max: f64) {
    assert_eq!(actual.len(), expected.len(), "{name}: gradient length");
    let scale = expected.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let err = (a as f64 - e).abs();
        assert!(
            err <= rel_to_max * scale,
            "{name}: grad[{i}] = {a}, expected {e} (error {err:.3e} > {rel_to_max:e} · {scale:.3e})"
        );
    }
}

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
struct PointwiseCase {
    name: String,
    input: String,
    loss: f64,
    grad: Vec<f64>,
    #[serde(default)]
    pos_weight: Option<f64>,
    #[serde(default)]
    alpha: Option<f64>,
    #[serde(default)]
    gamma: Option<f64>,
    #[serde(default)]
    fraction: Option<f64>,
    #[serde(default)]
    smooth: Option<f64>,
    #[serde(default)]
    reduction: Option<DiceReduction>,
}

#[derive(Deserialize)]
struct LossesFixture {
    tolerance: Tolerance,
    inputs: std::collections::HashMap<String, Input>,
    bce: Vec<PointwiseCase>,
    focal: Vec<PointwiseCase>,
    dice: Vec<PointwiseCase>,
    top_k: Vec<PointwiseCase>,
}

/// Runs `loss` on each case's input under autodiff and compares value and gradient.
fn check_pointwise(
    fx: &LossesFixture,
    cases: &[PointwiseCase],
    loss: impl Fn(&PointwiseCase, Tensor<4>, Tensor<4>) -> Tensor<1>,
) {
    assert!(!cases.is_empty());
    let device = device();
    for case in cases {
        let input = &fx.inputs[&case.input];
        let x = tensor(input.logits.clone(), input.shape, &device).require_grad();
        let y = tensor(input.target.clone(), input.shape, &device);
        let value = loss(case, x.clone(), y);
        let grads = value.backward();
        let actual = value.into_scalar::<f32>() as f64;
        assert_rel(&case.name, actual, case.loss, fx.tolerance.loss_relative);
        let grad = x.grad(&grads).expect("logits receive a gradient");
        assert_grad(
            &case.name,
            &to_vec(grad),
            &case.grad,
            fx.tolerance.grad_relative,
        );
    }
}

#[test]
fn bce_matches_torch_with_and_without_pos_weight() {
    let fx: LossesFixture = fixture("losses.json");
    assert!(fx.bce.iter().any(|c| c.pos_weight.is_none()));
    assert!(fx.bce.iter().any(|c| c.pos_weight.is_some()));
    check_pointwise(&fx, &fx.bce, |c, x, y| {
        BceLossConfig::new()
            .with_pos_weight(c.pos_weight)
            .init()
            .forward(x, y)
    });
}

#[test]
fn top_k_bce_matches_torch_topk() {
    let fx: LossesFixture = fixture("losses.json");
    check_pointwise(&fx, &fx.top_k, |c, x, y| {
        top_k_bce_with_logits(x, y, c.fraction.expect("top-k case has fraction"))
    });
}

#[test]
fn focal_matches_torchvision() {
    let fx: LossesFixture = fixture("losses.json");
    check_pointwise(&fx, &fx.focal, |c, x, y| {
        FocalLossConfig::new()
            .with_alpha(c.alpha)
            .with_gamma(c.gamma.expect("focal case has gamma"))
            .init()
            .forward(x, y)
    });
}

#[test]
fn dice_matches_reference_formula() {
    let fx: LossesFixture = fixture("losses.json");
    check_pointwise(&fx, &fx.dice, |c, x, y| {
        DiceLossConfig::new()
            .with_smooth(c.smooth.expect("dice case has smooth"))
            .with_reduction(c.reduction.expect("dice case has reduction"))
            .init()
            .forward(x, y)
    });
}

// ---- MS-SSIM on formula inputs -----------------------------------------------------------------

#[derive(Deserialize)]
struct GradSample {
    at: [usize; 3],
    value: f64,
}

#[derive(Deserialize)]
struct MsSsimCase {
    name: String,
    shape: [usize; 4],
    scales: usize,
    window: usize,
    weights: Vec<f64>,
    target_sum: f64,
    loss: f64,
    ms_ssim_images: f64,
    grad_sum: f64,
    grad_abs_sum: f64,
    grad_l2: f64,
    grad_max_abs: f64,
    grad_samples: Vec<GradSample>,
}

#[derive(Deserialize)]
struct MsSsimTolerance {
    loss_relative: f64,
    grad_relative_to_max: f64,
}

#[derive(Deserialize)]
struct MsSsimFixture {
    tolerance: MsSsimTolerance,
    cases: Vec<MsSsimCase>,
}

/// The fixture's formula inputs (see `FORMULA` in gen_losses.py): logits, target, and the
/// continuous image `q`, each `[B, 1, H, W]` in row-major order.
fn formula_inputs(shape: [usize; 4]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let [b, _, h, w] = shape;
    let (mut x, mut y, mut q) = (Vec::new(), Vec::new(), Vec::new());
    for bb in 0..b {
        for i in 0..h {
            for j in 0..w {
                let (bf, fi, fj) = (bb as f64, i as f64, j as f64);
                let s = (0.045 * fi + 0.3 * bf).sin() * (0.06 * fj).cos()
                    + 0.5 * (0.21 * fi - 0.17 * fj + bf).sin();
                y.push(if s > 0.2 { 1.0 } else { 0.0 });
                x.push(
                    (5.0 * (s - 0.2)
                        + 1.5 * (0.9 * fi).sin() * (0.8 * fj + bf).sin()
                        + 0.8 * (0.031 * (fi + 2.0 * fj) + bf).sin()) as f32,
                );
                q.push((0.5 + 0.4 * (0.045 * fi + 0.3 * bf).sin() * (0.06 * fj).cos()) as f32);
            }
        }
    }
    (x, y, q)
}

#[test]
fn ms_ssim_loss_and_gradient_match_pytorch_msssim() {
    let fx: MsSsimFixture = fixture("ms_ssim.json");
    let config = MsSsimLossConfig::new();
    let loss_fn = config.init();
    let device = device();
    for case in &fx.cases {
        let [b, _, h, w] = case.shape;
        let plan = config.plan(h, w);
        assert_eq!(
            (plan.scales, plan.window_size),
            (case.scales, case.window),
            "{}",
            case.name
        );
        for (a, e) in plan.weights.iter().zip(&case.weights) {
            assert_rel(&format!("{} weight", case.name), *a, *e, 1e-12);
        }
        let (xv, yv, qv) = formula_inputs(case.shape);
        assert_eq!(
            yv.iter().map(|&v| v as f64).sum::<f64>(),
            case.target_sum,
            "{}",
            case.name
        );

        let x = tensor(xv, case.shape, &device).require_grad();
        let y = tensor(yv, case.shape, &device);
        let loss = loss_fn.forward(x.clone(), y);
        let grads = loss.backward();
        let value = loss.into_scalar::<f32>() as f64;
        assert_rel(
            &format!("{} loss", case.name),
            value,
            case.loss,
            fx.tolerance.loss_relative,
        );

        let g = to_vec(x.grad(&grads).expect("logits receive a gradient"));
        let tol = fx.tolerance.grad_relative_to_max * case.grad_max_abs;
        for s in &case.grad_samples {
            let [bb, i, j] = s.at;
            let a = g[(bb * h + i) * w + j] as f64;
            assert!(
                (a - s.value).abs() <= tol,
                "{}: grad at {:?} = {a:e}, expected {:e} (allowed {tol:.2e})",
                case.name,
                s.at,
                s.value
            );
        }
        let max_abs = g.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
        assert!(
            (max_abs - case.grad_max_abs).abs() <= tol,
            "{} grad max",
            case.name
        );
        let abs_sum: f64 = g.iter().map(|v| v.abs() as f64).sum();
        let l2 = g.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        let sum: f64 = g.iter().map(|v| *v as f64).sum();
        assert_rel(
            &format!("{} grad |sum|", case.name),
            abs_sum,
            case.grad_abs_sum,
            1e-4,
        );
        assert_rel(&format!("{} grad l2", case.name), l2, case.grad_l2, 1e-4);
        assert!(
            (sum - case.grad_sum).abs() <= 1e-4 * case.grad_abs_sum,
            "{}: grad sum {sum:e}, expected {:e}",
            case.name,
            case.grad_sum
        );

        // MS-SSIM between two continuous images, no sigmoid on q. Checked to 5e-5: this value
        // is not a loss, and with two non-binary inputs the f32 cancellation in
        // E[x²] - μ² (also in pytorch-msssim's f32 path) is larger than for a 0/1 target.
        let p = burn::tensor::activation::sigmoid(tensor(
            formula_inputs(case.shape).0,
            case.shape,
            &Device::flex(),
        ));
        let q = tensor(qv, [b, 1, h, w], &Device::flex());
        let images = ms_ssim(p, q, &config).into_scalar::<f32>() as f64;
        assert_rel(
            &format!("{} images", case.name),
            images,
            case.ms_ssim_images,
            5e-5,
        );
    }
}

// ---- Closed-form and property checks -----------------------------------------------------------

/// A 2×1×64×64 target: a disc and a bar, as 0/1 floats.
fn shapes_target() -> Vec<f32> {
    let mut t = Vec::new();
    for b in 0..2 {
        for i in 0..64 {
            for j in 0..64 {
                let (fi, fj) = (i as f32 - 30.0, j as f32 - 34.0 + b as f32 * 5.0);
                let disc = fi * fi + fj * fj < 220.0;
                let bar = (10..14).contains(&i) && j > 8;
                t.push(if disc || bar { 1.0 } else { 0.0 });
            }
        }
    }
    t
}

fn logits_from(target: &[f32], confidence: f32, flip_every: usize) -> Vec<f32> {
    target
        .iter()
        .enumerate()
        .map(|(k, &t)| {
            let sign = if t > 0.5 { 1.0 } else { -1.0 };
            if flip_every > 0 && k % flip_every == 0 {
                -sign * confidence
            } else {
                sign * confidence
            }
        })
        .collect()
}

/// A loss as a boxed closure over (logits, targets).
type LossFn = Box<dyn Fn(Tensor<4>, Tensor<4>) -> Tensor<1>>;

#[test]
fn perfect_predictions_give_near_zero_losses_and_better_predictions_lower_ones() {
    let device = Device::flex();
    let shape = [2, 1, 64, 64];
    let t = shapes_target();
    let y = || tensor(t.clone(), shape, &device);
    let perfect = || tensor(logits_from(&t, 30.0, 0), shape, &device);
    let good = || tensor(logits_from(&t, 3.0, 17), shape, &device);
    let bad = || tensor(logits_from(&t, 3.0, 3), shape, &device);
    let value = |l: Tensor<1>| l.into_scalar::<f32>() as f64;

    let losses: Vec<(&str, LossFn)> = vec![
        (
            "bce",
            Box::new(|x, y| BceLossConfig::new().init().forward(x, y)),
        ),
        (
            "weighted bce",
            Box::new(|x, y| {
                BceLossConfig::new()
                    .with_pos_weight(Some(4.0))
                    .init()
                    .forward(x, y)
            }),
        ),
        (
            "focal",
            Box::new(|x, y| FocalLossConfig::new().init().forward(x, y)),
        ),
        (
            "dice",
            Box::new(|x, y| DiceLossConfig::new().init().forward(x, y)),
        ),
        (
            "dice batch",
            Box::new(|x, y| {
                DiceLossConfig::new()
                    .with_reduction(DiceReduction::Batch)
                    .init()
                    .forward(x, y)
            }),
        ),
        (
            "ms-ssim",
            Box::new(|x, y| MsSsimLossConfig::new().init().forward(x, y)),
        ),
    ];
    for (name, loss) in &losses {
        let p = value(loss(perfect(), y()));
        let g = value(loss(good(), y()));
        let b = value(loss(bad(), y()));
        assert!(p.abs() < 1e-3, "{name}: perfect prediction gives {p}");
        assert!(
            p < g && g < b,
            "{name}: expected perfect {p} < good {g} < bad {b}"
        );
    }
}

#[test]
fn dice_closed_form_half_overlap_and_empty_masks() {
    let device = Device::flex();
    // Saturated logits make σ exactly 0/1 in f32: half overlap gives Dice 2/3 without smoothing.
    let y = tensor(vec![1.0, 1.0, 0.0, 0.0], [1, 1, 2, 2], &device);
    let x = tensor(vec![100.0, -100.0, -100.0, -100.0], [1, 1, 2, 2], &device);
    let loss = DiceLossConfig::new()
        .with_smooth(0.0)
        .init()
        .forward(x, y.clone());
    assert!((loss.into_scalar::<f32>() - 1.0 / 3.0).abs() < 1e-6);
    // Empty target, empty prediction: Dice 1 (loss 0) thanks to the smoothing.
    let zeros = tensor(vec![0.0; 4], [1, 1, 2, 2], &device);
    let x = tensor(vec![-100.0; 4], [1, 1, 2, 2], &device);
    let loss = DiceLossConfig::new()
        .init()
        .forward(x, zeros)
        .into_scalar::<f32>();
    assert!(loss.abs() < 1e-6, "{loss}");
    // Disjoint: loss close to 1 (exactly 1 - s/(card + s)).
    let x = tensor(vec![-100.0, -100.0, 100.0, 100.0], [1, 1, 2, 2], &device);
    let loss = DiceLossConfig::new()
        .init()
        .forward(x, y)
        .into_scalar::<f32>();
    assert!((loss - (1.0 - 1.0 / 5.0)).abs() < 1e-6, "{loss}");
}

#[test]
fn combined_loss_weights_fused_and_side_outputs() {
    let device = Device::flex().autodiff();
    let shape = [2, 1, 64, 64];
    let t = shapes_target();
    let y = tensor(t.clone(), shape, &device);
    let fused = tensor(logits_from(&t, 2.0, 5), shape, &device).require_grad();
    let side0 = tensor(logits_from(&t, 1.0, 7), shape, &device).require_grad();
    let side1 = tensor(logits_from(&t, 0.5, 3), shape, &device).require_grad();
    let config = LossConfig::new()
        .with_bce(BceKind::Weighted { pos_weight: 2.0 })
        .with_w_bce(1.0)
        .with_w_dice(0.5)
        .with_w_msssim(0.25)
        .with_fused_weight(2.0)
        .with_side_weights(vec![1.0, 0.0]);
    config
        .check_sides(2)
        .expect("two side weights for two sides");
    let loss = config.init().expect("valid config");
    let out = loss.forward(
        SegOutput {
            fused: fused.clone(),
            sides: vec![side0.clone(), side1.clone()],
        },
        y.clone(),
    );
    let v = |t: &Tensor<1>| t.clone().into_scalar::<f32>() as f64;
    let term = |x: Tensor<4>| {
        v(&BceLossConfig::new()
            .with_pos_weight(Some(2.0))
            .init()
            .forward(x.clone(), y.clone()))
            + 0.5 * v(&DiceLossConfig::new().init().forward(x.clone(), y.clone()))
            + 0.25 * v(&MsSsimLossConfig::new().init().forward(x, y.clone()))
    };
    let expected = 2.0 * term(fused.clone()) + term(side0.clone());
    assert_rel("combined total", v(&out.total), expected, 1e-5);
    let fused_terms = out.fused.as_ref().expect("fused weight is non-zero");
    assert!(
        fused_terms.bce.is_some() && fused_terms.dice.is_some() && fused_terms.ms_ssim.is_some()
    );
    assert!(
        out.sides[0].is_some() && out.sides[1].is_none(),
        "zero-weight side is skipped"
    );

    let grads = out.total.backward();
    assert!(fused.grad(&grads).is_some() && side0.grad(&grads).is_some());
    assert!(
        side1.grad(&grads).is_none(),
        "a side with weight 0 gets no gradient"
    );

    // One side weight is broadcast to every side; no sides at all is fine too.
    let broadcast = LossConfig::new()
        .with_side_weights(vec![0.5])
        .init()
        .expect("valid");
    let out = broadcast.forward(
        SegOutput {
            fused: fused.clone(),
            sides: vec![side0.clone(), side1.clone()],
        },
        y.clone(),
    );
    let bce = |x: Tensor<4>| v(&BceLossConfig::new().init().forward(x, y.clone()));
    let expected = bce(fused.clone()) + 0.5 * (bce(side0) + bce(side1));
    assert_rel("broadcast side weight", v(&out.total), expected, 1e-5);
    let out = broadcast.forward(
        SegOutput {
            fused: fused.clone(),
            sides: vec![],
        },
        y.clone(),
    );
    assert_rel("no sides", v(&out.total), bce(fused), 1e-6);
}

#[test]
#[should_panic(expected = "side_weights has 3 entries")]
fn combined_loss_panics_on_side_count_mismatch() {
    let device = Device::flex();
    let t = tensor(vec![0.0; 16], [1, 1, 4, 4], &device);
    let loss = LossConfig::new()
        .with_side_weights(vec![1.0, 1.0, 1.0])
        .init()
        .expect("valid");
    loss.forward(
        SegOutput {
            fused: t.clone(),
            sides: vec![t.clone(), t.clone()],
        },
        t,
    );
}

#[test]
fn bce_is_stable_for_extreme_logits() {
    let device = Device::flex();
    let x = tensor(vec![1e4, -1e4, 88.0, -88.0], [1, 1, 2, 2], &device);
    let y = tensor(vec![1.0, 0.0, 0.0, 1.0], [1, 1, 2, 2], &device);
    let v = BceLossConfig::new()
        .init()
        .forward(x.clone(), y.clone())
        .into_scalar::<f32>();
    assert!((v - 44.0).abs() < 1e-3, "{v}");
    let f = FocalLossConfig::new()
        .init()
        .forward(x, y)
        .into_scalar::<f32>();
    assert!(f.is_finite(), "{f}");
}

#[test]
fn ms_ssim_gradient_is_finite_when_a_scale_is_clipped_to_zero() {
    // An inverted prediction makes cs negative, which pytorch-msssim's ReLU clips to 0.
    let device = Device::flex().autodiff();
    let shape = [2, 1, 64, 64];
    let t = shapes_target();
    let x = tensor(logits_from(&t, -3.0, 0), shape, &device).require_grad();
    let y = tensor(t, shape, &device);
    let loss = MsSsimLossConfig::new().init().forward(x.clone(), y);
    let grads = loss.backward();
    let value = loss.into_scalar::<f32>();
    let g = to_vec(x.grad(&grads).expect("logits receive a gradient"));
    assert!(
        (value - 1.0).abs() < 1e-6,
        "MS-SSIM is clipped to 0, loss {value}"
    );
    assert!(
        g.iter().all(|v| v.is_finite()),
        "gradient has non-finite values"
    );
}
