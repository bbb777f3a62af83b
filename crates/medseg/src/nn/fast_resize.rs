//! Bilinear resize and 2x2 max-pooling for the Flex CPU backend (forward and backward), through
//! burn's public backend-extension mechanism.
//!
//! Flex's generic bilinear `interpolate` (whose backward runs on one thread) and its
//! `max_pool2d` (which computes argmax indices even at inference) took a large share of U2-Net
//! style inference and training, which resize and pool at every level (the profiles are in
//! `docs/lab-notes.md`). Both ops are simple enough to write directly:
//!
//! - bilinear: per-axis tables of (first source index, second source index, weights) computed
//!   once per call as PyTorch's `upsample_bilinear2d` does (half-pixel source coordinates clamped
//!   at 0 when `align_corners` is false, corner to corner when true); forward reads 4 taps per
//!   output, backward scatters each output row's gradient along the width into a row buffer and
//!   adds it to its two source rows;
//! - max-pool, kernel 2, stride 2, floor or ceil mode: forward a plain max over each window;
//!   backward routes each output gradient to the first maximum of its window in row-major order
//!   (PyTorch's and Flex's rule), recomputed from the input, so no index tensor is kept.
//!
//! Work runs in parallel over output rows (forward) or planes (backward) inside the caller's
//! rayon pool. Tests compare values and gradients with Flex's own ops.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, DType, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::tensor::{Shape, Tensor};
use rayon::prelude::*;

use super::fast_bn::{contiguous, f32s, from_vec};
use super::taps::linear_taps as taps;

/// The backend operations behind [`bilinear`] and [`max_pool2x2`].
#[backend_extension(Flex, Autodiff)]
pub trait ResizeBackend: Backend {
    /// Bilinear resize of `x: [N, C, H, W]` to `[N, C, size[0], size[1]]`.
    fn bilinear(x: FloatTensor<Self>, size: [usize; 2], align_corners: bool) -> FloatTensor<Self>;

    /// Gradient of [`bilinear`](Self::bilinear) with respect to its input of spatial size
    /// `input`, given the output gradient.
    fn bilinear_backward(
        grad: FloatTensor<Self>,
        input: [usize; 2],
        align_corners: bool,
    ) -> FloatTensor<Self>;

    /// 2x2 max-pooling, stride 2; `ceil` keeps an odd last row/column as a window of its own.
    fn max_pool2x2(x: FloatTensor<Self>, ceil: bool) -> FloatTensor<Self>;

    /// Gradient of [`max_pool2x2`](Self::max_pool2x2) with respect to its input `x`.
    fn max_pool2x2_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        ceil: bool,
    ) -> FloatTensor<Self>;
}

/// Bilinear resize of `[N, C, H, W]` to spatial `size` (PyTorch semantics). Flex devices only.
pub fn bilinear(x: Tensor<4>, size: [usize; 2], align_corners: bool) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ResizeBackend>::bilinear(
        x.into_dispatch(),
        size,
        align_corners,
    ))
}

/// 2x2, stride-2 max-pooling in floor or ceil mode. Flex devices only.
pub fn max_pool2x2(x: Tensor<4>, ceil: bool) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ResizeBackend>::max_pool2x2(
        x.into_dispatch(),
        ceil,
    ))
}

/// `(planes, height, width)` of a `[N, C, H, W]` shape.
fn planes(shape: &Shape) -> (usize, usize, usize) {
    let d = shape.as_slice();
    assert_eq!(d.len(), 4, "expected a [N, C, H, W] tensor, got {d:?}");
    (d[0] * d[1], d[2], d[3])
}

/// Output rows handed to one rayon task at least (keeps tiny rows from costing more in
/// scheduling than in work).
fn min_rows(width: usize) -> usize {
    (4096 / width.max(1)).max(1)
}

fn bilinear_forward(
    x: &[f32],
    p: usize,
    [h, w]: [usize; 2],
    [ho, wo]: [usize; 2],
    ac: bool,
) -> Vec<f32> {
    assert!(
        ho > 0 && wo > 0,
        "bilinear resize to an empty size {ho}x{wo}"
    );
    let (rows, cols) = (taps(h, ho, ac), taps(w, wo, ac));
    let horizontal = |src: &[f32], dst: &mut [f32]| {
        for (d, c) in dst.iter_mut().zip(&cols) {
            *d = c.w0 * src[c.i0] + c.w1 * src[c.i1];
        }
    };
    let mut out = vec![0.0f32; p * ho * wo];
    if p >= 2 * rayon::current_num_threads() {
        // Separable, one plane per task: each input row is interpolated along the width once,
        // then output rows are contiguous blends of two such rows.
        out.par_chunks_mut(ho * wo)
            .enumerate()
            .for_each(|(plane, o)| {
                let xs = &x[plane * h * w..][..h * w];
                let mut tmp = vec![0.0f32; h * wo];
                for (src, dst) in xs.chunks_exact(w).zip(tmp.chunks_exact_mut(wo)) {
                    horizontal(src, dst);
                }
                for (t, o) in rows.iter().zip(o.chunks_exact_mut(wo)) {
                    let (a, b) = (&tmp[t.i0 * wo..][..wo], &tmp[t.i1 * wo..][..wo]);
                    for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
                        *o = t.w0 * a + t.w1 * b;
                    }
                }
            });
    } else {
        // Few planes (one image's side output): parallel over output rows.
        out.par_chunks_mut(wo)
            .enumerate()
            .with_min_len(min_rows(wo))
            .for_each_init(
                || (vec![0.0f32; wo], vec![0.0f32; wo]),
                |(top, bottom), (r, o)| {
                    let (plane, oy) = (r / ho, r % ho);
                    let t = rows[oy];
                    let base = plane * h * w;
                    horizontal(&x[base + t.i0 * w..][..w], top);
                    horizontal(&x[base + t.i1 * w..][..w], bottom);
                    for ((o, &a), &b) in o.iter_mut().zip(top.iter()).zip(bottom.iter()) {
                        *o = t.w0 * a + t.w1 * b;
                    }
                },
            );
    }
    out
}

fn bilinear_backward_planes(
    g: &[f32],
    p: usize,
    [h, w]: [usize; 2],
    [ho, wo]: [usize; 2],
    ac: bool,
) -> Vec<f32> {
    let (rows, cols) = (taps(h, ho, ac), taps(w, wo, ac));
    let mut dx = vec![0.0f32; p * h * w];
    dx.par_chunks_mut(h * w).enumerate().for_each(|(plane, d)| {
        let mut row = vec![0.0f32; w];
        for (oy, t) in rows.iter().enumerate() {
            row.fill(0.0);
            let gr = &g[(plane * ho + oy) * wo..][..wo];
            for (&gv, c) in gr.iter().zip(&cols) {
                row[c.i0] += c.w0 * gv;
                row[c.i1] += c.w1 * gv;
            }
            for (d, &v) in d[t.i0 * w..][..w].iter_mut().zip(&row) {
                *d += t.w0 * v;
            }
            for (d, &v) in d[t.i1 * w..][..w].iter_mut().zip(&row) {
                *d += t.w1 * v;
            }
        }
    });
    dx
}

fn pooled(side: usize, ceil: bool) -> usize {
    if ceil { side.div_ceil(2) } else { side / 2 }
}

fn pool_forward(x: &[f32], p: usize, [h, w]: [usize; 2], ceil: bool) -> Vec<f32> {
    let (ho, wo) = (pooled(h, ceil), pooled(w, ceil));
    let mut out = vec![0.0f32; p * ho * wo];
    out.par_chunks_mut(wo.max(1))
        .enumerate()
        .with_min_len(min_rows(wo))
        .for_each(|(r, o)| {
            let (plane, oy) = (r / ho, r % ho);
            let base = plane * h * w;
            let y0 = 2 * oy;
            let r0 = &x[base + y0 * w..][..w];
            let r1 = if y0 + 1 < h {
                Some(&x[base + (y0 + 1) * w..][..w])
            } else {
                None
            };
            for (ox, o) in o.iter_mut().enumerate() {
                let x0 = 2 * ox;
                let mut m = r0[x0];
                if x0 + 1 < w {
                    m = m.max(r0[x0 + 1]);
                }
                if let Some(r1) = r1 {
                    m = m.max(r1[x0]);
                    if x0 + 1 < w {
                        m = m.max(r1[x0 + 1]);
                    }
                }
                *o = m;
            }
        });
    out
}

fn pool_backward(x: &[f32], g: &[f32], p: usize, [h, w]: [usize; 2], ceil: bool) -> Vec<f32> {
    let (ho, wo) = (pooled(h, ceil), pooled(w, ceil));
    let mut dx = vec![0.0f32; p * h * w];
    dx.par_chunks_mut(h * w).enumerate().for_each(|(plane, d)| {
        let xs = &x[plane * h * w..][..h * w];
        for oy in 0..ho {
            let gr = &g[(plane * ho + oy) * wo..][..wo];
            for (ox, &gv) in gr.iter().enumerate() {
                // The first maximum in row-major order.
                let (y0, x0) = (2 * oy, 2 * ox);
                let mut best = y0 * w + x0;
                for (dy, dx_) in [(0, 1), (1, 0), (1, 1)] {
                    let (y, xx) = (y0 + dy, x0 + dx_);
                    if y < h && xx < w && xs[y * w + xx] > xs[best] {
                        best = y * w + xx;
                    }
                }
                d[best] += gv;
            }
        }
    });
    dx
}

fn spatial(shape: &Shape) -> [usize; 2] {
    let d = shape.as_slice();
    [d[2], d[3]]
}

impl ResizeBackend for Flex {
    fn bilinear(x: FlexTensor, size: [usize; 2], align_corners: bool) -> FlexTensor {
        assert_eq!(x.dtype(), DType::F32, "bilinear runs on f32 tensors");
        let shape = x.shape();
        let (p, h, w) = planes(&shape);
        let x = contiguous(x);
        let out = bilinear_forward(f32s(&x), p, [h, w], size, align_corners);
        let d = shape.as_slice();
        from_vec(out, Shape::new([d[0], d[1], size[0], size[1]]))
    }

    fn bilinear_backward(grad: FlexTensor, input: [usize; 2], align_corners: bool) -> FlexTensor {
        let shape = grad.shape();
        let (p, ho, wo) = planes(&shape);
        let grad = contiguous(grad);
        let dx = bilinear_backward_planes(f32s(&grad), p, input, [ho, wo], align_corners);
        let d = shape.as_slice();
        from_vec(dx, Shape::new([d[0], d[1], input[0], input[1]]))
    }

    fn max_pool2x2(x: FlexTensor, ceil: bool) -> FlexTensor {
        assert_eq!(x.dtype(), DType::F32, "max_pool2x2 runs on f32 tensors");
        let shape = x.shape();
        let (p, h, w) = planes(&shape);
        let x = contiguous(x);
        let out = pool_forward(f32s(&x), p, [h, w], ceil);
        let d = shape.as_slice();
        from_vec(
            out,
            Shape::new([d[0], d[1], pooled(h, ceil), pooled(w, ceil)]),
        )
    }

    fn max_pool2x2_backward(x: FlexTensor, grad: FlexTensor, ceil: bool) -> FlexTensor {
        let shape = x.shape();
        let (p, h, w) = planes(&shape);
        let (x, grad) = (contiguous(x), contiguous(grad));
        let dx = pool_backward(f32s(&x), f32s(&grad), p, [h, w], ceil);
        from_vec(dx, shape)
    }
}

impl<B: ResizeBackend, C: CheckpointStrategy> ResizeBackend for Autodiff<B, C> {
    fn bilinear(x: FloatTensor<Self>, size: [usize; 2], align_corners: bool) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct BilinearOps;

        impl<B: ResizeBackend> Backward<B, 1> for BilinearOps {
            /// The input's spatial size and `align_corners`.
            type State = ([usize; 2], bool);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let [node_x] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (input, align_corners) = ops.state;
                if let Some(node) = node_x {
                    grads.register::<B>(node.id, B::bilinear_backward(grad, input, align_corners));
                }
            }
        }

        let input = spatial(&x.shape());
        match BilinearOps
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(
                (input, align_corners),
                B::bilinear(x.into_primitive(), size, align_corners),
            ),
            OpsKind::UnTracked(prep) => {
                prep.finish(B::bilinear(x.into_primitive(), size, align_corners))
            }
        }
    }

    fn bilinear_backward(
        _grad: FloatTensor<Self>,
        _input: [usize; 2],
        _align_corners: bool,
    ) -> FloatTensor<Self> {
        panic!("the bilinear backward is not itself differentiable");
    }

    fn max_pool2x2(x: FloatTensor<Self>, ceil: bool) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct PoolOps;

        impl<B: ResizeBackend> Backward<B, 1> for PoolOps {
            /// The input (checkpointed) and the rounding mode.
            type State = (NodeId, bool);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [node_x] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x_state, ceil) = ops.state;
                let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
                if let Some(node) = node_x {
                    grads.register::<B>(node.id, B::max_pool2x2_backward(x, grad, ceil));
                }
            }
        }

        match PoolOps.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                prep.finish((x_state, ceil), B::max_pool2x2(x.into_primitive(), ceil))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::max_pool2x2(x.into_primitive(), ceil)),
        }
    }

    fn max_pool2x2_backward(
        _x: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _ceil: bool,
    ) -> FloatTensor<Self> {
        panic!("the max-pool backward is not itself differentiable");
    }
}
