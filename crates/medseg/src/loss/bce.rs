//! Binary cross-entropy with logits, optionally with PyTorch's `pos_weight`.
//!
//! Follows `torch.nn.functional.binary_cross_entropy_with_logits` (mean reduction):
//!
//! ```text
//! loss = mean( (1 - y) x - (1 + (w - 1) y) log σ(x) )
//! ```
//!
//! which is `-[w y log σ(x) + (1 - y) log(1 - σ(x))]`, with `log σ` evaluated in the stable
//! log-sum-exp form `-(max(-x, 0) + log(e^{-max(-x,0)} + e^{-x-max(-x,0)}))` by burn's
//! `log_sigmoid` (which also has an exact backward, so the gradient at `x = 0` is `σ(0) - y`).
//! `w = pos_weight` multiplies the positive term only; `w > 1` favours recall on thin
//! structures (the "weighted-BCE" reading of a class-balanced loss).
//!
//! [`top_k_bce_with_logits`] averages only each image's hardest pixels (online hard example
//! mining): the `ceil(fraction x C x H x W)` largest per-pixel BCE values of each image, as
//! `bce(x, y, reduction="none").flatten(1).topk(k, dim=1).values.mean()` in PyTorch. Easy
//! negatives (most background pixels) then contribute nothing.

use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;

use super::{assert_same_shape, check};

/// Configuration of [`BceLoss`].
#[derive(Config, Debug, PartialEq)]
pub struct BceLossConfig {
    /// Weight of the positive term (PyTorch's `pos_weight`), finite and `> 0`. `None` is plain
    /// BCE (the same as `Some(1.0)`).
    pub pos_weight: Option<f64>,
}

impl BceLossConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> crate::Result<()> {
        match self.pos_weight {
            Some(w) => check("bce.pos_weight", w, w > 0.0, "must be > 0"),
            None => Ok(()),
        }
    }

    /// Builds the loss.
    ///
    /// # Panics
    /// If [`validate`](Self::validate) fails.
    pub fn init(&self) -> BceLoss {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        BceLoss {
            pos_weight: self.pos_weight,
        }
    }
}

/// Binary cross-entropy with logits (mean over all elements).
#[derive(Debug, Clone, PartialEq)]
pub struct BceLoss {
    /// See [`BceLossConfig::pos_weight`].
    pub pos_weight: Option<f64>,
}

impl BceLoss {
    /// Mean BCE between `logits` and 0/1 `targets`.
    ///
    /// # Shapes
    /// - `logits`, `targets`: `[B, C, H, W]` (equal).
    /// - output: `[1]`.
    pub fn forward(&self, logits: Tensor<4>, targets: Tensor<4>) -> Tensor<1> {
        bce_with_logits(logits, targets, self.pos_weight)
    }
}

/// Per-element BCE with logits, unreduced (`[B, C, H, W]`); see the module docs.
pub(crate) fn bce_elementwise(
    logits: Tensor<4>,
    targets: Tensor<4>,
    pos_weight: Option<f64>,
) -> Tensor<4> {
    let log_p = log_sigmoid(logits.clone());
    // (1 - y) x
    let linear = targets.clone().neg().add_scalar(1.0) * logits;
    match pos_weight {
        None => linear - log_p,
        // 1 + (w - 1) y
        Some(w) => linear - targets.mul_scalar(w - 1.0).add_scalar(1.0) * log_p,
    }
}

/// Mean BCE with logits, PyTorch's `binary_cross_entropy_with_logits(x, y, pos_weight=[w])`.
///
/// # Shapes
/// - `logits`, `targets`: `[B, C, H, W]` (equal); output `[1]`.
///
/// # Panics
/// If the shapes differ.
pub fn bce_with_logits(
    logits: Tensor<4>,
    targets: Tensor<4>,
    pos_weight: Option<f64>,
) -> Tensor<1> {
    assert_same_shape("bce_with_logits", &logits, &targets);
    bce_elementwise(logits, targets, pos_weight).mean()
}

/// Mean of each image's `ceil(fraction x C x H x W)` largest per-pixel BCE values (plain BCE);
/// see the module docs. The hardest pixels are chosen on the loss values without gradient, and
/// the gradient flows through the chosen pixels only.
///
/// # Shapes
/// - `logits`, `targets`: `[B, C, H, W]` (equal); output `[1]`.
///
/// # Panics
/// If the shapes differ or `fraction` is not in `(0, 1]`.
pub fn top_k_bce_with_logits(logits: Tensor<4>, targets: Tensor<4>, fraction: f64) -> Tensor<1> {
    assert_same_shape("top_k_bce_with_logits", &logits, &targets);
    assert!(
        fraction > 0.0 && fraction <= 1.0,
        "top-k fraction {fraction} not in (0, 1]"
    );
    let [b, c, h, w] = logits.dims();
    let n = c * h * w;
    let k = top_k_count(fraction, n);
    let per_pixel: Tensor<2> = bce_elementwise(logits, targets, None).reshape([b, n]);
    if k == n {
        return per_pixel.mean();
    }
    let (_, hardest) = per_pixel.clone().detach().topk_with_indices(k, 1);
    per_pixel.gather(1, hardest).mean()
}

/// `ceil(fraction x n)`, at least 1 and at most `n` (guarding against rounding up past `n`).
pub(crate) fn top_k_count(fraction: f64, n: usize) -> usize {
    ((fraction * n as f64).ceil() as usize).clamp(1, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_counts() {
        assert_eq!(top_k_count(0.25, 36), 9);
        assert_eq!(top_k_count(0.7, 36), 26);
        assert_eq!(top_k_count(1e-9, 36), 1);
        assert_eq!(top_k_count(1.0, 36), 36);
    }

    #[test]
    fn config_rejects_non_positive_pos_weight() {
        assert!(BceLossConfig::new().validate().is_ok());
        assert!(
            BceLossConfig::new()
                .with_pos_weight(Some(2.0))
                .validate()
                .is_ok()
        );
        let err = BceLossConfig::new()
            .with_pos_weight(Some(0.0))
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("bce.pos_weight = 0"), "{err}");
        assert!(
            BceLossConfig::new()
                .with_pos_weight(Some(f64::NAN))
                .validate()
                .is_err()
        );
    }
}
