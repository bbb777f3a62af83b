//! Softmax cross-entropy over exclusive classes (multi-class segmentation), optionally
//! class-weighted, as PyTorch's `CrossEntropyLoss(weight=w)` computes it:
//!
//! ```text
//! loss = Σ_pixels w[y] · (-log softmax(x)[y])  /  Σ_pixels w[y]
//! ```
//!
//! where `y` is each pixel's class. Targets are one-hot `[B, K, H, W]` (the K-channel masks of
//! the data pipeline), so `w[y] = Σ_k w_k y_k`; a pixel whose channels are all 0 (no class)
//! counts for nothing.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use super::assert_same_shape;

/// Mean (class-weighted) softmax cross-entropy; see the module docs. `class_weights` empty
/// means all 1.
///
/// # Shapes
/// - `logits`, `targets` (one-hot): `[B, K, H, W]` (equal); output `[1]`.
///
/// # Panics
/// If the shapes differ or `class_weights` is not empty and not K long.
pub fn softmax_cross_entropy(
    logits: Tensor<4>,
    targets: Tensor<4>,
    class_weights: &[f64],
) -> Tensor<1> {
    assert_same_shape("softmax_cross_entropy", &logits, &targets);
    let [_, k, _, _] = logits.dims();
    let device = logits.device();
    let log_p = log_softmax(logits, 1); // [B, K, H, W]
    let targets = if class_weights.is_empty() {
        targets
    } else {
        assert_eq!(
            class_weights.len(),
            k,
            "softmax_cross_entropy: {} class weights for {k} channels",
            class_weights.len()
        );
        let w: Vec<f32> = class_weights.iter().map(|&w| w as f32).collect();
        targets * Tensor::<4>::from_data(TensorData::new(w, [1, k, 1, 1]), &device)
    }; // w[y] at each pixel's class, 0 elsewhere
    let nll = (log_p * targets.clone()).sum().neg(); // Σ w[y] · -log p[y]
    nll / targets.sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(data: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
        Tensor::from_data(TensorData::new(data, shape), &Device::flex())
    }

    /// Two pixels, two classes: logits (0, ln 3) with class 1 -> -ln(3/4); logits (0, 0) with
    /// class 0 -> ln 2. Unweighted mean (ln(4/3) + ln 2)/2; with weights (1, 3):
    /// (3 ln(4/3) + ln 2)/4.
    #[test]
    fn hand_checked_values() {
        let ln3 = 3f32.ln();
        let logits = t(vec![0.0, 0.0, ln3, 0.0], [1, 2, 1, 2]);
        let y = t(vec![0.0, 1.0, 1.0, 0.0], [1, 2, 1, 2]);
        let plain: f32 = softmax_cross_entropy(logits.clone(), y.clone(), &[]).into_scalar();
        let want = ((4f32 / 3.0).ln() + 2f32.ln()) / 2.0;
        assert!((plain - want).abs() < 1e-6, "{plain} vs {want}");
        let weighted: f32 = softmax_cross_entropy(logits, y, &[1.0, 3.0]).into_scalar();
        let want = (3.0 * (4f32 / 3.0).ln() + 2f32.ln()) / 4.0;
        assert!((weighted - want).abs() < 1e-6, "{weighted} vs {want}");
    }
}
