//! DRIVE (Staal et al. 2004), retinal vessels, 565×584.
//!
//! Layout, as downloaded:
//! ```text
//! DRIVE/{training,test}/images/NN_{training,test}.tif
//!                       1st_manual/NN_manual1.gif     first observer (ground truth)
//!                       2nd_manual/NN_manual2.gif     second observer (test only)
//!                       mask/NN_{training,test}_mask.gif   field of view
//! ```
//! Split: the official one, `training/` (IDs 21–40) trains and `test/` (01–20) tests.
//! Quirk: `2nd_manual` GIFs are palette images whose two entries have luminance 3 and 253; the
//! mask policy (threshold at > 127) reads them correctly.
//! A `test/1st_manual/` folder that is absent altogether (some redistributions drop it) leaves the
//! test cases unlabelled; an absent `mask/` folder leaves the FOV to be derived.

use std::path::Path;

use super::{Index, Need, Scan, ext_of, orphans, pair, require_root};
use crate::data::{Case, Subset};
use crate::{Error, Result};

const EXPECTED: &str = "a DRIVE tree: training/ and test/, each with images/, 1st_manual/, mask/";

/// Lists DRIVE cases (see the module docs).
pub fn scan(root: &Path) -> Result<Scan> {
    require_root(root, EXPECTED)?;
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    let mut found = false;
    for (folder, subset) in [("training", Subset::Train), ("test", Subset::Test)] {
        let dir = root.join(folder);
        if !dir.is_dir() {
            continue;
        }
        let Some(images) = Index::of_dir(&dir.join("images"), &mut problems)? else {
            problems.push(Error::BadLayout {
                root: dir.clone(),
                expected: "an images/ folder of NN_*.tif".into(),
            });
            continue;
        };
        found = true;
        let manual1 = Index::of_dir(&dir.join("1st_manual"), &mut problems)?;
        let manual2 = Index::of_dir(&dir.join("2nd_manual"), &mut problems)?;
        let fov = Index::of_dir(&dir.join("mask"), &mut problems)?;
        if manual1.is_none() && subset == Subset::Train {
            problems.push(Error::MissingFile {
                path: dir.join("1st_manual"),
            });
        }
        let m1_ext = ext_of(manual1.as_ref(), "gif");
        let fov_ext = ext_of(fov.as_ref(), "gif");
        for (id, image) in &images.by_id {
            let mask = pair(
                manual1.as_ref(),
                id,
                Need::IfFolder(dir.join(format!("1st_manual/{id}_manual1.{m1_ext}"))),
                &mut problems,
            );
            let fov_path = pair(
                fov.as_ref(),
                id,
                Need::IfFolder(dir.join(format!("mask/{id}_{folder}_mask.{fov_ext}"))),
                &mut problems,
            );
            let second = pair(manual2.as_ref(), id, Need::Optional, &mut problems);
            if manual1.is_some() && mask.is_none() {
                continue;
            }
            cases.push(Case {
                id: id.clone(),
                image: image.clone(),
                mask,
                fov: fov_path,
                second_observer: second,
                structures: Default::default(),
                subset: Some(subset),
            });
        }
        let img_ext = ext_of(Some(&images), "tif");
        let expected_image = |id: &str| dir.join(format!("images/{id}_{folder}.{img_ext}"));
        orphans(
            manual1.as_ref(),
            &images.by_id,
            expected_image,
            &mut problems,
        );
        orphans(fov.as_ref(), &images.by_id, expected_image, &mut problems);
    }
    if !found {
        return Err(Error::BadLayout {
            root: root.to_path_buf(),
            expected: EXPECTED.into(),
        });
    }
    Ok(Scan { cases, problems })
}
