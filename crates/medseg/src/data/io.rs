//! Reading images, probability maps and masks from disk.
//!
//! Formats: PNG, JPEG, TIFF, GIF, BMP, PPM/PGM/PBM (and `.gz` of any of them, as STARE ships
//! `.ppm.gz`), 8 or 16 bit, grey, grey+alpha, RGB or RGBA. The format is taken from the file's
//! magic bytes, not its extension (STARE's `.ah.ppm` labels are greyscale `P5` data).
//!
//! # Mask binarisation policy ([`read_mask`])
//! The mask is converted to grey (luminance for colour files) in its native range `0..=MAX`
//! (`MAX` = 255 or 65535), then:
//! 1. **Label map** — every value is 0 or 1: foreground is 1 (nnU-Net-style labels).
//! 2. **Multi-label** — the largest value is between 2 and 10: rejected with
//!    [`Error::NonBinaryMask`] (medseg segments one foreground class).
//! 3. **Intensity mask** — otherwise foreground is `value > MAX / 2` (`> 127` for 8 bit), so
//!    DRIVE's palette GIFs (luminance 3/253) and JPEG-compressed masks work. At most 1 % of the
//!    pixels may lie strictly between 10 % and 90 % of `MAX` (compression, anti-aliased borders);
//!    more than that is rejected with [`Error::NonBinaryMask`] giving the fraction found.

use std::io::Read;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageReader};

use crate::{Error, Result};

/// A single-channel float image, row-major, values usually in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    pub width: u32,
    pub height: u32,
    pub data: Vec<f32>,
}

/// A binary mask, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    pub width: u32,
    pub height: u32,
    pub data: Vec<bool>,
}

/// An RGB image as three planar `[0, 1]` float channels (R, G, B), each row-major.
/// Grey files are replicated into the three channels; alpha is dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct RgbPlanes {
    pub width: u32,
    pub height: u32,
    pub planes: [Vec<f32>; 3],
}

impl Plane {
    /// A plane filled with `value`.
    pub fn filled(width: u32, height: u32, value: f32) -> Self {
        Plane {
            width,
            height,
            data: vec![value; width as usize * height as usize],
        }
    }

    /// `(width, height)`.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Value at column `x`, row `y`.
    pub fn get(&self, x: u32, y: u32) -> f32 {
        self.data[y as usize * self.width as usize + x as usize]
    }

    /// Saves as 8-bit grey (values clamped to `[0, 1]`), format from the extension.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes: Vec<u8> = self
            .data
            .iter()
            .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect();
        save_gray8(path, self.width, self.height, bytes)
    }
}

impl Mask {
    /// An all-`value` mask.
    pub fn filled(width: u32, height: u32, value: bool) -> Self {
        Mask {
            width,
            height,
            data: vec![value; width as usize * height as usize],
        }
    }

    /// `(width, height)`.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Value at column `x`, row `y`.
    pub fn get(&self, x: u32, y: u32) -> bool {
        self.data[y as usize * self.width as usize + x as usize]
    }

    /// Number of `true` pixels.
    pub fn count(&self) -> usize {
        self.data.iter().filter(|&&b| b).count()
    }

    /// Fraction of `true` pixels (0 for an empty mask).
    pub fn fraction(&self) -> f64 {
        if self.data.is_empty() {
            0.0
        } else {
            self.count() as f64 / self.data.len() as f64
        }
    }

    /// Intersection over union with `other` (1 when both are empty).
    pub fn iou(&self, other: &Mask) -> f64 {
        let (mut inter, mut union) = (0usize, 0usize);
        for (&a, &b) in self.data.iter().zip(&other.data) {
            inter += (a && b) as usize;
            union += (a || b) as usize;
        }
        if union == 0 {
            1.0
        } else {
            inter as f64 / union as f64
        }
    }

    /// As a 0/1 float plane.
    pub fn to_plane(&self) -> Plane {
        Plane {
            width: self.width,
            height: self.height,
            data: self.data.iter().map(|&b| b as u8 as f32).collect(),
        }
    }

    /// Saves as 8-bit 0/255 grey, format from the extension (`.gif`, `.png`, `.tif`, ...).
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.data.iter().map(|&b| if b { 255 } else { 0 }).collect();
        save_gray8(path, self.width, self.height, bytes)
    }
}

impl RgbPlanes {
    /// `(width, height)`.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// One channel (0 = R, 1 = G, 2 = B) as a plane.
    pub fn channel(&self, c: usize) -> Plane {
        Plane {
            width: self.width,
            height: self.height,
            data: self.planes[c].clone(),
        }
    }

    /// Rec. 709 luminance (`0.2126 R + 0.7152 G + 0.0722 B`).
    pub fn luminance(&self) -> Plane {
        let [r, g, b] = &self.planes;
        Plane {
            width: self.width,
            height: self.height,
            data: r
                .iter()
                .zip(g)
                .zip(b)
                .map(|((r, g), b)| 0.2126 * r + 0.7152 * g + 0.0722 * b)
                .collect(),
        }
    }

    /// Saves as 8-bit RGB (values clamped to `[0, 1]`), format from the extension.
    pub fn save(&self, path: &Path) -> Result<()> {
        let n = self.width as usize * self.height as usize;
        let mut bytes = Vec::with_capacity(n * 3);
        for i in 0..n {
            for c in 0..3 {
                bytes.push((self.planes[c][i].clamp(0.0, 1.0) * 255.0).round() as u8);
            }
        }
        let img = image::RgbImage::from_raw(self.width, self.height, bytes)
            .ok_or_else(|| Error::InvalidInput(format!("bad RGB buffer for {}", path.display())))?;
        write_image(&DynamicImage::ImageRgb8(img), path)
    }
}

fn save_gray8(path: &Path, width: u32, height: u32, bytes: Vec<u8>) -> Result<()> {
    let img = image::GrayImage::from_raw(width, height, bytes)
        .ok_or_else(|| Error::InvalidInput(format!("bad grey buffer for {}", path.display())))?;
    let dynimg = DynamicImage::ImageLuma8(img);
    let is_gif = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gif"));
    // The GIF encoder wants RGB(A); the decoder reads it back through the palette.
    let dynimg = if is_gif {
        DynamicImage::ImageRgb8(dynimg.to_rgb8())
    } else {
        dynimg
    };
    write_image(&dynimg, path)
}

/// Encodes `img` in the format its extension names and writes it with
/// [`crate::durable::write_atomic`].
fn write_image(img: &DynamicImage, path: &Path) -> Result<()> {
    let format = image::ImageFormat::from_path(path).map_err(|e| encode_error(path, e))?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, format)
        .map_err(|e| encode_error(path, e))?;
    crate::durable::write_atomic(path, bytes.get_ref())
}

fn encode_error(path: &Path, e: image::ImageError) -> Error {
    match e {
        image::ImageError::IoError(io) => Error::io(path, io),
        other => Error::InvalidInput(format!("cannot write {}: {other}", path.display())),
    }
}

/// Largest image, in pixels, that [`decode`] and [`decode_bytes`] accept by default (100
/// megapixels, as [`crate::infer::scale::MAX_SCALED_PIXELS`]): a small compressed file can
/// declare a huge canvas (a decompression bomb), and its size is checked from the header before
/// any pixel is decoded.
pub const MAX_DECODE_PIXELS: u64 = crate::infer::scale::MAX_SCALED_PIXELS;

/// Decodes any supported file (see the module docs) into an `image` crate image.
///
/// Errors: [`Error::MissingFile`] if `path` does not exist, [`Error::Io`] if it cannot be read,
/// [`Error::Decode`] if it is corrupt, truncated or of an unsupported format,
/// [`Error::TooManyPixels`] beyond [`MAX_DECODE_PIXELS`].
pub fn decode(path: &Path) -> Result<DynamicImage> {
    if !path.is_file() {
        return Err(Error::MissingFile {
            path: path.to_path_buf(),
        });
    }
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let is_gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let bytes = if is_gz {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| decode_error(path, format!("bad gzip data: {e}")))?;
        out
    } else {
        raw
    };
    decode_bytes(&bytes, path, MAX_DECODE_PIXELS)
}

/// The format of an encoded image, recognised from its first bytes (not a name), when this
/// build can decode it: `Some("png")`, `Some("jpeg")`, ...; `None` for anything else.
pub fn recognised_format(bytes: &[u8]) -> Option<&'static str> {
    let format = image::guess_format(bytes).ok()?;
    if !format.reading_enabled() {
        return None;
    }
    format.extensions_str().first().copied()
}

/// Decodes an image held in memory (format from its magic bytes); `origin` names it in errors.
/// Images of more than `max_pixels` pixels are refused from their header, before decoding.
///
/// Errors: [`Error::Decode`] for empty, corrupt, truncated or unsupported data,
/// [`Error::TooManyPixels`] beyond `max_pixels`.
pub fn decode_bytes(bytes: &[u8], origin: &Path, max_pixels: u64) -> Result<DynamicImage> {
    if bytes.is_empty() {
        return Err(decode_error(origin, "file is empty".into()));
    }
    let reader = || {
        let reader = ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| decode_error(origin, e.to_string()))?;
        if reader.format().is_none() {
            return Err(decode_error(
                origin,
                "unknown image format (expected PNG, JPEG, TIFF, GIF, BMP or PNM)".into(),
            ));
        }
        Ok(reader)
    };
    let (width, height) = reader()?
        .into_dimensions()
        .map_err(|e| decode_error(origin, e.to_string()))?;
    if width as u64 * height as u64 > max_pixels {
        return Err(Error::TooManyPixels {
            path: origin.to_path_buf(),
            width,
            height,
            limit_mp: max_pixels / 1_000_000,
        });
    }
    // The decoder keeps `image`'s default allocation limit (512 MiB) as a second guard.
    reader()?
        .decode()
        .map_err(|e| decode_error(origin, e.to_string()))
}

fn decode_error(path: &Path, reason: String) -> Error {
    Error::Decode {
        path: PathBuf::from(path),
        reason,
    }
}

/// Reads a single-channel float plane in `[0, 1]`: the grey value of grey files, the
/// luminance (Rec. 709) of colour files; 16-bit files are divided by 65535.
/// This is how saved probability maps are read.
pub fn read_plane(path: &Path) -> Result<Plane> {
    Ok(grey_plane(&decode(path)?))
}

/// The grey plane of a decoded image, clamped to `[0, 1]`: the luminance weights of a white
/// colour pixel sum to a hair above 1 in f32 (found by fuzzing, `fuzz/seeds/decode_image/mask.gif`).
fn grey_plane(img: &DynamicImage) -> Plane {
    let luma = img.to_luma32f();
    Plane {
        width: luma.width(),
        height: luma.height(),
        data: luma
            .into_raw()
            .into_iter()
            .map(|v| v.clamp(0.0, 1.0))
            .collect(),
    }
}

/// Reads an image as three float planes in `[0, 1]` (grey files replicated, alpha dropped).
pub fn read_rgb(path: &Path) -> Result<RgbPlanes> {
    Ok(rgb_planes(&decode(path)?))
}

/// Decodes an image held in memory as [`read_rgb`] reads a file, refusing more than
/// `max_pixels` pixels ([`decode_bytes`]).
pub fn read_rgb_bytes(bytes: &[u8], origin: &Path, max_pixels: u64) -> Result<RgbPlanes> {
    Ok(rgb_planes(&decode_bytes(bytes, origin, max_pixels)?))
}

/// Three float planes in `[0, 1]` of a decoded image (grey replicated, alpha dropped).
fn rgb_planes(img: &DynamicImage) -> RgbPlanes {
    let rgb = img.to_rgb32f();
    let (width, height) = rgb.dimensions();
    let n = width as usize * height as usize;
    let mut planes = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
    for (i, px) in rgb.pixels().enumerate() {
        for (plane, v) in planes.iter_mut().zip(px.0) {
            plane[i] = v;
        }
    }
    RgbPlanes {
        width,
        height,
        planes,
    }
}

/// Reads a binary mask following the module's binarisation policy.
pub fn read_mask(path: &Path) -> Result<Mask> {
    let img = decode(path)?;
    binarise(path, &img)
}

/// Decodes a mask held in memory as [`read_mask`] reads a file (the same binarisation policy),
/// refusing more than `max_pixels` pixels ([`decode_bytes`]); `origin` names it in errors.
pub fn read_mask_bytes(bytes: &[u8], origin: &Path, max_pixels: u64) -> Result<Mask> {
    binarise(origin, &decode_bytes(bytes, origin, max_pixels)?)
}

/// Decodes a probability map held in memory as [`read_plane`] reads a file, refusing more than
/// `max_pixels` pixels ([`decode_bytes`]); `origin` names it in errors.
pub fn read_plane_bytes(bytes: &[u8], origin: &Path, max_pixels: u64) -> Result<Plane> {
    Ok(grey_plane(&decode_bytes(bytes, origin, max_pixels)?))
}

/// Largest native value of the image's grey conversion (255 or 65535).
fn native_max(img: &DynamicImage) -> u32 {
    match img {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_) => 255,
        _ => 65535,
    }
}

fn binarise(path: &Path, img: &DynamicImage) -> Result<Mask> {
    let max = native_max(img);
    let (width, height, values): (u32, u32, Vec<u32>) = if max == 255 {
        let l = img.to_luma8();
        (
            l.width(),
            l.height(),
            l.into_raw().into_iter().map(u32::from).collect(),
        )
    } else {
        let l = img.to_luma16();
        (
            l.width(),
            l.height(),
            l.into_raw().into_iter().map(u32::from).collect(),
        )
    };
    let top = values.iter().copied().max().unwrap_or(0);
    if top <= 1 {
        return Ok(Mask {
            width,
            height,
            data: values.iter().map(|&v| v == 1).collect(),
        });
    }
    if top <= 10 {
        return Err(Error::NonBinaryMask {
            path: path.to_path_buf(),
            reason: format!(
                "values 0..={top} look like a multi-class label map; medseg expects one \
                 foreground class: 0/1 labels or 0/{max} intensities (> {} is foreground)",
                max / 2
            ),
        });
    }
    let (lo, hi) = (max as f64 * 0.1, max as f64 * 0.9);
    let mut mid = 0usize;
    let mut example = 0;
    for &v in &values {
        let f = v as f64;
        if f > lo && f < hi {
            mid += 1;
            example = v;
        }
    }
    let frac = mid as f64 / values.len().max(1) as f64;
    if frac > 0.01 {
        return Err(Error::NonBinaryMask {
            path: path.to_path_buf(),
            reason: format!(
                "{:.1} % of pixels are grey (e.g. {example} of {max}); the policy allows at most \
                 1 % between 10 % and 90 % of full scale, thresholding at > {}",
                frac * 100.0,
                max / 2
            ),
        });
    }
    let thr = max / 2;
    Ok(Mask {
        width,
        height,
        data: values.iter().map(|&v| v > thr).collect(),
    })
}

/// Checks that `other` (a mask or FOV file at `path`) has the image's size.
pub fn check_size(path: &Path, image: (u32, u32), other: (u32, u32)) -> Result<()> {
    if image != other {
        return Err(Error::ShapeMismatch {
            path: path.to_path_buf(),
            image,
            mask: other,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(img: &DynamicImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// A decompression bomb is refused from its header in every supported format: a blank
    /// image just over the limit (1 megapixel here; the check is the same at the default
    /// 100) is small once compressed, and exits as `TooManyPixels` without being decoded;
    /// one just under it decodes.
    #[test]
    fn the_pixel_limit_holds_for_every_format() {
        use image::ImageFormat as F;
        let over = DynamicImage::ImageLuma8(image::GrayImage::new(1001, 1000));
        let under = DynamicImage::ImageLuma8(image::GrayImage::new(100, 100));
        let encode = |img: &DynamicImage, format| {
            let img = match format {
                // The GIF encoder takes RGB(A).
                F::Gif => DynamicImage::ImageRgb8(img.to_rgb8()),
                _ => img.clone(),
            };
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, format).unwrap();
            out.into_inner()
        };
        for format in [F::Png, F::Jpeg, F::Tiff, F::Gif, F::Bmp, F::Pnm] {
            let bytes = encode(&over, format);
            let e = decode_bytes(&bytes, Path::new("bomb"), 1_000_000).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::TooManyPixels {
                        width: 1001,
                        height: 1000,
                        ..
                    }
                ),
                "{format:?}: {e}"
            );
            assert!(decode_bytes(&encode(&under, format), Path::new("ok"), 1_000_000).is_ok());
        }
        // At the default limit: a PNM header declaring 10001 x 10000 pixels, with no pixel data.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.pgm");
        std::fs::write(&path, b"P5\n10001 10000\n255\n").unwrap();
        let e = decode(&path).unwrap_err();
        assert!(
            matches!(e, Error::TooManyPixels { limit_mp: 100, .. }),
            "{e}"
        );
    }

    /// Regression (fuzz target decode_image): a white pixel of a colour file read as a
    /// probability was 1.0000001.
    #[test]
    fn colour_files_read_as_planes_stay_within_0_and_1() {
        let white =
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(3, 2, image::Rgb([255; 3])));
        let plane = read_plane_bytes(&png(&white), Path::new("white"), 100).unwrap();
        assert!(plane.data.iter().all(|&v| v == 1.0), "{:?}", plane.data);
    }

    #[test]
    fn bytes_decode_like_files_and_the_pixel_limit_reads_the_header() {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(5, 3, |x, y| {
            image::Rgb([x as u8 * 50, y as u8 * 100, 7])
        }));
        let bytes = png(&img);
        assert_eq!(recognised_format(&bytes), Some("png"));
        assert_eq!(recognised_format(b"hello"), None);
        let rgb = read_rgb_bytes(&bytes, Path::new("upload"), 15).unwrap();
        assert_eq!(rgb.size(), (5, 3));
        assert!((rgb.planes[0][4] - 200.0 / 255.0).abs() < 1e-6);
        // a 2000x2000 blank PNG is a few KB: refused from its header
        let big = png(&DynamicImage::ImageLuma8(image::GrayImage::new(2000, 2000)));
        assert!(big.len() < 50_000);
        let e = decode_bytes(&big, Path::new("upload"), 1_000_000).unwrap_err();
        assert!(
            matches!(
                e,
                Error::TooManyPixels {
                    width: 2000,
                    height: 2000,
                    limit_mp: 1,
                    ..
                }
            ),
            "{e}"
        );
        assert!(matches!(
            decode_bytes(&bytes[..20], Path::new("upload"), 100),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            decode_bytes(&[], Path::new("upload"), 100),
            Err(Error::Decode { .. })
        ));
    }
}
