//! Segmentation losses. Every loss takes **logits** (`[B, K, H, W]`, no sigmoid applied; K = 1
//! for binary segmentation) and 0/1 float targets of the same shape (one-hot for multi-class), returns a scalar `Tensor<1>` of shape `[1]`, and is
//! differentiable on the autodiff backend.
//!
//! - [`bce`]: binary cross-entropy with logits, optional PyTorch-style `pos_weight`; top-k BCE
//!   over each image's hardest pixels.
//! - [`focal`]: focal loss, torchvision's `sigmoid_focal_loss`.
//! - [`dice`]: soft Dice with smoothing, per class, per-image or batch reduction; sigmoid or
//!   softmax (multi-class, class-weighted as MONAI).
//! - [`cross_entropy`]: class-weighted softmax cross-entropy (multi-class).
//! - [`ms_ssim`](mod@ms_ssim): `1 - MS-SSIM` (Wang et al. 2003) as pytorch-msssim computes it, with a
//!   documented rule for inputs too small for five scales.
//! - [`deep_supervision`]: [`LossConfig`], the weighted sum of the terms above applied to the
//!   fused output and every side output of a [`crate::models::SegOutput`].
//!
//! Golden values: `tools/golden/gen_losses.py` (torch, torchvision, pytorch-msssim), checked by
//! `crates/medseg/tests/golden_losses.rs`; the K-channel losses against MONAI's `DiceLoss` and
//! `DiceCELoss` by `tools/golden/gen_multi_losses.py` and `tests/golden_multi_losses.rs`.

pub mod bce;
pub mod cross_entropy;
pub mod deep_supervision;
pub mod dice;
pub mod focal;
pub mod ms_ssim;

pub use bce::{BceLoss, BceLossConfig, bce_with_logits, top_k_bce_with_logits};
pub use cross_entropy::softmax_cross_entropy;
pub use deep_supervision::{BceKind, ChannelMode, CombinedLoss, LossConfig, LossOutput, LossTerms};
pub use dice::{DiceLoss, DiceLossConfig, DiceReduction, soft_dice_loss, softmax_dice_loss};
pub use focal::{FocalLoss, FocalLossConfig, sigmoid_focal_loss};
pub use ms_ssim::{MS_SSIM_WEIGHTS, MsSsimLoss, MsSsimLossConfig, MsSsimPlan, ms_ssim};

use burn::prelude::*;

/// Panics with both shapes when logits and targets differ (a programming error, like burn's
/// own losses).
pub(crate) fn assert_same_shape(loss: &str, logits: &Tensor<4>, targets: &Tensor<4>) {
    let (l, t) = (logits.dims(), targets.dims());
    assert!(
        l == t,
        "{loss}: logits {l:?} and targets {t:?} must have the same shape [B, C, H, W]"
    );
}

/// `Err(InvalidConfig)` naming the field unless `value` is finite and satisfies `ok`.
pub(crate) fn check(field: &str, value: f64, ok: bool, rule: &str) -> crate::Result<()> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(crate::Error::InvalidConfig(format!(
            "{field} = {value} is invalid: {rule}"
        )))
    }
}
