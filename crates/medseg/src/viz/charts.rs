//! Charts written as PNG files: ROC curve, precision-recall curve and training curves.
//!
//! Drawn with `plotters`' bitmap backend into memory, then written with
//! [`save_png`] (atomic, parent folders created). Text uses the embedded
//! DejaVu Sans, so no system fonts are needed. Non-finite values are left out of every series.

use std::io;
use std::ops::Range;
use std::path::Path;

use image::RgbImage;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::font::{FAMILY, ensure_fonts};
use super::save_png;
use crate::{Error, Result};

/// Size `(width, height)` in pixels of [`roc_curve`] and [`pr_curve`] charts.
pub const CURVE_CHART_SIZE: (u32, u32) = (640, 640);
/// Size `(width, height)` in pixels of [`training_curves`] charts.
pub const TRAINING_CHART_SIZE: (u32, u32) = (960, 900);

/// One epoch of a training log, as plotted by [`training_curves`].
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRow {
    /// Epoch number (any base; the x axis shows it as given).
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Validation loss, when validation ran this epoch.
    pub val_loss: Option<f64>,
    /// Validation F1 (Dice) in `[0, 1]`, when validation ran this epoch.
    pub val_f1: Option<f64>,
    /// Learning rate used during the epoch.
    pub lr: f64,
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type DrawResult = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

const TITLE_SIZE: f64 = 26.0;
const AXIS_DESC_SIZE: f64 = 19.0;
const LABEL_SIZE: f64 = 15.0;
const LEGEND_SIZE: f64 = 16.0;
const CURVE_COLOR: RGBColor = RGBColor(31, 119, 180);
const SECOND_COLOR: RGBColor = RGBColor(255, 127, 14);
const THIRD_COLOR: RGBColor = RGBColor(44, 160, 44);
const CHANCE_COLOR: RGBColor = RGBColor(150, 150, 150);

/// Writes a ROC curve (`points` as `(false positive rate, true positive rate)`, e.g. from
/// [`roc_points`](super::roc_points)) with the chance diagonal and `auc` in the title and legend,
/// as a [`CURVE_CHART_SIZE`] PNG at `path`.
///
/// # Errors
/// [`Error::Io`] naming `path` if drawing or writing fails.
pub fn roc_curve(points: &[(f64, f64)], auc: f64, path: impl AsRef<Path>) -> Result<()> {
    render(path.as_ref(), CURVE_CHART_SIZE, |root| {
        let mut chart = unit_square_chart(
            root,
            &format!("ROC curve (AUC = {})", score(auc)),
            "False positive rate",
            "True positive rate",
        )?;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                CHANCE_COLOR.stroke_width(1),
            ))?
            .label("chance")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], CHANCE_COLOR));
        chart
            .draw_series(LineSeries::new(finite(points), CURVE_COLOR.stroke_width(2)))?
            .label(format!("model (AUC = {})", score(auc)))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], CURVE_COLOR.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    })
}

/// Writes a precision-recall curve (`points` as `(recall, precision)`, e.g. from
/// [`pr_points`](super::pr_points)) with `ap` (average precision) in the title and legend, as a
/// [`CURVE_CHART_SIZE`] PNG at `path`.
///
/// # Errors
/// [`Error::Io`] naming `path` if drawing or writing fails.
pub fn pr_curve(points: &[(f64, f64)], ap: f64, path: impl AsRef<Path>) -> Result<()> {
    render(path.as_ref(), CURVE_CHART_SIZE, |root| {
        let mut chart = unit_square_chart(
            root,
            &format!("Precision-recall curve (AP = {})", score(ap)),
            "Recall",
            "Precision",
        )?;
        chart
            .draw_series(LineSeries::new(finite(points), CURVE_COLOR.stroke_width(2)))?
            .label(format!("model (AP = {})", score(ap)))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], CURVE_COLOR.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::LowerLeft)
    })
}

/// Writes training curves as a [`TRAINING_CHART_SIZE`] PNG at `path`, three panels against the
/// epoch: training and validation loss (with a legend), validation F1 on `[0, 1]`, and the
/// learning rate. Rows may come in any order; `None` values and non-finite numbers are skipped.
/// An empty `rows` gives empty axes.
///
/// # Errors
/// [`Error::Io`] naming `path` if drawing or writing fails.
pub fn training_curves(rows: &[EpochRow], path: impl AsRef<Path>) -> Result<()> {
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| r.epoch);
    let epochs = epoch_range(&rows);
    let train = finite_by(&rows, |r| Some(r.train_loss));
    let val = finite_by(&rows, |r| r.val_loss);
    let f1 = finite_by(&rows, |r| r.val_f1);
    let lr = finite_by(&rows, |r| Some(r.lr));
    let loss_range = value_range(train.iter().chain(&val).map(|p| p.1));
    let lr_range = value_range(lr.iter().map(|p| p.1));
    let marks = point_size(rows.len());

    render(path.as_ref(), TRAINING_CHART_SIZE, |root| {
        let body = root.titled("Training curves", (FAMILY, TITLE_SIZE))?;
        let panels = body.split_evenly((3, 1));
        let [loss_area, f1_area, lr_area] = panels.as_slice() else {
            return Err("expected three panels".into());
        };

        let mut losses = epoch_chart(loss_area, epochs.clone(), loss_range, "Loss", 3)?;
        losses
            .draw_series(LineSeries::new(train, CURVE_COLOR.stroke_width(2)).point_size(marks))?
            .label("train loss")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], CURVE_COLOR.stroke_width(2)));
        if !val.is_empty() {
            losses
                .draw_series(LineSeries::new(val, SECOND_COLOR.stroke_width(2)).point_size(marks))?
                .label("validation loss")
                .legend(|(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], SECOND_COLOR.stroke_width(2))
                });
        }
        legend(&mut losses, SeriesLabelPosition::UpperRight)?;

        let mut scores = epoch_chart(f1_area, epochs.clone(), 0.0..1.0, "Validation F1", 1)?;
        scores.draw_series(LineSeries::new(f1, THIRD_COLOR.stroke_width(2)).point_size(marks))?;

        let mut rates = epoch_chart(lr_area, epochs, lr_range, "Learning rate", 0)?;
        rates.draw_series(LineSeries::new(lr, CHANCE_COLOR.stroke_width(2)))?;
        Ok(())
    })
}

/// A chart of one quantity against the epoch, with labelled axes. `decimals` formats the y
/// labels; 0 means scientific notation (for learning rates).
fn epoch_chart<'a, 'b>(
    area: &'a Area<'b>,
    epochs: Range<f64>,
    y_range: Range<f64>,
    y_desc: &str,
    decimals: usize,
) -> std::result::Result<
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    Box<dyn std::error::Error + Send + Sync>,
> {
    // integer epochs: at most 11 labels, so that none repeats after rounding
    let x_labels = ((epochs.end - epochs.start).round() as usize + 1).clamp(2, 11);
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .margin_right(24)
        .x_label_area_size(44)
        .y_label_area_size(84)
        .build_cartesian_2d(epochs, y_range)?;
    let y_format = move |v: &f64| {
        if decimals == 0 {
            format!("{v:.1e}")
        } else {
            format!("{v:.decimals$}")
        }
    };
    chart
        .configure_mesh()
        .x_desc("Epoch")
        .y_desc(y_desc)
        .axis_desc_style((FAMILY, AXIS_DESC_SIZE))
        .label_style((FAMILY, LABEL_SIZE))
        .x_labels(x_labels)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&y_format)
        .y_labels(6)
        .light_line_style(WHITE)
        .draw()?;
    Ok(chart)
}

/// Draws into an in-memory RGB buffer of `size`, then saves it as a PNG at `path`.
fn render(path: &Path, size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> DrawResult) -> Result<()> {
    ensure_fonts()?;
    let drawing_failed = |e: Box<dyn std::error::Error + Send + Sync>| {
        Error::io(path, io::Error::other(format!("drawing chart: {e}")))
    };
    let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| drawing_failed(e.into()))?;
        draw(&root).map_err(drawing_failed)?;
        root.present().map_err(|e| drawing_failed(e.into()))?;
    }
    let img = RgbImage::from_raw(size.0, size.1, buf)
        .expect("the buffer was allocated as width * height * 3 bytes");
    save_png(&img, path)
}

/// A titled chart over `[0, 1] × [0, 1]` with labelled axes.
fn unit_square_chart<'a, 'b>(
    root: &'a Area<'b>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
) -> std::result::Result<
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    Box<dyn std::error::Error + Send + Sync>,
> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, TITLE_SIZE))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style((FAMILY, AXIS_DESC_SIZE))
        .label_style((FAMILY, LABEL_SIZE))
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .light_line_style(WHITE)
        .draw()?;
    Ok(chart)
}

/// Draws the series legend at `position`.
fn legend<'a, 'b: 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'b>, CT>,
    position: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(position)
        .margin(12)
        .label_font((FAMILY, LEGEND_SIZE))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// A score for titles: four decimals, or "n/a" when not finite.
fn score(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "n/a".to_string()
    }
}

fn finite(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect()
}

fn finite_by(rows: &[EpochRow], value: impl Fn(&EpochRow) -> Option<f64>) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|r| value(r).map(|v| (r.epoch as f64, v)))
        .filter(|(_, v)| v.is_finite())
        .collect()
}

/// The x range covering all epochs, at least one epoch wide.
fn epoch_range(rows: &[EpochRow]) -> Range<f64> {
    let lo = rows.iter().map(|r| r.epoch).min().unwrap_or(0) as f64;
    let hi = rows.iter().map(|r| r.epoch).max().unwrap_or(1) as f64;
    lo..hi.max(lo + 1.0)
}

/// A y range from `min(0, values)` to 5% above the largest value; `0..1` without values.
fn value_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values.fold((0.0f64, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !hi.is_finite() || hi <= lo {
        return lo..lo + 1.0;
    }
    lo..hi + 0.05 * (hi - lo)
}

/// Point markers help with a few epochs and clutter many.
fn point_size(epochs: usize) -> u32 {
    if epochs <= 40 { 3 } else { 0 }
}
