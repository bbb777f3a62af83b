//! Pictures of several structures per image: a colour overlay with a legend and a label-map PNG.

use image::{GrayImage, Luma, RgbImage, imageops};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::check_len;
use super::font::{FAMILY, ensure_fonts};
use super::maps::overlay;

/// Height of one legend row, in pixels.
pub const LEGEND_ROW_HEIGHT: u32 = 24;
const LEGEND_FONT_SIZE: f64 = 16.0;

/// Draws every class mask over an RGB image in its colour (`alpha` blending, in class order, so
/// where structures overlap the later one is on top of the earlier). Classes whose index is in
/// `skip` (the multi-class background) are not drawn.
///
/// # Panics
/// If a buffer's length does not match `width` and `height`, or `colours` is shorter than
/// `masks`.
pub fn class_overlay(
    image_rgb: &[u8],
    width: u32,
    height: u32,
    masks: &[Vec<bool>],
    colours: &[[u8; 3]],
    skip: &[usize],
    alpha: f32,
) -> RgbImage {
    check_len("class overlay image", image_rgb.len(), width, height, 3);
    assert!(colours.len() >= masks.len(), "one colour per class");
    let mut out = RgbImage::from_raw(width, height, image_rgb.to_vec()).expect("length checked");
    for (k, m) in masks.iter().enumerate() {
        if !skip.contains(&k) {
            out = overlay(&out, width, height, m, colours[k], alpha);
        }
    }
    out
}

/// `img` with a legend below it: one row per `(name, colour)`, a colour swatch then the name.
/// Without the embedded font (it never fails) the swatches are drawn without names.
pub fn with_legend(img: &RgbImage, entries: &[(&str, [u8; 3])]) -> RgbImage {
    let rows = entries.len() as u32;
    let width = img.width().max(160);
    let mut out = RgbImage::from_pixel(
        width,
        img.height() + rows * LEGEND_ROW_HEIGHT,
        image::Rgb([255, 255, 255]),
    );
    imageops::replace(&mut out, img, 0, 0);
    let fonts_ok = ensure_fonts().is_ok();
    for (r, (name, colour)) in entries.iter().enumerate() {
        let y0 = img.height() + r as u32 * LEGEND_ROW_HEIGHT;
        for y in y0 + 4..y0 + LEGEND_ROW_HEIGHT - 4 {
            for x in 4..20.min(width) {
                out.put_pixel(x, y, image::Rgb(*colour));
            }
        }
        if fonts_ok && let Ok(strip) = text_strip(name, width.saturating_sub(26).max(1)) {
            imageops::replace(&mut out, &strip, 26, y0.into());
        }
    }
    out
}

/// A white strip with `text` left-aligned in black.
fn text_strip(
    text: &str,
    width: u32,
) -> Result<RgbImage, Box<dyn std::error::Error + Send + Sync>> {
    let size = (width, LEGEND_ROW_HEIGHT);
    let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        let style = TextStyle::from((FAMILY, LEGEND_FONT_SIZE).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        root.draw_text(text, &style, (0, size.1 as i32 / 2))?;
        root.present()?;
    }
    RgbImage::from_raw(size.0, size.1, buf).ok_or_else(|| "legend buffer size".into())
}

/// The label-map PNG of per-class masks (8-bit grey):
/// - `exclusive` (multi-class): each pixel the index of its class (nnU-Net's `labelsTr`
///   convention; the masks of an argmax never overlap);
/// - otherwise (multi-label, overlaps allowed): each pixel the bit set `Σ 2^k` of the classes it
///   belongs to, so overlaps survive (at most 8 classes; further classes are left out).
///
/// # Panics
/// If a mask's length does not match `width` and `height`.
pub fn label_map_png(masks: &[Vec<bool>], width: u32, height: u32, exclusive: bool) -> GrayImage {
    for m in masks {
        check_len("label map mask", m.len(), width, height, 1);
    }
    let n = width as usize * height as usize;
    let data: Vec<u8> = (0..n)
        .map(|i| {
            if exclusive {
                masks.iter().position(|m| m[i]).unwrap_or(0) as u8
            } else {
                masks
                    .iter()
                    .take(8)
                    .enumerate()
                    .filter(|(_, m)| m[i])
                    .fold(0u8, |acc, (k, _)| acc | (1 << k))
            }
        })
        .collect();
    GrayImage::from_raw(width, height, data).expect("one byte per pixel")
}

/// A label-map pixel of [`label_map_png`] as its class indices.
pub fn label_map_classes(value: Luma<u8>, exclusive: bool) -> Vec<usize> {
    let v = value[0];
    if exclusive {
        vec![v as usize]
    } else {
        (0..8).filter(|k| v & (1 << k) != 0).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_maps_keep_overlaps_as_bits_and_classes_as_indices() {
        let masks = vec![vec![true, true, false], vec![false, true, false]];
        let ml = label_map_png(&masks, 3, 1, false);
        assert_eq!(ml.as_raw(), &[1, 3, 0]);
        assert_eq!(label_map_classes(*ml.get_pixel(1, 0), false), [0, 1]);
        let mc = label_map_png(
            &[vec![false, false, true], vec![true, false, false]],
            3,
            1,
            true,
        );
        assert_eq!(mc.as_raw(), &[1, 0, 0]);
    }

    #[test]
    fn overlay_colours_each_class_and_legend_adds_rows() {
        let img = vec![0u8; 6]; // 2x1 RGB
        let out = class_overlay(
            &img,
            2,
            1,
            &[vec![true, false], vec![false, true]],
            &[[200, 0, 0], [0, 200, 0]],
            &[],
            1.0,
        );
        assert_eq!(out.get_pixel(0, 0).0, [200, 0, 0]);
        assert_eq!(out.get_pixel(1, 0).0, [0, 200, 0]);
        let skipped = class_overlay(&img, 2, 1, &[vec![true, true]], &[[9, 9, 9]], &[0], 1.0);
        assert_eq!(skipped.get_pixel(0, 0).0, [0, 0, 0]);
        let legend = with_legend(&out, &[("heart", [200, 0, 0]), ("lungs", [0, 200, 0])]);
        assert_eq!(legend.height(), 1 + 2 * LEGEND_ROW_HEIGHT);
        assert_eq!(legend.get_pixel(10, 1 + 12).0, [200, 0, 0]);
        // some text was drawn beside the swatch
        let row: Vec<_> = (26..legend.width())
            .map(|x| legend.get_pixel(x, 1 + 12).0)
            .collect();
        assert!(row.iter().any(|p| p[0] < 128), "legend text");
    }
}
