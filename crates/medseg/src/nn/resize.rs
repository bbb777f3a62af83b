//! Spatial resizing helpers shared by every model.

use burn::prelude::*;
use burn::tensor::module::{interpolate, max_pool2d};
use burn::tensor::ops::{InterpolateMode, InterpolateOptions, MaxPoolOptions};
use serde::{Deserialize, Serialize};

/// Rounding of 2x2 max-pooling on odd sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolMode {
    /// `ceil_mode = True` (U2-Net): an odd side keeps its last row/column.
    Ceil,
    /// `ceil_mode = False` (PyTorch default, UNet++ reference): the last odd row/column is dropped.
    Floor,
}

/// Output side of a 2x2, stride-2 max-pool.
pub fn pooled_size(side: usize, mode: PoolMode) -> usize {
    match mode {
        PoolMode::Ceil => side.div_ceil(2),
        PoolMode::Floor => side / 2,
    }
}

/// Spatial size of each of `levels` levels, halving with 2x2 pooling in `mode`.
pub fn level_sizes(size: [usize; 2], levels: usize, mode: PoolMode) -> Vec<[usize; 2]> {
    let mut sizes = vec![size];
    for _ in 1..levels {
        let [h, w] = *sizes.last().expect("starts non-empty");
        sizes.push([pooled_size(h, mode), pooled_size(w, mode)]);
    }
    sizes
}

/// 2x2 max-pooling with stride 2.
///
/// # Shapes
/// `[B, C, H, W]` -> `[B, C, pooled_size(H), pooled_size(W)]`
pub fn max_pool2x2(x: Tensor<4>, mode: PoolMode) -> Tensor<4> {
    let mut options = MaxPoolOptions::new([2, 2]);
    options.ceil_mode = mode == PoolMode::Ceil;
    max_pool2d(x, options)
}

/// Bilinear resize of `x` to the spatial size `[h, w]` of a target map.
///
/// `align_corners = false` is PyTorch's `F.interpolate(..., mode='bilinear')` default and what
/// U2-Net's `_upsample_like` does; `true` is UNet++'s `nn.Upsample(scale_factor=2,
/// align_corners=True)` when the target is exactly twice the size. A no-op when sizes agree.
///
/// # Shapes
/// `[B, C, h0, w0]` -> `[B, C, h, w]`
pub fn resize_like(x: Tensor<4>, size: [usize; 2], align_corners: bool) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if [h, w] == size {
        return x;
    }
    let mut options = InterpolateOptions::new(InterpolateMode::Bilinear);
    options.align_corners = align_corners;
    options.output_size = Some(size);
    interpolate(x, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_sizes() {
        assert_eq!(pooled_size(61, PoolMode::Ceil), 31);
        assert_eq!(pooled_size(61, PoolMode::Floor), 30);
        assert_eq!(pooled_size(64, PoolMode::Ceil), 32);
    }

    #[test]
    fn pooling_and_resize_shapes() {
        let device = Device::flex();
        let x = Tensor::<4>::ones([1, 2, 7, 5], &device);
        assert_eq!(max_pool2x2(x.clone(), PoolMode::Ceil).dims(), [1, 2, 4, 3]);
        assert_eq!(max_pool2x2(x.clone(), PoolMode::Floor).dims(), [1, 2, 3, 2]);
        assert_eq!(resize_like(x, [9, 11], false).dims(), [1, 2, 9, 11]);
    }

    #[test]
    fn bilinear_half_pixel_matches_pytorch() {
        // torch.nn.functional.interpolate(torch.tensor([[[[0., 1.]]]]), size=(1, 4),
        //     mode='bilinear', align_corners=False) -> [0.0, 0.25, 0.75, 1.0]
        let device = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(vec![0.0f32, 1.0], [1, 1, 1, 2]), &device);
        let y = resize_like(x, [1, 4], false)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let expected = [0.0, 0.25, 0.75, 1.0];
        for (a, b) in y.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{y:?}");
        }
    }
}
