//! STARE (Hoover et al. 2000), retinal vessels, 700×605.
//!
//! Layout, as downloaded (files may be gzipped or not):
//! ```text
//! stare-images/imNNNN.ppm[.gz]        RGB P6
//! labels-ah/imNNNN.ah.ppm[.gz]        Hoover's labels (ground truth); greyscale P5 data
//! labels-vk/imNNNN.vk.ppm[.gz]        Kouznetsova's labels (second observer), when present
//! ```
//! Only the images with an `ah` label are listed (the full STARE image set has ~400 unlabelled
//! images). STARE ships no field-of-view masks: the FOV is derived (see [`crate::data::fov`]).
//!
//! Split: the common 10/10, the first ten labelled IDs in sorted order train, the rest test.
//! With fewer than 20 labelled images the first `min(10, ceil(n / 2))` train.
//! k-fold splits are available for any dataset through [`crate::data::split`].

use std::path::Path;

use super::{Index, Need, Scan, ext_of, orphans, pair, require_root};
use crate::data::{Case, Subset};
use crate::{Error, Result};

const EXPECTED: &str =
    "a STARE tree: stare-images/imNNNN.ppm[.gz] and labels-ah/imNNNN.ah.ppm[.gz]";

/// Number of training cases in the STARE 10/10 split for `n` labelled images.
pub fn train_count(n: usize) -> usize {
    n.div_ceil(2).min(10)
}

/// Lists STARE cases (see the module docs).
pub fn scan(root: &Path) -> Result<Scan> {
    require_root(root, EXPECTED)?;
    let mut problems = Vec::new();
    let images = Index::of_dir(&root.join("stare-images"), &mut problems)?;
    let ah = Index::of_dir(&root.join("labels-ah"), &mut problems)?;
    let vk = Index::of_dir(&root.join("labels-vk"), &mut problems)?;
    let (Some(images), Some(ah)) = (images, ah) else {
        return Err(Error::BadLayout {
            root: root.to_path_buf(),
            expected: EXPECTED.into(),
        });
    };
    let mut cases = Vec::new();
    // Listed by label: unlabelled STARE images are not part of the vessel benchmark.
    let img_ext = ext_of(Some(&images), "ppm");
    for (id, mask) in &ah.by_id {
        let Some(image) = pair(
            Some(&images),
            id,
            Need::Required(root.join(format!("stare-images/{id}.{img_ext}"))),
            &mut problems,
        ) else {
            continue;
        };
        cases.push(Case {
            id: id.clone(),
            image,
            mask: Some(mask.clone()),
            fov: None,
            second_observer: pair(vk.as_ref(), id, Need::Optional, &mut problems),
            structures: Default::default(),
            subset: None,
        });
    }
    let ah_ext = ext_of(Some(&ah), "ppm");
    if ah.by_id.is_empty() {
        for id in images.by_id.keys() {
            problems.push(Error::MissingFile {
                path: root.join(format!("labels-ah/{id}.ah.{ah_ext}")),
            });
        }
    }
    orphans(
        vk.as_ref(),
        &ah.by_id,
        |id| root.join(format!("labels-ah/{id}.ah.{ah_ext}")),
        &mut problems,
    );
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
