//! Durable file writes: the one way medseg writes a file that must never be seen half-written.
//!
//! [`write_atomic`] puts the bytes in a temporary file in the target's folder, flushes it to
//! disk (`fsync`), renames it over the target and then flushes the folder, so that after a crash
//! or power loss the path holds either the old content or the new one, never a mixture.
//! Checkpoints, weights, metrics, CSV files and images all go through it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::{Error, Result};

/// Writes `bytes` to `path` atomically and durably; missing parent folders are created.
///
/// # Errors
/// [`Error::DiskFull`] when the disk, a quota or the file-size limit is exhausted;
/// [`Error::Io`] naming the folder that could not be created (or the file standing where a
/// folder is needed), or `path` when writing, flushing or renaming fails otherwise. The
/// temporary file is removed on failure and an existing file at `path` is left as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        Error::io(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
        )
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_folder(&parent, path)?;

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tmp = parent.join(format!(
        ".{}.{}-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| -> io::Result<()> {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        // Best effort: the temporary file may not exist, and the original error matters more.
        let _ = fs::remove_file(&tmp);
        return Err(if is_disk_full(&e) {
            Error::DiskFull {
                path: path.to_path_buf(),
                source: e,
            }
        } else {
            Error::io(path, e)
        });
    }
    sync_folder(&parent)
}

/// Whether `e` says the disk, a quota or the file-size limit (`RLIMIT_FSIZE`) is exhausted.
fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge
    )
}

/// Writes `rows` as CSV (a header from the field names, then one row per item) to `path`,
/// atomically, through [`write_atomic`]. `None` fields are empty cells.
pub fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    write_atomic(path, &csv_bytes(rows).map_err(|e| csv_error(path, e))?)
}

/// `rows` as CSV bytes with a header row.
pub fn csv_bytes<T: Serialize>(rows: &[T]) -> std::result::Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.serialize(row)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// Reads a CSV file written by [`write_csv`] back into rows; a missing file is no rows.
pub fn read_csv<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    csv::Reader::from_reader(file)
        .deserialize()
        .collect::<std::result::Result<Vec<T>, _>>()
        .map_err(|e| csv_error(path, e))
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    Error::Decode {
        path: path.to_path_buf(),
        reason: format!("CSV: {e}"),
    }
}

/// Creates `folder` (and its parents) for the file `for_path`; the usual failure, a path
/// component that is a file, names that file.
fn create_folder(folder: &Path, for_path: &Path) -> Result<()> {
    fs::create_dir_all(folder).map_err(|e| match folder.ancestors().find(|a| a.is_file()) {
        Some(file) => Error::io(
            file,
            io::Error::new(
                io::ErrorKind::NotADirectory,
                format!(
                    "is a file, so the folder {} for {} cannot be created",
                    folder.display(),
                    for_path.display()
                ),
            ),
        ),
        None => Error::io(
            folder,
            io::Error::new(e.kind(), format!("creating folder: {e}")),
        ),
    })
}

/// Flushes a folder's entries (the rename) to disk. A no-op where folders cannot be opened.
fn sync_folder(folder: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(folder)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(folder, e))?;
    }
    #[cfg(not(unix))]
    let _ = folder;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Row {
        a: u32,
        b: Option<f64>,
        c: String,
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/x.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["x.txt"]);
    }

    #[test]
    fn a_file_in_the_way_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("blocker");
        fs::write(&blocker, b"").unwrap();
        let err = write_atomic(&blocker.join("x.txt"), b"1").unwrap_err();
        assert!(err.to_string().contains("blocker"), "{err}");
    }

    #[test]
    fn csv_round_trips_with_quoting_and_empty_cells() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        let rows = vec![
            Row {
                a: 1,
                b: Some(0.25),
                c: "plain".into(),
            },
            Row {
                a: 2,
                b: None,
                c: "with, comma \"q\"".into(),
            },
        ];
        write_csv(&path, &rows).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("a,b,c\n1,0.25,plain\n2,,"), "{text}");
        assert_eq!(read_csv::<Row>(&path).unwrap(), rows);
        assert!(
            read_csv::<Row>(&dir.path().join("none.csv"))
                .unwrap()
                .is_empty()
        );
    }
}
