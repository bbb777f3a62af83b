//! `medseg predict`: segment images with a weights file or a pretrained model.

use std::path::{Path, PathBuf};

use anyhow::Context;
use medseg::data::datasets::is_image_file;

use super::InferenceArgs;
use crate::device::select_device;

/// Arguments of `medseg predict`.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// Images or folders of images (PNG, JPEG, TIFF, BMP, GIF, PPM/PGM).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// A medseg weights file (.safetensors with its config).
    #[arg(
        long,
        conflicts_with = "pretrained",
        required_unless_present = "pretrained"
    )]
    pub weights: Option<PathBuf>,
    /// A pretrained model embedded in this binary: drive, stare or ph2.
    #[arg(long)]
    pub pretrained: Option<String>,
    /// Output folder.
    #[arg(long, default_value = "predictions")]
    pub out: PathBuf,
    /// Probability threshold (default: the one stored with the weights).
    #[arg(long)]
    pub threshold: Option<f64>,
    #[command(flatten)]
    pub inference: InferenceArgs,
}

fn collect_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("reading {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image_file(p))
                .collect();
            if found.is_empty() {
                anyhow::bail!("{} holds no images", input.display());
            }
            found.sort();
            files.extend(found);
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            anyhow::bail!("input {} does not exist", input.display());
        }
    }
    Ok(files)
}

fn stem(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("image");
    let name = name.strip_suffix(".gz").unwrap_or(name);
    Path::new(name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("image")
        .to_string()
}

/// Runs `medseg predict`.
pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let device = select_device(args.inference.device)?;
    let predictor = match (&args.weights, &args.pretrained) {
        (Some(w), _) => args.inference.load(w, &device)?,
        (None, Some(name)) => args.inference.load_pretrained(name, &device)?,
        (None, None) => anyhow::bail!("pass --weights FILE or --pretrained NAME"),
    };
    let files = collect_inputs(&args.inputs)?;
    let threshold = args.threshold.unwrap_or(predictor.meta.threshold);
    if !(threshold > 0.0 && threshold < 1.0) {
        anyhow::bail!("--threshold must be in (0, 1), got {threshold}");
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut total = 0.0;
    for file in &files {
        let (image, pred) = predictor.predict_file(file)?;
        let (w, h) = (image.width, image.height);
        let s = stem(file);
        let file_for = |kind: &str| args.out.join(format!("{s}_{kind}.png"));
        pred.save(
            &image,
            threshold,
            &file_for("prob"),
            &file_for("mask"),
            &file_for("overlay"),
        )?;
        total += pred.seconds;
        if pred.scale.fov_fallback {
            eprintln!(
                "warning: {}: no field of view found; its width stood in for the FOV diameter",
                file.display()
            );
        }
        println!(
            "{}: {}x{} in {:.3} s, scale {:.3}",
            file.display(),
            w,
            h,
            pred.seconds,
            pred.scale.factor
        );
    }
    println!(
        "{} image(s), {:.3} s per image; outputs in {}",
        files.len(),
        total / files.len() as f64,
        args.out.display()
    );
    Ok(())
}
