//! `medseg eval`: metrics and pictures of a trained model on a dataset split.

use std::path::PathBuf;

use anyhow::Context;
use medseg::data::Case;
use medseg::data::DatasetKind;
use medseg::data::split::SplitConfig;
use medseg::eval::{evaluate_classes, evaluate_groups};
use medseg::infer::Predictor;
use medseg::train::ExperimentConfig;

use super::InferenceArgs;
use crate::device::select_device;

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
    /// A run folder (uses its model_best.safetensors and its config's split). Repeat it for
    /// cross-validation: each run's model scores its own split part (a fold's held-out images)
    /// and one report pools them all (needs --out).
    #[arg(long, conflicts_with = "weights", required_unless_present = "weights")]
    pub run: Vec<PathBuf>,
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
    #[command(flatten)]
    pub inference: InferenceArgs,
}

pub fn parse_dataset(s: &str) -> Result<DatasetKind, String> {
    s.parse::<DatasetKind>().map_err(|e| e.to_string())
}

/// One model and the split it was trained with.
struct Source {
    weights: PathBuf,
    split: SplitConfig,
    run: Option<PathBuf>,
}

/// Runs `medseg eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let part = format!("{:?}", args.split).to_lowercase();
    let weights_name = if args.last {
        "model_final.safetensors"
    } else {
        "model_best.safetensors"
    };
    let (sources, default_out) = match (args.run.as_slice(), &args.weights) {
        ([], None) => anyhow::bail!("pass --run RUN or --weights FILE"),
        ([], Some(w)) => {
            let dir = w.parent().map(PathBuf::from).unwrap_or_default();
            let source = Source {
                weights: w.clone(),
                split: SplitConfig::default(),
                run: None,
            };
            (vec![source], Some(dir.join(format!("eval-{part}"))))
        }
        (runs, _) => {
            let sources = runs
                .iter()
                .map(|run| {
                    let cfg = ExperimentConfig::load(&run.join("config.toml"))?;
                    Ok(Source {
                        weights: run.join(weights_name),
                        split: cfg.data.split,
                        run: Some(run.clone()),
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let out = (runs.len() == 1).then(|| runs[0].join(format!("eval-{part}")));
            (sources, out)
        }
    };
    let out = match (args.out.clone(), default_out) {
        (Some(out), _) | (None, Some(out)) => out,
        (None, None) => anyhow::bail!("several --run folders need --out for the pooled report"),
    };
    let device = select_device(args.inference.device)?;
    let mut predictors = Vec::with_capacity(sources.len());
    for source in &sources {
        let predictor = args.inference.load(&source.weights, &device)?;
        predictors.push(predictor);
    }
    let first = &predictors[0].meta;
    let kind = args
        .dataset
        .or(first.dataset)
        .context("the weights do not name a dataset: pass --dataset")?;
    let (fov, threshold) = (first.fov, args.threshold.unwrap_or(first.threshold));
    for (p, s) in predictors.iter().zip(&sources).skip(1) {
        let same = args.dataset.is_some() || p.meta.dataset == first.dataset;
        if !same || p.meta.fov != fov || (args.threshold.is_none() && p.meta.threshold != threshold)
        {
            anyhow::bail!(
                "{}: its dataset, FOV or threshold differs from {}'s; runs pooled in one report \
                 must agree",
                s.weights.display(),
                sources[0].weights.display()
            );
        }
    }
    let remembered = sources[0].run.as_ref().and_then(|run| {
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
    let mut chosen: Vec<Vec<Case>> = Vec::with_capacity(sources.len());
    for source in &sources {
        chosen.push(pick(&cases, &source.split, args.split)?);
        if chosen.last().is_some_and(Vec::is_empty) {
            anyhow::bail!(
                "the {part} split of {} for {} is empty",
                root.display(),
                source.weights.display()
            );
        }
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    if !predictors[0].meta.labels.is_binary() {
        if predictors.len() > 1 {
            anyhow::bail!("several --run folders are not supported yet for models with classes");
        }
        let (report, timing) =
            evaluate_classes(&predictors[0], &chosen[0], kind, fov, threshold, Some(&out))?;
        if args.json {
            println!("{}", report.to_json());
        } else {
            println!("{}", report.table());
            let total: f64 = timing.iter().map(|t| t.seconds).sum();
            println!(
                "inference: {:.3} s per image on average ({} images)",
                total / timing.len() as f64,
                timing.len()
            );
            println!("outputs: {}", out.display());
        }
        return Ok(());
    }
    let groups: Vec<(&Predictor, &[Case])> = predictors
        .iter()
        .zip(&chosen)
        .map(|(p, c)| (p, c.as_slice()))
        .collect();
    let result = evaluate_groups(&groups, kind, fov, threshold, Some(&out))?;
    let r = &result.report;
    if args.json {
        println!("{}", r.to_json());
    } else {
        println!("{r}");
        let total: f64 = result.timing.iter().map(|t| t.seconds).sum();
        println!(
            "inference: {:.3} s per image on average ({} images)",
            total / result.timing.len() as f64,
            result.timing.len()
        );
        println!("outputs: {}", out.display());
    }
    Ok(())
}

/// The cases of one part of a split.
fn pick(cases: &[Case], split: &SplitConfig, part: Part) -> anyhow::Result<Vec<Case>> {
    let split = split.apply(cases)?;
    Ok(match part {
        Part::Train => split.train,
        Part::Val => split.val,
        Part::Test => split.test,
        Part::All => cases.iter().filter(|c| c.mask.is_some()).cloned().collect(),
    })
}
