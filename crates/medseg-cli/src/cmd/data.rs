//! `medseg data ...`: dataset tools.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use medseg::data::DatasetKind;
use medseg::data::check::{CheckReport, Stats, check};

#[derive(clap::Subcommand, Debug)]
pub enum DataCmd {
    /// Check a dataset tree: counts, image sizes, foreground fraction, FOV coverage and every
    /// pairing, decoding, size or binarisation problem. Exits 2 if any problem is found.
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Dataset layout: drive, stare, chase-db1, hrf, isic2018, ph2, folder.
    #[arg(long, value_parser = parse_dataset)]
    pub dataset: DatasetKind,
    /// Root of the dataset tree, as downloaded.
    #[arg(long)]
    pub root: PathBuf,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_dataset(s: &str) -> Result<DatasetKind, String> {
    s.parse::<DatasetKind>().map_err(|e| e.to_string())
}

pub fn run(cmd: DataCmd) -> anyhow::Result<()> {
    match cmd {
        DataCmd::Check(args) => run_check(args),
    }
}

fn run_check(args: CheckArgs) -> anyhow::Result<()> {
    let report =
        check(args.dataset, &args.root, rayon::current_num_threads()).with_context(|| {
            format!(
                "checking {} dataset at {}",
                args.dataset,
                args.root.display()
            )
        })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    if !report.is_ok() {
        anyhow::bail!(
            "{} problem(s) found in the {} tree at {} (listed above)",
            report.problems.len(),
            report.dataset,
            report.root.display()
        );
    }
    Ok(())
}

fn stats(s: &Option<Stats>, percent: bool) -> String {
    match s {
        None => "-".into(),
        Some(s) if percent => format!(
            "mean {:.2} %  (min {:.2} %, max {:.2} %, n = {})",
            s.mean * 100.0,
            s.min * 100.0,
            s.max * 100.0,
            s.n
        ),
        Some(s) => format!(
            "mean {:.4}  (min {:.4}, max {:.4}, n = {})",
            s.mean, s.min, s.max, s.n
        ),
    }
}

fn table(r: &CheckReport) -> String {
    let mut o = String::new();
    let c = &r.counts;
    let _ = writeln!(o, "dataset      {} at {}", r.dataset, r.root.display());
    let _ = writeln!(
        o,
        "cases        {} (train {}, val {}, test {}, no official subset {})",
        c.cases, c.train, c.val, c.test, c.unassigned
    );
    let _ = writeln!(
        o,
        "labelled     {}   official FOV {}   second observer {}",
        c.labelled, c.official_fov, c.second_observer
    );
    let sizes: Vec<String> = r
        .sizes
        .iter()
        .map(|s| format!("{}x{} ({})", s.width, s.height, s.count))
        .collect();
    let _ = writeln!(
        o,
        "image sizes  {}",
        if sizes.is_empty() {
            "-".into()
        } else {
            sizes.join(", ")
        }
    );
    let _ = writeln!(o, "foreground   {}", stats(&r.foreground_fraction, true));
    let _ = writeln!(o, "  in FOV     {}", stats(&r.foreground_in_fov, true));
    let origins: Vec<String> = r
        .fov_origin
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(
        o,
        "FOV          {}   [{}]",
        stats(&r.fov_coverage, true),
        origins.join(", ")
    );
    if r.fov_derivation_iou.is_some() {
        let _ = writeln!(
            o,
            "derived FOV  IoU vs official: {}",
            stats(&r.fov_derivation_iou, false)
        );
    }
    if r.problems.is_empty() {
        let _ = writeln!(o, "problems     none");
    } else {
        let _ = writeln!(o, "problems     {}", r.problems.len());
        for p in &r.problems {
            let _ = writeln!(o, "  [{}] {}", p.kind, p.message);
        }
    }
    o
}
