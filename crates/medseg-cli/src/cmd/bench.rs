//! `medseg bench`: training throughput, tiled inference time and peak memory of a model, on
//! synthetic inputs, for the side-by-side comparison with PyTorch
//! (`scripts/bench-vs-pytorch.sh`, `tools/reference/bench_torch.py` does the same there).

use std::time::Instant;

use burn::optim::AdamWConfig;
use burn::prelude::*;
use medseg::data::Planes;
use medseg::infer::predict_planes;
use medseg::infer::tiling::{Blend, TileConfig};
use medseg::loss::{BceKind, LossConfig};
use medseg::models::ModelName;
use medseg::train::step::{StepPhases, time_training_steps};

use crate::device::{DeviceKind, select_device};

/// Arguments of `medseg bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Model preset.
    #[arg(long, default_value = "msa-u2net", value_parser = |s: &str| ModelName::parse(s).map_err(|e| e.to_string()))]
    pub model: ModelName,
    /// Input channels (1 = DRIVE's green channel).
    #[arg(long, default_value_t = 1)]
    pub channels: usize,
    /// Training batch size.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Training patch side.
    #[arg(long, default_value_t = 64)]
    pub patch: usize,
    /// Timed training steps (after 2 warm-up steps).
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Data-parallel replicas per training step (`train.replicas` in a config): the batch is
    /// cut into this many chunks whose passes run concurrently; 1 to `--batch`.
    #[arg(long, default_value_t = 1, value_parser = parse_replicas)]
    pub replicas: usize,
    /// Timed repetitions of each inference (after 1 warm-up).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    pub device: DeviceKind,
}

/// `--replicas`: a positive count (the upper bound, the batch size, is checked in [`run`]).
fn parse_replicas(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if known.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Deterministic pseudo-random values in `[0, 1)`.
fn pattern(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = medseg::data::Rng::new(seed);
    (0..n).map(|_| rng.uniform() as f32).collect()
}

/// Runs `medseg bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.replicas <= args.batch,
        "--replicas {} is more than --batch {}: each replica needs at least one patch",
        args.replicas,
        args.batch
    );
    let plain = select_device(args.device)?;
    let device = plain.clone().autodiff();
    device.seed(0);
    let config = args.model.config().with_in_channels(args.channels);
    let model = config.init(&device)?;
    let loss_cfg = LossConfig::new()
        .with_bce(BceKind::Focal {
            alpha: Some(0.25),
            gamma: 2.0,
        })
        .with_w_dice(1.0);
    let loss_fn = loss_cfg.init()?;
    let mut optim = AdamWConfig::new().with_epsilon(1e-8).init();
    let (b, c, p) = (args.batch, args.channels, args.patch);
    let (model, phases, train_seconds) = time_training_steps(
        model,
        &mut optim,
        &loss_fn,
        [b, c, p, p],
        args.replicas,
        2,
        args.steps,
        &device,
    );
    let patches_per_s = (args.steps * b) as f64 / train_seconds;
    let phase_ms = PhaseMeans::of(&phases);

    let net = model.valid();
    let tiling = TileConfig {
        tile: [128, 128],
        overlap: 0.25,
        batch: 8,
        blend: Blend::Gaussian { sigma_scale: 0.125 },
        mirror: false,
    };
    let fused = net.clone().fuse();
    let time_infer = |net: &medseg::models::SegNet,
                      h: usize,
                      w: usize,
                      tiling: &TileConfig|
     -> anyhow::Result<f64> {
        let image = Planes {
            channels: c,
            width: w as u32,
            height: h as u32,
            data: pattern(c * h * w, 3),
        };
        let mut best = f64::INFINITY;
        for rep in 0..args.repeats + 1 {
            let start = Instant::now();
            predict_planes(net, &image, tiling, &plain)?;
            if rep > 0 {
                best = best.min(start.elapsed().as_secs_f64());
            }
        }
        Ok(best * 1e3)
    };
    let whole = TileConfig {
        tile: [256, 256],
        overlap: 0.0,
        batch: 1,
        ..tiling.clone()
    };
    let drive_ms = time_infer(&net, 584, 565, &tiling)?;
    let lesion_ms = time_infer(&net, 256, 256, &whole)?;
    let drive_fused_ms = time_infer(&fused, 584, 565, &tiling)?;
    let lesion_fused_ms = time_infer(&fused, 256, 256, &whole)?;
    let rss = peak_rss_mib();
    let v = serde_json::json!({
        "impl": "medseg",
        "model": args.model.as_str(),
        "params": net.trainable_params(),
        "train_batch": b, "patch": p, "channels": c, "replicas": args.replicas,
        "train_patches_per_s": patches_per_s,
        "infer_drive_ms": drive_ms,
        "infer_256_ms": lesion_ms,
        "infer_drive_fused_ms": drive_fused_ms,
        "infer_256_fused_ms": lesion_fused_ms,
        "peak_rss_mib": rss,
        "phases_ms": phase_ms.json(),
        "threads": rayon::current_num_threads(),
    });
    if args.json {
        println!("{v}");
    } else {
        println!(
            "{}: train {patches_per_s:.1} patches/s (batch {b} of {p}x{p}, {} replica(s)), DRIVE 584x565 tiled {drive_ms:.0} ms ({drive_fused_ms:.0} fused), 256x256 {lesion_ms:.0} ms ({lesion_fused_ms:.0} fused), peak RSS {:.0} MiB",
            args.model.as_str(),
            args.replicas,
            rss.unwrap_or(f64::NAN)
        );
        println!("  {}", phase_ms.line());
    }
    Ok(())
}

/// Mean milliseconds of each phase over the timed training steps.
struct PhaseMeans {
    forward: Vec<f64>,
    backward: Vec<f64>,
    parallel: f64,
    merge: f64,
    optim: f64,
    step: f64,
}

impl PhaseMeans {
    fn of(steps: &[StepPhases]) -> Self {
        let n = steps.len().max(1) as f64;
        let mean = |f: &dyn Fn(&StepPhases) -> f64| steps.iter().map(f).sum::<f64>() * 1e3 / n;
        let replicas = steps.first().map_or(0, |s| s.forward.len());
        Self {
            forward: (0..replicas).map(|i| mean(&|s| s.forward[i])).collect(),
            backward: (0..replicas).map(|i| mean(&|s| s.backward[i])).collect(),
            parallel: mean(&|s| s.parallel),
            merge: mean(&|s| s.merge),
            optim: mean(&|s| s.optim),
            step: mean(&|s| s.total()),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "forward": self.forward, "backward": self.backward, "parallel": self.parallel,
            "merge": self.merge, "optim": self.optim, "step": self.step,
        })
    }

    fn line(&self) -> String {
        let list = |v: &[f64]| {
            v.iter()
                .map(|t| format!("{t:.1}"))
                .collect::<Vec<_>>()
                .join("/")
        };
        format!(
            "per step (ms, mean): forward+loss {} and backward {} per replica, passes together {:.1}, merge {:.1}, optimizer {:.1}, step {:.1}",
            list(&self.forward),
            list(&self.backward),
            self.parallel,
            self.merge,
            self.optim,
            self.step
        )
    }
}
