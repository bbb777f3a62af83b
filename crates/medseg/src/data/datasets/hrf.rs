//! HRF, High-Resolution Fundus (Budai et al. 2013), retinal vessels, 3504×2336.
//!
//! Layout, as downloaded:
//! ```text
//! images/NN_{h,dr,g}.jpg   (some releases use .JPG)   15 healthy, 15 diabetic, 15 glaucoma
//! manual1/NN_{h,dr,g}.tif                             ground truth
//! mask/NN_{h,dr,g}_mask.tif                           field of view
//! ```
//! Split (documented, as in Orlando et al. 2017): IDs 01–05 of each category train (15 images),
//! 06–15 test (30 images). IDs without a leading number train.

use std::path::Path;

use super::{Index, Need, Scan, ext_of, orphans, pair, require_root};
use crate::data::{Case, Subset};
use crate::{Error, Result};

const EXPECTED: &str = "an HRF tree: images/NN_x.jpg, manual1/NN_x.tif, mask/NN_x_mask.tif";

/// The HRF subset of an ID such as `07_dr`.
pub fn subset_of(id: &str) -> Subset {
    let digits: String = id.chars().take_while(|c| c.is_ascii_digit()).collect();
    match digits.parse::<u32>() {
        Ok(n) if n > 5 => Subset::Test,
        _ => Subset::Train,
    }
}

/// Lists HRF cases (see the module docs).
pub fn scan(root: &Path) -> Result<Scan> {
    require_root(root, EXPECTED)?;
    let mut problems = Vec::new();
    let Some(images) = Index::of_dir(&root.join("images"), &mut problems)? else {
        return Err(Error::BadLayout {
            root: root.to_path_buf(),
            expected: EXPECTED.into(),
        });
    };
    let manual = Index::of_dir(&root.join("manual1"), &mut problems)?;
    if manual.is_none() {
        problems.push(Error::MissingFile {
            path: root.join("manual1"),
        });
    }
    let fov = Index::of_dir(&root.join("mask"), &mut problems)?;
    let m_ext = ext_of(manual.as_ref(), "tif");
    let f_ext = ext_of(fov.as_ref(), "tif");
    let mut cases = Vec::new();
    for (id, image) in &images.by_id {
        let mask = pair(
            manual.as_ref(),
            id,
            Need::Required(root.join(format!("manual1/{id}.{m_ext}"))),
            &mut problems,
        );
        let fov_path = pair(
            fov.as_ref(),
            id,
            Need::IfFolder(root.join(format!("mask/{id}_mask.{f_ext}"))),
            &mut problems,
        );
        let Some(mask) = mask else { continue };
        cases.push(Case {
            id: id.clone(),
            image: image.clone(),
            mask: Some(mask),
            fov: fov_path,
            second_observer: None,
            structures: Default::default(),
            subset: Some(subset_of(id)),
        });
    }
    let img_ext = ext_of(Some(&images), "jpg");
    let expected_image = |id: &str| root.join(format!("images/{id}.{img_ext}"));
    orphans(
        manual.as_ref(),
        &images.by_id,
        expected_image,
        &mut problems,
    );
    orphans(fov.as_ref(), &images.by_id, expected_image, &mut problems);
    Ok(Scan { cases, problems })
}
