//! `medseg predict`: segment images with a weights file or a pretrained model.

use std::path::{Path, PathBuf};

use anyhow::Context;

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
    /// A pretrained model shipped with medseg: drive, stare or ph2.
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

const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif", "ppm", "pgm", "gz",
];

/// Where pretrained weights live: `$MEDSEG_WEIGHTS_DIR`, else `weights/` in the working folder
/// or next to the executable's repository.
pub fn pretrained_path(name: &str) -> anyhow::Result<PathBuf> {
    const NAMES: [&str; 3] = ["drive", "stare", "ph2"];
    if !NAMES.contains(&name) {
        anyhow::bail!(
            "unknown pretrained model '{name}' (valid: {})",
            NAMES.join(", ")
        );
    }
    let file = format!("{name}.safetensors");
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(d) = std::env::var("MEDSEG_WEIGHTS_DIR") {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(PathBuf::from("weights"));
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/medseg -> <repo>/weights
        if let Some(repo) = exe.ancestors().nth(3) {
            dirs.push(repo.join("weights"));
        }
    }
    dirs.iter()
        .map(|d| d.join(&file))
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "pretrained weights '{file}' not found in {} (set MEDSEG_WEIGHTS_DIR)",
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

fn collect_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("reading {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .and_then(|e| e.to_str())
                            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_lowercase().as_str()))
                })
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
    let weights = match (&args.weights, &args.pretrained) {
        (Some(w), _) => w.clone(),
        (None, Some(name)) => pretrained_path(name)?,
        (None, None) => anyhow::bail!("pass --weights FILE or --pretrained NAME"),
    };
    let files = collect_inputs(&args.inputs)?;
    let device = select_device(args.inference.device)?;
    let predictor = args.inference.load(&weights, &device)?;
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
        println!("{}: {}x{} in {:.3} s", file.display(), w, h, pred.seconds);
    }
    println!(
        "{} image(s), {:.3} s per image; outputs in {}",
        files.len(),
        total / files.len() as f64,
        args.out.display()
    );
    Ok(())
}
