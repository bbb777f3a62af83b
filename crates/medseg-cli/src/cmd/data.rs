//! `medseg data ...`: dataset tools.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use medseg::data::DatasetKind;
use medseg::data::check::{CheckReport, SizeCount, Stats, check};
use medseg::data::fingerprint::{Fingerprint, fingerprint};
use medseg::data::resample::resample_dataset;

#[derive(clap::Subcommand, Debug)]
pub enum DataCmd {
    /// Check a dataset tree: counts, image sizes, foreground fraction, FOV coverage and every
    /// pairing, decoding, size or binarisation problem. Exits 2 if any problem is found.
    Check(CheckArgs),
    /// Measure a dataset: sizes, colour types, intensity and FOV diameter, foreground fraction,
    /// and the size of the segmented structures (skeleton width, equivalent diameter).
    Fingerprint(CheckArgs),
    /// Write a dataset's labelled images resampled by a factor (images bilinear, labels and FOV
    /// nearest) in the nnU-Net test layout, to measure a model at other scales:
    /// `medseg eval --weights W --dataset folder --root OUT --split test`.
    Resample(ResampleArgs),
}

#[derive(clap::Args, Debug)]
pub struct ResampleArgs {
    /// Dataset layout: drive, stare, chase-db1, hrf, isic2018, ph2, folder.
    #[arg(long, value_parser = parse_dataset)]
    pub dataset: DatasetKind,
    /// Root of the dataset tree, as downloaded.
    #[arg(long)]
    pub root: PathBuf,
    /// Resampling factor (> 0; 2 doubles each side).
    #[arg(long)]
    pub factor: f64,
    /// Every labelled case, not only the official test subset.
    #[arg(long)]
    pub all: bool,
    /// Output folder (imagesTs/, labelsTs/, fovTs/).
    #[arg(long)]
    pub out: PathBuf,
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
        DataCmd::Fingerprint(args) => {
            let fp = fingerprint(args.dataset, &args.root, rayon::current_num_threads())?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&fp)?);
            } else {
                print!("{}", fingerprint_table(&fp));
            }
            Ok(())
        }
        DataCmd::Resample(args) => {
            let n = resample_dataset(
                args.dataset,
                &args.root,
                args.factor,
                !args.all,
                &args.out,
                rayon::current_num_threads(),
            )?;
            println!(
                "{n} case(s) of {} resampled by {} into {}",
                args.dataset,
                args.factor,
                args.out.display()
            );
            Ok(())
        }
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
            "mean {:.2}, median {:.2}  (min {:.2}, max {:.2}, n = {})",
            s.mean, s.median, s.min, s.max, s.n
        ),
    }
}

/// Image sizes as `WxH (count)`, all of them when few, else a summary: how many sizes, the
/// range of widths and heights, the median size and the most common ones.
fn sizes_line(sizes: &[SizeCount]) -> String {
    const LIST_UP_TO: usize = 6;
    let item = |s: &SizeCount| format!("{}x{} ({})", s.width, s.height, s.count);
    if sizes.is_empty() {
        return "-".into();
    }
    if sizes.len() <= LIST_UP_TO {
        return sizes.iter().map(item).collect::<Vec<_>>().join(", ");
    }
    let range = |f: fn(&SizeCount) -> u32| {
        let lo = sizes.iter().map(f).min().unwrap_or(0);
        let hi = sizes.iter().map(f).max().unwrap_or(0);
        format!("{lo}-{hi}")
    };
    // The median case's size, ordering cases by pixel count.
    let mut by_area: Vec<&SizeCount> = sizes.iter().collect();
    by_area.sort_by_key(|s| s.width as u64 * s.height as u64);
    let total: usize = sizes.iter().map(|s| s.count).sum();
    let mut seen = 0;
    let median = by_area
        .iter()
        .find(|s| {
            seen += s.count;
            2 * seen > total
        })
        .map(|s| format!("{}x{}", s.width, s.height))
        .unwrap_or_default();
    let mut common: Vec<&SizeCount> = sizes.iter().collect();
    common.sort_by_key(|s| std::cmp::Reverse(s.count));
    let common: Vec<String> = common.iter().take(3).map(|s| item(s)).collect();
    format!(
        "{} sizes: widths {}, heights {}, median {median}; most common {}",
        sizes.len(),
        range(|s| s.width),
        range(|s| s.height),
        common.join(", ")
    )
}

fn fingerprint_table(f: &Fingerprint) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "dataset      {} at {}", f.dataset, f.root.display());
    let _ = writeln!(o, "cases        {} labelled", f.cases);
    let _ = writeln!(o, "image sizes  {}", sizes_line(&f.sizes));
    let colours: Vec<String> = f
        .color_types
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(o, "files        {}", colours.join(", "));
    let i = &f.intensity;
    let _ = writeln!(
        o,
        "intensity    in FOV, mean (std): R {:.3} ({:.3})  G {:.3} ({:.3})  B {:.3} ({:.3})",
        i[0].mean, i[0].std, i[1].mean, i[1].std, i[2].mean, i[2].std
    );
    let k = &f.contrast;
    let _ = writeln!(
        o,
        "contrast     |fg - bg| / std in FOV: R {:.2}  G {:.2}  B {:.2}",
        k[0], k[1], k[2]
    );
    let _ = writeln!(o, "FOV diameter {} px", stats(&Some(f.fov_diameter), false));
    let _ = writeln!(
        o,
        "foreground   {} of the FOV",
        stats(&Some(f.foreground_in_fov), true)
    );
    let _ = writeln!(
        o,
        "structures   width {} px (skeleton)",
        stats(&f.structure_width, false)
    );
    let _ = writeln!(
        o,
        "             equivalent diameter {} px",
        stats(&f.equivalent_diameter, false)
    );
    o
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
    let _ = writeln!(o, "image sizes  {}", sizes_line(&r.sizes));
    let _ = writeln!(o, "foreground   {}", stats(&r.foreground_fraction, true));
    let _ = writeln!(o, "  in FOV     {}", stats(&r.foreground_in_fov, true));
    for (name, s) in &r.structures {
        let _ = writeln!(o, "  {name:<10} {}", stats(&Some(*s), true));
    }
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
    let _ = writeln!(
        o,
        "FOV diameter {} px (training cases; the median is the scale reference)",
        stats(&r.fov_diameter, false)
    );
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
