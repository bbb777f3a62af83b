//! JSRT chest radiographs with the SCR database's masks (van Ginneken et al., Medical Image
//! Analysis 2006): five structures per image, overlapping (the clavicles lie over the lungs).
//!
//! Layout ([`super::structures`], as in `shared/data/JSRT`):
//! ```text
//! images/<ID>.png                                    512x512 grey (JSRT 2048x2048, downscaled 4x)
//! masks/{heart,left_lung,right_lung,left_clavicle,right_clavicle}/<ID>.gif   1024x1024, 0/255
//! ```
//! The masks are twice the images' size here (SCR drew them on 1024x1024 images); they are
//! brought to the image size by 2x2 block majority, ties counting as foreground
//! ([`super::structures::fit_mask`]). SCR scores each structure on its own; the usual reporting
//! groups left and right into "lungs" and "clavicles" ([`jsrt_labels`] with `grouped`).
//! No official split in this copy: SCR used two folds by ID parity.

use std::path::Path;

use super::{Scan, structures};
use crate::data::labels::{ClassSpec, LabelsConfig};
use crate::{Error, Result};

/// The five SCR structures (mask sub-folders), in the order [`jsrt_labels`] uses.
pub const STRUCTURES: [&str; 5] = [
    "heart",
    "left_lung",
    "right_lung",
    "left_clavicle",
    "right_clavicle",
];

/// Lists JSRT cases; every one of [`STRUCTURES`] must be a mask folder.
pub fn scan(root: &Path) -> Result<Scan> {
    let scan = structures::scan(root)?;
    if let Some(case) = scan.cases.first() {
        let missing: Vec<&str> = STRUCTURES
            .into_iter()
            .filter(|s| !case.structures.contains_key(*s))
            .collect();
        if !missing.is_empty() {
            return Err(Error::BadLayout {
                root: root.to_path_buf(),
                expected: format!(
                    "JSRT/SCR mask folders masks/{{{}}}; missing: {}",
                    STRUCTURES.join(","),
                    missing.join(", ")
                ),
            });
        }
    }
    Ok(scan)
}

/// The multi-label classes of JSRT: the five structures, or (`grouped`) SCR's reporting
/// classes `lungs` (left + right), `heart`, `clavicles` (left + right).
pub fn jsrt_labels(grouped: bool) -> LabelsConfig {
    let class = |name: &str, masks: &[&str], colour: [u8; 3]| ClassSpec {
        masks: masks.iter().map(|m| m.to_string()).collect(),
        colour: Some(colour),
        ..ClassSpec::new(name)
    };
    let classes = if grouped {
        vec![
            class("lungs", &["left_lung", "right_lung"], [0, 130, 200]),
            class("heart", &["heart"], [230, 25, 75]),
            class(
                "clavicles",
                &["left_clavicle", "right_clavicle"],
                [255, 225, 25],
            ),
        ]
    } else {
        vec![
            class("heart", &[], [230, 25, 75]),
            class("left_lung", &[], [0, 130, 200]),
            class("right_lung", &[], [70, 240, 240]),
            class("left_clavicle", &[], [255, 225, 25]),
            class("right_clavicle", &[], [245, 130, 48]),
        ]
    };
    LabelsConfig::multi_label(classes)
}
