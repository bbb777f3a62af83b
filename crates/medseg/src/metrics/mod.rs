//! Segmentation metrics over plain slices (no burn): probabilities `&[f32]` in `[0, 1]`, truth
//! `&[bool]` and an optional field-of-view mask `&[bool]`, all in the same pixel order.
//!
//! - [`confusion`]: [`Confusion`] counts at a threshold (`prob >= threshold` is positive),
//!   counted inside the FOV only.
//! - [`scores`]: F1 (= Dice for binary masks), IoU, sensitivity, specificity, precision and
//!   accuracy from the counts, with one rule for zero denominators.
//! - [`ranking`]: exact ROC-AUC and average precision (scikit-learn's definitions, ties
//!   included) from a mergeable histogram of distinct probability values, so memory grows with
//!   the number of distinct values, not pixels.
//! - [`report`]: per-image scores, the two aggregates (mean over images, pooled over pixels) and
//!   the JSON/CSV/text report that `medseg score` and `medseg eval` write.
//! - [`surface`]: contour distances (HD95, mean contour distance), MONAI's definitions.
//! - [`classes`]: per-class reports of K-channel segmentations and the mean over classes.
//! - [`stats`]: the spread of a score over seeds and the Wilcoxon signed-rank test on paired
//!   per-image scores; [`compare`]: two recipes over several seeds each (`medseg compare`).
//!
//! Golden values: `tools/golden/gen_metrics.py` (scikit-learn), checked by
//! `crates/medseg/tests/golden_metrics.rs`; per-class values and contour distances by
//! `tools/golden/gen_multi_metrics.py` (MONAI, scikit-learn, SciPy) and
//! `crates/medseg/tests/golden_multi_metrics.rs`.

pub mod classes;
pub mod compare;
pub mod confusion;
pub mod ranking;
pub mod report;
pub mod scores;
pub mod stats;
pub mod surface;

pub use confusion::Confusion;
pub use ranking::{ScoreHistogram, average_precision, roc_auc};
pub use report::{ImageScores, MetricAccumulator, MetricReport, Scores};
pub use scores::{accuracy, f1, iou, precision, sensitivity, specificity};

/// Checks that `truth` (and `fov`, when given) have `len` pixels.
pub(crate) fn check_lengths(len: usize, truth: &[bool], fov: Option<&[bool]>) -> crate::Result<()> {
    if truth.len() != len {
        return Err(crate::Error::InvalidInput(format!(
            "prediction has {len} pixels but truth has {}",
            truth.len()
        )));
    }
    match fov {
        Some(f) if f.len() != len => Err(crate::Error::InvalidInput(format!(
            "prediction has {len} pixels but the FOV mask has {}",
            f.len()
        ))),
        _ => Ok(()),
    }
}
