//! Side-by-side montages with captions, e.g. image | truth | prediction | error map.

use image::{RgbImage, imageops};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::font::{FAMILY, ensure_fonts};

/// Space around and between tiles, in pixels.
pub const PANEL_PADDING: u32 = 8;
/// Height of the caption band above each tile, in pixels.
pub const PANEL_CAPTION_HEIGHT: u32 = 30;
/// Caption font size, in pixels.
const CAPTION_FONT_SIZE: f64 = 20.0;

/// Places `images` left to right on a white background, each under its caption (black, centred,
/// DejaVu Sans). Images keep their size and are top-aligned; a tile is as wide as its image or
/// its caption, whichever is wider.
///
/// The result is `PANEL_PADDING + Σ(tile_width + PANEL_PADDING)` wide and
/// `2 * PANEL_PADDING + PANEL_CAPTION_HEIGHT + max(image height)` high; an empty slice gives a
/// 0×0 image. If a caption cannot be drawn (it never should: the font is embedded) the panel
/// is returned without it and a warning is logged.
pub fn panel(images: &[(&str, RgbImage)]) -> RgbImage {
    if images.is_empty() {
        return RgbImage::new(0, 0);
    }
    let fonts_ok = match ensure_fonts() {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("panel captions skipped: {e}");
            false
        }
    };
    let font = (FAMILY, CAPTION_FONT_SIZE).into_font();
    let tile_widths: Vec<u32> = images
        .iter()
        .map(|(caption, img)| {
            let text_w = if fonts_ok {
                font.box_size(caption).map(|(w, _)| w).unwrap_or(0)
            } else {
                0
            };
            img.width().max(text_w + PANEL_PADDING)
        })
        .collect();
    let max_h = images
        .iter()
        .map(|(_, img)| img.height())
        .max()
        .unwrap_or(0);
    let width = PANEL_PADDING + tile_widths.iter().map(|w| w + PANEL_PADDING).sum::<u32>();
    let height = 2 * PANEL_PADDING + PANEL_CAPTION_HEIGHT + max_h;
    let mut out = RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));

    let mut x = PANEL_PADDING;
    for ((caption, img), &tile_w) in images.iter().zip(&tile_widths) {
        if fonts_ok {
            match caption_strip(caption, tile_w) {
                Ok(strip) => imageops::replace(&mut out, &strip, x.into(), PANEL_PADDING.into()),
                Err(e) => tracing::warn!("panel caption '{caption}' skipped: {e}"),
            }
        }
        let img_x = x + (tile_w - img.width()) / 2;
        imageops::replace(
            &mut out,
            img,
            img_x.into(),
            (PANEL_PADDING + PANEL_CAPTION_HEIGHT).into(),
        );
        x += tile_w + PANEL_PADDING;
    }
    out
}

/// A white `width × PANEL_CAPTION_HEIGHT` strip with `text` centred in black. Drawing into its
/// own buffer clips the text to the tile.
fn caption_strip(
    text: &str,
    width: u32,
) -> Result<RgbImage, Box<dyn std::error::Error + Send + Sync>> {
    let size = (width, PANEL_CAPTION_HEIGHT);
    let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        let style = TextStyle::from((FAMILY, CAPTION_FONT_SIZE).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center));
        root.draw_text(text, &style, (size.0 as i32 / 2, size.1 as i32 / 2))?;
        root.present()?;
    }
    RgbImage::from_raw(size.0, size.1, buf).ok_or_else(|| "caption buffer size".into())
}

/// The README/report picture of one case: image | truth | prediction | error map (see
/// [`crate::viz::error_map`] for the colours).
///
/// # Panics
/// If a buffer's length does not match `width` and `height`.
pub fn comparison_panel(
    image_rgb: &[u8],
    width: u32,
    height: u32,
    truth: &[bool],
    pred: &[bool],
    fov: Option<&[bool]>,
) -> RgbImage {
    let gray = |m: &[bool]| {
        RgbImage::from_fn(width, height, |x, y| {
            let v = if m[(y * width + x) as usize] { 255 } else { 0 };
            image::Rgb([v, v, v])
        })
    };
    let image = RgbImage::from_fn(width, height, |x, y| {
        let i = 3 * (y * width + x) as usize;
        image::Rgb([image_rgb[i], image_rgb[i + 1], image_rgb[i + 2]])
    });
    panel(&[
        ("image", image),
        ("truth", gray(truth)),
        ("prediction", gray(pred)),
        ("errors", super::error_map(pred, truth, fov, width, height)),
    ])
}
