//! Scores from confusion counts.
//!
//! # Zero denominators
//! Every score here is a ratio `good / (good + bad)`. When its denominator is zero, nothing
//! could be wrong, so the score is **1.0** (scikit-learn's `zero_division=1.0`):
//! - truth and prediction both empty: F1 = IoU = precision = sensitivity = 1;
//! - truth empty, prediction not: F1 = IoU = precision = 0, sensitivity = 1;
//! - prediction empty, truth not: F1 = IoU = sensitivity = 0, precision = 1;
//! - no negative pixel: specificity = 1; no pixel at all: every score is 1.
//!
//! So no score is ever NaN. (Ranking scores, which are undefined without both classes, are
//! `Option`s instead; see [`super::ranking`].)

use super::Confusion;

fn ratio(good: u64, bad: u64) -> f64 {
    if good + bad == 0 {
        1.0
    } else {
        good as f64 / (good + bad) as f64
    }
}

/// F1 score `2tp / (2tp + fp + fn)`, equal to the Dice coefficient of binary masks.
pub fn f1(c: &Confusion) -> f64 {
    ratio(2 * c.tp, c.fp + c.fn_)
}

/// Intersection over union (Jaccard index) `tp / (tp + fp + fn)`.
pub fn iou(c: &Confusion) -> f64 {
    ratio(c.tp, c.fp + c.fn_)
}

/// Sensitivity (recall, true-positive rate) `tp / (tp + fn)`.
pub fn sensitivity(c: &Confusion) -> f64 {
    ratio(c.tp, c.fn_)
}

/// Specificity (true-negative rate) `tn / (tn + fp)`.
pub fn specificity(c: &Confusion) -> f64 {
    ratio(c.tn, c.fp)
}

/// Precision (positive predictive value) `tp / (tp + fp)`.
pub fn precision(c: &Confusion) -> f64 {
    ratio(c.tp, c.fp)
}

/// Accuracy `(tp + tn) / total`.
pub fn accuracy(c: &Confusion) -> f64 {
    ratio(c.tp + c.tn, c.fp + c.fn_)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(tp: u64, fp: u64, tn: u64, fn_: u64) -> Confusion {
        Confusion { tp, fp, tn, fn_ }
    }

    #[test]
    fn perfect_disjoint_and_half_overlap() {
        let perfect = c(10, 0, 90, 0);
        for s in [f1, iou, sensitivity, specificity, precision, accuracy] {
            assert_eq!(s(&perfect), 1.0);
        }
        let disjoint = c(0, 10, 80, 10);
        assert_eq!((f1(&disjoint), iou(&disjoint)), (0.0, 0.0));
        // Prediction covers half of the truth and nothing else: Dice 2/3, IoU 1/2.
        let half = c(5, 0, 90, 5);
        assert!((f1(&half) - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(iou(&half), 0.5);
        assert_eq!(sensitivity(&half), 0.5);
        assert_eq!(precision(&half), 1.0);
        assert_eq!(accuracy(&half), 0.95);
    }

    #[test]
    fn zero_denominators_give_one_never_nan() {
        let both_empty = c(0, 0, 100, 0);
        for s in [f1, iou, sensitivity, specificity, precision, accuracy] {
            assert_eq!(s(&both_empty), 1.0);
        }
        let false_alarm = c(0, 3, 97, 0);
        assert_eq!((f1(&false_alarm), precision(&false_alarm)), (0.0, 0.0));
        assert_eq!(sensitivity(&false_alarm), 1.0);
        let missed = c(0, 0, 97, 3);
        assert_eq!(
            (f1(&missed), sensitivity(&missed), precision(&missed)),
            (0.0, 0.0, 1.0)
        );
        let nothing = Confusion::default();
        for s in [f1, iou, sensitivity, specificity, precision, accuracy] {
            assert_eq!(s(&nothing), 1.0);
        }
    }
}
