//! `medseg predict`: segment images with a weights file or a pretrained model. A model with
//! several classes writes `prob/<class>/<stem>.png`, `labels/<stem>.png` and
//! `overlay/<stem>.png` (with a legend) under `--out` instead of the three binary pictures.

use std::path::{Path, PathBuf};

use anyhow::Context;
use medseg::data::datasets::is_image_file;
use medseg::data::read_rgb;
use medseg::infer::PredictOptions;

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
    /// A pretrained model embedded in this binary: drive, stare, ph2, kvasir or jsrt.
    #[arg(long)]
    pub pretrained: Option<String>,
    /// The preset an official U-2-Net checkpoint given as --weights (`u2net.pth`,
    /// `u2netp.pth`) is loaded into: u2net or u2netp.
    #[arg(long)]
    pub model: Option<String>,
    /// Output folder.
    #[arg(long, default_value = "predictions")]
    pub out: PathBuf,
    /// Probability threshold (default: the one stored with the weights).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Skip an input that cannot be read or segmented and go on with the rest; the failures
    /// are listed in OUT/failures.json (file, reason) and the exit code is 1 when there are
    /// any. Without it the first failure stops the batch (exit 2). A write failure (a full
    /// disk) stops the batch either way.
    #[arg(long)]
    pub keep_going: bool,
    /// Skip an input whose three outputs are already in the output folder, so that a batch
    /// that was stopped continues where it stopped (outputs are written atomically: one that
    /// exists is complete).
    #[arg(long)]
    pub skip_existing: bool,
    /// Also write what the network is given for each image: `NAME_input.f32` (the preprocessed
    /// planes, float32 little-endian, `[1, C, H, W]`), `NAME_input.json` (shape, crop box,
    /// scale factor, sizes) and `NAME_fov.png` (the field of view; the mask is 0 outside it),
    /// to run an exported ONNX file on exactly medseg's input.
    #[arg(long)]
    pub save_input: bool,
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
        (Some(w), _) if medseg::models::checkpoint::is_pytorch_checkpoint(w) => args
            .inference
            .load_official(w, args.model.as_deref(), &device)?,
        _ if args.model.is_some() => {
            anyhow::bail!("--model applies to PyTorch checkpoints (--weights FILE.pth) only")
        }
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
    let (mut total, mut done, mut skipped) = (0.0, 0usize, 0usize);
    let mut failures = Vec::new();
    let labels = predictor.meta.labels.clone();
    for file in &files {
        let s = stem(file);
        if !labels.is_binary() {
            // Several classes: prob/<class>/, labels/ and overlay/ (with a legend) under --out.
            let outputs = [
                args.out.join("labels").join(format!("{s}.png")),
                args.out.join("overlay").join(format!("{s}.png")),
            ];
            if args.skip_existing && outputs.iter().all(|p| p.is_file()) {
                skipped += 1;
                continue;
            }
            let result = read_rgb(file).and_then(|image| {
                let fov = predictor.fov_for(&image);
                let pred = predictor.predict_classes(&image, &fov, PredictOptions::default())?;
                pred.save(&image, &labels, threshold, None, &args.out, &s)?;
                Ok((image, pred.seconds))
            });
            match result {
                Ok((image, seconds)) => {
                    total += seconds;
                    done += 1;
                    println!(
                        "{}: {}x{} in {seconds:.3} s, {} classes",
                        file.display(),
                        image.width,
                        image.height,
                        labels.out_channels()
                    );
                }
                Err(e) if args.keep_going => {
                    eprintln!("skipped {}: {e}", file.display());
                    failures.push(Failure {
                        file: file.clone(),
                        reason: e.to_string(),
                    });
                }
                Err(e) => return Err(e.into()),
            }
            continue;
        }
        let file_for = |kind: &str| args.out.join(format!("{s}_{kind}.png"));
        let outputs = [file_for("prob"), file_for("mask"), file_for("overlay")];
        if args.skip_existing && outputs.iter().all(|p| p.is_file()) {
            skipped += 1;
            continue;
        }
        let (image, pred) = match predictor.predict_file(file) {
            Ok(done) => done,
            Err(e) if args.keep_going => {
                eprintln!("skipped {}: {e}", file.display());
                failures.push(Failure {
                    file: file.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let (w, h) = (image.width, image.height);
        pred.save(&image, threshold, &outputs[0], &outputs[1], &outputs[2])?;
        if args.save_input {
            save_input(&predictor, &image, &pred, &args.out, &s)?;
        }
        total += pred.seconds;
        done += 1;
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
        "{done} image(s) segmented, {:.3} s per image{}{}; outputs in {}",
        total / done.max(1) as f64,
        if skipped > 0 {
            format!(", {skipped} skipped (outputs already there)")
        } else {
            String::new()
        },
        if args.keep_going {
            format!(", {} failed", failures.len())
        } else {
            String::new()
        },
        args.out.display()
    );
    if args.keep_going {
        let path = args.out.join("failures.json");
        let json = serde_json::to_string_pretty(&failures).expect("failures serialise") + "\n";
        medseg::durable::write_atomic(&path, json.as_bytes())?;
        if !failures.is_empty() {
            return Err(SomeFailed {
                failed: failures.len(),
                total: files.len(),
                list: path,
            }
            .into());
        }
    }
    Ok(())
}

/// Writes the network input of one image (`--save-input`).
fn save_input(
    predictor: &medseg::infer::Predictor,
    image: &medseg::data::io::RgbPlanes,
    pred: &medseg::infer::Prediction,
    out: &Path,
    stem: &str,
) -> anyhow::Result<()> {
    let mode = medseg::infer::scale::ScaleMode::Factor(pred.scale.factor);
    let input = predictor.network_input(image, &pred.fov, mode)?;
    let p = &input.planes;
    let bytes: Vec<u8> = p.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    medseg::durable::write_atomic(&out.join(format!("{stem}_input.f32")), &bytes)?;
    let info = serde_json::json!({
        "shape": [1, p.channels, p.height, p.width],
        "dtype": "float32, little-endian",
        "crop": input.crop,
        "scaled_size": [input.scaled_size.0, input.scaled_size.1],
        "size": [image.width, image.height],
        "scale": input.factor,
        "threshold": predictor.meta.threshold,
    });
    let text = serde_json::to_string_pretty(&info).expect("serialises") + "\n";
    medseg::durable::write_atomic(&out.join(format!("{stem}_input.json")), text.as_bytes())?;
    let fov = medseg::viz::mask_png(&pred.fov.data, pred.fov.width, pred.fov.height);
    medseg::viz::save_png(&fov, &out.join(format!("{stem}_fov.png")))?;
    Ok(())
}

/// An input `--keep-going` skipped, as listed in `failures.json`.
#[derive(Debug, serde::Serialize)]
struct Failure {
    file: PathBuf,
    reason: String,
}

/// The batch finished, but some inputs failed (`--keep-going`): exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} input(s) failed; they are listed in {}", list.display())]
pub struct SomeFailed {
    failed: usize,
    total: usize,
    list: PathBuf,
}
