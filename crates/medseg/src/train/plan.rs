//! `medseg plan`: a ready experiment config for a new dataset, from its fingerprint and the
//! training throughput of this machine, in the spirit of nnU-Net's experiment planner.
//!
//! Every rule is listed in [`plan`]'s result (and written as comments into the config) with the
//! measured value it was applied to; docs/plan.md explains each. In short:
//!
//! 1. **Regime.** Structures whose median width (skeleton-based, see
//!    [`crate::data::fingerprint`]) is under 2 % of the median FOV diameter are *thin*
//!    (vessels: 0.3-0.5 % on DRIVE and STARE) and are learnt from patches at the native scale;
//!    wider ones (lesions, polyps: over 20 % on PH2 and Kvasir-SEG) from whole images resized
//!    to one size.
//! 2. **Input.** Thin structures in colour images: the green channel when it shows them with at
//!    least 90 % of the best channel's contrast (fundus vessels), else RGB; CLAHE and gamma 1.2
//!    (the vessel enhancement of the literature, kept by our DRIVE ablations). Whole images: RGB
//!    (or grey) without enhancement. Per-image normalisation inside the FOV always.
//! 3. **Scale.** Thin regime: `data.scale = "reference"` when the FOV diameters of the training
//!    images differ by more than 25 % (several cameras), else native. Whole regime: the resize.
//! 4. **Size.** Patches of a sixth of the median FOV diameter, to the nearest multiple of 32,
//!    within [64, 128] (DRIVE: 96). Whole images: the largest side of [`WHOLE_SIDES`] (256 down
//!    to 128, never above the median short side, structures at least [`MIN_WIDTH_PX`] wide)
//!    at which the budget buys [`MIN_EPOCHS`] epochs: a short budget trades resolution for
//!    epochs (Kvasir-SEG on 2 cores in 30 minutes: 10 epochs at 256 px, docs/plan.md).
//! 5. **Network and loss.** `nested-u2net` (plain units: as accurate as MSAC on DRIVE and PH2 for
//!    less compute, docs/results.md); thin: focal (alpha 0.5) + Dice, 50 % of patches centred
//!    on foreground; whole: BCE + Dice.
//! 6. **Batch.** 8 patches or 4 whole images; `train.replicas` = 2 when the machine has 2 or
//!    more cores (measured without loss of accuracy on DRIVE).
//! 7. **Epochs from the budget.** Seconds per step are measured here on synthetic inputs of the
//!    planned shape (or given), the validation pass is timed on one image of the planned size,
//!    and the epochs are the most whose steps and about 8 validations fit
//!    [`BUDGET_SHARE`] of the budget (the rest covers data loading and checkpoints).
//!
//! Only the training cases of the split are measured, so no test label shapes a plan.

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use serde::Serialize;

use super::config::ExperimentConfig;
use super::step::time_training_steps;
use super::trainer::build_optimizer;
use crate::data::fingerprint::{Fingerprint, fingerprint_cases};
use crate::data::preprocess::Channel;
use crate::data::split::SplitConfig;
use crate::data::{DatasetKind, Planes};
use crate::infer::predict_planes;
use crate::{Error, Result};

/// Share of the budget planned for training steps and validation.
pub const BUDGET_SHARE: f64 = 0.8;
/// Structures narrower than this share of the FOV diameter are thin (rule 1).
pub const THIN_SHARE: f64 = 0.02;
/// Validations planned per run (rule 7).
pub const VALIDATIONS: usize = 8;
/// Whole-image sides tried, largest first (rule 4).
pub const WHOLE_SIDES: [u32; 5] = [256, 224, 192, 160, 128];
/// Epochs the budget should buy at the chosen whole-image size (rule 4).
pub const MIN_EPOCHS: usize = 30;
/// Narrowest median structure width, in pixels at the chosen size (rule 4).
pub const MIN_WIDTH_PX: f64 = 16.0;

/// What `plan` may assume and measure.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Wall-clock minutes for training.
    pub budget_minutes: f64,
    /// Seed of the split and of training.
    pub seed: u64,
    /// Config `name` (default `<dataset>-planned`).
    pub name: Option<String>,
    /// Seconds per training step to plan with instead of measuring them here.
    pub step_seconds: Option<f64>,
    /// Seconds per validation image instead of measuring them here.
    pub val_seconds: Option<f64>,
    /// CPU threads (cores) training will use.
    pub threads: usize,
}

/// One applied rule: the config key, the value chosen and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub key: String,
    pub value: String,
    pub why: String,
}

/// A plan: the config, the rules behind it and what they were applied to.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The config as TOML, with the rules as comments.
    pub toml: String,
    #[serde(skip)]
    pub config: ExperimentConfig,
    pub rules: Vec<Rule>,
    pub fingerprint: Fingerprint,
    /// Measured (or given) seconds per training step and per validation image.
    pub step_seconds: f64,
    pub val_seconds: f64,
    /// Expected minutes of training (steps and validations).
    pub expected_minutes: f64,
}

/// The nearest multiple of `m` to `v`.
fn nearest_multiple(v: f64, m: u32) -> u32 {
    ((v / m as f64).round() as u32).max(1) * m
}

/// Plans a config for the dataset `kind` at `root` (see the module docs for the rules).
///
/// # Errors
/// Loading or decoding errors naming the file; [`Error::InvalidInput`] for a dataset without
/// labelled training cases or a budget that is not a positive number of minutes.
pub fn plan(kind: DatasetKind, root: &Path, opts: &PlanOptions) -> Result<Plan> {
    if !(opts.budget_minutes.is_finite() && opts.budget_minutes > 0.0) {
        return Err(Error::InvalidInput(format!(
            "--budget-minutes must be a positive number of minutes, got {}",
            opts.budget_minutes
        )));
    }
    let split_cfg = SplitConfig {
        val_fraction: 0.1,
        seed: opts.seed,
        ..SplitConfig::default()
    };
    let split = split_cfg.apply(&kind.cases(root)?)?;
    let (n_train, n_val) = (split.train.len(), split.val.len());
    if n_train == 0 {
        return Err(Error::InvalidInput(format!(
            "no labelled training cases in {} (the {kind} layout; medseg data check lists what \
             was found)",
            root.display()
        )));
    }
    let fp = fingerprint_cases(kind, root, split.train, opts.threads)?;
    let mut rules = Vec::new();
    let mut rule = |key: &str, value: String, why: String| {
        rules.push(Rule {
            key: key.into(),
            value,
            why,
        })
    };

    // 1. regime
    let diameter = fp.fov_diameter.median;
    let width = fp.structure_width.map(|s| s.median).unwrap_or(diameter);
    let thin = width < THIN_SHARE * diameter;
    rule(
        "data.sampling",
        if thin { "patches" } else { "whole" }.into(),
        format!(
            "median structure width {width:.2} px is {:.2} % of the median FOV diameter \
             {diameter:.0} px ({} {:.0} %)",
            100.0 * width / diameter,
            if thin { "<" } else { ">=" },
            100.0 * THIN_SHARE
        ),
    );

    // 2. input
    let colour = fp.color_types.keys().any(|k| k.starts_with("rgb"));
    let k = fp.contrast;
    let best = k.iter().cloned().fold(0.0, f64::max);
    let channel = if !colour {
        Channel::Grey
    } else if thin && k[1] >= 0.9 * best {
        Channel::Green
    } else {
        Channel::Rgb
    };
    rule(
        "data.preprocess.channel",
        format!("{channel:?}").to_lowercase(),
        if colour {
            format!(
                "colour images; contrast of the structures R {:.2} G {:.2} B {:.2}{}",
                k[0],
                k[1],
                k[2],
                if thin {
                    " (thin structures: green when within 90 % of the best)"
                } else {
                    " (whole images keep colour)"
                }
            )
        } else {
            "grey images".into()
        },
    );
    let (clahe, gamma) = if thin {
        ("{ clip_limit = 2.0, tiles = 8 }", 1.2)
    } else {
        ("", 1.0)
    };
    rule(
        "data.preprocess.clahe",
        if thin { clahe.into() } else { "none".into() },
        if thin {
            "thin structures: CLAHE and gamma 1.2 enhance them".into()
        } else {
            "whole images: no enhancement".into()
        },
    );

    // 3 and 4. scale and size
    let spread = fp.fov_diameter.max / fp.fov_diameter.min.max(1.0);
    let median_size = {
        let mut ws: Vec<u32> = Vec::new();
        let mut hs: Vec<u32> = Vec::new();
        for s in &fp.sizes {
            ws.extend(std::iter::repeat_n(s.width, s.count));
            hs.extend(std::iter::repeat_n(s.height, s.count));
        }
        ws.sort_unstable();
        hs.sort_unstable();
        (ws[ws.len() / 2], hs[hs.len() / 2])
    };
    let (scale, patch, _) = if thin {
        let scale = if spread > 1.25 { "reference" } else { "native" };
        rule(
            "data.scale",
            scale.into(),
            format!(
                "FOV diameters {:.0}-{:.0} px, max/min {spread:.2} ({} 1.25)",
                fp.fov_diameter.min,
                fp.fov_diameter.max,
                if spread > 1.25 { ">" } else { "<=" }
            ),
        );
        let side = nearest_multiple(diameter / 6.0, 32).clamp(64, 128);
        rule(
            "data.sampling.patches.size",
            format!("[{side}, {side}]"),
            format!(
                "a sixth of the median FOV diameter ({:.0} px) to a multiple of 32, in [64, 128]",
                diameter / 6.0
            ),
        );
        (scale, side, None)
    } else {
        // The size is chosen with the budget below (rule 7).
        ("native", 0, None::<u32>)
    };

    // 5 and 6. network, loss, batch
    let replicas = if opts.threads >= 2 { 2 } else { 1 };
    let batch = if thin { 8 } else { 4 };
    rule(
        "train.batch_size",
        batch.to_string(),
        format!(
            "{} per step; replicas {replicas} on {} core(s)",
            if thin { "8 patches" } else { "4 whole images" },
            opts.threads
        ),
    );
    let loss = if thin {
        "bce = { kind = \"focal\", alpha = 0.5, gamma = 2.0 }"
    } else {
        "bce = { kind = \"plain\" }"
    };
    rule(
        "loss",
        if thin { "focal + dice" } else { "bce + dice" }.into(),
        if thin {
            "thin structures: focal loss (alpha 0.5) down-weights the easy background".into()
        } else {
            "whole images: plain BCE and Dice".into()
        },
    );

    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| format!("{kind}-planned"));
    let batches_per_epoch = if thin { 100 } else { 0 };
    let steps_per_epoch = if thin { 100 } else { n_train.div_ceil(batch) };
    let render = |side: u32, epochs: usize, val_every: usize| -> String {
        let (patch, resize) = if thin {
            (side, None)
        } else {
            (side, Some(side))
        };
        let sampling = if thin {
            format!("{{ patches = {{ size = [{patch}, {patch}], foreground_bias = 0.5 }} }}")
        } else {
            "\"whole\"".into()
        };
        let mut preprocess = format!(
            "channel = \"{}\"\ngamma = {gamma:.1}\nnormalise = \"per-image\"\n",
            format!("{channel:?}").to_lowercase()
        );
        if thin {
            preprocess.push_str(&format!("clahe = {clahe}\n"));
        }
        if let Some(s) = resize {
            preprocess.push_str(&format!("resize = [{s}, {s}]\n"));
        }
        let (p_affine, rotate) = if thin { (0.3, 15.0) } else { (0.5, 20.0) };
        let tiling = if thin {
            "{ tile = [128, 128], overlap = 0.25, batch = 8, blend = { gaussian = { sigma_scale = 0.125 } } }".to_string()
        } else {
            format!(
                "{{ tile = [{patch}, {patch}], overlap = 0.0, batch = 1, blend = \"constant\" }}"
            )
        };
        format!(
            r#"name = "{name}"
seed = {seed}

[model]
preset = "nested-u2net"

[data]
dataset = "{kind}"
split = {{ scheme = "official", val_fraction = 0.1, seed = {seed} }}
fov = "auto"
sampling = {sampling}
scale = "{scale}"

[data.preprocess]
{preprocess}
[data.augment]
flip = true
rot90 = true
p_affine = {p_affine}
rotate_deg = {rotate:.1}
scale = 0.1
brightness = 0.1
contrast = 0.15
gamma = 0.2
p_elastic = 0.0

[loss]
{loss}
w_bce = 1.0
w_dice = 1.0
w_msssim = 0.0

[optim]
kind = "adamw"
lr = 2e-3
weight_decay = 1e-4

[schedule]
warmup_epochs = 1
decay = {{ kind = "cosine", min_lr = 1e-5 }}

[train]
epochs = {epochs}
batch_size = {batch}
batches_per_epoch = {batches_per_epoch}
val_every = {val_every}
threshold = 0.5
replicas = {replicas}
tiling = {tiling}
"#,
            seed = opts.seed,
        )
    };
    let origin = Path::new("<plan>");
    let budget = opts.budget_minutes * 60.0 * BUDGET_SHARE;
    let epoch_seconds = |step_seconds: f64| steps_per_epoch as f64 * step_seconds;
    // Seconds per step at a size: measured on a draft config, or the given figure (for 256 px
    // whole images or the planned patches) scaled by the pixel count.
    let step_at = |side: u32| -> Result<f64> {
        match opts.step_seconds {
            Some(s) if thin => Ok(s),
            Some(s) => Ok(s * (side as f64 / 256.0).powi(2)),
            None => {
                let draft = ExperimentConfig::from_toml(&render(side, 1, 1), origin)?;
                measure_step(&draft, side as usize, batch, replicas)
            }
        }
    };

    // 4 (whole images) and 7. size and epochs from the budget
    let (side, step_seconds) = if thin {
        (patch, step_at(patch)?)
    } else {
        let short = median_size.0.min(median_size.1);
        let width_at = |side: u32| width * side as f64 / short as f64;
        let mut candidates: Vec<u32> = WHOLE_SIDES
            .iter()
            .copied()
            .filter(|&s| s <= short && width_at(s) >= MIN_WIDTH_PX)
            .collect();
        if candidates.is_empty() {
            candidates.push(((short / 32) * 32).max(32));
        }
        let mut chosen = None;
        let mut tried = Vec::new();
        for &s in &candidates {
            let step = step_at(s)?;
            // Validation is small next to training for whole images; it is left out here and
            // counted in the epochs below.
            let epochs = (budget / epoch_seconds(step)).floor() as usize;
            tried.push(format!("{s} px: {epochs}"));
            chosen = Some((s, step));
            if epochs >= MIN_EPOCHS {
                break;
            }
        }
        let (s, step) = chosen.expect("at least one candidate size");
        rule(
            "data.preprocess.resize",
            format!("[{s}, {s}]"),
            format!(
                "whole images: the largest of {} px (at most the median short side {short} px, \
                 structures at least {MIN_WIDTH_PX:.0} px wide) whose epochs in the budget reach \
                 {MIN_EPOCHS} (epochs by size: {}); structures {:.0} px wide at this size",
                WHOLE_SIDES.map(|v| v.to_string()).join("/"),
                tried.join(", "),
                width_at(s)
            ),
        );
        (s, step)
    };
    let val_side = |s: u32| -> usize { if thin { s as usize } else { side as usize } };
    let val_seconds = match opts.val_seconds {
        Some(s) => s,
        None => {
            let draft = ExperimentConfig::from_toml(&render(side, 1, 1), origin)?;
            measure_validation(&draft, val_side(median_size.1), val_side(median_size.0))?
        }
    };
    let val_total = (VALIDATIONS * n_val) as f64 * val_seconds;
    let epoch_seconds = epoch_seconds(step_seconds);
    let epochs = (((budget - val_total) / epoch_seconds).floor() as usize).max(1);
    let val_every = (epochs / VALIDATIONS).max(1);
    let expected =
        (epochs as f64 * epoch_seconds + (epochs / val_every * n_val) as f64 * val_seconds) / 60.0;
    rule(
        "train.epochs",
        epochs.to_string(),
        format!(
            "{:.0} % of {} min = {budget:.0} s; {steps_per_epoch} steps per epoch at \
             {step_seconds:.3} s ({}), about {VALIDATIONS} validations of {n_val} images at \
             {val_seconds:.3} s; expected {expected:.1} min{}",
            100.0 * BUDGET_SHARE,
            opts.budget_minutes,
            if opts.step_seconds.is_some() {
                "given"
            } else {
                "measured here"
            },
            if epochs < 10 {
                "; fewer than 10 epochs: the budget is small for this dataset"
            } else {
                ""
            }
        ),
    );
    rule(
        "train.val_every",
        val_every.to_string(),
        format!("about {VALIDATIONS} validations"),
    );
    let body = render(side, epochs, val_every);
    let config = ExperimentConfig::from_toml(&body, origin)?;
    let mut toml = format!(
        "# Planned by `medseg plan --dataset {kind} --budget-minutes {}` from {n_train} training \
         cases (seed {}).\n# Rules (docs/plan.md):\n",
        opts.budget_minutes, opts.seed
    );
    for r in &rules {
        toml.push_str(&format!("# - {} = {}: {}\n", r.key, r.value, r.why));
    }
    toml.push_str(&body);
    Ok(Plan {
        toml,
        config,
        rules,
        fingerprint: fp,
        step_seconds,
        val_seconds,
        expected_minutes: expected,
    })
}

/// Seconds per training step of `cfg`'s network, loss and optimizer on synthetic
/// `batch x C x side x side` inputs (2 warm-up steps, 4 timed).
fn measure_step(cfg: &ExperimentConfig, side: usize, batch: usize, replicas: usize) -> Result<f64> {
    let device = Device::default().autodiff();
    device.seed(cfg.seed);
    let model = cfg.init_model(&device)?;
    let loss_fn = cfg.loss.init_for(&cfg.data.labels)?;
    let mut optim = build_optimizer(cfg);
    let channels = cfg.data.preprocess.channel.count();
    let (_, phases, seconds) = time_training_steps(
        model,
        &mut optim,
        &loss_fn,
        [batch, channels, side, side],
        replicas,
        2,
        4,
        &device,
    );
    Ok(seconds / phases.len() as f64)
}

/// Seconds to predict one `height x width` image with `cfg`'s network and tiling (the second
/// of two runs).
fn measure_validation(cfg: &ExperimentConfig, height: usize, width: usize) -> Result<f64> {
    let device = Device::default();
    device.seed(cfg.seed);
    let net = cfg.init_model(&device)?;
    let channels = cfg.data.preprocess.channel.count();
    let image = Planes {
        channels,
        width: width as u32,
        height: height as u32,
        data: vec![0.5; channels * width * height],
    };
    let mut seconds = 0.0;
    for _ in 0..2 {
        let start = Instant::now();
        predict_planes(&net, &image, &cfg.train.tiling, &device)?;
        seconds = start.elapsed().as_secs_f64();
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_multiples() {
        assert_eq!(nearest_multiple(90.0, 32), 96);
        assert_eq!(nearest_multiple(108.0, 32), 96);
        assert_eq!(nearest_multiple(113.0, 32), 128);
        assert_eq!(nearest_multiple(3.0, 32), 32);
    }
}
