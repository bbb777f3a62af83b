//! `medseg compare`: two training recipes, several runs (seeds) each, scored on the same test
//! images: the spread over seeds, a paired Wilcoxon signed-rank test over images, and a verdict
//! ([`medseg::metrics::compare`]).
//!
//! Each result is a metrics JSON file (`medseg eval` / `medseg score --json`) or a run or result
//! folder: `last/metrics.json` (the last epoch's weights, the protocol of docs/results.md) when
//! present, else `metrics.json`. Results of a K-class model (the per-class schema) are compared
//! on one class, named with `--class`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use medseg::durable::write_atomic;
use medseg::metrics::MetricReport;
use medseg::metrics::classes::ClassesReport;
use medseg::metrics::compare::{Aggregate, Comparison, compare};
use medseg::metrics::stats::Spread;

/// Arguments of `medseg compare`.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Results of recipe A, one per run (metrics JSON files or run/result folders).
    #[arg(long = "a", value_name = "RESULT", num_args = 1.., required = true)]
    pub a: Vec<PathBuf>,
    /// Results of recipe B, one per run.
    #[arg(long = "b", value_name = "RESULT", num_args = 1.., required = true)]
    pub b: Vec<PathBuf>,
    /// Name of recipe A in the report.
    #[arg(long, default_value = "A")]
    pub name_a: String,
    /// Name of recipe B in the report.
    #[arg(long, default_value = "B")]
    pub name_b: String,
    /// Metric: f1 (= dice), iou (= jaccard), sensitivity, specificity, precision, accuracy,
    /// auc, ap.
    #[arg(long, default_value = "f1")]
    pub metric: String,
    /// A run's score: the mean over test images or the value pooled over their pixels.
    #[arg(long, value_enum, default_value_t = AggregateArg::Mean)]
    pub aggregate: AggregateArg,
    /// The class to compare, for results of a K-class model (per-class metrics JSON); required
    /// there, refused for binary results.
    #[arg(long, value_name = "NAME")]
    pub class: Option<String>,
    /// Significance level of the paired test.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Also write the comparison as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// `--aggregate` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum AggregateArg {
    Mean,
    Pooled,
}

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let a = load_all(&args.a, args.class.as_deref())?;
    let b = load_all(&args.b, args.class.as_deref())?;
    let aggregate = match args.aggregate {
        AggregateArg::Mean => Aggregate::Mean,
        AggregateArg::Pooled => Aggregate::Pooled,
    };
    let c = compare(
        (&args.name_a, &a),
        (&args.name_b, &b),
        &args.metric,
        aggregate,
        args.alpha,
    )?;
    print!("{}", render(&c));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&c)? + "\n";
        write_atomic(path, json.as_bytes())
            .with_context(|| format!("writing --json {}", path.display()))?;
    }
    Ok(())
}

fn load_all(paths: &[PathBuf], class: Option<&str>) -> anyhow::Result<Vec<MetricReport>> {
    paths.iter().map(|p| load(p, class)).collect()
}

/// Reads one result: a metrics JSON file or a folder holding one; of a per-class report, the
/// class `class`.
fn load(path: &Path, class: Option<&str>) -> anyhow::Result<MetricReport> {
    let file = if path.is_dir() {
        let last = path.join("last").join("metrics.json");
        let top = path.join("metrics.json");
        if last.is_file() {
            last
        } else if top.is_file() {
            top
        } else {
            return Err(medseg::Error::InvalidInput(format!(
                "{} holds neither last/metrics.json nor metrics.json",
                path.display()
            ))
            .into());
        }
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|e| medseg::Error::io(&file, e))?;
    let invalid = |message: String| -> anyhow::Error {
        medseg::Error::InvalidInput(format!("{}: {message}", file.display())).into()
    };
    if let Ok(classes) = serde_json::from_str::<ClassesReport>(&text) {
        let Some(name) = class else {
            return Err(invalid(format!(
                "a per-class report: name the class to compare with --class (one of {})",
                classes.names().join(", ")
            )));
        };
        return classes.class(name).map_err(|e| match e {
            medseg::Error::InvalidInput(message) => invalid(message),
            other => other.into(),
        });
    }
    let report: MetricReport = serde_json::from_str(&text).map_err(|e| {
        medseg::Error::InvalidInput(format!(
            "{} is not a medseg metrics report: {e}",
            file.display()
        ))
    })?;
    if let Some(name) = class {
        return Err(invalid(format!(
            "--class {name}: this is the report of a binary model, which has no classes"
        )));
    }
    Ok(report)
}

fn spread_row(name: &str, s: &Spread) -> String {
    let sd = s.sd.map_or("-".to_string(), |v| format!("{v:.4}"));
    format!(
        "{name:<24} {:>4}  {:.4}  {sd:>6}  {:.4}  {:.4}\n",
        s.n, s.mean, s.min, s.max
    )
}

/// The text report.
pub fn render(c: &Comparison) -> String {
    let aggregate = match c.aggregate {
        Aggregate::Mean => "mean over test images",
        Aggregate::Pooled => "pooled over test pixels",
    };
    let mut out = format!(
        "{} ({aggregate}), {} test images\n\n{:<24} {:>4}  {:<6}  {:>6}  {:<6}  {:<6}\n",
        c.metric, c.images, "recipe", "runs", "mean", "sd", "min", "max"
    );
    out += &spread_row(&c.a.name, &c.a.spread);
    out += &spread_row(&c.b.name, &c.b.spread);
    out += &format!(
        "\n{} - {}: {:+.4}; seed spread (the larger range over runs): {:.4}\n",
        c.b.name, c.a.name, c.difference, c.seed_spread
    );
    let w = &c.wilcoxon;
    out += &format!(
        "per image (each recipe's runs averaged): {} higher on {} of {}, lower on {}; \
         Wilcoxon signed-rank W = {}, p = {:.4} ({})\n",
        c.b.name,
        c.b_higher,
        c.images,
        c.b_lower,
        w.statistic,
        w.p_value,
        match w.method {
            medseg::metrics::stats::Method::Exact => "exact",
            medseg::metrics::stats::Method::Normal => "normal approximation",
        }
    );
    out += &format!(
        "verdict: {}\n",
        c.verdict.describe(&c.a.name, &c.b.name, c.alpha)
    );
    out
}
