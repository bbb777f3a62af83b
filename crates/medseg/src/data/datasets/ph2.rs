//! PH2 (Mendonça et al. 2013), dermoscopy lesion segmentation, 200 images of about 765×575.
//!
//! Layout, as downloaded (`PH2 Dataset images/`; other files such as `PH2_dataset.txt` and the
//! `IMDnnn_roi/` folders are ignored):
//! ```text
//! IMDnnn/IMDnnn_Dermoscopic_Image/IMDnnn.bmp     (or .png)
//! IMDnnn/IMDnnn_lesion/IMDnnn_lesion.bmp          (or .png)
//! ```
//! No official split: cases carry no subset and [`crate::data::split`] assigns a seeded 80/10/10.
//! No field of view: the whole image counts.

use std::path::Path;

use super::{Index, Need, Scan, ext_of, image_files, pair, require_root, sub_dirs};
use crate::data::{Case, case_id};
use crate::{Error, Result};

const EXPECTED: &str = "a PH2 tree: IMDnnn/IMDnnn_Dermoscopic_Image/IMDnnn.bmp and \
     IMDnnn/IMDnnn_lesion/IMDnnn_lesion.bmp";

/// Lists PH2 cases (see the module docs).
pub fn scan(root: &Path) -> Result<Scan> {
    require_root(root, EXPECTED)?;
    let mut problems = Vec::new();
    let mut cases = Vec::new();
    for dir in sub_dirs(root)? {
        let Some(id) = dir.file_name().and_then(|n| n.to_str()).map(String::from) else {
            continue;
        };
        let img_dir = dir.join(format!("{id}_Dermoscopic_Image"));
        let les_dir = dir.join(format!("{id}_lesion"));
        if !img_dir.is_dir() && !les_dir.is_dir() {
            continue;
        }
        let mut first = |d: &Path, want: &str, default_name: String| -> Result<Option<_>> {
            let files = image_files(d)?.unwrap_or_default();
            let ix = Index::new(d, files, case_id, &mut problems);
            let ext = ext_of(Some(&ix), "bmp");
            let path = pair(
                Some(&ix),
                want,
                Need::Required(d.join(format!("{default_name}.{ext}"))),
                &mut problems,
            );
            Ok(path)
        };
        let image = first(&img_dir, &id, id.clone())?;
        let mask = first(&les_dir, &id, format!("{id}_lesion"))?;
        if let (Some(image), Some(mask)) = (image, mask) {
            cases.push(Case {
                id,
                image,
                mask: Some(mask),
                fov: None,
                second_observer: None,
                structures: Default::default(),
                subset: None,
            });
        }
    }
    if cases.is_empty() && problems.is_empty() {
        return Err(Error::BadLayout {
            root: root.to_path_buf(),
            expected: EXPECTED.into(),
        });
    }
    Ok(Scan { cases, problems })
}
