//! Focal loss (Lin et al. 2017, <https://arxiv.org/abs/1708.02002>), exactly torchvision's
//! `torchvision.ops.sigmoid_focal_loss` with `reduction="mean"`:
//!
//! ```text
//! p   = σ(x),  ce = BCE-with-logits(x, y),  p_t = p y + (1 - p)(1 - y)
//! loss = mean( α_t · ce · (1 - p_t)^γ ),   α_t = α y + (1 - α)(1 - y)   (α_t = 1 when α is None)
//! ```
//!
//! This is the paper's "BCE that keeps easy negatives from dominating" in its focal reading;
//! the class-weighted reading is [`super::bce`] with `pos_weight`. `γ = 0` with `α = None` is plain
//! BCE. torchvision disables α with a negative sentinel (`alpha=-1`); here it is `None`.

use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::bce::bce_elementwise;
use super::{assert_same_shape, check};

/// Configuration of [`FocalLoss`].
#[derive(Config, Debug, PartialEq)]
pub struct FocalLossConfig {
    /// Weight of the positive class, in `[0, 1]`; `None` disables the α weighting.
    #[config(default = "Some(0.25)")]
    pub alpha: Option<f64>,
    /// Focusing parameter γ, `0` or `>= 1` (for `0 < γ < 1` the gradient of `(1 - p_t)^γ`
    /// is infinite where a prediction is exactly right).
    #[config(default = 2.0)]
    pub gamma: f64,
}

impl FocalLossConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> crate::Result<()> {
        if let Some(a) = self.alpha {
            check(
                "focal.alpha",
                a,
                (0.0..=1.0).contains(&a),
                "must be in [0, 1]",
            )?;
        }
        let g = self.gamma;
        check("focal.gamma", g, g == 0.0 || g >= 1.0, "must be 0 or >= 1")
    }

    /// Builds the loss.
    ///
    /// # Panics
    /// If [`validate`](Self::validate) fails.
    pub fn init(&self) -> FocalLoss {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        FocalLoss {
            alpha: self.alpha,
            gamma: self.gamma,
        }
    }
}

/// Sigmoid focal loss (mean over all elements).
#[derive(Debug, Clone, PartialEq)]
pub struct FocalLoss {
    /// See [`FocalLossConfig::alpha`].
    pub alpha: Option<f64>,
    /// See [`FocalLossConfig::gamma`].
    pub gamma: f64,
}

impl FocalLoss {
    /// Mean focal loss between `logits` and 0/1 `targets`.
    ///
    /// # Shapes
    /// - `logits`, `targets`: `[B, C, H, W]` (equal); output `[1]`.
    pub fn forward(&self, logits: Tensor<4>, targets: Tensor<4>) -> Tensor<1> {
        sigmoid_focal_loss(logits, targets, self.alpha, self.gamma)
    }
}

/// torchvision's `sigmoid_focal_loss(x, y, alpha, gamma, reduction="mean")`; `alpha = None`
/// is torchvision's `alpha < 0`.
///
/// # Panics
/// If the shapes differ.
pub fn sigmoid_focal_loss(
    logits: Tensor<4>,
    targets: Tensor<4>,
    alpha: Option<f64>,
    gamma: f64,
) -> Tensor<1> {
    assert_same_shape("sigmoid_focal_loss", &logits, &targets);
    let p = sigmoid(logits.clone());
    let ce = bce_elementwise(logits, targets.clone(), None);
    let mut loss = if gamma == 0.0 {
        ce
    } else {
        // 1 - p_t with p_t = p y + (1 - p)(1 - y), written as torchvision does.
        let one_minus_y = targets.clone().neg().add_scalar(1.0);
        let p_t = p.clone() * targets.clone() + p.neg().add_scalar(1.0) * one_minus_y;
        ce * p_t.neg().add_scalar(1.0).powf_scalar(gamma)
    };
    if let Some(a) = alpha {
        // α y + (1 - α)(1 - y) = (1 - α) + (2α - 1) y
        loss = loss * targets.mul_scalar(2.0 * a - 1.0).add_scalar(1.0 - a);
    }
    loss.mean()
}
