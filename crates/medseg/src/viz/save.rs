//! Atomic PNG writing.

use std::fs::{self, OpenOptions};
use std::io::{self, Cursor, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use image::{EncodableLayout, ImageBuffer, ImageFormat, PixelWithColorType};

use crate::{Error, Result};

/// Writes `img` as a PNG at `path`, atomically: the bytes go to a temporary file in the same
/// folder, which is then renamed over `path`, so readers never see a half-written file.
/// Missing parent folders are created. Works for 8- and 16-bit grey and RGB(A) buffers.
///
/// # Errors
/// [`Error::Io`] naming the folder that could not be created, or `path` when encoding, writing
/// or renaming fails.
pub fn save_png<P, C>(img: &ImageBuffer<P, C>, path: impl AsRef<Path>) -> Result<()>
where
    P: PixelWithColorType,
    [P::Subpixel]: EncodableLayout,
    C: Deref<Target = [P::Subpixel]>,
{
    let path = path.as_ref();
    let mut bytes = Cursor::new(Vec::new());
    img.write_to(&mut bytes, ImageFormat::Png).map_err(|e| {
        Error::io(
            path,
            io::Error::new(io::ErrorKind::InvalidData, format!("encoding PNG: {e}")),
        )
    })?;
    write_atomic(path, bytes.get_ref())
}

/// Writes `bytes` to `path` through a temporary sibling file and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
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
    fs::create_dir_all(&parent).map_err(|e| {
        // The usual cause: a path component is a file. Name that file.
        match parent.ancestors().find(|a| a.is_file()) {
            Some(file) => Error::io(
                file,
                io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!(
                        "is a file, so the folder {} for {} cannot be created",
                        parent.display(),
                        path.display()
                    ),
                ),
            ),
            None => Error::io(
                &parent,
                io::Error::new(e.kind(), format!("creating folder: {e}")),
            ),
        }
    })?;

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
    written.map_err(|e| {
        // Best effort: the temporary file may not exist, and the original error matters more.
        let _ = fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
