//! One loader per official dataset layout. Each lists the [`Case`]s under a root, pairing images
//! with masks and FOV files by [`case_id`], and reports every layout problem it finds.
//!
//! Users point medseg at the tree exactly as downloaded; see each module for the layout,
//! the official split and the dataset's quirks. [`structures`] and [`jsrt`] list one mask per
//! structure ([`Case::structures`]) for multi-label experiments.

pub mod chase_db1;
pub mod drive;
pub mod folder;
pub mod hrf;
pub mod isic2018;
pub mod jsrt;
pub mod ph2;
pub mod stare;
pub mod structures;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Case, case_id};
use crate::{Error, Result};

/// The supported dataset layouts. Serialised and CLI names are kebab-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    Drive,
    Stare,
    ChaseDb1,
    Hrf,
    Isic2018,
    Ph2,
    Folder,
    /// JSRT chest radiographs with SCR's five structure masks (multi-label).
    Jsrt,
    /// One mask per structure in sub-folders (`images/`, `masks/<structure>/`; multi-label).
    Structures,
}

impl DatasetKind {
    /// Every kind, in CLI order.
    pub const ALL: [DatasetKind; 9] = [
        DatasetKind::Drive,
        DatasetKind::Stare,
        DatasetKind::ChaseDb1,
        DatasetKind::Hrf,
        DatasetKind::Isic2018,
        DatasetKind::Ph2,
        DatasetKind::Folder,
        DatasetKind::Jsrt,
        DatasetKind::Structures,
    ];

    /// The kebab-case name (`drive`, `chase-db1`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Drive => "drive",
            DatasetKind::Stare => "stare",
            DatasetKind::ChaseDb1 => "chase-db1",
            DatasetKind::Hrf => "hrf",
            DatasetKind::Isic2018 => "isic2018",
            DatasetKind::Ph2 => "ph2",
            DatasetKind::Folder => "folder",
            DatasetKind::Jsrt => "jsrt",
            DatasetKind::Structures => "structures",
        }
    }

    /// Whether the dataset is retinal vessels (green channel, CLAHE, patches) rather than lesions.
    pub fn is_vessels(self) -> bool {
        matches!(
            self,
            DatasetKind::Drive | DatasetKind::Stare | DatasetKind::ChaseDb1 | DatasetKind::Hrf
        )
    }

    /// Lists the cases under `root` and every layout problem found.
    ///
    /// Errors only when nothing can be listed: wrong root or empty folder ([`Error::BadLayout`]).
    pub fn scan(self, root: &Path) -> Result<Scan> {
        let scan = match self {
            DatasetKind::Drive => drive::scan(root),
            DatasetKind::Stare => stare::scan(root),
            DatasetKind::ChaseDb1 => chase_db1::scan(root),
            DatasetKind::Hrf => hrf::scan(root),
            DatasetKind::Isic2018 => isic2018::scan(root),
            DatasetKind::Ph2 => ph2::scan(root),
            DatasetKind::Folder => folder::scan(root),
            DatasetKind::Jsrt => jsrt::scan(root),
            DatasetKind::Structures => structures::scan(root),
        }?;
        if scan.cases.is_empty() && scan.problems.is_empty() {
            return Err(Error::BadLayout {
                root: root.to_path_buf(),
                expected: format!("at least one {} case; found none", self.name()),
            });
        }
        Ok(scan)
    }

    /// Lists the cases under `root`, failing on the first layout problem.
    pub fn cases(self, root: &Path) -> Result<Vec<Case>> {
        self.scan(root)?.into_result()
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        DatasetKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::Unknown {
                kind: "dataset",
                name: s.to_string(),
                valid: DatasetKind::ALL.map(|k| k.name()).join(", "),
            })
    }
}

/// The result of listing a dataset tree.
#[derive(Debug)]
pub struct Scan {
    /// Correctly paired cases, sorted by ID within each folder.
    pub cases: Vec<Case>,
    /// Every problem found (missing masks, orphan files, duplicate IDs, ...).
    pub problems: Vec<Error>,
}

impl Scan {
    /// The cases, or the first problem.
    pub fn into_result(mut self) -> Result<Vec<Case>> {
        if self.problems.is_empty() {
            Ok(self.cases)
        } else {
            Err(self.problems.swap_remove(0))
        }
    }
}

/// Whether `path` names an image file medseg can read: an extension that `image` knows for a
/// format this build decodes, optionally followed by `.gz` (STARE ships `.ppm.gz`).
pub fn is_image_file(path: &Path) -> bool {
    let name = match path.file_name().and_then(|n| n.to_str()) {
        Some(n) => n.to_ascii_lowercase(),
        None => return false,
    };
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    match name.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty()
                && image::ImageFormat::from_extension(ext).is_some_and(|f| f.reading_enabled())
        }
        None => false,
    }
}

/// Fails with [`Error::BadLayout`] if `root` is not a directory.
pub(crate) fn require_root(root: &Path, expected: &str) -> Result<()> {
    if !root.is_dir() {
        return Err(Error::BadLayout {
            root: root.to_path_buf(),
            expected: format!("{expected} (the root is not a directory)"),
        });
    }
    Ok(())
}

/// Sorted image files directly inside `dir`; an absent directory yields `Ok(None)`.
pub(crate) fn image_files(dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if path.is_file() && is_image_file(&path) {
            files.push(path);
        }
    }
    files.sort();
    Ok(Some(files))
}

/// Sorted sub-directories of `dir`.
pub(crate) fn sub_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Files of one role (images, masks, ...) indexed by case ID, with duplicate IDs reported.
pub(crate) struct Index {
    pub dir: PathBuf,
    pub by_id: BTreeMap<String, PathBuf>,
}

impl Index {
    /// Indexes `files` with `id_of`, reporting files that share an ID.
    pub fn new(
        dir: &Path,
        files: Vec<PathBuf>,
        id_of: impl Fn(&str) -> String,
        problems: &mut Vec<Error>,
    ) -> Self {
        let mut by_id: BTreeMap<String, PathBuf> = BTreeMap::new();
        for f in files {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let id = id_of(name);
            if let Some(prev) = by_id.get(&id) {
                problems.push(Error::BadLayout {
                    root: dir.to_path_buf(),
                    expected: format!(
                        "one file per case ID, but {} and {} both have ID '{id}'",
                        prev.display(),
                        f.display()
                    ),
                });
                continue;
            }
            by_id.insert(id, f);
        }
        Index {
            dir: dir.to_path_buf(),
            by_id,
        }
    }

    /// Indexes the image files of `dir` by [`case_id`]; `None` if `dir` is absent.
    pub fn of_dir(dir: &Path, problems: &mut Vec<Error>) -> Result<Option<Self>> {
        Ok(image_files(dir)?.map(|files| Index::new(dir, files, case_id, problems)))
    }
}

/// How a secondary file (mask, FOV, second observer) must be present.
pub(crate) enum Need {
    /// Missing file is a problem, named by this expected path.
    Required(PathBuf),
    /// Missing file is a problem only when its folder exists (`index` is `Some`): for folders
    /// that are optional as a whole, like FOV masks.
    IfFolder(PathBuf),
    /// Missing file is fine.
    Optional,
}

/// Looks `id` up in `index` (which may be absent), recording a [`Error::MissingFile`] when needed.
pub(crate) fn pair(
    index: Option<&Index>,
    id: &str,
    need: Need,
    problems: &mut Vec<Error>,
) -> Option<PathBuf> {
    if let Some(p) = index.and_then(|ix| ix.by_id.get(id)) {
        return Some(p.clone());
    }
    match need {
        Need::Required(path) => problems.push(Error::MissingFile { path }),
        Need::IfFolder(path) if index.is_some() => problems.push(Error::MissingFile { path }),
        _ => {}
    }
    None
}

/// Reports files in `index` whose ID is not in `known` (e.g. a mask without its image), naming
/// the image file that was expected.
pub(crate) fn orphans(
    index: Option<&Index>,
    known: &BTreeMap<String, PathBuf>,
    expected_image: impl Fn(&str) -> PathBuf,
    problems: &mut Vec<Error>,
) {
    if let Some(ix) = index {
        for (id, path) in &ix.by_id {
            if !known.contains_key(id) {
                tracing::debug!("orphan {}", path.display());
                problems.push(Error::MissingFile {
                    path: expected_image(id),
                });
            }
        }
    }
}

/// Extension of an indexed file's sibling convention: the extension of the first file in the
/// index, else `default`. Used to name the expected path of a missing file.
pub(crate) fn ext_of(index: Option<&Index>, default: &str) -> String {
    index
        .and_then(|ix| ix.by_id.values().next())
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| {
            let n = n.strip_suffix(".gz").unwrap_or(n);
            n.rsplit_once('.').map(|(_, e)| e.to_string())
        })
        .unwrap_or_else(|| default.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_extensions_are_recognised() {
        for name in [
            "a.png",
            "21_manual1.GIF",
            "im0001.ah.ppm.gz",
            "x.tiff",
            "y.jpeg",
            "z.bmp",
        ] {
            assert!(is_image_file(Path::new(name)), "{name}");
        }
        for name in ["notes.txt", "metrics.json", "png", "a.gz", ".png", "w.webp"] {
            assert!(!is_image_file(Path::new(name)), "{name}");
        }
    }
}
