//! ISIC 2018 Task 1 (Codella et al. 2019; Tschandl et al. 2018), skin-lesion boundary
//! segmentation, dermoscopy JPEGs of varying size.
//!
//! Layout, as downloaded (each folder may also hold `ATTRIBUTION.txt`/`LICENSE.txt`, ignored):
//! ```text
//! ISIC2018_Task1-2_Training_Input/ISIC_NNNNNNN.jpg
//! ISIC2018_Task1_Training_GroundTruth/ISIC_NNNNNNN_segmentation.png
//! ISIC2018_Task1-2_Validation_Input/   ISIC2018_Task1_Validation_GroundTruth/
//! ISIC2018_Task1-2_Test_Input/         ISIC2018_Task1_Test_GroundTruth/
//! ```
//! Split: the official folders (Training → train, Validation → val, Test → test). Training ground
//! truth is required; Validation/Test inputs without a ground-truth folder are unlabelled. When
//! only the Training folder is present, use [`crate::data::split::SplitScheme::Random`] for the
//! seeded 80/10/10 split of it. No field of view: the whole image counts.

use std::path::Path;

use super::{Index, Need, Scan, orphans, pair, require_root};
use crate::data::{Case, Subset};
use crate::{Error, Result};

const EXPECTED: &str = "an ISIC 2018 tree: ISIC2018_Task1-2_Training_Input/ISIC_*.jpg and \
     ISIC2018_Task1_Training_GroundTruth/ISIC_*_segmentation.png";

/// Lists ISIC 2018 Task 1 cases (see the module docs).
pub fn scan(root: &Path) -> Result<Scan> {
    require_root(root, EXPECTED)?;
    let mut problems = Vec::new();
    let mut cases = Vec::new();
    let mut found = false;
    for (part, subset) in [
        ("Training", Subset::Train),
        ("Validation", Subset::Val),
        ("Test", Subset::Test),
    ] {
        let input = root.join(format!("ISIC2018_Task1-2_{part}_Input"));
        let gt_dir = root.join(format!("ISIC2018_Task1_{part}_GroundTruth"));
        let Some(images) = Index::of_dir(&input, &mut problems)? else {
            if gt_dir.is_dir() {
                problems.push(Error::MissingFile { path: input });
            }
            continue;
        };
        found = true;
        let gt = Index::of_dir(&gt_dir, &mut problems)?;
        if gt.is_none() && subset == Subset::Train {
            problems.push(Error::MissingFile {
                path: gt_dir.clone(),
            });
        }
        for (id, image) in &images.by_id {
            let mask = pair(
                gt.as_ref(),
                id,
                Need::IfFolder(gt_dir.join(format!("{id}_segmentation.png"))),
                &mut problems,
            );
            if gt.is_some() && mask.is_none() {
                continue;
            }
            cases.push(Case {
                id: id.clone(),
                image: image.clone(),
                mask,
                fov: None,
                second_observer: None,
                structures: Default::default(),
                subset: Some(subset),
            });
        }
        orphans(
            gt.as_ref(),
            &images.by_id,
            |id| input.join(format!("{id}.jpg")),
            &mut problems,
        );
    }
    if !found {
        return Err(Error::BadLayout {
            root: root.to_path_buf(),
            expected: EXPECTED.into(),
        });
    }
    Ok(Scan { cases, problems })
}
