//! `medseg score`: score saved probability maps against ground-truth masks.
//!
//! Files are paired by case ID ([`medseg::data::case_id`]: the stem without dataset suffixes
//! such as `_training`, `_manual1`, `_mask`, `_segmentation`, so `21_test.png`,
//! `21_manual1.gif` and `21_test_mask.gif` all pair as `21`). Probability maps are read as grey
//! levels scaled to `[0, 1]` (8 or 16 bit; PNG, TIFF, GIF, BMP, JPEG, PNM), masks are binarised
//! by [`medseg::data::read_mask`]. Every prediction needs exactly one truth mask and vice versa;
//! with `--fov`, every prediction needs a FOV mask (extra FOV masks are ignored).
//!
//! Prints a table (per image, then the mean over images and the pooled value over all pixels)
//! and optionally writes the report as JSON (schema: [`medseg::metrics::report`]) and CSV.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use medseg::data::datasets::is_image_file;
use medseg::data::{case_id, read_mask, read_plane};
use medseg::durable::write_atomic;
use medseg::metrics::MetricAccumulator;

/// Arguments of `medseg score`.
#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// Folder of probability maps (grey 8/16-bit images, values scaled to [0, 1]).
    #[arg(long, value_name = "DIR")]
    pub pred: PathBuf,
    /// Folder of ground-truth masks.
    #[arg(long, value_name = "DIR")]
    pub truth: PathBuf,
    /// Folder of field-of-view masks; only pixels inside the FOV are scored.
    #[arg(long, value_name = "DIR")]
    pub fov: Option<PathBuf>,
    /// A pixel is predicted positive when its probability is >= this threshold.
    #[arg(long, default_value_t = 0.5, value_name = "T")]
    pub threshold: f64,
    /// Also write the report as JSON (the same schema `medseg eval` writes).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write the report as CSV (one row per image, then `mean` and `pooled`).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

pub fn run(args: ScoreArgs) -> anyhow::Result<()> {
    let mut acc = MetricAccumulator::new(args.threshold).context("--threshold")?;
    let preds = index(&args.pred, "--pred")?;
    let truths = index(&args.truth, "--truth")?;
    let fovs = args.fov.as_deref().map(|d| index(d, "--fov")).transpose()?;
    if preds.is_empty() {
        bail!("no image files in --pred {}", args.pred.display());
    }
    let mut unpaired: Vec<String> = preds
        .iter()
        .filter(|(id, _)| !truths.contains_key(*id))
        .map(|(id, path)| {
            format!(
                "unpaired prediction {}: no truth mask with case ID '{id}' in {}",
                path.display(),
                args.truth.display()
            )
        })
        .collect();
    unpaired.extend(
        truths
            .iter()
            .filter(|(id, _)| !preds.contains_key(*id))
            .map(|(id, path)| {
                format!(
                    "unpaired truth mask {}: no prediction with case ID '{id}' in {}",
                    path.display(),
                    args.pred.display()
                )
            }),
    );
    if let (Some(fovs), Some(dir)) = (&fovs, &args.fov) {
        unpaired.extend(preds.iter().filter(|(id, _)| !fovs.contains_key(*id)).map(
            |(id, path)| {
                format!(
                    "prediction {} has no FOV mask with case ID '{id}' in {}",
                    path.display(),
                    dir.display()
                )
            },
        ));
    }
    if !unpaired.is_empty() {
        bail!(
            "{} unpaired file(s); files pair by case ID, the file stem without dataset suffixes \
             such as _test, _training, _manual1, _mask, _segmentation:\n  {}",
            unpaired.len(),
            unpaired.join("\n  ")
        );
    }
    for (id, pred_path) in &preds {
        let truth_path = &truths[id];
        let fov_path = fovs.as_ref().map(|fovs| &fovs[id]);
        let pred = read_plane(pred_path)
            .with_context(|| format!("reading prediction {}", pred_path.display()))?;
        let truth = read_mask(truth_path)
            .with_context(|| format!("reading truth mask {}", truth_path.display()))?;
        check_size(truth_path, pred_path, pred.size(), truth.size())?;
        let fov = match fov_path {
            Some(path) => {
                let fov = read_mask(path)
                    .with_context(|| format!("reading FOV mask {}", path.display()))?;
                check_size(path, pred_path, pred.size(), fov.size())?;
                Some(fov)
            }
            None => None,
        };
        acc.add_image(
            id.as_str(),
            &pred.data,
            &truth.data,
            fov.as_ref().map(|f| f.data.as_slice()),
        )
        .with_context(|| format!("scoring {}", pred_path.display()))?;
    }
    let report = acc.finish()?;
    println!("{report}");
    if let Some(path) = &args.json {
        write_atomic(path, (report.to_json() + "\n").as_bytes())?;
    }
    if let Some(path) = &args.csv {
        write_atomic(path, report.to_csv().as_bytes())?;
    }
    Ok(())
}

fn check_size(
    path: &Path,
    pred_path: &Path,
    pred: (u32, u32),
    other: (u32, u32),
) -> anyhow::Result<()> {
    if pred != other {
        bail!(
            "size mismatch: {} is {}x{} but the prediction {} is {}x{} (width x height)",
            path.display(),
            other.0,
            other.1,
            pred_path.display(),
            pred.0,
            pred.1
        );
    }
    Ok(())
}

/// Case ID → file for the image files directly inside `dir` (hidden files and other extensions
/// are skipped, with a note on stderr). Two files with one ID is an error naming both.
fn index(dir: &Path, flag: &str) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading {flag} folder {}", dir.display()))?;
    let mut out: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut skipped = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {flag} folder {}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !path.is_file() {
            continue;
        }
        if !is_image_file(&path) {
            skipped.push(name);
            continue;
        }
        let id = case_id(&name);
        if let Some(previous) = out.insert(id.clone(), path.clone()) {
            bail!(
                "{} and {} in {flag} {} have the same case ID '{id}'",
                previous.display(),
                path.display(),
                dir.display()
            );
        }
    }
    if !skipped.is_empty() {
        skipped.sort();
        eprintln!(
            "note: skipping {} non-image file(s) in {}: {}",
            skipped.len(),
            dir.display(),
            skipped.join(", ")
        );
    }
    Ok(out)
}
