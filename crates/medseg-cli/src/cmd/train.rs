//! `medseg train`: train a model from an experiment config.

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use medseg::train::trainer::StepInfo;
use medseg::train::{EpochRecord, ExperimentConfig, TrainObserver, TrainOptions, train};

use crate::device::{DeviceKind, select_device};

/// Arguments of `medseg train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Experiment config (TOML), e.g. configs/drive/msa-u2net.toml. Not needed with --resume.
    #[arg(long, required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    /// Dataset root (falls back to $MEDSEG_DATA_ROOT).
    #[arg(long, env = "MEDSEG_DATA_ROOT")]
    pub data_root: Option<PathBuf>,
    /// Run folder (default runs/<dataset>/<config name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    pub device: DeviceKind,
    /// Replace an existing run folder.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Continue the run in this folder from its last checkpoint (uses its config.toml).
    #[arg(long, value_name = "RUN")]
    pub resume: Option<PathBuf>,
    /// Set a config key, after `extends`: a dotted key and a TOML value (else a string), e.g.
    /// `--set seed=1 --set train.epochs=3`. Repeatable; the run folder's config.toml has them.
    #[arg(long = "set", value_name = "KEY=VALUE", conflicts_with = "resume")]
    pub set: Vec<String>,
    /// Start from these weights (fine-tuning): a medseg weights file of the same network, or an
    /// official U-2-Net checkpoint (`u2net.pth`, `u2netp.pth`) for the u2net / u2netp presets.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// No progress bar (log lines only).
    #[arg(long)]
    pub quiet: bool,
}

/// Progress bar and per-epoch lines.
pub struct Progress {
    bar: Option<ProgressBar>,
    epochs: usize,
}

impl Progress {
    pub fn new(epochs: usize, quiet: bool) -> Self {
        Progress {
            bar: None,
            epochs: if quiet { 0 } else { epochs },
        }
    }
}

impl TrainObserver for Progress {
    fn on_start(&mut self, info: &str) {
        eprintln!("{info}");
    }

    fn on_warning(&mut self, message: &str) {
        eprintln!("warning: {message}");
    }

    fn on_step(&mut self, s: &StepInfo) {
        if self.epochs == 0 {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(s.steps_per_epoch as u64);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar
        });
        bar.set_prefix(format!("epoch {}/{}", s.epoch + 1, self.epochs));
        bar.set_position(s.step as u64 + 1);
        bar.set_message(format!(
            "loss {:.4} lr {:.2e} {:.1} it/s data-wait {:.0}%",
            s.loss,
            s.lr,
            s.items_per_s,
            100.0 * s.data_wait_share
        ));
    }

    fn on_epoch(&mut self, r: &EpochRecord) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let val = match (r.val_f1, r.val_auc) {
            (Some(f1), auc) => format!(
                " val F1 {f1:.4} (mean {:.4}) AUC {}{}",
                r.val_f1_mean.unwrap_or(f1),
                auc.map(|a| format!("{a:.4}"))
                    .unwrap_or_else(|| "n/a".into()),
                if r.best { " *best" } else { "" }
            ),
            _ => String::new(),
        };
        eprintln!(
            "epoch {:>3}: loss {:.4} lr {:.2e} {:.1} items/s data-wait {:.0}% {:.1} s{val}",
            r.epoch,
            r.train_loss,
            r.lr,
            r.items_per_s,
            100.0 * r.data_wait_share,
            r.seconds
        );
    }
}

/// Runs `medseg train`.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let (cfg_path, out, resume) = match (&args.resume, &args.config) {
        (Some(run), _) => (run.join("config.toml"), run.clone(), true),
        (None, Some(cfg)) => (cfg.clone(), PathBuf::new(), false),
        (None, None) => anyhow::bail!("pass --config FILE or --resume RUN"),
    };
    let cfg = ExperimentConfig::load_with(&cfg_path, &args.set)?;
    let out = if resume {
        out
    } else {
        args.out.clone().unwrap_or_else(|| {
            PathBuf::from("runs")
                .join(cfg.data.dataset.to_string())
                .join(&cfg.name)
        })
    };
    // A resumed run reads its data root from run.json unless one is given.
    let remembered = if resume {
        std::fs::read_to_string(out.join("run.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["data_root"].as_str().map(PathBuf::from))
    } else {
        None
    };
    let data_root = args.data_root.clone().or(remembered).context(
        "no dataset root: pass --data-root PATH or set MEDSEG_DATA_ROOT \
         (e.g. MEDSEG_DATA_ROOT=../shared/data/DRIVE)",
    )?;
    if !data_root.is_dir() {
        anyhow::bail!(
            "dataset root {} does not exist or is not a folder",
            data_root.display()
        );
    }
    let opts = TrainOptions {
        data_root,
        out: out.clone(),
        device: select_device(args.device)?,
        resume,
        force: args.force,
        threads: rayon::current_num_threads(),
        init: args.init.clone(),
    };
    let mut progress = Progress::new(cfg.train.epochs, args.quiet);
    let summary = train(&cfg, &opts, &mut progress)?;
    let best = summary
        .best
        .map(|(f1, e)| format!("best validation F1 {f1:.4} at epoch {e}"))
        .unwrap_or_else(|| "no validation split".into());
    eprintln!(
        "done: {} epochs in {:.1} s{}; {best}; weights: {}",
        summary.epochs_done,
        summary.seconds,
        if summary.stopped_early {
            " (early stop)"
        } else {
            ""
        },
        summary.run.join("model_best.safetensors").display()
    );
    Ok(())
}
