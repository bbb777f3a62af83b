//! `medseg synth`: write a procedural dataset in an official layout.

use std::path::PathBuf;

use anyhow::Context;
use medseg::data::synth::{SynthConfig, SynthKind, write_dataset};

/// What to generate.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Retinal vessel trees on a fundus-like background, DRIVE layout.
    Vessels,
    /// Skin lesions with irregular borders and hairs, ISIC 2018 Task 1 layout.
    Lesions,
    /// Chest radiographs with lungs, heart and clavicles, JSRT layout with SCR's masks.
    Chest,
}

#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// Vessels (DRIVE layout), lesions (ISIC 2018 layout) or chest (JSRT layout).
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// Number of images (vessels: half, rounded up, in training/, the rest in test/).
    #[arg(long)]
    pub count: usize,
    /// Output folder; must be absent or empty unless --force.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed; the same seed gives the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Image width in pixels (lesions are size × 3·size/4; chest masks are twice the size).
    #[arg(long, default_value_t = 256)]
    pub size: u32,
    /// Write into a non-empty output folder.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    if !args.force
        && args.out.is_dir()
        && std::fs::read_dir(&args.out)
            .with_context(|| format!("reading {}", args.out.display()))?
            .next()
            .is_some()
    {
        anyhow::bail!(
            "{} is not empty; choose another --out or pass --force",
            args.out.display()
        );
    }
    let kind = match args.kind {
        Kind::Vessels => SynthKind::Vessels,
        Kind::Lesions => SynthKind::Lesions,
        Kind::Chest => SynthKind::Chest,
    };
    let cfg = SynthConfig {
        kind,
        count: args.count,
        size: args.size,
        seed: args.seed,
    };
    let summary = write_dataset(&cfg, &args.out)
        .with_context(|| format!("writing a synthetic dataset to {}", args.out.display()))?;
    let (layout, dataset) = match kind {
        SynthKind::Vessels => ("DRIVE", "drive"),
        SynthKind::Lesions => ("ISIC 2018 Task 1", "isic2018"),
        SynthKind::Chest => ("JSRT (SCR masks)", "jsrt"),
    };
    println!(
        "wrote {} training and {} test images ({} files, {} px, seed {}) in the {layout} layout \
         to {}",
        summary.train,
        summary.test,
        summary.files.len(),
        args.size,
        args.seed,
        args.out.display()
    );
    println!(
        "check it with: medseg data check --dataset {dataset} --root {}",
        args.out.display()
    );
    Ok(())
}
