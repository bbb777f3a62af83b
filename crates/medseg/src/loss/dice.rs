//! Soft Dice loss on sigmoid probabilities.
//!
//! ```text
//! p = σ(x);  dice = (2 Σ p y + s) / (Σ p + Σ y + s);  loss = 1 - dice
//! ```
//!
//! with the same smoothing `s` in numerator and denominator, so an empty target with an
//! empty prediction gives `dice = 1` (loss 0) and the loss is always finite for `s > 0`.
//!
//! Reduction ([`DiceReduction`]):
//! - `per-image` (default, as MONAI's `batch=False`): the sums run over `[H, W]` of each image
//!   and class, and the loss is `1 - mean over images and classes of the dice`. Matches the
//!   per-image F1 reported by [`crate::metrics`].
//! - `batch` (smp's binary mode, MONAI's `batch=True`): the sums run over the whole batch, one
//!   ratio per class, averaged over classes. More stable when many patches have (almost) empty
//!   targets.
//!
//! With K > 1 channels every class gets its own Dice, as MONAI's `DiceLoss` computes it: a class
//! absent from an image (empty target) scores `s / (Σ p + s)`, so 1 (loss 0) when the
//! prediction is empty too and close to 0 when it is not; never `0/0`. MONAI's smoothing is
//! `smooth_nr = smooth_dr = s` here. For K = 1 this is the binary loss, bit for bit.
//!
//! [`soft_dice_loss`] takes sigmoid probabilities of the logits (binary and multi-label);
//! [`softmax_dice_loss`] takes the softmax over the channels against one-hot targets
//! (multi-class, MONAI's `softmax=True, to_onehot_y=True`), with optional class weights applied
//! as MONAI applies them (each class's loss times its weight, then the plain mean).

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};
use serde::{Deserialize, Serialize};

use super::{assert_same_shape, check};

/// Where the Dice sums are taken; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiceReduction {
    /// One Dice per image, averaged over the batch.
    PerImage,
    /// One Dice over all pixels of the batch.
    Batch,
}

/// Configuration of [`DiceLoss`].
#[derive(Config, Debug, PartialEq)]
pub struct DiceLossConfig {
    /// Smoothing `s` added to numerator and denominator, finite and `>= 0`. With `0`, a batch
    /// (or image) whose target and prediction are both exactly zero gives NaN.
    #[config(default = 1.0)]
    pub smooth: f64,
    /// Per-image or batch sums.
    #[config(default = "DiceReduction::PerImage")]
    pub reduction: DiceReduction,
}

impl DiceLossConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> crate::Result<()> {
        check(
            "dice.smooth",
            self.smooth,
            self.smooth >= 0.0,
            "must be >= 0",
        )
    }

    /// Builds the loss.
    ///
    /// # Panics
    /// If [`validate`](Self::validate) fails.
    pub fn init(&self) -> DiceLoss {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        DiceLoss {
            smooth: self.smooth,
            reduction: self.reduction,
        }
    }
}

/// Soft Dice loss; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct DiceLoss {
    /// See [`DiceLossConfig::smooth`].
    pub smooth: f64,
    /// See [`DiceLossConfig::reduction`].
    pub reduction: DiceReduction,
}

impl DiceLoss {
    /// `1 - soft Dice` between `σ(logits)` and 0/1 `targets`.
    ///
    /// # Shapes
    /// - `logits`, `targets`: `[B, C, H, W]` (equal); output `[1]`.
    pub fn forward(&self, logits: Tensor<4>, targets: Tensor<4>) -> Tensor<1> {
        soft_dice_loss(logits, targets, self.smooth, self.reduction)
    }
}

/// `1 - soft Dice`; see the module docs.
///
/// # Panics
/// If the shapes differ.
pub fn soft_dice_loss(
    logits: Tensor<4>,
    targets: Tensor<4>,
    smooth: f64,
    reduction: DiceReduction,
) -> Tensor<1> {
    assert_same_shape("soft_dice_loss", &logits, &targets);
    let dice = dice_rows(sigmoid(logits), targets, smooth, reduction);
    dice.mean().neg().add_scalar(1.0)
}

/// `1 - soft Dice` of `softmax(logits)` over the channels against one-hot `targets` (each
/// pixel's channels sum to 1), per class; `class_weights` (one per channel) scale each class's
/// loss before the mean, as MONAI's `DiceLoss(weight=...)` does. See the module docs.
///
/// # Shapes
/// - `logits`, `targets`: `[B, K, H, W]` (equal), `K >= 2`; output `[1]`.
///
/// # Panics
/// If the shapes differ or `class_weights` is not empty and not K long.
pub fn softmax_dice_loss(
    logits: Tensor<4>,
    targets: Tensor<4>,
    smooth: f64,
    reduction: DiceReduction,
    class_weights: &[f64],
) -> Tensor<1> {
    assert_same_shape("softmax_dice_loss", &logits, &targets);
    let [b, k, _, _] = logits.dims();
    let device = logits.device();
    let loss = dice_rows(softmax(logits, 1), targets, smooth, reduction)
        .neg()
        .add_scalar(1.0); // [rows, 1], rows = B*K (per image) or K (batch)
    if class_weights.is_empty() {
        return loss.mean();
    }
    assert_eq!(
        class_weights.len(),
        k,
        "softmax_dice_loss: {} class weights for {k} channels",
        class_weights.len()
    );
    let rows = loss.dims()[0];
    let reps = rows / k;
    let w: Vec<f32> = (0..reps)
        .flat_map(|_| class_weights.iter().map(|&w| w as f32))
        .collect();
    debug_assert!(reps == 1 || reps == b);
    let w = Tensor::<2>::from_data(TensorData::new(w, [rows, 1]), &device);
    (loss * w).mean()
}

/// Soft Dice of probabilities `p` against `y`, one row per (image, class) (`per-image`) or per
/// class (`batch`): `[rows, 1]`, rows in `[b][k]` order. One channel takes the same path, and
/// gives the same numbers, as the binary loss always did.
fn dice_rows(p: Tensor<4>, y: Tensor<4>, smooth: f64, reduction: DiceReduction) -> Tensor<2> {
    let [b, c, h, w] = p.dims();
    let (p, y) = match reduction {
        // [B, C, H, W] -> [B*C, H*W]: one row per image and class.
        DiceReduction::PerImage => (p.reshape([b * c, h * w]), y.reshape([b * c, h * w])),
        // One row over the whole batch (binary: exactly the former layout).
        DiceReduction::Batch if c == 1 => (p.reshape([1, b * h * w]), y.reshape([1, b * h * w])),
        // [B, C, H, W] -> [C, B*H*W]: one row per class.
        DiceReduction::Batch => (
            p.swap_dims(0, 1).reshape([c, b * h * w]),
            y.swap_dims(0, 1).reshape([c, b * h * w]),
        ),
    };
    let inter = (p.clone() * y.clone()).sum_dim(1); // [rows, 1]
    let card = p.sum_dim(1) + y.sum_dim(1); // [rows, 1]
    inter.mul_scalar(2.0).add_scalar(smooth) / card.add_scalar(smooth)
}
