//! Per-pixel pictures: prediction overlays, error maps, probability and mask PNGs.

use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage};

use super::check_len;

/// A 16-bit greyscale image, for saving probabilities losslessly.
pub type Gray16Image = ImageBuffer<Luma<u16>, Vec<u16>>;

/// Error-map colour of a true positive (predicted and true): white.
pub const TRUE_POSITIVE_COLOR: [u8; 3] = [255, 255, 255];
/// Error-map colour of a false positive (predicted, not true): red.
pub const FALSE_POSITIVE_COLOR: [u8; 3] = [255, 0, 0];
/// Error-map colour of a false negative (true, missed): blue.
pub const FALSE_NEGATIVE_COLOR: [u8; 3] = [0, 128, 255];
/// Error-map colour of a true negative (neither predicted nor true): black.
pub const TRUE_NEGATIVE_COLOR: [u8; 3] = [0, 0, 0];
/// Error-map colour of a pixel outside the field of view: dark grey.
pub const OUTSIDE_FOV_COLOR: [u8; 3] = [64, 64, 64];

/// What each colour of [`error_map`] means, for legends and captions.
pub const ERROR_MAP_LEGEND: [(&str, [u8; 3]); 5] = [
    ("true positive", TRUE_POSITIVE_COLOR),
    ("false positive", FALSE_POSITIVE_COLOR),
    ("false negative", FALSE_NEGATIVE_COLOR),
    ("true negative", TRUE_NEGATIVE_COLOR),
    ("outside FOV", OUTSIDE_FOV_COLOR),
];

/// Draws `mask` over an RGB image: masked pixels become
/// `(1 - alpha) * pixel + alpha * color`, all others are copied unchanged.
///
/// `image_rgb` is interleaved RGB, row-major, `width * height * 3` bytes; `mask` is row-major,
/// `width * height` long. `alpha` is clamped to `[0, 1]` (NaN counts as 0).
///
/// # Panics
/// If a buffer's length does not match `width` and `height`.
pub fn overlay(
    image_rgb: &[u8],
    width: u32,
    height: u32,
    mask: &[bool],
    color: [u8; 3],
    alpha: f32,
) -> RgbImage {
    check_len("overlay image", image_rgb.len(), width, height, 3);
    check_len("overlay mask", mask.len(), width, height, 1);
    let alpha = if alpha.is_nan() {
        0.0
    } else {
        alpha.clamp(0.0, 1.0)
    };
    let mut out = image_rgb.to_vec();
    for (px, _) in out.chunks_exact_mut(3).zip(mask).filter(|(_, m)| **m) {
        for (v, c) in px.iter_mut().zip(color) {
            *v = blend(*v, c, alpha);
        }
    }
    from_rgb(out, width, height)
}

/// Draws the outline of `mask` over an RGB image in a solid `color`: a pixel is on the outline
/// when it is in the mask and one of its four neighbours is not (or it lies on the image border).
/// All other pixels are copied unchanged.
///
/// Chain it with [`overlay`] (an [`RgbImage`] derefs to `&[u8]`) to show, say, the prediction
/// filled and the ground truth outlined.
///
/// # Panics
/// If a buffer's length does not match `width` and `height`.
pub fn overlay_outline(
    image_rgb: &[u8],
    width: u32,
    height: u32,
    mask: &[bool],
    color: [u8; 3],
) -> RgbImage {
    check_len("overlay image", image_rgb.len(), width, height, 3);
    check_len("overlay mask", mask.len(), width, height, 1);
    let (w, h) = (width as usize, height as usize);
    let mut out = image_rgb.to_vec();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if !mask[i] {
                continue;
            }
            let edge = x == 0
                || y == 0
                || x + 1 == w
                || y + 1 == h
                || !mask[i - 1]
                || !mask[i + 1]
                || !mask[i - w]
                || !mask[i + w];
            if edge {
                out[i * 3..i * 3 + 3].copy_from_slice(&color);
            }
        }
    }
    from_rgb(out, width, height)
}

/// Colours each pixel by its confusion class: true positives [white](TRUE_POSITIVE_COLOR),
/// false positives [red](FALSE_POSITIVE_COLOR), false negatives [blue](FALSE_NEGATIVE_COLOR),
/// true negatives [black](TRUE_NEGATIVE_COLOR) and, when `fov` is given, pixels outside the
/// field of view [dark grey](OUTSIDE_FOV_COLOR) whatever their class. [`ERROR_MAP_LEGEND`]
/// lists the same colours with names.
///
/// # Panics
/// If a buffer's length is not `width * height`.
pub fn error_map(
    pred: &[bool],
    truth: &[bool],
    fov: Option<&[bool]>,
    width: u32,
    height: u32,
) -> RgbImage {
    check_len("error_map prediction", pred.len(), width, height, 1);
    check_len("error_map truth", truth.len(), width, height, 1);
    if let Some(fov) = fov {
        check_len("error_map FOV", fov.len(), width, height, 1);
    }
    let mut out = Vec::with_capacity(pred.len() * 3);
    for (i, (&p, &t)) in pred.iter().zip(truth).enumerate() {
        let inside = fov.is_none_or(|f| f[i]);
        let color = match (inside, p, t) {
            (false, _, _) => OUTSIDE_FOV_COLOR,
            (true, true, true) => TRUE_POSITIVE_COLOR,
            (true, true, false) => FALSE_POSITIVE_COLOR,
            (true, false, true) => FALSE_NEGATIVE_COLOR,
            (true, false, false) => TRUE_NEGATIVE_COLOR,
        };
        out.extend_from_slice(&color);
    }
    from_rgb(out, width, height)
}

/// Probabilities as an 8-bit greyscale image: `round(clamp(p, 0, 1) * 255)`; NaN maps to 0.
///
/// # Panics
/// If `prob.len()` is not `width * height`.
pub fn probability_png(prob: &[f32], width: u32, height: u32) -> GrayImage {
    check_len("probability map", prob.len(), width, height, 1);
    let data = prob.iter().map(|&p| quantize(p, 255.0) as u8).collect();
    GrayImage::from_raw(width, height, data)
        .expect("buffer length was checked against width * height")
}

/// Probabilities as a 16-bit greyscale image: `round(clamp(p, 0, 1) * 65535)`; NaN maps to 0.
/// Saved as PNG (see [`save_png`](super::save_png)) it keeps probabilities to within 1/131070.
///
/// # Panics
/// If `prob.len()` is not `width * height`.
pub fn probability_png16(prob: &[f32], width: u32, height: u32) -> Gray16Image {
    check_len("probability map", prob.len(), width, height, 1);
    let data = prob.iter().map(|&p| quantize(p, 65535.0) as u16).collect();
    Gray16Image::from_raw(width, height, data)
        .expect("buffer length was checked against width * height")
}

/// A binary mask as an 8-bit greyscale image: 255 for `true`, 0 for `false`.
///
/// # Panics
/// If `mask.len()` is not `width * height`.
pub fn mask_png(mask: &[bool], width: u32, height: u32) -> GrayImage {
    check_len("mask", mask.len(), width, height, 1);
    let data = mask.iter().map(|&m| if m { 255 } else { 0 }).collect();
    GrayImage::from_raw(width, height, data)
        .expect("buffer length was checked against width * height")
}

/// `round(clamp(p, 0, 1) * scale)`, with NaN as 0.
fn quantize(p: f32, scale: f32) -> f32 {
    if p.is_nan() {
        0.0
    } else {
        (p.clamp(0.0, 1.0) * scale).round()
    }
}

fn blend(v: u8, c: u8, alpha: f32) -> u8 {
    ((1.0 - alpha) * f32::from(v) + alpha * f32::from(c))
        .round()
        .clamp(0.0, 255.0) as u8
}

fn from_rgb(data: Vec<u8>, width: u32, height: u32) -> RgbImage {
    ImageBuffer::<Rgb<u8>, _>::from_raw(width, height, data)
        .expect("buffer length was checked against width * height * 3")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outline_of_a_filled_square_is_its_border() {
        let (w, h) = (5u32, 5u32);
        let mask: Vec<bool> = (0..25)
            .map(|i| (1..4).contains(&(i % 5)) && (1..4).contains(&(i / 5)))
            .collect();
        let img = vec![0u8; 75];
        let out = overlay_outline(&img, w, h, &mask, [9, 9, 9]);
        assert_eq!(out.get_pixel(2, 2).0, [0, 0, 0], "interior stays");
        assert_eq!(out.get_pixel(1, 1).0, [9, 9, 9]);
        assert_eq!(out.get_pixel(3, 2).0, [9, 9, 9]);
        assert_eq!(out.get_pixel(0, 0).0, [0, 0, 0], "outside the mask stays");
    }

    #[test]
    fn quantize_clamps_and_rounds() {
        assert_eq!(quantize(-1.0, 255.0), 0.0);
        assert_eq!(quantize(2.0, 255.0), 255.0);
        assert_eq!(quantize(0.5, 255.0), 128.0);
        assert_eq!(quantize(f32::NAN, 255.0), 0.0);
    }
}
