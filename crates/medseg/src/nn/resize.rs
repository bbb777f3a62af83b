//! Spatial resizing helpers shared by every model.

use burn::prelude::*;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use serde::{Deserialize, Serialize};

use super::taps::linear_taps;

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
    #[cfg(feature = "flex")]
    if super::fast_bn::supported(&x.device()) {
        return super::fast_resize::max_pool2x2(x, mode == PoolMode::Ceil);
    }
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
///
/// On the Flex CPU backend this is our own kernel ([`super::fast_resize::bilinear`], faster
/// than Flex's generic `interpolate`, with a parallel backward). burn 0.22's GPU
/// backends (CubeCL: wgpu, CUDA) have no backward pass for bilinear interpolation, so training
/// there would stop at the first step; on those devices the same resize runs as two matrix
/// products, [`resize_separable`], which every backend can differentiate.
pub fn resize_like(x: Tensor<4>, size: [usize; 2], align_corners: bool) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if [h, w] == size {
        return x;
    }
    #[cfg(feature = "flex")]
    if super::fast_bn::supported(&x.device()) {
        return super::fast_resize::bilinear(x, size, align_corners);
    }
    resize_separable(x, size, align_corners)
}

/// Bilinear resize as `A_h · x · A_wᵀ`, with `A` the 1-D interpolation matrices of PyTorch's
/// `F.interpolate(mode='bilinear')` (half-pixel source coordinates clamped at 0 when
/// `align_corners` is false, corner-to-corner when true). The same values as `interpolate`, and
/// differentiable on every backend (only reshapes and matrix products).
///
/// # Shapes
/// `[B, C, h0, w0]` -> `[B, C, h, w]`
pub fn resize_separable(x: Tensor<4>, size: [usize; 2], align_corners: bool) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let device = x.device();
    let rows = interpolation_matrix(h, size[0], align_corners);
    let cols = interpolation_matrix(w, size[1], align_corners);
    // [out_h, h] and [w, out_w] (the transpose of the column matrix), broadcast over B * C.
    let a_h = Tensor::<2>::from_data(TensorData::new(rows, [size[0], h]), &device)
        .unsqueeze::<3>()
        .expand([b * c, size[0], h]);
    let a_wt = Tensor::<2>::from_data(TensorData::new(cols, [size[1], w]), &device)
        .transpose()
        .unsqueeze::<3>()
        .expand([b * c, w, size[1]]);
    let flat = x.reshape([b * c, h, w]);
    a_h.matmul(flat)
        .matmul(a_wt)
        .reshape([b, c, size[0], size[1]])
}

/// Row-major `[output, input]` weights of 1-D linear interpolation from `input` to `output`
/// samples, as PyTorch computes them for `mode='bilinear'` with an explicit output size.
fn interpolation_matrix(input: usize, output: usize, align_corners: bool) -> Vec<f32> {
    let mut m = vec![0.0f32; output * input];
    for (o, t) in linear_taps(input, output, align_corners).iter().enumerate() {
        m[o * input + t.i0] += t.w0;
        m[o * input + t.i1] += t.w1;
    }
    m
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
    fn separable_resize_matches_interpolate_values_and_gradients() {
        use burn::tensor::Distribution;
        let device = Device::flex().autodiff();
        // up by 2 (both modes), up by odd factors, down, and a one-pixel side
        let cases = [
            ([4, 6], [8, 12]),
            ([5, 3], [11, 9]),
            ([9, 8], [4, 5]),
            ([1, 4], [3, 7]),
        ];
        for (from, to) in cases {
            for align in [false, true] {
                let x =
                    Tensor::<4>::random([2, 3, from[0], from[1]], Distribution::Default, &device);
                let weight =
                    Tensor::<4>::random([2, 3, to[0], to[1]], Distribution::Default, &device);
                let xr = x.clone().detach().require_grad();
                let xo = x.detach().require_grad();
                let reference = resize_like(xr.clone(), to, align);
                let ours = resize_separable(xo.clone(), to, align);
                let gr = (reference.clone() * weight.clone()).sum().backward();
                let go = (ours.clone() * weight).sum().backward();
                let close = |a: Tensor<4>, b: Tensor<4>, what: &str| {
                    let a = a.into_data().try_to_vec::<f32>().unwrap();
                    let b = b.into_data().try_to_vec::<f32>().unwrap();
                    let worst = a
                        .iter()
                        .zip(&b)
                        .map(|(p, q)| (p - q).abs())
                        .fold(0.0f32, f32::max);
                    assert!(
                        worst < 1e-5,
                        "{what} {from:?}->{to:?} align {align}: {worst}"
                    );
                };
                close(reference, ours, "values");
                close(xr.grad(&gr).unwrap(), xo.grad(&go).unwrap(), "gradients");
            }
        }
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
