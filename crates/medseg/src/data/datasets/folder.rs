//! Your own data: an nnU-Net-style 2D folder, or two folders paired by file stem.
//!
//! nnU-Net style (`dataset.json`, if present, is not needed):
//! ```text
//! imagesTr/CASE[_0000].png   labelsTr/CASE.png   [fovTr/CASE.png]
//! [imagesTs/CASE[_0000].png  [labelsTs/CASE.png] [fovTs/CASE.png]]
//! ```
//! nnU-Net's channel suffix `_0000` on image names is dropped for pairing. Cases under `imagesTr`
//! carry no official subset (a seeded split applies, see [`crate::data::split`]); `imagesTs`
//! cases are [`Subset::Test`], unlabelled unless `labelsTs/` exists.
//!
//! Paired folders: `images/` with `masks/` (or `labels/`), optional `fov/`, paired by
//! [`case_id`] (the plain stem for ordinary names); see also [`pairs`].
//!
//! Any format [`crate::data::io`] reads, 8 or 16 bit, grey or RGB(A).

use std::path::Path;

use super::{Index, Need, Scan, ext_of, image_files, orphans, pair, require_root};
use crate::data::{Case, Subset, case_id};
use crate::{Error, Result};

const EXPECTED: &str = "imagesTr/ + labelsTr/ (nnU-Net style, optional fovTr/, imagesTs/) or \
     images/ + masks/ (or labels/), optional fov/";

/// The pairing ID of an image under nnU-Net's naming: [`case_id`] without a `_NNNN` channel
/// suffix.
pub fn nnunet_image_id(name: &str) -> String {
    let id = case_id(name);
    match id.rsplit_once('_') {
        Some((base, ch))
            if !base.is_empty() && ch.len() == 4 && ch.chars().all(|c| c.is_ascii_digit()) =>
        {
            base.to_string()
        }
        _ => id,
    }
}

/// Lists the cases of a folder dataset (see the module docs).
pub fn scan(root: &Path) -> Result<Scan> {
    require_root(root, EXPECTED)?;
    if root.join("imagesTr").is_dir() || root.join("imagesTs").is_dir() {
        return scan_nnunet(root);
    }
    let masks = ["masks", "labels"]
        .iter()
        .map(|m| root.join(m))
        .find(|p| p.is_dir());
    match masks {
        Some(masks) if root.join("images").is_dir() => {
            let fov = root.join("fov");
            pairs(
                &root.join("images"),
                &masks,
                fov.is_dir().then_some(fov.as_path()),
            )
        }
        _ => Err(Error::BadLayout {
            root: root.to_path_buf(),
            expected: EXPECTED.into(),
        }),
    }
}

fn scan_nnunet(root: &Path) -> Result<Scan> {
    let mut problems = Vec::new();
    let mut cases = Vec::new();
    for (suffix, subset) in [("Tr", None), ("Ts", Some(Subset::Test))] {
        let img_dir = root.join(format!("images{suffix}"));
        let lab_dir = root.join(format!("labels{suffix}"));
        let fov_dir = root.join(format!("fov{suffix}"));
        let Some(files) = image_files(&img_dir)? else {
            continue;
        };
        let images = Index::new(&img_dir, files, nnunet_image_id, &mut problems);
        let labels = Index::of_dir(&lab_dir, &mut problems)?;
        let fov = Index::of_dir(&fov_dir, &mut problems)?;
        if labels.is_none() && subset.is_none() {
            problems.push(Error::MissingFile {
                path: lab_dir.clone(),
            });
        }
        let l_ext = ext_of(labels.as_ref(), "png");
        let f_ext = ext_of(fov.as_ref(), "png");
        for (id, image) in &images.by_id {
            let mask = pair(
                labels.as_ref(),
                id,
                Need::IfFolder(lab_dir.join(format!("{id}.{l_ext}"))),
                &mut problems,
            );
            let fov_path = pair(
                fov.as_ref(),
                id,
                Need::IfFolder(fov_dir.join(format!("{id}.{f_ext}"))),
                &mut problems,
            );
            if labels.is_some() && mask.is_none() {
                continue;
            }
            cases.push(Case {
                id: id.clone(),
                image: image.clone(),
                mask,
                fov: fov_path,
                second_observer: None,
                structures: Default::default(),
                subset,
            });
        }
        let i_ext = ext_of(Some(&images), "png");
        let expected_image = |id: &str| img_dir.join(format!("{id}_0000.{i_ext}"));
        orphans(
            labels.as_ref(),
            &images.by_id,
            expected_image,
            &mut problems,
        );
        orphans(fov.as_ref(), &images.by_id, expected_image, &mut problems);
    }
    if cases.is_empty() && problems.is_empty() {
        return Err(Error::BadLayout {
            root: root.to_path_buf(),
            expected: "at least one image in imagesTr/ (the folder is empty)".into(),
        });
    }
    Ok(Scan { cases, problems })
}

/// Pairs every image in `images` with the file of the same [`case_id`] in `masks` (and `fov`).
pub fn pairs(images: &Path, masks: &Path, fov: Option<&Path>) -> Result<Scan> {
    let mut problems = Vec::new();
    let Some(img_ix) = Index::of_dir(images, &mut problems)? else {
        return Err(Error::BadLayout {
            root: images.to_path_buf(),
            expected: "a folder of images".into(),
        });
    };
    if img_ix.by_id.is_empty() {
        return Err(Error::BadLayout {
            root: images.to_path_buf(),
            expected: "at least one image file (png, jpg, tif, bmp, gif, ppm, ...); the folder \
                       is empty"
                .into(),
        });
    }
    let Some(mask_ix) = Index::of_dir(masks, &mut problems)? else {
        return Err(Error::BadLayout {
            root: masks.to_path_buf(),
            expected: "a folder of masks".into(),
        });
    };
    let fov_ix = match fov {
        Some(f) => Index::of_dir(f, &mut problems)?,
        None => None,
    };
    let m_ext = ext_of(Some(&mask_ix), "png");
    let f_ext = ext_of(fov_ix.as_ref(), "png");
    let mut cases = Vec::new();
    for (id, image) in &img_ix.by_id {
        let mask = pair(
            Some(&mask_ix),
            id,
            Need::Required(masks.join(format!("{id}.{m_ext}"))),
            &mut problems,
        );
        let fov_path = fov_ix.as_ref().and_then(|ix| {
            pair(
                Some(ix),
                id,
                Need::Required(ix.dir.join(format!("{id}.{f_ext}"))),
                &mut problems,
            )
        });
        let Some(mask) = mask else { continue };
        cases.push(Case {
            id: id.clone(),
            image: image.clone(),
            mask: Some(mask),
            fov: fov_path,
            second_observer: None,
            structures: Default::default(),
            subset: None,
        });
    }
    let i_ext = ext_of(Some(&img_ix), "png");
    let expected_image = |id: &str| images.join(format!("{id}.{i_ext}"));
    orphans(Some(&mask_ix), &img_ix.by_id, expected_image, &mut problems);
    orphans(
        fov_ix.as_ref(),
        &img_ix.by_id,
        expected_image,
        &mut problems,
    );
    Ok(Scan { cases, problems })
}
