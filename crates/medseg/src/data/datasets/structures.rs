//! One binary mask per structure, in sub-folders (the SCR layout; multi-label data):
//!
//! ```text
//! images/<ID>.<ext>
//! masks/<structure>/<ID>.<ext>      one folder per structure, any image format
//! ```
//!
//! Every image needs a mask in every structure folder (a missing one is
//! [`Error::MissingFile`] naming the expected path); a mask without its image is reported too.
//! Structures may overlap. No official split, no field of view.
//!
//! [`read_structure_masks`] turns a case into one mask per class of `data.labels` (the union of
//! the class's folders), bringing masks to the image's size: a mask exactly `f` times the
//! image's size (an integer `f >= 2`, as SCR's 1024x1024 masks of 512x512 JSRT images here) is
//! reduced by `f x f` block majority, a block being foreground when at least half of its pixels
//! are (ties count as foreground); any other size is [`Error::ShapeMismatch`].

use std::collections::BTreeMap;
use std::path::Path;

use super::{Index, Need, Scan, ext_of, pair, require_root, sub_dirs};
use crate::data::Case;
use crate::data::io::{Mask, read_mask};
use crate::data::labels::{LabelMode, LabelsConfig};
use crate::{Error, Result};

const EXPECTED: &str = "images/<ID>.<ext> and masks/<structure>/<ID>.<ext> (one folder per \
     structure)";

/// Lists the cases of a structures tree (see the module docs).
pub fn scan(root: &Path) -> Result<Scan> {
    require_root(root, EXPECTED)?;
    let mut problems = Vec::new();
    let img_dir = root.join("images");
    let mask_root = root.join("masks");
    let images = Index::of_dir(&img_dir, &mut problems)?;
    let folders = if mask_root.is_dir() {
        sub_dirs(&mask_root)?
    } else {
        Vec::new()
    };
    let (Some(images), false) = (images, folders.is_empty()) else {
        return Err(Error::BadLayout {
            root: root.to_path_buf(),
            expected: EXPECTED.into(),
        });
    };
    let mut masks = Vec::new();
    for dir in &folders {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if let Some(ix) = Index::of_dir(dir, &mut problems)? {
            masks.push((name, ix));
        }
    }
    let mut cases = Vec::new();
    for (id, image) in &images.by_id {
        let mut structures = BTreeMap::new();
        for (name, ix) in &masks {
            let ext = ext_of(Some(ix), "png");
            let expected = ix.dir.join(format!("{id}.{ext}"));
            if let Some(p) = pair(Some(ix), id, Need::Required(expected), &mut problems) {
                structures.insert(name.clone(), p);
            }
        }
        if structures.len() == masks.len() {
            cases.push(Case {
                id: id.clone(),
                image: image.clone(),
                mask: None,
                fov: None,
                second_observer: None,
                subset: None,
                structures,
            });
        }
    }
    let img_ext = ext_of(Some(&images), "png");
    for (_, ix) in &masks {
        super::orphans(
            Some(ix),
            &images.by_id,
            |id| img_dir.join(format!("{id}.{img_ext}")),
            &mut problems,
        );
    }
    Ok(Scan { cases, problems })
}

/// Reduces `mask` by `f x f` block majority (ties to foreground); see the module docs.
pub fn reduce_majority(mask: &Mask, f: u32) -> Mask {
    let (w, h) = (mask.width / f, mask.height / f);
    let mut data = Vec::with_capacity(w as usize * h as usize);
    for y in 0..h {
        for x in 0..w {
            let mut on = 0u32;
            for dy in 0..f {
                for dx in 0..f {
                    on += mask.get(x * f + dx, y * f + dy) as u32;
                }
            }
            data.push(2 * on >= f * f);
        }
    }
    Mask {
        width: w,
        height: h,
        data,
    }
}

/// Brings a structure mask read from `path` to `size` (the image's `(width, height)`): as is,
/// or reduced by an integer factor (see the module docs).
pub fn fit_mask(mask: Mask, size: (u32, u32), path: &Path) -> Result<Mask> {
    let (w, h) = size;
    if (mask.width, mask.height) == size {
        return Ok(mask);
    }
    let f = mask.width / w.max(1);
    if f >= 2 && mask.width == f * w && mask.height == f * h {
        return Ok(reduce_majority(&mask, f));
    }
    Err(Error::ShapeMismatch {
        path: path.to_path_buf(),
        image: size,
        mask: (mask.width, mask.height),
    })
}

/// One mask per class of `labels` (multi-label) for `case`, each the union of the class's
/// structure folders, at the image size `size`. A class naming a folder the case lacks is
/// [`Error::InvalidConfig`] listing the folders there are.
pub fn read_structure_masks(
    case: &Case,
    labels: &LabelsConfig,
    size: (u32, u32),
) -> Result<Vec<Mask>> {
    if labels.mode != LabelMode::MultiLabel {
        return Err(Error::InvalidConfig(format!(
            "case {}: per-structure masks need data.labels.mode = \"multi-label\", got \"{}\"",
            case.id,
            labels.mode.as_str()
        )));
    }
    let (w, h) = size;
    labels
        .classes
        .iter()
        .map(|class| {
            let mut out = Mask::filled(w, h, false);
            for folder in class.mask_folders() {
                let path = case.structures.get(&folder).ok_or_else(|| {
                    Error::InvalidConfig(format!(
                        "data.labels class '{}' names mask folder '{folder}', but case {} has \
                         masks in: {}",
                        class.name,
                        case.id,
                        case.structures
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                let m = fit_mask(read_mask(path)?, size, path)?;
                for (o, v) in out.data.iter_mut().zip(m.data) {
                    *o |= v;
                }
            }
            Ok(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_reduction_keeps_ties_as_foreground() {
        // 4x2 -> 2x1: blocks with 1 of 4 (background) and 2 of 4 (tie: foreground) set.
        let m = Mask {
            width: 4,
            height: 2,
            data: vec![true, false, true, true, false, false, false, false],
        };
        let r = reduce_majority(&m, 2);
        assert_eq!((r.width, r.height), (2, 1));
        assert_eq!(r.data, [false, true]);
        let p = Path::new("m.gif");
        assert_eq!(fit_mask(m.clone(), (2, 1), p).unwrap(), r);
        assert_eq!(fit_mask(m.clone(), (4, 2), p).unwrap(), m);
        assert!(matches!(
            fit_mask(m, (3, 1), p),
            Err(Error::ShapeMismatch { .. })
        ));
    }
}
