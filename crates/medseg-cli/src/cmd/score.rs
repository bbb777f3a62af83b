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
//!
//! **Several classes** (`--classes`, `--labels`, or a `--pred` folder that holds only
//! sub-folders): `--pred/<class>/` holds each class's probability maps (the layout
//! `medseg predict` writes under `prob/`), `--truth/<folder>/` each class's binary masks (a
//! class with several mask folders, such as SCR's `left_lung` and `right_lung` for `lungs`, is
//! their union), or, in multi-class mode, `--truth` holds label maps (values = class ids). The
//! report is per class with the mean over classes (schema: [`medseg::metrics::classes`]); the
//! binary report above is unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use medseg::data::datasets::is_image_file;
use medseg::data::labels::{ClassSpec, LabelMode, LabelsConfig};
use medseg::data::{Mask, case_id, read_mask, read_plane};
use medseg::durable::write_atomic;
use medseg::metrics::MetricAccumulator;
use medseg::metrics::classes::ClassesAccumulator;
use medseg::train::config::ExperimentConfig;

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
    /// Score several classes, in this order: `--pred/<name>/` and `--truth/<name>/` per class.
    #[arg(
        long,
        value_name = "NAME,...",
        value_delimiter = ',',
        conflicts_with = "labels"
    )]
    pub classes: Vec<String>,
    /// Score the classes of this config's `[data.labels]` (a training config or a run's
    /// config.resolved.toml): its names, mode and mask folders.
    #[arg(long, value_name = "CONFIG")]
    pub labels: Option<PathBuf>,
    /// With `--classes`: multi-label (a threshold per class) or multi-class (argmax; the first
    /// class is the background).
    #[arg(long, value_name = "MODE", default_value = "multi-label", value_parser = ["multi-label", "multi-class"])]
    pub mode: String,
}

pub fn run(args: ScoreArgs) -> anyhow::Result<()> {
    if let Some(labels) = class_labels(&args)? {
        return run_classes(&args, &labels);
    }
    let mut acc = MetricAccumulator::new(args.threshold).context("--threshold")?;
    let preds = index(&args.pred, "--pred")?;
    let truths = index(&args.truth, "--truth")?;
    let fovs = args.fov.as_deref().map(|d| index(d, "--fov")).transpose()?;
    if preds.is_empty() {
        bail!("no image files in --pred {}", args.pred.display());
    }
    check_pairs(&args, &preds, &truths, fovs.as_ref())?;
    for (id, pred_path) in &preds {
        let truth_path = &truths[id];
        let pred = read_plane(pred_path)
            .with_context(|| format!("reading prediction {}", pred_path.display()))?;
        let truth = read_mask(truth_path)
            .with_context(|| format!("reading truth mask {}", truth_path.display()))?;
        check_size(truth_path, pred_path, pred.size(), truth.size())?;
        let fov = read_fov(fovs.as_ref(), id, pred_path, pred.size())?;
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

/// The classes to score, when this is a per-class run: `--labels`, `--classes`, or the
/// sub-folders of a `--pred` folder that holds no image files (multi-label, sorted by name,
/// said on stderr). `None`: binary.
fn class_labels(args: &ScoreArgs) -> anyhow::Result<Option<LabelsConfig>> {
    if let Some(path) = &args.labels {
        let cfg =
            ExperimentConfig::load(path).with_context(|| format!("--labels {}", path.display()))?;
        if cfg.data.labels.is_binary() {
            bail!(
                "--labels {}: the config has no [data.labels] classes (binary); score it without --labels",
                path.display()
            );
        }
        return Ok(Some(cfg.data.labels));
    }
    let mode = match args.mode.as_str() {
        "multi-class" => LabelMode::MultiClass,
        _ => LabelMode::MultiLabel,
    };
    let names = if !args.classes.is_empty() {
        args.classes.clone()
    } else {
        let entries = std::fs::read_dir(&args.pred)
            .with_context(|| format!("reading --pred folder {}", args.pred.display()))?;
        let mut dirs = Vec::new();
        for entry in entries {
            let path = entry
                .with_context(|| format!("reading --pred folder {}", args.pred.display()))?
                .path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            match name {
                Some(n) if n.starts_with('.') => {}
                Some(_) if path.is_file() && is_image_file(&path) => return Ok(None),
                Some(n) if path.is_dir() => dirs.push(n),
                _ => {}
            }
        }
        if dirs.is_empty() {
            return Ok(None);
        }
        dirs.sort();
        eprintln!(
            "note: --pred {} holds class folders only; scoring them as {} classes {} \
             (give --classes or --labels for another order or mode)",
            args.pred.display(),
            args.mode,
            dirs.join(", ")
        );
        dirs
    };
    let classes = names.iter().map(ClassSpec::new).collect();
    let labels = match mode {
        LabelMode::MultiClass => LabelsConfig::multi_class(classes),
        _ => LabelsConfig::multi_label(classes),
    };
    labels.validate().context("--classes")?;
    Ok(Some(labels))
}

/// `medseg score` with several classes; see the module docs.
fn run_classes(args: &ScoreArgs, labels: &LabelsConfig) -> anyhow::Result<()> {
    let mut acc = ClassesAccumulator::new(labels, args.threshold).context("--threshold")?;
    let names = labels.names();
    let mut preds = Vec::with_capacity(names.len());
    for name in &names {
        let dir = args.pred.join(name);
        let found = index(&dir, "--pred class")?;
        if found.is_empty() {
            bail!(
                "no image files in {} (the probability maps of class '{name}')",
                dir.display()
            );
        }
        preds.push(found);
    }
    // every class holds the same case IDs as the first
    for (name, found) in names.iter().zip(&preds).skip(1) {
        if let Some(id) = preds[0]
            .keys()
            .find(|id| !found.contains_key(*id))
            .or_else(|| found.keys().find(|id| !preds[0].contains_key(*id)))
        {
            bail!(
                "case '{id}' is in {} but not in {}: every class folder under --pred must hold \
                 the same cases",
                if preds[0].contains_key(id) {
                    args.pred.join(&names[0])
                } else {
                    args.pred.join(name)
                }
                .display(),
                if preds[0].contains_key(id) {
                    args.pred.join(name)
                } else {
                    args.pred.join(&names[0])
                }
                .display(),
            );
        }
    }
    let truth = ClassTruth::index(&args.truth, labels)?;
    let fovs = args.fov.as_deref().map(|d| index(d, "--fov")).transpose()?;
    for (id, first) in &preds[0] {
        let mut probs = Vec::with_capacity(names.len());
        let mut size = None;
        for found in &preds {
            let path = &found[id];
            let plane = read_plane(path)
                .with_context(|| format!("reading prediction {}", path.display()))?;
            if let Some(s) = size {
                check_size(path, first, s, plane.size())?;
            }
            size = Some(plane.size());
            probs.push(plane.data);
        }
        let size = size.expect("at least one class");
        let truths = truth.read(id, first, size)?;
        let fov = read_fov(fovs.as_ref(), id, first, size)?;
        acc.add_image(
            id,
            &probs,
            &truths,
            fov.as_ref().map(|f| f.data.as_slice()),
            (size.0 as usize, size.1 as usize),
        )
        .with_context(|| format!("scoring case '{id}'"))?;
    }
    let report = acc.finish()?;
    println!("{}", report.table());
    if let Some(path) = &args.json {
        write_atomic(path, (report.to_json() + "\n").as_bytes())?;
    }
    if let Some(path) = &args.csv {
        write_atomic(path, report.to_csv().as_bytes())?;
    }
    Ok(())
}

/// Where the truth of each class is: mask folders per class, or multi-class label maps.
enum ClassTruth<'a> {
    /// Per class, one index per mask folder (their union is the class).
    Masks(Vec<Vec<(PathBuf, BTreeMap<String, PathBuf>)>>),
    /// Label maps in the --truth folder itself.
    LabelMaps(&'a LabelsConfig, BTreeMap<String, PathBuf>),
}

impl<'a> ClassTruth<'a> {
    fn index(dir: &Path, labels: &'a LabelsConfig) -> anyhow::Result<Self> {
        if labels.mode == LabelMode::MultiClass {
            let maps = index(dir, "--truth")?;
            if !maps.is_empty() {
                return Ok(ClassTruth::LabelMaps(labels, maps));
            }
        }
        let mut per_class = Vec::new();
        for class in &labels.classes {
            let mut folders = Vec::new();
            for folder in class.mask_folders() {
                let path = dir.join(&folder);
                if !path.is_dir() {
                    bail!(
                        "no truth folder {} for class '{}'{}",
                        path.display(),
                        class.name,
                        if labels.mode == LabelMode::MultiClass {
                            " (multi-class truth is either a folder per class or label maps in --truth itself)"
                        } else {
                            ""
                        }
                    );
                }
                let found = index(&path, "--truth class")?;
                folders.push((path, found));
            }
            per_class.push(folders);
        }
        Ok(ClassTruth::Masks(per_class))
    }

    /// The truth masks of case `id`, one per class, checked against the prediction's size.
    fn read(&self, id: &str, pred: &Path, size: (u32, u32)) -> anyhow::Result<Vec<Vec<bool>>> {
        match self {
            ClassTruth::LabelMaps(labels, maps) => {
                let path = maps.get(id).with_context(|| {
                    format!(
                        "prediction {} has no label map with case ID '{id}' in --truth",
                        pred.display()
                    )
                })?;
                let masks = labels.read_label_map(path)?;
                check_size(path, pred, size, masks[0].size())?;
                Ok(masks.into_iter().map(|m| m.data).collect())
            }
            ClassTruth::Masks(per_class) => {
                let mut out = Vec::with_capacity(per_class.len());
                for folders in per_class {
                    let mut union: Option<Mask> = None;
                    for (dir, found) in folders {
                        let path = found.get(id).with_context(|| {
                            format!(
                                "prediction {} has no truth mask with case ID '{id}' in {}",
                                pred.display(),
                                dir.display()
                            )
                        })?;
                        let mask = read_mask(path)
                            .with_context(|| format!("reading truth mask {}", path.display()))?;
                        check_size(path, pred, size, mask.size())?;
                        match &mut union {
                            Some(u) => u
                                .data
                                .iter_mut()
                                .zip(&mask.data)
                                .for_each(|(a, &b)| *a |= b),
                            None => union = Some(mask),
                        }
                    }
                    out.push(union.expect("a class has at least one mask folder").data);
                }
                Ok(out)
            }
        }
    }
}

/// The FOV mask of case `id` when `--fov` was given, checked against the prediction's size.
fn read_fov(
    fovs: Option<&BTreeMap<String, PathBuf>>,
    id: &str,
    pred: &Path,
    size: (u32, u32),
) -> anyhow::Result<Option<Mask>> {
    let Some(fovs) = fovs else { return Ok(None) };
    let path = fovs.get(id).with_context(|| {
        format!(
            "prediction {} has no FOV mask with case ID '{id}'",
            pred.display()
        )
    })?;
    let fov = read_mask(path).with_context(|| format!("reading FOV mask {}", path.display()))?;
    check_size(path, pred, size, fov.size())?;
    Ok(Some(fov))
}

/// Every prediction pairs with one truth mask and vice versa (and has a FOV mask with --fov);
/// else one error listing all unpaired files.
fn check_pairs(
    args: &ScoreArgs,
    preds: &BTreeMap<String, PathBuf>,
    truths: &BTreeMap<String, PathBuf>,
    fovs: Option<&BTreeMap<String, PathBuf>>,
) -> anyhow::Result<()> {
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
    if let (Some(fovs), Some(dir)) = (fovs, &args.fov) {
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
