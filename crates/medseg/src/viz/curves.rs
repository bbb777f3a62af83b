//! ROC and precision-recall curve points for plots, from the metrics' probability histogram
//! ([`ScoreHistogram`]): one point per distinct probability value (the same counts the exact
//! ROC-AUC and average precision come from), thinned to a budget of points for drawing.

use crate::metrics::ScoreHistogram;

/// ROC curve points `(false positive rate, true positive rate)`, from `(0, 0)` up to `(1, 1)`,
/// one per distinct probability value, thinned to at most `max(max_points, 2)` points (the first
/// and last are always kept). Empty when there are no positive or no negative pixels, where the
/// curve is undefined.
pub fn roc_points(histogram: &ScoreHistogram, max_points: usize) -> Vec<(f64, f64)> {
    let (p, n) = (histogram.positives(), histogram.negatives());
    if p == 0 || n == 0 {
        return Vec::new();
    }
    let (p, n) = (p as f64, n as f64);
    let mut points = vec![(0.0, 0.0)];
    points.extend(
        histogram
            .cumulative_counts()
            .map(|(tp, fp)| (fp as f64 / n, tp as f64 / p)),
    );
    thin(points, max_points)
}

/// Precision-recall curve points `(recall, precision)`, starting at `(0, 1)` (the usual
/// convention, as in scikit-learn) and then one per distinct probability value from the highest
/// threshold down, ending at recall 1 with precision equal to the positive fraction. Thinned to
/// at most `max(max_points, 2)` points. Empty when there are no positive pixels.
pub fn pr_points(histogram: &ScoreHistogram, max_points: usize) -> Vec<(f64, f64)> {
    let p = histogram.positives();
    if p == 0 {
        return Vec::new();
    }
    let p = p as f64;
    let mut points = vec![(0.0, 1.0)];
    points.extend(
        histogram
            .cumulative_counts()
            .map(|(tp, fp)| (tp as f64 / p, tp as f64 / (tp + fp) as f64)),
    );
    thin(points, max_points)
}

/// Keeps at most `max(max_points, 2)` points, evenly spaced by index, first and last included.
fn thin(points: Vec<(f64, f64)>, max_points: usize) -> Vec<(f64, f64)> {
    let m = max_points.max(2);
    let n = points.len();
    if n <= m {
        return points;
    }
    (0..m)
        .map(|i| points[(i * (n - 1) + (m - 1) / 2) / (m - 1)])
        .collect()
}
