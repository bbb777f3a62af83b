//! One optimizer step, optionally data-parallel over the cores.
//!
//! With `replicas = 1` a step is the plain `forward -> loss -> backward -> optimizer` on the whole
//! batch. Most of that step's compute (convolutions, BatchNorm, resampling) is spread over the
//! rayon pool by our kernels, but the autodiff bookkeeping, the many small elementwise ops and the
//! optimizer run one after another on one thread while the other cores idle.
//!
//! With `replicas = r > 1` the batch is cut into `r` contiguous chunks and each chunk's forward
//! and backward pass runs as its own rayon task on its own copy of the model (a
//! [`fork`](Module::fork): the same parameter values and ids, fresh autodiff leaves, so the `r`
//! graphs are independent and burn's autodiff runs them concurrently). Each chunk's loss is
//! scaled by its share of the batch before its backward pass, and the chunk gradients are summed,
//! `Σ nᵢ/B · gᵢ`, which is the whole batch's gradient for any
//! loss that is a mean over samples, and one optimizer step follows. The serial phases of one
//! replica then overlap with the other's compute.
//!
//! What changes against `replicas = 1` (as in PyTorch's `DistributedDataParallel` without
//! `SyncBatchNorm`): BatchNorm normalises each chunk with that chunk's own batch statistics, and
//! a loss that pools over the batch (Dice with `reduction = "batch"`) is pooled per chunk. The
//! BatchNorm running statistics are burn's per-thread [`RunningState`](burn::module::RunningState)
//! values, averaged when read. Where every chunk holds the same samples, BatchNorm and the
//! per-sample losses see identical statistics and the result equals the single-replica step
//! (tested below).

use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rayon::prelude::*;

use crate::loss::CombinedLoss;
use crate::models::SegNet;

/// Wall-clock seconds of the phases of one training step, for `medseg bench` and profiling.
///
/// Flex runs eagerly, so on the CPU each phase's time is the compute it launched. GPU backends
/// queue their kernels, so there a phase's time is the host's: issuing work, or waiting where a
/// value is read back (the loss value at the end of `forward`, which also waits for whatever the
/// previous phases and steps left queued). With `r` replicas the
/// `forward` and `backward` entries hold one value per replica, measured on that replica's
/// thread; `parallel` is the concurrent section as a whole (from the split to the last replica's
/// end), so `parallel - max(forward + backward)` is what the fork and the rayon hand-off cost.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepPhases {
    /// Per replica: forward pass and loss, up to the loss value on the host.
    pub forward: Vec<f64>,
    /// Per replica: backward pass and gradient extraction.
    pub backward: Vec<f64>,
    /// The forward and backward passes of all replicas, as one section.
    pub parallel: f64,
    /// Sum of the replicas' (already weighted) gradients (0 with one replica).
    pub merge: f64,
    /// Optimizer update (0 from [`batch_gradients`], set by [`train_step`]).
    pub optim: f64,
}

impl StepPhases {
    /// Whole step: the concurrent section, the merge and the optimizer.
    pub fn total(&self) -> f64 {
        self.parallel + self.merge + self.optim
    }
}

/// One replica's pass over its chunk: the gradients of `weight` times the chunk's loss, the
/// (unweighted) loss value, forward and backward seconds. Weighting the loss before `backward`
/// leaves the serial merge a plain sum.
fn replica_pass(
    model: &SegNet,
    loss_fn: &CombinedLoss,
    x: Tensor<4>,
    y: Tensor<4>,
    weight: f64,
) -> (GradientsParams, f64, f64, f64) {
    let start = Instant::now();
    let loss = loss_fn.forward(model.forward(x), y).total;
    let value = loss.clone().into_scalar::<f32>() as f64;
    let forward = start.elapsed().as_secs_f64();
    let loss = if weight == 1.0 {
        loss
    } else {
        loss.mul_scalar(weight)
    };
    let grads = GradientsParams::from_grads(loss.backward(), model);
    (
        grads,
        value,
        forward,
        start.elapsed().as_secs_f64() - forward,
    )
}

/// Gradients of the loss over one batch, the batch's loss value and the wall-clock time of each
/// phase.
///
/// `x`: `[B, C, H, W]` inputs, `y`: `[B, 1, H, W]` targets, on an autodiff device. `replicas` is
/// clamped to `1..=B`.
pub fn batch_gradients(
    model: &SegNet,
    loss_fn: &CombinedLoss,
    x: Tensor<4>,
    y: Tensor<4>,
    replicas: usize,
) -> (GradientsParams, f64, StepPhases) {
    let b = x.dims()[0];
    let r = replicas.clamp(1, b.max(1));
    let start = Instant::now();
    if r == 1 {
        let (grads, value, forward, backward) = replica_pass(model, loss_fn, x, y, 1.0);
        let phases = StepPhases {
            forward: vec![forward],
            backward: vec![backward],
            parallel: start.elapsed().as_secs_f64(),
            ..StepPhases::default()
        };
        return (grads, value, phases);
    }
    // Chunk sizes differ by at most one sample.
    let bounds: Vec<(usize, usize)> = (0..r)
        .map(|i| (i * b / r, (i + 1) * b / r))
        .filter(|(s, e)| e > s)
        .collect();
    let device = x.device();
    let parts: Vec<(GradientsParams, f64, f64, f64, usize)> = bounds
        .into_par_iter()
        .map(|(s, e)| {
            let replica = model.clone().fork(&device);
            let xs = x.clone().narrow(0, s, e - s);
            let ys = y.clone().narrow(0, s, e - s);
            let weight = (e - s) as f64 / b as f64;
            let (grads, value, forward, backward) = replica_pass(&replica, loss_fn, xs, ys, weight);
            (grads, value, forward, backward, e - s)
        })
        .collect();
    let parallel = start.elapsed().as_secs_f64();
    let weights: Vec<f64> = parts.iter().map(|p| p.4 as f64 / b as f64).collect();
    let value = parts.iter().zip(&weights).map(|(p, w)| p.1 * w).sum();
    let forward = parts.iter().map(|p| p.2).collect();
    let backward = parts.iter().map(|p| p.3).collect();
    let mut merge = Merge {
        parts: parts.into_iter().map(|p| p.0).collect(),
        out: GradientsParams::new(),
    };
    model.visit(&mut merge);
    let phases = StepPhases {
        forward,
        backward,
        parallel,
        merge: start.elapsed().as_secs_f64() - parallel,
        optim: 0.0,
    };
    (merge.out, value, phases)
}

/// Sums the replicas' gradients of each parameter (each already weighted by its chunk's share).
struct Merge {
    parts: Vec<GradientsParams>,
    out: GradientsParams,
}

impl ModuleVisitor for Merge {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let mut sum: Option<Tensor<D>> = None;
        for grads in self.parts.iter_mut() {
            if let Some(g) = grads.remove::<D>(param.id) {
                sum = Some(match sum {
                    Some(acc) => acc + g,
                    None => g,
                });
            }
        }
        if let Some(g) = sum {
            self.out.register::<D>(param.id, g);
        }
    }
}

/// One optimizer step on a batch: [`batch_gradients`], then `optim` at learning rate `lr`.
/// Returns the updated model, the batch's loss value (not checked for finiteness) and the
/// wall-clock time of each phase.
pub fn train_step(
    model: SegNet,
    optim: &mut ModuleOptimizer,
    loss_fn: &CombinedLoss,
    x: Tensor<4>,
    y: Tensor<4>,
    lr: f64,
    replicas: usize,
) -> (SegNet, f64, StepPhases) {
    let (grads, value, mut phases) = batch_gradients(&model, loss_fn, x, y, replicas);
    let start = Instant::now();
    let model = optim.step(lr, model, grads);
    phases.optim = start.elapsed().as_secs_f64();
    (model, value, phases)
}

/// Runs `warmup + steps` training steps of `model` on fixed pseudo-random inputs of shape
/// `[batch, channels, height, width]` (targets: about 12 % foreground) and returns the model,
/// the phases of the `steps` timed ones and their wall-clock seconds in all (input upload
/// included): `medseg bench` and `medseg plan` measure throughput with it.
#[allow(clippy::too_many_arguments)]
pub fn time_training_steps(
    mut model: SegNet,
    optim: &mut ModuleOptimizer,
    loss_fn: &CombinedLoss,
    [b, c, h, w]: [usize; 4],
    replicas: usize,
    warmup: usize,
    steps: usize,
    device: &Device,
) -> (SegNet, Vec<StepPhases>, f64) {
    let mut rng = crate::data::Rng::new(1);
    let x: Vec<f32> = (0..b * c * h * w).map(|_| rng.uniform() as f32).collect();
    let y: Vec<f32> = (0..b * h * w)
        .map(|_| rng.chance(0.12) as u8 as f32)
        .collect();
    let mut phases = Vec::with_capacity(steps);
    let mut seconds = 0.0;
    for step in 0..warmup + steps {
        let start = Instant::now();
        let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), [b, c, h, w]), device);
        let yt = Tensor::<4>::from_data(TensorData::new(y.clone(), [b, 1, h, w]), device);
        let (next, _, times) = train_step(model, optim, loss_fn, xt, yt, 1e-3, replicas);
        model = next;
        if step >= warmup {
            seconds += start.elapsed().as_secs_f64();
            phases.push(times);
        }
    }
    (model, phases, seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::{BceKind, LossConfig};
    use crate::models::ModelName;
    use burn::module::ModuleVisitor;

    /// Collects every float parameter's gradient, flattened, in module order.
    struct Collect<'a> {
        grads: &'a GradientsParams,
        out: Vec<Vec<f32>>,
    }

    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                self.out.push(g.into_data().try_to_vec::<f32>().unwrap());
            }
        }
    }

    fn flat(model: &SegNet, grads: &GradientsParams) -> Vec<Vec<f32>> {
        let mut c = Collect {
            grads,
            out: Vec::new(),
        };
        model.visit(&mut c);
        c.out
    }

    fn data(b: usize, p: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = crate::data::Rng::new(seed);
        let x: Vec<f32> = (0..b * p * p).map(|_| rng.uniform() as f32).collect();
        let y: Vec<f32> = (0..b * p * p)
            .map(|_| rng.chance(0.2) as u8 as f32)
            .collect();
        (x, y)
    }

    /// A one-channel `nested-u2net` on an autodiff device seeded with `seed`.
    fn plain_net(seed: u64) -> (Device, SegNet) {
        let device = Device::default().autodiff();
        device.seed(seed);
        let model = ModelName::parse("nested-u2net")
            .unwrap()
            .config()
            .with_in_channels(1)
            .init(&device)
            .unwrap();
        (device, model)
    }

    /// Two replicas on a batch whose halves are the same samples see the same BatchNorm
    /// statistics and per-sample loss terms as one replica on the whole batch: the gradients
    /// agree, which checks the split, the fork and the weighted merge.
    #[test]
    fn two_replicas_on_a_doubled_batch_give_the_single_replica_gradients() {
        let (device, model) = plain_net(3);
        let loss_fn = LossConfig::new()
            .with_bce(BceKind::Focal {
                alpha: Some(0.5),
                gamma: 2.0,
            })
            .with_w_dice(0.0)
            .init()
            .unwrap();
        let (b, p) = (2, 32);
        let (x, y) = data(b, p, 7);
        let twice = |v: &Vec<f32>| v.iter().chain(v.iter()).copied().collect::<Vec<f32>>();
        let t = |v: Vec<f32>, n: usize| {
            Tensor::<4>::from_data(TensorData::new(v, [n, 1, p, p]), &device)
        };
        let (g1, l1, _) = batch_gradients(
            &model,
            &loss_fn,
            t(twice(&x), 2 * b),
            t(twice(&y), 2 * b),
            1,
        );
        let (g2, l2, _) = batch_gradients(
            &model,
            &loss_fn,
            t(twice(&x), 2 * b),
            t(twice(&y), 2 * b),
            2,
        );
        assert!((l1 - l2).abs() < 1e-6 * l1.abs().max(1.0), "{l1} vs {l2}");
        let (a, c) = (flat(&model, &g1), flat(&model, &g2));
        assert_eq!(a.len(), c.len());
        assert!(!a.is_empty());
        let mut worst = 0.0f32;
        for (u, v) in a.iter().zip(&c) {
            assert_eq!(u.len(), v.len());
            let scale = u.iter().fold(0.0f32, |m, g| m.max(g.abs())).max(1e-6);
            for (g, h) in u.iter().zip(v) {
                worst = worst.max((g - h).abs() / scale);
            }
        }
        assert!(worst < 1e-3, "relative gradient difference {worst}");
    }

    /// The timed step reports one forward and one backward time per replica, and the whole
    /// step covers its parts.
    #[test]
    fn timed_step_reports_each_replica_and_the_serial_phases() {
        let (device, model) = plain_net(2);
        let loss_fn = LossConfig::new().init().unwrap();
        let (b, p) = (3, 16);
        let (x, y) = data(b, p, 5);
        let t = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [b, 1, p, p]), &device);
        let mut optim = burn::optim::AdamWConfig::new().init();
        let (model, _, one) = train_step(
            model,
            &mut optim,
            &loss_fn,
            t(x.clone()),
            t(y.clone()),
            1e-3,
            1,
        );
        assert_eq!((one.forward.len(), one.backward.len()), (1, 1));
        assert_eq!(one.merge, 0.0);
        let (_, _, two) = train_step(model, &mut optim, &loss_fn, t(x), t(y), 1e-3, 2);
        assert_eq!((two.forward.len(), two.backward.len()), (2, 2));
        for (f, bw) in two.forward.iter().zip(&two.backward) {
            assert!(*f > 0.0 && *bw > 0.0);
            assert!(f + bw <= two.parallel, "{f} + {bw} > {}", two.parallel);
        }
        assert!(two.merge > 0.0 && two.optim > 0.0);
        assert!((two.total() - (two.parallel + two.merge + two.optim)).abs() < 1e-12);
    }

    /// On different samples the replicas' gradients are not all the same as the whole batch's
    /// (BatchNorm statistics differ per chunk), but they stay close: the split must not drop or
    /// double-count a chunk.
    #[test]
    fn replicas_gradient_is_a_weighted_mean_not_a_sum() {
        let (device, model) = plain_net(5);
        let loss_fn = LossConfig::new().with_w_dice(1.0).init().unwrap();
        let (b, p) = (4, 32);
        let (x, y) = data(b, p, 11);
        let t = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [b, 1, p, p]), &device);
        let (g1, _, _) = batch_gradients(&model, &loss_fn, t(x.clone()), t(y.clone()), 1);
        let (g3, _, _) = batch_gradients(&model, &loss_fn, t(x), t(y), 3);
        let norm = |g: &Vec<Vec<f32>>| {
            g.iter()
                .flatten()
                .map(|v| (v * v) as f64)
                .sum::<f64>()
                .sqrt()
        };
        let (n1, n3) = (norm(&flat(&model, &g1)), norm(&flat(&model, &g3)));
        assert!(n1 > 0.0);
        let ratio = n3 / n1;
        assert!((0.5..2.0).contains(&ratio), "gradient norm ratio {ratio}");
    }
}
