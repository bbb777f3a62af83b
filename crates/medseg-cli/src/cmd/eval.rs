//! `medseg eval`: metrics and pictures of a trained model on a dataset split.

use std::path::PathBuf;

use anyhow::Context;
use medseg::data::DatasetKind;
use medseg::data::split::SplitConfig;
use medseg::eval::evaluate;
use medseg::infer::Predictor;
use medseg::train::ExperimentConfig;

use crate::device::{DeviceKind, select_device};

/// Which part of the split to evaluate.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Training cases.
    Train,
    /// Validation cases.
    Val,
    /// Test cases.
    Test,
    /// Every labelled case.
    All,
}

/// Arguments of `medseg eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// A run folder (uses its model_best.safetensors and its config's split).
    #[arg(long, conflicts_with = "weights", required_unless_present = "weights")]
    pub run: Option<PathBuf>,
    /// With --run: evaluate the last epoch's weights (model_final.safetensors) instead of the
    /// best validation epoch's.
    #[arg(long, requires = "run")]
    pub last: bool,
    /// A weights file (official split of the dataset).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Dataset layout (default: the one the weights were trained on).
    #[arg(long, value_parser = parse_dataset)]
    pub dataset: Option<DatasetKind>,
    /// Dataset root (falls back to $MEDSEG_DATA_ROOT).
    #[arg(long, env = "MEDSEG_DATA_ROOT")]
    pub root: Option<PathBuf>,
    /// Part of the split.
    #[arg(long, value_enum, default_value_t = Part::Test)]
    pub split: Part,
    /// Output folder (default <run>/eval-<split>, or eval-<split> next to the weights).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Probability threshold (default: the one stored with the weights).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Print the metrics JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    pub device: DeviceKind,
    /// Run the network as trained instead of re-parameterised (slower; same logits to 1e-4).
    #[arg(long)]
    pub no_fuse: bool,
    /// Test-time augmentation: average the predictions of the image and its three flips
    /// (four times slower).
    #[arg(long)]
    pub tta: bool,
}

pub fn parse_dataset(s: &str) -> Result<DatasetKind, String> {
    s.parse::<DatasetKind>().map_err(|e| e.to_string())
}

/// Runs `medseg eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let part = format!("{:?}", args.split).to_lowercase();
    let (weights, split_cfg, default_out) = match (&args.run, &args.weights) {
        (Some(run), _) => {
            let cfg = ExperimentConfig::load(&run.join("config.toml"))?;
            (
                run.join(if args.last {
                    "model_final.safetensors"
                } else {
                    "model_best.safetensors"
                }),
                cfg.data.split,
                run.join(format!("eval-{part}")),
            )
        }
        (None, Some(w)) => {
            let dir = w.parent().map(PathBuf::from).unwrap_or_default();
            (
                w.clone(),
                SplitConfig::default(),
                dir.join(format!("eval-{part}")),
            )
        }
        (None, None) => anyhow::bail!("pass --run RUN or --weights FILE"),
    };
    let device = select_device(args.device)?;
    let mut predictor = Predictor::load_with(&weights, &device, !args.no_fuse)?;
    predictor.meta.tiling.mirror |= args.tta;
    let kind = args
        .dataset
        .or(predictor.meta.dataset)
        .context("the weights do not name a dataset: pass --dataset")?;
    let remembered = args.run.as_ref().and_then(|run| {
        let text = std::fs::read_to_string(run.join("run.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["data_root"].as_str().map(PathBuf::from)
    });
    let root = args
        .root
        .clone()
        .or(remembered)
        .context("no dataset root: pass --root PATH or set MEDSEG_DATA_ROOT")?;
    let cases = kind.cases(&root)?;
    let split = split_cfg.apply(&cases)?;
    let chosen = match args.split {
        Part::Train => split.train,
        Part::Val => split.val,
        Part::Test => split.test,
        Part::All => cases.into_iter().filter(|c| c.mask.is_some()).collect(),
    };
    if chosen.is_empty() {
        anyhow::bail!("the {part} split of {} is empty", root.display());
    }
    let out = args.out.clone().unwrap_or(default_out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let threshold = args.threshold.unwrap_or(predictor.meta.threshold);
    let fov = predictor.meta.fov;
    let result = evaluate(&predictor, &chosen, kind, fov, threshold, Some(&out))?;
    let r = &result.report;
    if args.json {
        println!("{}", r.to_json());
    } else {
        println!("{r}");
        let total: f64 = result.seconds.iter().map(|(_, s)| s).sum();
        println!(
            "inference: {:.3} s per image on average ({} images)",
            total / result.seconds.len() as f64,
            result.seconds.len()
        );
        println!("outputs: {}", out.display());
    }
    Ok(())
}
