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
//! - `per-image` (default, as MONAI's `batch=False`): the sums run over `[C, H, W]` of each
//!   image, and the loss is `1 - mean over the batch of the per-image dice`. Matches the
//!   per-image F1 reported by [`crate::metrics`].
//! - `batch` (smp's binary mode): the sums run over the whole batch, one ratio. More stable when
//!   many patches have (almost) empty targets.

use burn::prelude::*;
use burn::tensor::activation::sigmoid;
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
    let [b, c, h, w] = logits.dims();
    let rows = match reduction {
        DiceReduction::PerImage => b,
        DiceReduction::Batch => 1,
    };
    let p = sigmoid(logits).reshape([rows, b * c * h * w / rows]);
    let y = targets.reshape([rows, b * c * h * w / rows]);
    let inter = (p.clone() * y.clone()).sum_dim(1); // [rows, 1]
    let card = p.sum_dim(1) + y.sum_dim(1); // [rows, 1]
    let dice = inter.mul_scalar(2.0).add_scalar(smooth) / card.add_scalar(smooth);
    dice.mean().neg().add_scalar(1.0)
}
