//! Atomic PNG writing.

use std::io::{self, Cursor};
use std::ops::Deref;
use std::path::Path;

use image::{EncodableLayout, ImageBuffer, ImageFormat, PixelWithColorType};

use crate::durable::write_atomic;
use crate::{Error, Result};

/// Writes `img` as a PNG at `path` through [`write_atomic`] (readers never see a half-written
/// file; missing parent folders are created). Works for 8- and 16-bit grey and RGB(A) buffers.
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
    let bytes = encode_png(img).map_err(|e| {
        Error::io(
            path,
            io::Error::new(io::ErrorKind::InvalidData, format!("encoding PNG: {e}")),
        )
    })?;
    write_atomic(path, &bytes)
}

/// `img` encoded as PNG in memory (what [`save_png`] writes).
///
/// # Errors
/// The encoder's message when `img` cannot be encoded.
pub fn encode_png<P, C>(img: &ImageBuffer<P, C>) -> std::result::Result<Vec<u8>, String>
where
    P: PixelWithColorType,
    [P::Subpixel]: EncodableLayout,
    C: Deref<Target = [P::Subpixel]>,
{
    let mut bytes = Cursor::new(Vec::new());
    img.write_to(&mut bytes, ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(bytes.into_inner())
}
