//! Pictures people expect from a segmentation tool: overlays, error maps, probability and mask
//! PNGs, captioned montages, ROC / precision-recall curves and training curves.
//!
//! Everything here works on plain row-major buffers (no tensors): images are interleaved RGB
//! `u8` (`width * height * 3` values), masks are `bool` and probabilities `f32`, each
//! `width * height` long. Image builders return [`image`] buffers; save them with [`save_png`],
//! which writes atomically. Charts are drawn with `plotters`' bitmap backend and written to a PNG
//! path directly.
//!
//! Text (chart labels, panel captions) uses DejaVu Sans embedded in the binary through the
//! `dejavu` crate, so rendering needs no system fonts and downloads nothing.
//!
//! - [`maps`]: overlays ([`overlay`], [`overlay_outline`]), [`error_map`] and grey images
//!   ([`probability_png`], [`probability_png16`], [`mask_png`]).
//! - [`classes`]: several structures: [`class_overlay`] with a legend ([`with_legend`]) and
//!   [`label_map_png`].
//! - [`panel`](mod@panel): [`panel()`], a side-by-side montage with captions.
//! - [`curves`]: ROC and PR curve points from the metrics histogram ([`roc_points`], [`pr_points`]).
//! - [`charts`]: PNG charts ([`roc_curve`], [`pr_curve`], [`training_curves`]).
//! - [`save`]: atomic PNG writing ([`save_png`]) and in-memory encoding ([`encode_png`]).
//!
//! The builders in [`maps`] and [`panel`](mod@panel) panic when a buffer's length
//! does not match `width * height` (a caller bug, like an out-of-range slice index); each
//! documents this under `# Panics`. Functions that touch the file system return
//! [`crate::Result`] and their errors name the path.

pub mod charts;
pub mod classes;
pub mod curves;
mod font;
pub mod maps;
pub mod panel;
pub mod save;

pub use charts::{
    CURVE_CHART_SIZE, EpochRow, TRAINING_CHART_SIZE, pr_curve, roc_curve, training_curves,
};
pub use classes::{class_overlay, label_map_png, with_legend};
pub use curves::{pr_points, roc_points};
pub use maps::{
    ERROR_MAP_LEGEND, FALSE_NEGATIVE_COLOR, FALSE_POSITIVE_COLOR, Gray16Image, OUTSIDE_FOV_COLOR,
    TRUE_NEGATIVE_COLOR, TRUE_POSITIVE_COLOR, error_map, mask_png, overlay, overlay_outline,
    probability_png, probability_png16,
};
pub use panel::{PANEL_CAPTION_HEIGHT, PANEL_PADDING, comparison_panel, panel};
pub use save::{encode_png, save_png};

/// Panics with a message naming `what` when `len != width * height * channels`.
fn check_len(what: &str, len: usize, width: u32, height: u32, channels: usize) {
    let expected = width as usize * height as usize * channels;
    assert!(
        len == expected,
        "{what} has {len} values but a {width}x{height} image with {channels} channel(s) needs {expected}"
    );
}
