//! Fused BatchNorm (+ ReLU) for training on the Flex CPU backend, through burn's public
//! backend-extension mechanism.
//!
//! burn's own training BatchNorm on Flex is composed from generic tensor operations: the
//! statistics go through a transposed copy and two reductions, the normalisation through four
//! elementwise passes, the ReLU through two more, and the backward pass through a dozen, each a
//! full pass over the activation (and an allocation). Here one autodiff node does it all:
//!
//! - forward: one read pass for the per-channel mean and variance, one read/write pass for
//!   `relu(gamma * (x - mean) / sqrt(var + eps) + beta)`;
//! - backward: one read pass for the per-channel sums `Σ g` and `Σ g·x̂` (with `g` the output
//!   gradient masked by the ReLU), one read/write pass for the input gradient.
//!
//! Both passes run in parallel over channels (reductions) and over `(sample, channel)` planes
//! (elementwise), inside the caller's rayon pool. [`ConvBn`](super::ConvBn) takes this path when
//! it trains on Flex; every other case (inference, other backends, non-f32 tensors) keeps burn's
//! BatchNorm. Tests compare values and gradients with burn's own ops.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ActivationOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, DType, Dispatch, DispatchDevice, ExtensionType, Flex,
    TensorMetadata, backend_extension,
};
use burn::tensor::{Shape, Tensor};
use rayon::prelude::*;

/// Output of the fused training BatchNorm: the activation and the batch statistics (mean and
/// biased variance, per channel) that feed the running statistics.
#[derive(ExtensionType)]
pub struct BnActTrain<B: Backend> {
    pub output: FloatTensor<B>,
    pub mean: FloatTensor<B>,
    pub variance: FloatTensor<B>,
}

/// Gradients of [`BnActBackend::bn_act_train`] with respect to its input, gamma and beta.
#[derive(ExtensionType)]
pub struct BnActGrads<B: Backend> {
    pub x: FloatTensor<B>,
    pub gamma: FloatTensor<B>,
    pub beta: FloatTensor<B>,
}

/// The backend operations behind [`bn_act_train`].
#[backend_extension(Flex, Autodiff)]
pub trait BnActBackend: Backend {
    /// BatchNorm with the batch's own statistics, optionally followed by ReLU.
    fn bn_act_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> BnActTrain<Self>;

    /// Gradients of [`bn_act_train`](Self::bn_act_train) given its input, its output (for the
    /// ReLU mask), the statistics it returned and the output gradient.
    #[allow(clippy::too_many_arguments)]
    fn bn_act_train_backward(
        x: FloatTensor<Self>,
        output: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
        grad: FloatTensor<Self>,
    ) -> BnActGrads<Self>;
}

/// Whether [`bn_act_train`] runs natively on tensors of this device.
pub fn supported(device: &burn::tensor::Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        DispatchDevice::Flex(_)
    )
}

/// Fused training BatchNorm (+ ReLU) over `[batch, channels, height, width]`; returns the
/// output and the batch mean and biased variance (detached). Only for [`supported`] devices.
pub fn bn_act_train(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    relu: bool,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let out = <Dispatch as BnActBackend>::bn_act_train(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
        relu,
    );
    (
        Tensor::from_dispatch(out.output),
        Tensor::from_dispatch(out.mean),
        Tensor::from_dispatch(out.variance),
    )
}

/// `(batch, channels, plane)` of a `[N, C, ...]` shape.
fn ncp(shape: &Shape) -> (usize, usize, usize) {
    let dims = shape.as_slice();
    let n = dims[0];
    let c = dims[1];
    (n, c, dims[2..].iter().product())
}

/// A contiguous f32 view of a Flex tensor (copying only if it is strided).
pub(crate) fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

pub(crate) fn from_vec(data: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(burn::tensor::TensorData::new(data, shape))
}

pub(crate) fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32 tensor")
}

/// Per-channel mean and biased variance, each channel's sums shifted by its first value (so
/// that a large mean does not cancel the variance) and accumulated in f64.
fn channel_stats(x: &[f32], n: usize, c: usize, p: usize) -> Vec<(f64, f64)> {
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let shift = x[ch * p] as f64;
            let (mut s, mut s2) = (0.0f64, 0.0f64);
            for b in 0..n {
                let plane = &x[(b * c + ch) * p..(b * c + ch + 1) * p];
                // 16 f32 lanes per 1024-value block (vectorised), blocks summed in f64.
                for block in plane.chunks(1024) {
                    let (mut a, mut a2) = ([0.0f32; 16], [0.0f32; 16]);
                    let mut lanes = block.chunks_exact(16);
                    for v in &mut lanes {
                        for l in 0..16 {
                            let d = v[l] - shift as f32;
                            a[l] += d;
                            a2[l] += d * d;
                        }
                    }
                    for &v in lanes.remainder() {
                        let d = v - shift as f32;
                        a[0] += d;
                        a2[0] += d * d;
                    }
                    s += a.iter().sum::<f32>() as f64;
                    s2 += a2.iter().sum::<f32>() as f64;
                }
            }
            let m = (n * p) as f64;
            let mean_shifted = s / m;
            let var = (s2 / m - mean_shifted * mean_shifted).max(0.0);
            (shift + mean_shifted, var)
        })
        .collect()
}

impl BnActBackend for Flex {
    fn bn_act_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        relu: bool,
    ) -> BnActTrain<Self> {
        if x.dtype() != DType::F32 {
            // Other float types: burn's composed BatchNorm, then ReLU.
            let r = <Flex as ModuleOps<Flex>>::batch_norm_train(x, gamma, beta, epsilon);
            let output = if relu { Flex::relu(r.output) } else { r.output };
            return BnActTrain {
                output,
                mean: r.mean,
                variance: r.variance,
            };
        }
        let shape = x.shape();
        let (n, c, p) = ncp(&shape);
        let (x, gamma, beta) = (contiguous(x), contiguous(gamma), contiguous(beta));
        let xs = f32s(&x);
        let stats = channel_stats(xs, n, c, p);
        let (g, bt) = (f32s(&gamma), f32s(&beta));
        // y = x * scale + shift per channel.
        let affine: Vec<(f32, f32)> = stats
            .iter()
            .enumerate()
            .map(|(ch, &(mean, var))| {
                let scale = g[ch] as f64 / (var + epsilon).sqrt();
                (scale as f32, (bt[ch] as f64 - mean * scale) as f32)
            })
            .collect();
        let mut out = vec![0.0f32; n * c * p];
        out.par_chunks_mut(p)
            .zip(xs.par_chunks(p))
            .enumerate()
            .for_each(|(i, (o, xp))| {
                let (scale, shift) = affine[i % c];
                if relu {
                    for (o, &v) in o.iter_mut().zip(xp) {
                        *o = (v * scale + shift).max(0.0);
                    }
                } else {
                    for (o, &v) in o.iter_mut().zip(xp) {
                        *o = v * scale + shift;
                    }
                }
            });
        let mean = stats.iter().map(|s| s.0 as f32).collect();
        let variance = stats.iter().map(|s| s.1 as f32).collect();
        BnActTrain {
            output: from_vec(out, shape),
            mean: from_vec(mean, Shape::new([c])),
            variance: from_vec(variance, Shape::new([c])),
        }
    }

    fn bn_act_train_backward(
        x: FlexTensor,
        output: FlexTensor,
        gamma: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
        relu: bool,
        grad: FlexTensor,
    ) -> BnActGrads<Self> {
        if x.dtype() != DType::F32 {
            let grad = if relu {
                Flex::relu_backward(output, grad)
            } else {
                grad
            };
            let r = <Flex as ModuleOps<Flex>>::batch_norm_train_backward(
                x, gamma, mean, variance, epsilon, grad,
            );
            return BnActGrads {
                x: r.x_grad,
                gamma: r.gamma_grad,
                beta: r.beta_grad,
            };
        }
        let shape = x.shape();
        let (n, c, p) = ncp(&shape);
        let (x, output, grad) = (contiguous(x), contiguous(output), contiguous(grad));
        let (gamma, mean, variance) = (contiguous(gamma), contiguous(mean), contiguous(variance));
        let (xs, ys, gs) = (f32s(&x), f32s(&output), f32s(&grad));
        let (gm, mu, var) = (f32s(&gamma), f32s(&mean), f32s(&variance));
        let inv_std: Vec<f32> = var
            .iter()
            .map(|&v| (1.0 / (v as f64 + epsilon).sqrt()) as f32)
            .collect();
        // The output gradient through the ReLU: zero where the output was clamped.
        let masked = |y: f32, g: f32| if relu && y <= 0.0 { 0.0 } else { g };
        // Σ g and Σ g·x̂ per channel.
        let sums: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (m, is) = (mu[ch], inv_std[ch]);
                let (mut sg, mut sgx) = (0.0f64, 0.0f64);
                for b in 0..n {
                    let r = (b * c + ch) * p..(b * c + ch + 1) * p;
                    for ((xb, yb), gb) in xs[r.clone()]
                        .chunks(1024)
                        .zip(ys[r.clone()].chunks(1024))
                        .zip(gs[r].chunks(1024))
                    {
                        let (mut a, mut a2) = ([0.0f32; 16], [0.0f32; 16]);
                        let whole = xb.len() / 16 * 16;
                        for i in (0..whole).step_by(16) {
                            for l in 0..16 {
                                let g = masked(yb[i + l], gb[i + l]);
                                a[l] += g;
                                a2[l] += g * (xb[i + l] - m) * is;
                            }
                        }
                        for i in whole..xb.len() {
                            let g = masked(yb[i], gb[i]);
                            a[0] += g;
                            a2[0] += g * (xb[i] - m) * is;
                        }
                        sg += a.iter().sum::<f32>() as f64;
                        sgx += a2.iter().sum::<f32>() as f64;
                    }
                }
                (sg, sgx)
            })
            .collect();
        let count = (n * p) as f64;
        // dx = gamma·inv_std·(g − Σg/M − x̂·Σg·x̂/M)
        let coef: Vec<(f32, f32, f32, f32)> = (0..c)
            .map(|ch| {
                (
                    gm[ch] * inv_std[ch],
                    (sums[ch].0 / count) as f32,
                    (sums[ch].1 / count) as f32,
                    mu[ch],
                )
            })
            .collect();
        let mut dx = vec![0.0f32; n * c * p];
        dx.par_chunks_mut(p).enumerate().for_each(|(i, d)| {
            let ch = i % c;
            let (k, mg, mgx, m) = coef[ch];
            let is = inv_std[ch];
            let r = i * p..(i + 1) * p;
            for (((d, &xv), &yv), &gv) in d
                .iter_mut()
                .zip(&xs[r.clone()])
                .zip(&ys[r.clone()])
                .zip(&gs[r])
            {
                let xhat = (xv - m) * is;
                *d = k * (masked(yv, gv) - mg - xhat * mgx);
            }
        });
        let dgamma = sums.iter().map(|s| s.1 as f32).collect();
        let dbeta = sums.iter().map(|s| s.0 as f32).collect();
        BnActGrads {
            x: from_vec(dx, shape),
            gamma: from_vec(dgamma, Shape::new([c])),
            beta: from_vec(dbeta, Shape::new([c])),
        }
    }
}

impl<B: BnActBackend, C: CheckpointStrategy> BnActBackend for Autodiff<B, C> {
    fn bn_act_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> BnActTrain<Self> {
        #[derive(Debug)]
        struct BnActOps;

        impl<B: BnActBackend> Backward<B, 3> for BnActOps {
            /// Input and gamma (checkpointed), output, batch statistics, epsilon, ReLU.
            type State = (
                NodeId,
                NodeId,
                FloatTensor<B>,
                FloatTensor<B>,
                FloatTensor<B>,
                f64,
                bool,
            );

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_gamma, node_beta] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x_state, gamma_state, output, mean, variance, epsilon, relu) = ops.state;
                let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
                let gamma = checkpointer.retrieve_node_output::<FloatTensor<B>>(gamma_state);
                let r =
                    B::bn_act_train_backward(x, output, gamma, mean, variance, epsilon, relu, grad);
                if let Some(node) = node_x {
                    grads.register::<B>(node.id, r.x);
                }
                if let Some(node) = node_gamma {
                    grads.register::<B>(node.id, r.gamma);
                }
                if let Some(node) = node_beta {
                    grads.register::<B>(node.id, r.beta);
                }
            }
        }

        match BnActOps
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let r = B::bn_act_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                    relu,
                );
                let state = (
                    x_state,
                    gamma_state,
                    r.output.clone(),
                    r.mean.clone(),
                    r.variance.clone(),
                    epsilon,
                    relu,
                );
                BnActTrain {
                    output: prep.finish(state, r.output),
                    mean: <Self as AutodiffBackend>::from_inner(r.mean),
                    variance: <Self as AutodiffBackend>::from_inner(r.variance),
                }
            }
            OpsKind::UnTracked(prep) => {
                let r = B::bn_act_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                    relu,
                );
                BnActTrain {
                    output: prep.finish(r.output),
                    mean: <Self as AutodiffBackend>::from_inner(r.mean),
                    variance: <Self as AutodiffBackend>::from_inner(r.variance),
                }
            }
        }
    }

    fn bn_act_train_backward(
        _x: FloatTensor<Self>,
        _output: FloatTensor<Self>,
        _gamma: FloatTensor<Self>,
        _mean: FloatTensor<Self>,
        _variance: FloatTensor<Self>,
        _epsilon: f64,
        _relu: bool,
        _grad: FloatTensor<Self>,
    ) -> BnActGrads<Self> {
        panic!("the fused BatchNorm backward is not itself differentiable");
    }
}
