//! `medseg data check`: decode a whole dataset tree and report counts, sizes, foreground
//! fraction, FOV coverage and every problem (layout, pairing, decoding, size, binarisation).
//! Multi-structure layouts (SCR/JSRT) report each structure's foreground fraction, its masks
//! read and brought to the image size as training does.
//!
//! Where the dataset ships FOV masks, the report also gives the IoU between the FOV derived from
//! each image ([`crate::data::fov::derive_fov`]) and the official mask.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::datasets::structures::fit_mask;
use super::fov::{FovDeriveConfig, FovOrigin, FovSource, derive_fov};
use super::io::{check_size, read_mask};
use super::loader::{decode_case, par_map};
use super::{Case, DatasetKind, Subset};
use crate::infer::scale::fov_diameter;
use crate::{Error, Result};

/// Mean, median, minimum and maximum of a per-case quantity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub mean: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Stats {
    pub(crate) fn of(values: &[f64]) -> Option<Stats> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Stats {
            mean: values.iter().sum::<f64>() / n as f64,
            median,
            min: sorted[0],
            max: sorted[n - 1],
            n,
        })
    }
}

/// Case counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    pub cases: usize,
    pub train: usize,
    pub val: usize,
    pub test: usize,
    /// Cases without an official subset (a seeded split applies).
    pub unassigned: usize,
    pub labelled: usize,
    pub official_fov: usize,
    pub second_observer: usize,
}

/// One problem found in the tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// `missing-file`, `bad-layout`, `shape-mismatch`, `decode`, `non-binary-mask`, `io`, ...
    pub kind: String,
    pub path: Option<PathBuf>,
    /// The full message, naming the file and what was expected.
    pub message: String,
}

impl From<&Error> for Problem {
    fn from(e: &Error) -> Self {
        let (kind, path) = match e {
            Error::MissingFile { path } => ("missing-file", Some(path.clone())),
            Error::BadLayout { root, .. } => ("bad-layout", Some(root.clone())),
            Error::ShapeMismatch { path, .. } => ("shape-mismatch", Some(path.clone())),
            Error::Decode { path, .. } => ("decode", Some(path.clone())),
            Error::TooManyPixels { path, .. } => ("too-many-pixels", Some(path.clone())),
            Error::NonBinaryMask { path, .. } => ("non-binary-mask", Some(path.clone())),
            Error::BadLabel { path, .. } => ("bad-label", Some(path.clone())),
            Error::Io { path, .. } => ("io", Some(path.clone())),
            Error::InvalidConfig(_) => ("invalid-config", None),
            Error::Unknown { .. } => ("unknown", None),
            Error::InvalidInput(_) => ("invalid-input", None),
            Error::NonFinite { run, .. } => ("non-finite", Some(run.clone())),
            Error::DiskFull { path, .. } => ("disk-full", Some(path.clone())),
            Error::NoIntactCheckpoint { dir, .. } => ("no-intact-checkpoint", Some(dir.clone())),
        };
        Problem {
            kind: kind.into(),
            path,
            message: e.to_string(),
        }
    }
}

/// Image size and how many cases have it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizeCount {
    pub width: u32,
    pub height: u32,
    pub count: usize,
}

/// The report of [`check`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub dataset: DatasetKind,
    pub root: PathBuf,
    pub counts: Counts,
    pub sizes: Vec<SizeCount>,
    /// Foreground pixels / image pixels, per labelled case.
    pub foreground_fraction: Option<Stats>,
    /// Foreground pixels / FOV pixels, per labelled case.
    pub foreground_in_fov: Option<Stats>,
    /// Per structure (multi-structure layouts): its pixels / image pixels, per case that has
    /// it. Empty, and not serialised, for single-mask datasets.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub structures: BTreeMap<String, Stats>,
    /// FOV pixels / image pixels, per case.
    pub fov_coverage: Option<Stats>,
    /// How FOVs were obtained: `official`, `derived` or `full` → count.
    pub fov_origin: BTreeMap<String, usize>,
    /// IoU of the derived FOV against the official one, where official FOVs exist.
    pub fov_derivation_iou: Option<Stats>,
    /// FOV diameter in pixels ([`crate::infer::scale::fov_diameter`]: its horizontal extent;
    /// the image width for whole images) over the training cases (the official training subset
    /// where the layout has one, else every case). Its median is the scale reference training
    /// stores with the weights.
    pub fov_diameter: Option<Stats>,
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// Whether the tree is usable as is.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

struct CaseResult {
    size: (u32, u32),
    fov_diameter: f64,
    fg: Option<(f64, f64)>,
    structures: Vec<(String, f64)>,
    fov_cov: f64,
    origin: FovOrigin,
    derived_iou: Option<f64>,
    extra_problems: Vec<Problem>,
}

fn check_case(case: &Case, kind: DatasetKind) -> Result<CaseResult> {
    let d = decode_case(case, kind, FovSource::Auto)?;
    let mut extra_problems = Vec::new();
    if let Some(p) = &case.second_observer {
        let r = read_mask(p).and_then(|m| check_size(p, d.image.size(), m.size()));
        if let Err(e) = r {
            extra_problems.push(Problem::from(&e));
        }
    }
    let fov_n = d.fov.count();
    let fg = d.mask.as_ref().map(|m| {
        let in_fov = m
            .data
            .iter()
            .zip(&d.fov.data)
            .filter(|&(&a, &b)| a && b)
            .count();
        (
            m.fraction(),
            if fov_n > 0 {
                in_fov as f64 / fov_n as f64
            } else {
                0.0
            },
        )
    });
    let derived_iou = (d.fov_origin == FovOrigin::Official)
        .then(|| derive_fov(&d.image, &FovDeriveConfig::default()).iou(&d.fov));
    let mut structures = Vec::new();
    for (name, path) in &case.structures {
        match read_mask(path).and_then(|m| fit_mask(m, d.image.size(), path)) {
            Ok(m) => structures.push((name.clone(), m.fraction())),
            Err(e) => extra_problems.push(Problem::from(&e)),
        }
    }
    Ok(CaseResult {
        size: d.image.size(),
        fov_diameter: fov_diameter(&d.fov).unwrap_or(d.image.width as f64),
        fg,
        structures,
        fov_cov: d.fov.fraction(),
        origin: d.fov_origin,
        derived_iou,
        extra_problems,
    })
}

/// Lists and decodes every case of `kind` under `root` with `threads` workers (0 = all cores).
///
/// Errors only when the root cannot be listed at all (wrong root, empty folder); every other
/// problem is collected in [`CheckReport::problems`].
pub fn check(kind: DatasetKind, root: &Path, threads: usize) -> Result<CheckReport> {
    let scan = kind.scan(root)?;
    let mut problems: Vec<Problem> = scan.problems.iter().map(Problem::from).collect();
    let cases = scan.cases;
    let mut counts = Counts {
        cases: cases.len(),
        ..Counts::default()
    };
    for c in &cases {
        match c.subset {
            Some(Subset::Train) => counts.train += 1,
            Some(Subset::Val) => counts.val += 1,
            Some(Subset::Test) => counts.test += 1,
            None => counts.unassigned += 1,
        }
        counts.labelled += c.is_labelled() as usize;
        counts.official_fov += c.fov.is_some() as usize;
        counts.second_observer += c.second_observer.is_some() as usize;
    }
    let results = par_map(&cases, threads, |c| Ok(check_case(c, kind)))?;
    let has_train = cases.iter().any(|c| c.subset == Some(Subset::Train));
    let mut diameters = Vec::new();
    let mut sizes: BTreeMap<(u32, u32), usize> = BTreeMap::new();
    let (mut fg, mut fg_fov, mut cov, mut ious) = (vec![], vec![], vec![], vec![]);
    let mut fov_origin = BTreeMap::new();
    let mut structures: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (case, r) in cases.iter().zip(results) {
        match r {
            Ok(r) => {
                if !has_train || case.subset == Some(Subset::Train) {
                    diameters.push(r.fov_diameter);
                }
                *sizes.entry(r.size).or_default() += 1;
                if let Some((a, b)) = r.fg {
                    fg.push(a);
                    fg_fov.push(b);
                }
                cov.push(r.fov_cov);
                for (name, fraction) in r.structures {
                    structures.entry(name).or_default().push(fraction);
                }
                let origin = match r.origin {
                    FovOrigin::Official => "official",
                    FovOrigin::Derived => "derived",
                    FovOrigin::Full => "full",
                };
                *fov_origin.entry(origin.to_string()).or_default() += 1;
                ious.extend(r.derived_iou);
                problems.extend(r.extra_problems);
            }
            Err(e) => problems.push(Problem::from(&e)),
        }
    }
    Ok(CheckReport {
        dataset: kind,
        root: root.to_path_buf(),
        counts,
        sizes: sizes
            .into_iter()
            .map(|((width, height), count)| SizeCount {
                width,
                height,
                count,
            })
            .collect(),
        foreground_fraction: Stats::of(&fg),
        foreground_in_fov: Stats::of(&fg_fov),
        structures: structures
            .iter()
            .filter_map(|(name, v)| Some((name.clone(), Stats::of(v)?)))
            .collect(),
        fov_coverage: Stats::of(&cov),
        fov_origin,
        fov_derivation_iou: Stats::of(&ious),
        fov_diameter: Stats::of(&diameters),
        problems,
    })
}
