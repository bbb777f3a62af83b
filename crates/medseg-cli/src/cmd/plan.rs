//! `medseg plan`: a ready experiment config for a dataset, from its fingerprint and this
//! machine's measured training speed.

use std::path::PathBuf;

use anyhow::Context;
use medseg::data::DatasetKind;
use medseg::durable::write_atomic;
use medseg::train::plan::{PlanOptions, plan};

/// Arguments of `medseg plan`.
#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// Dataset layout: drive, stare, chase-db1, hrf, isic2018, ph2, folder.
    #[arg(long, value_parser = |s: &str| s.parse::<DatasetKind>().map_err(|e| e.to_string()))]
    pub dataset: DatasetKind,
    /// Root of the dataset tree.
    #[arg(long)]
    pub root: PathBuf,
    /// Minutes of training to plan for (steps and validations) on this machine.
    #[arg(long, default_value_t = 30.0)]
    pub budget_minutes: f64,
    /// Seed of the split and of training.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Config name (default `<dataset>-planned`).
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds per training step to plan with, instead of measuring them here (to plan for
    /// another machine: `medseg bench` there prints patches/s).
    #[arg(long)]
    pub step_seconds: Option<f64>,
    /// Seconds per validation image, instead of measuring them here.
    #[arg(long)]
    pub val_seconds: Option<f64>,
    /// Where to write the config (TOML).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the plan (rules, fingerprint, timings) as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `medseg plan`.
pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    for (flag, v) in [
        ("--step-seconds", args.step_seconds),
        ("--val-seconds", args.val_seconds),
    ] {
        if let Some(v) = v {
            anyhow::ensure!(
                v.is_finite() && v > 0.0,
                "{flag} must be a positive number of seconds, got {v}"
            );
        }
    }
    let opts = PlanOptions {
        budget_minutes: args.budget_minutes,
        seed: args.seed,
        name: args.name,
        step_seconds: args.step_seconds,
        val_seconds: args.val_seconds,
        threads: rayon::current_num_threads(),
    };
    let p = plan(args.dataset, &args.root, &opts)
        .with_context(|| format!("planning {} at {}", args.dataset, args.root.display()))?;
    write_atomic(&args.out, p.toml.as_bytes())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&p)?);
    } else {
        for r in &p.rules {
            println!("{:<28} {:<12} {}", r.key, r.value, r.why);
        }
        println!(
            "expected {:.1} min of training; config written to {}",
            p.expected_minutes,
            args.out.display()
        );
    }
    Ok(())
}
