//! Stride-1 "same"-style conv2d (any kernel shape, padding and dilation, one group) for the
//! Flex CPU backend: forward, input gradient and weight gradient on the `gemm` crate, through
//! burn's public backend-extension mechanism.
//!
//! burn 0.22 differentiates a conv's weight as a convolution whose kernel is the whole output
//! gradient; on Flex that runs as a direct loop whose cost grows with the image, so on
//! lesion-sized inputs it was a large share of a training step (profile: `docs/lab-notes.md`). All
//! three products here are plain matrix multiplies on *shifted views* of one zero-padded copy of
//! the input, with no im2col copies:
//!
//! - pad each sample to `I x Hp x Wp` (a little slack after the last plane);
//! - a kernel tap `(a, b)` reads the padded planes shifted by `a*dh*Wp + b*dw`, so in the
//!   "padded-width" layout (rows of `Wp`, the last `Wp - Wo` columns garbage) the output of
//!   sample `n` is `Y = Σ_taps W_tap (O x I) · X_shift (I x Ho*Wp)`;
//! - the input gradient scatters `W_tapᵀ · dY` into the padded planes at the same shifts, and
//!   the weight gradient is `dW_tap = Σ_n dY (O x Ho*Wp) · X_shiftᵀ`, with the garbage columns
//!   of `dY` set to zero so that they contribute nothing.
//!
//! Samples run in parallel in the caller's rayon pool (or, for a single sample, the matrix
//! multiplies do). Tests compare values and gradients with burn's own conv2d.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, Backend, DType, Dispatch, ExtensionType, Flex, TensorMetadata, backend_extension,
};
use burn::tensor::{Shape, Tensor};
use gemm::Parallelism;

use super::fast_bn::{contiguous, f32s, from_vec};
use rayon::prelude::*;

/// Gradients of [`ConvBackend::conv2d_s1`] with respect to input, weight and bias.
#[derive(ExtensionType)]
pub struct ConvGrads<B: Backend> {
    pub x: FloatTensor<B>,
    pub weight: FloatTensor<B>,
    pub bias: FloatTensor<B>,
}

/// The backend operations behind [`conv2d_s1`].
#[backend_extension(Flex, Autodiff)]
pub trait ConvBackend: Backend {
    /// Stride-1 conv2d, `x: [N, I, H, W]`, `weight: [O, I, KH, KW]`, `bias: [O]`, symmetric
    /// zero padding `(ph, pw)` and dilation `(dh, dw)`.
    fn conv2d_s1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        geometry: [usize; 4],
    ) -> FloatTensor<Self>;

    /// Gradients of [`conv2d_s1`](Self::conv2d_s1) given the output gradient.
    fn conv2d_s1_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        geometry: [usize; 4],
    ) -> ConvGrads<Self>;
}

/// Stride-1 conv2d on Flex (values and gradients), `geometry = [ph, pw, dh, dw]`.
pub fn conv2d_s1(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    geometry: [usize; 4],
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ConvBackend>::conv2d_s1(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        geometry,
    ))
}

/// Sizes of one convolution in the padded-width layout.
#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
    i: usize,
    o: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    ph: usize,
    pw: usize,
    dh: usize,
    dw: usize,
    /// Output height and width.
    ho: usize,
    wo: usize,
    /// Padded plane width and plane size; buffer length per sample (with slack).
    wp: usize,
    plane: usize,
    padded_len: usize,
    /// Output length per channel in the padded-width layout (`ho * wp`).
    l: usize,
}

impl Geom {
    fn new(x: &Shape, w: &Shape, [ph, pw, dh, dw]: [usize; 4]) -> Self {
        let (xd, wd) = (x.as_slice(), w.as_slice());
        let (n, i, h, wi) = (xd[0], xd[1], xd[2], xd[3]);
        let (o, kh, kw) = (wd[0], wd[2], wd[3]);
        assert_eq!(
            wd[1], i,
            "conv2d_s1: weight in-channels {} vs input {i}",
            wd[1]
        );
        let (hp, wp) = (h + 2 * ph, wi + 2 * pw);
        let (eh, ew) = (dh * (kh - 1), dw * (kw - 1));
        assert!(
            hp > eh && wp > ew,
            "conv2d_s1: kernel larger than the padded input"
        );
        let (ho, wo) = (hp - eh, wp - ew);
        let plane = hp * wp;
        Geom {
            n,
            i,
            o,
            h,
            w: wi,
            kh,
            kw,
            ph,
            pw,
            dh,
            dw,
            ho,
            wo,
            wp,
            plane,
            padded_len: i * plane + ew,
            l: ho * wp,
        }
    }

    fn taps(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.kh * self.kw).map(|t| {
            let (a, b) = (t / self.kw, t % self.kw);
            (t, a * self.dh * self.wp + b * self.dw)
        })
    }

    /// Copies sample `s` of `x` into a zeroed padded buffer.
    fn pad_input(&self, x: &[f32], s: usize, buf: &mut Vec<f32>) {
        buf.clear();
        buf.resize(self.padded_len, 0.0);
        let hw = self.h * self.w;
        for c in 0..self.i {
            let src = &x[(s * self.i + c) * hw..][..hw];
            for y in 0..self.h {
                let dst = c * self.plane + (y + self.ph) * self.wp + self.pw;
                buf[dst..dst + self.w].copy_from_slice(&src[y * self.w..][..self.w]);
            }
        }
    }

    /// Copies sample `s` of the output gradient into the padded-width layout (zero garbage).
    fn widen_grad(&self, g: &[f32], s: usize, buf: &mut Vec<f32>) {
        buf.clear();
        buf.resize(self.o * self.l, 0.0);
        let hw = self.ho * self.wo;
        for c in 0..self.o {
            let src = &g[(s * self.o + c) * hw..][..hw];
            for y in 0..self.ho {
                let dst = c * self.l + y * self.wp;
                buf[dst..dst + self.wo].copy_from_slice(&src[y * self.wo..][..self.wo]);
            }
        }
    }
}

/// `dst (m x n) = [dst +] lhs (m x k) · rhs (k x n)`, strides as (row, column).
#[allow(clippy::too_many_arguments)]
unsafe fn matmul(
    [m, n, k]: [usize; 3],
    dst: *mut f32,
    dst_rs: usize,
    dst_cs: usize,
    accumulate: bool,
    lhs: *const f32,
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: *const f32,
    rhs_rs: usize,
    rhs_cs: usize,
    par: Parallelism,
) {
    // SAFETY: the caller guarantees that every addressed element lies inside its buffer and
    // that no two (row, column) pairs of `dst` alias.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// Splits the work: samples in parallel when there are enough of them, otherwise parallel
/// matrix multiplies one sample at a time.
fn plan(n: usize) -> (bool, Parallelism) {
    let threads = rayon::current_num_threads();
    if n >= threads || threads == 1 {
        (true, Parallelism::None)
    } else {
        (false, Parallelism::Rayon(threads))
    }
}

/// Runs `f(sample, out_chunk)` over samples, in parallel or not.
fn per_sample<F>(out: &mut [f32], chunk: usize, parallel: bool, f: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    if parallel {
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(s, o)| f(s, o));
    } else {
        out.chunks_mut(chunk).enumerate().for_each(|(s, o)| f(s, o));
    }
}

fn forward(x: &[f32], weight: &[f32], bias: &[f32], g: Geom) -> Vec<f32> {
    let (parallel, par) = plan(g.n);
    let kk = g.kh * g.kw;
    let mut out = vec![0.0f32; g.n * g.o * g.ho * g.wo];
    per_sample(&mut out, g.o * g.ho * g.wo, parallel, |s, out| {
        let mut xp = Vec::new();
        g.pad_input(x, s, &mut xp);
        let mut yw = vec![0.0f32; g.o * g.l];
        for (t, off) in g.taps() {
            // SAFETY: rows of `xp` from `off` span `l` values, within `padded_len` (slack).
            unsafe {
                matmul(
                    [g.o, g.l, g.i],
                    yw.as_mut_ptr(),
                    g.l,
                    1,
                    t > 0,
                    weight.as_ptr().add(t),
                    g.i * kk,
                    kk,
                    xp.as_ptr().add(off),
                    g.plane,
                    1,
                    par,
                );
            }
        }
        for c in 0..g.o {
            for y in 0..g.ho {
                let src = &yw[c * g.l + y * g.wp..][..g.wo];
                let dst = &mut out[(c * g.ho + y) * g.wo..][..g.wo];
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = v + bias[c];
                }
            }
        }
    });
    out
}

/// Input, weight and bias gradients.
fn backward(x: &[f32], weight: &[f32], grad: &[f32], g: Geom) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (parallel, par) = plan(g.n);
    let kk = g.kh * g.kw;
    let wlen = g.o * g.i * kk;
    // Per sample: the input gradient (in place) and this sample's weight and bias gradients.
    let mut dx = vec![0.0f32; g.n * g.i * g.h * g.w];
    let mut dws = vec![0.0f32; g.n * (wlen + g.o)];
    let mut jobs: Vec<(&mut [f32], &mut [f32])> = dx
        .chunks_mut(g.i * g.h * g.w)
        .zip(dws.chunks_mut(wlen + g.o))
        .collect();
    let job = |s: usize, (dx, dw): &mut (&mut [f32], &mut [f32])| {
        let mut xp = Vec::new();
        g.pad_input(x, s, &mut xp);
        let mut gw = Vec::new();
        g.widen_grad(grad, s, &mut gw);
        let mut dxp = vec![0.0f32; g.padded_len];
        let (dw, db) = dw.split_at_mut(wlen);
        for (t, off) in g.taps() {
            // SAFETY: as in `forward`; `dxp` rows from `off` span `l` values within the slack,
            // and distinct (channel, position) pairs address distinct elements (`l < plane`).
            unsafe {
                matmul(
                    [g.i, g.l, g.o],
                    dxp.as_mut_ptr().add(off),
                    g.plane,
                    1,
                    true,
                    weight.as_ptr().add(t),
                    kk,
                    g.i * kk,
                    gw.as_ptr(),
                    g.l,
                    1,
                    par,
                );
                matmul(
                    [g.o, g.i, g.l],
                    dw.as_mut_ptr().add(t),
                    g.i * kk,
                    kk,
                    false,
                    gw.as_ptr(),
                    g.l,
                    1,
                    xp.as_ptr().add(off),
                    1,
                    g.plane,
                    par,
                );
            }
        }
        for c in 0..g.i {
            for y in 0..g.h {
                let src = &dxp[c * g.plane + (y + g.ph) * g.wp + g.pw..][..g.w];
                dx[(c * g.h + y) * g.w..][..g.w].copy_from_slice(src);
            }
        }
        for (c, b) in db.iter_mut().enumerate() {
            *b = gw[c * g.l..(c + 1) * g.l].iter().sum();
        }
    };
    if parallel {
        jobs.par_iter_mut().enumerate().for_each(|(s, j)| job(s, j));
    } else {
        jobs.iter_mut().enumerate().for_each(|(s, j)| job(s, j));
    }
    let mut dw = vec![0.0f32; wlen + g.o];
    for part in dws.chunks(wlen + g.o) {
        for (d, &v) in dw.iter_mut().zip(part) {
            *d += v;
        }
    }
    let db = dw.split_off(wlen);
    (dx, dw, db)
}

impl ConvBackend for Flex {
    fn conv2d_s1(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        geometry: [usize; 4],
    ) -> FlexTensor {
        assert_eq!(x.dtype(), DType::F32, "conv2d_s1 runs on f32 tensors");
        let g = Geom::new(&x.shape(), &weight.shape(), geometry);
        let (x, weight, bias) = (contiguous(x), contiguous(weight), contiguous(bias));
        let out = forward(f32s(&x), f32s(&weight), f32s(&bias), g);
        from_vec(out, Shape::new([g.n, g.o, g.ho, g.wo]))
    }

    fn conv2d_s1_backward(
        x: FlexTensor,
        weight: FlexTensor,
        grad: FlexTensor,
        geometry: [usize; 4],
    ) -> ConvGrads<Self> {
        let g = Geom::new(&x.shape(), &weight.shape(), geometry);
        let (x, weight, grad) = (contiguous(x), contiguous(weight), contiguous(grad));
        let (dx, dw, db) = backward(f32s(&x), f32s(&weight), f32s(&grad), g);
        ConvGrads {
            x: from_vec(dx, Shape::new([g.n, g.i, g.h, g.w])),
            weight: from_vec(dw, Shape::new([g.o, g.i, g.kh, g.kw])),
            bias: from_vec(db, Shape::new([g.o])),
        }
    }
}

impl<B: ConvBackend, C: CheckpointStrategy> ConvBackend for Autodiff<B, C> {
    fn conv2d_s1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        geometry: [usize; 4],
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ConvOps;

        impl<B: ConvBackend> Backward<B, 3> for ConvOps {
            type State = (NodeId, NodeId, [usize; 4]);

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_w, node_b] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x_state, w_state, geometry) = ops.state;
                let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
                let w = checkpointer.retrieve_node_output::<FloatTensor<B>>(w_state);
                let r = B::conv2d_s1_backward(x, w, grad, geometry);
                if let Some(node) = node_x {
                    grads.register::<B>(node.id, r.x);
                }
                if let Some(node) = node_w {
                    grads.register::<B>(node.id, r.weight);
                }
                if let Some(node) = node_b {
                    grads.register::<B>(node.id, r.bias);
                }
            }
        }

        match ConvOps
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let w_state = prep.checkpoint(&weight);
                let out = B::conv2d_s1(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                    geometry,
                );
                prep.finish((x_state, w_state, geometry), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv2d_s1(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                geometry,
            )),
        }
    }

    fn conv2d_s1_backward(
        _x: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _geometry: [usize; 4],
    ) -> ConvGrads<Self> {
        panic!("the conv2d_s1 backward is not itself differentiable");
    }
}
