//! The model zoo. Every model returns logits ([`SegOutput`]); no sigmoid inside.

use burn::prelude::*;

/// What every segmentation model returns: logits, never probabilities.
///
/// # Shapes
/// - `fused`: `[B, 1, H, W]`, the final prediction (logits), same `H, W` as the input.
/// - `sides`: side outputs for deep supervision, each `[B, 1, H, W]` (already resized to the
///   input size), in a documented, model-specific order. Empty for models without deep supervision.
#[derive(Debug, Clone)]
pub struct SegOutput {
    /// Fused output logits `[B, 1, H, W]`.
    pub fused: Tensor<4>,
    /// Side output logits, each `[B, 1, H, W]`.
    pub sides: Vec<Tensor<4>>,
}
