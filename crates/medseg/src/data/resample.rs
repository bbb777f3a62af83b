//! `medseg data resample`: a dataset's images at another scale, for measuring how a model copes
//! with other cameras and resolutions (see [`crate::infer::scale`]).
//!
//! Images are resampled bilinearly (antialiased when shrinking), labels and FOV masks by nearest
//! neighbour, and written in the nnU-Net 2D test layout (`imagesTs/`, `labelsTs/`, `fovTs/`,
//! PNG), which `medseg eval --dataset folder --split test` reads.

use std::path::Path;

use super::fov::FovSource;
use super::loader::{decode_case, par_map};
use super::preprocess::{resize_mask, resize_rgb};
use super::{DatasetKind, Subset};
use crate::infer::scale::scaled_size;
use crate::{Error, Result};

/// Writes every labelled case of `kind` under `root` (only the official test subset when
/// `test_only`) resampled by `factor` into `out`; returns how many were written.
///
/// # Errors
/// [`Error::InvalidConfig`] for a factor that is not a positive finite number, the first
/// decoding or writing error otherwise (naming the file).
pub fn resample_dataset(
    kind: DatasetKind,
    root: &Path,
    factor: f64,
    test_only: bool,
    out: &Path,
    threads: usize,
) -> Result<usize> {
    if !(factor.is_finite() && factor > 0.0) {
        return Err(Error::InvalidConfig(format!(
            "the factor must be a positive number, got {factor}"
        )));
    }
    let cases: Vec<_> = kind
        .cases(root)?
        .into_iter()
        .filter(|c| c.is_labelled() && (!test_only || c.subset == Some(Subset::Test)))
        .collect();
    if cases.is_empty() {
        return Err(Error::InvalidInput(format!(
            "no labelled {}cases in {}",
            if test_only { "test " } else { "" },
            root.display()
        )));
    }
    par_map(&cases, threads, |case| {
        let d = decode_case(case, kind, FovSource::Auto)?;
        let (w, h) = scaled_size(d.image.size(), factor);
        let file = |dir: &str| out.join(dir).join(format!("{}.png", case.id));
        resize_rgb(&d.image, w, h).save(&file("imagesTs"))?;
        if let Some(mask) = &d.mask {
            resize_mask(mask, w, h).save(&file("labelsTs"))?;
        }
        resize_mask(&d.fov, w, h).save(&file("fovTs"))
    })?;
    Ok(cases.len())
}
