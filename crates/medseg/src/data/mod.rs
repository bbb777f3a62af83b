//! Data: dataset loaders, field of view, splits, preprocessing, augmentation and synthetic
//! data.
//!
//! - [`io`]: decoding images, probability maps and masks (binarisation policy documented there).
//! - [`labels`]: the class list (`data.labels`): binary, multi-label or multi-class.
//! - [`datasets`]: one loader per official layout, listing [`Case`]s.
//! - [`fov`]: field-of-view masks, the dataset's own or derived from the image.
//! - [`split`]: seeded official/random/k-fold splits and validation carve-out.
//! - [`preprocess`]: channel choice, CLAHE, gamma, normalisation, resize.
//! - [`augment`]: seeded geometric and photometric augmentation, same geometry on all planes.
//! - [`patches`]: random training patches inside the FOV, foreground-biased.
//! - [`synth`]: procedural vessel (DRIVE layout) and lesion (ISIC layout) datasets.
//! - [`loader`]: decode-once cache, parallel decoding, prefetching batch loader.
//! - [`check`]: the `medseg data check` report.

pub mod augment;
pub mod check;
pub mod datasets;
pub mod fingerprint;
pub mod fov;
pub mod io;
pub mod labels;
pub mod loader;
pub mod patches;
pub mod preprocess;
pub mod resample;
pub mod rng;
pub mod split;
pub mod synth;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use datasets::{DatasetKind, Scan};
pub use io::{Mask, Plane, RgbPlanes, read_mask, read_plane, read_rgb};
pub use preprocess::Planes;
pub use rng::Rng;

/// The official subset a case belongs to, where its dataset defines one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Subset {
    Train,
    Val,
    Test,
}

/// One image with its annotation files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Pairing ID, see [`case_id`].
    pub id: String,
    /// The image file.
    pub image: PathBuf,
    /// The (first observer's) ground-truth mask; `None` only for unlabelled test images
    /// (nnU-Net `imagesTs` without `labelsTs`).
    pub mask: Option<PathBuf>,
    /// The dataset's own field-of-view mask, if it ships one.
    pub fov: Option<PathBuf>,
    /// A second observer's mask (DRIVE `2nd_manual`, STARE `labels-vk`, CHASE `_2ndHO`).
    pub second_observer: Option<PathBuf>,
    /// The official subset, `None` where the dataset has no official split.
    pub subset: Option<Subset>,
    /// One binary mask per structure, by structure (sub-folder) name: multi-label layouts
    /// (SCR/JSRT, [`datasets::structures`]). Empty for single-mask datasets, and then not
    /// serialised.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub structures: BTreeMap<String, PathBuf>,
}

impl Case {
    /// Whether the case has ground truth: a mask (or label map), or per-structure masks.
    pub fn is_labelled(&self) -> bool {
        self.mask.is_some() || !self.structures.is_empty()
    }
}

/// A decoded, preprocessed training or evaluation sample: image `[C, H, W]`, mask and FOV of the
/// same size.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub id: String,
    pub image: Planes,
    pub mask: Mask,
    pub fov: Mask,
    /// One mask per class (K > 1, [`labels`]), transformed with the image like `mask`; empty
    /// in binary experiments, where `mask` is the target. With classes, `mask` is the union of
    /// the foreground classes (patch sampling's foreground).
    pub classes: Vec<Mask>,
}

/// Suffixes stripped by [`case_id`], longest first where one is a suffix of another.
const ID_SUFFIXES: &[&str] = &[
    "_training_mask",
    "_test_mask",
    "_mask",
    "_manual1",
    "_manual2",
    "_training",
    "_test",
    "_segmentation",
    "_lesion",
    "_1stHO",
    "_2ndHO",
];

/// The pairing ID of a file name: the name without extension (a trailing `.gz` counts with the
/// extension before it), without STARE's `.ah`/`.vk` observer tag, and without one dataset
/// suffix (`_training`, `_test`, `_manual1`, `_manual2`, `_training_mask`, `_test_mask`, `_mask`,
/// `_segmentation`, `_lesion`, `_1stHO`, `_2ndHO`).
///
/// `21_training.tif`→`21`, `21_manual1.gif`→`21`, `im0001.ah.ppm`→`im0001`,
/// `ISIC_0000000_segmentation.png`→`ISIC_0000000`, `IMD002_lesion.png`→`IMD002`,
/// `Image_01L_1stHO.png`→`Image_01L`, `case_7.png`→`case_7`.
pub fn case_id(file_name: &str) -> String {
    let name = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let mut stem = name;
    if let Some(s) = stem
        .strip_suffix(".gz")
        .or_else(|| stem.strip_suffix(".GZ"))
    {
        stem = s;
    }
    if let Some(dot) = stem.rfind('.')
        && dot > 0
    {
        stem = &stem[..dot];
    }
    for tag in [".ah", ".vk"] {
        if let Some(s) = stem.strip_suffix(tag) {
            stem = s;
        }
    }
    for suffix in ID_SUFFIXES {
        if let Some(s) = stem.strip_suffix(suffix)
            && !s.is_empty()
        {
            return s.to_string();
        }
    }
    stem.to_string()
}

#[cfg(test)]
mod tests {
    use super::case_id;

    #[test]
    fn case_ids_strip_dataset_suffixes() {
        for (name, id) in [
            ("21_training.tif", "21"),
            ("21_manual1.gif", "21"),
            ("01_manual2.gif", "01"),
            ("21_training_mask.gif", "21"),
            ("01_test_mask.gif", "01"),
            ("01_test.tif", "01"),
            ("im0001.ah.ppm", "im0001"),
            ("im0001.vk.ppm.gz", "im0001"),
            ("im0001.ppm.gz", "im0001"),
            ("im0001.ppm", "im0001"),
            ("ISIC_0000000_segmentation.png", "ISIC_0000000"),
            ("ISIC_0000000.jpg", "ISIC_0000000"),
            ("IMD002_lesion.png", "IMD002"),
            ("IMD002.bmp", "IMD002"),
            ("Image_01L_1stHO.png", "Image_01L"),
            ("Image_01L_2ndHO.png", "Image_01L"),
            ("Image_01L.jpg", "Image_01L"),
            ("01_dr_mask.tif", "01_dr"),
            ("01_dr.JPG", "01_dr"),
            ("case_7.png", "case_7"),
            ("dir/sub/21_manual1.gif", "21"),
            ("noext", "noext"),
        ] {
            assert_eq!(case_id(name), id, "{name}");
        }
    }
}
