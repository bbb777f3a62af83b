//! CHASE_DB1 (Owen et al. 2009 / Fraz et al. 2012), retinal vessels of children, 999×960.
//!
//! Layout, as downloaded (one flat folder):
//! ```text
//! Image_NNX.jpg            NN = 01..14, X = L|R
//! Image_NNX_1stHO.png      first observer (ground truth)
//! Image_NNX_2ndHO.png      second observer
//! ```
//! No field-of-view masks: the FOV is derived (see [`crate::data::fov`]).
//! Split: the common 20/8, the first 20 IDs in sorted order train (Image_01L … Image_10R), the
//! last 8 test. With another count `n`, the first `min(20, ceil(20 n / 28))` train.

use std::path::Path;

use super::{Index, Need, Scan, image_files, orphans, pair, require_root};
use crate::data::{Case, Subset, case_id};
use crate::{Error, Result};

const EXPECTED: &str = "a CHASE_DB1 folder: Image_NNX.jpg with Image_NNX_1stHO.png";

/// Number of training cases in the CHASE_DB1 20/8 split for `n` images.
pub fn train_count(n: usize) -> usize {
    (20 * n).div_ceil(28).min(20)
}

/// Lists CHASE_DB1 cases (see the module docs).
pub fn scan(root: &Path) -> Result<Scan> {
    require_root(root, EXPECTED)?;
    let mut problems = Vec::new();
    let files = image_files(root)?.unwrap_or_default();
    let (mut imgs, mut first, mut second) = (Vec::new(), Vec::new(), Vec::new());
    for f in files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&name);
        if stem.ends_with("_1stHO") {
            first.push(f);
        } else if stem.ends_with("_2ndHO") {
            second.push(f);
        } else {
            imgs.push(f);
        }
    }
    if imgs.is_empty() && first.is_empty() {
        return Err(Error::BadLayout {
            root: root.to_path_buf(),
            expected: EXPECTED.into(),
        });
    }
    let images = Index::new(root, imgs, case_id, &mut problems);
    let first = Index::new(root, first, case_id, &mut problems);
    let second = Index::new(root, second, case_id, &mut problems);
    let mut cases = Vec::new();
    for (id, image) in &images.by_id {
        let Some(mask) = pair(
            Some(&first),
            id,
            Need::Required(root.join(format!("{id}_1stHO.png"))),
            &mut problems,
        ) else {
            continue;
        };
        cases.push(Case {
            id: id.clone(),
            image: image.clone(),
            mask: Some(mask),
            fov: None,
            second_observer: pair(Some(&second), id, Need::Optional, &mut problems),
            structures: Default::default(),
            subset: None,
        });
    }
    let expected_image = |id: &str| root.join(format!("{id}.jpg"));
    orphans(Some(&first), &images.by_id, expected_image, &mut problems);
    orphans(Some(&second), &images.by_id, expected_image, &mut problems);
    let n_train = train_count(cases.len());
    for (i, c) in cases.iter_mut().enumerate() {
        c.subset = Some(if i < n_train {
            Subset::Train
        } else {
            Subset::Test
        });
    }
    Ok(Scan { cases, problems })
}
