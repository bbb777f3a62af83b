//! ROC and precision-recall curve points for plots, from a probability histogram.
//!
//! Probabilities are counted into [`HISTOGRAM_BINS`] equal bins over `[0, 1]` (one pass, no
//! sort), and each bin edge is a threshold: "positive" means "in this bin or a higher one". That
//! is exact for probabilities quantised to 8 bits (`k / 255` land in distinct bins) and within
//! 1/1024 in threshold otherwise. These points are for pictures only: exact ROC-AUC and average
//! precision come from [`crate::metrics`].

/// Number of histogram bins the curve helpers use.
pub const HISTOGRAM_BINS: usize = 1024;

/// ROC curve points `(false positive rate, true positive rate)`, from `(0, 0)` up to `(1, 1)`,
/// one per non-empty histogram bin, thinned to at most `max(max_points, 2)` points (the first
/// and last are always kept).
///
/// Only pixels inside `fov` count when it is given. Probabilities are clamped to `[0, 1]`; NaN
/// counts as 0. Returns an empty vector when there are no positive or no negative pixels, where
/// the curve is undefined.
///
/// # Panics
/// If `truth` or `fov` is not as long as `probs`.
pub fn roc_points(
    probs: &[f32],
    truth: &[bool],
    fov: Option<&[bool]>,
    max_points: usize,
) -> Vec<(f64, f64)> {
    let h = Histogram::new(probs, truth, fov);
    if h.positives == 0 || h.negatives == 0 {
        return Vec::new();
    }
    let (p, n) = (h.positives as f64, h.negatives as f64);
    let mut points = vec![(0.0, 0.0)];
    points.extend(
        h.cumulative()
            .map(|(tp, fp)| (fp as f64 / n, tp as f64 / p)),
    );
    thin(points, max_points)
}

/// Precision-recall curve points `(recall, precision)`, starting at `(0, 1)` (the usual
/// convention, as in scikit-learn) and then one per non-empty histogram bin from the highest
/// threshold down, ending at recall 1 with precision equal to the positive fraction. Thinned to
/// at most `max(max_points, 2)` points.
///
/// Only pixels inside `fov` count when it is given. Probabilities are clamped to `[0, 1]`; NaN
/// counts as 0. Returns an empty vector when there are no positive pixels.
///
/// # Panics
/// If `truth` or `fov` is not as long as `probs`.
pub fn pr_points(
    probs: &[f32],
    truth: &[bool],
    fov: Option<&[bool]>,
    max_points: usize,
) -> Vec<(f64, f64)> {
    let h = Histogram::new(probs, truth, fov);
    if h.positives == 0 {
        return Vec::new();
    }
    let p = h.positives as f64;
    let mut points = vec![(0.0, 1.0)];
    points.extend(
        h.cumulative()
            .map(|(tp, fp)| (tp as f64 / p, tp as f64 / (tp + fp) as f64)),
    );
    thin(points, max_points)
}

/// Positive and negative counts per probability bin.
struct Histogram {
    pos: Vec<u64>,
    neg: Vec<u64>,
    positives: u64,
    negatives: u64,
}

impl Histogram {
    fn new(probs: &[f32], truth: &[bool], fov: Option<&[bool]>) -> Self {
        let n = probs.len();
        assert!(
            truth.len() == n,
            "curve truth has {} values but there are {n} probabilities",
            truth.len()
        );
        if let Some(fov) = fov {
            assert!(
                fov.len() == n,
                "curve FOV has {} values but there are {n} probabilities",
                fov.len()
            );
        }
        let mut pos = vec![0u64; HISTOGRAM_BINS];
        let mut neg = vec![0u64; HISTOGRAM_BINS];
        for (i, (&p, &t)) in probs.iter().zip(truth).enumerate() {
            if fov.is_some_and(|f| !f[i]) {
                continue;
            }
            let b = bin(p);
            if t {
                pos[b] += 1;
            } else {
                neg[b] += 1;
            }
        }
        let positives = pos.iter().sum();
        let negatives = neg.iter().sum();
        Self {
            pos,
            neg,
            positives,
            negatives,
        }
    }

    /// Cumulative `(tp, fp)` from the highest bin down, one item per non-empty bin.
    fn cumulative(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let (mut tp, mut fp) = (0u64, 0u64);
        (0..HISTOGRAM_BINS).rev().filter_map(move |b| {
            if self.pos[b] + self.neg[b] == 0 {
                return None;
            }
            tp += self.pos[b];
            fp += self.neg[b];
            Some((tp, fp))
        })
    }
}

/// The histogram bin of a probability: clamped to `[0, 1]`, NaN in bin 0, 1.0 in the top bin.
fn bin(p: f32) -> usize {
    if p.is_nan() {
        return 0;
    }
    ((p.clamp(0.0, 1.0) * HISTOGRAM_BINS as f32) as usize).min(HISTOGRAM_BINS - 1)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_bit_levels_get_distinct_bins() {
        let bins: Vec<usize> = (0..=255).map(|k| bin(k as f32 / 255.0)).collect();
        assert!(bins.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(bin(1.0), HISTOGRAM_BINS - 1);
        assert_eq!(bin(-3.0), 0);
        assert_eq!(bin(f32::NAN), 0);
    }

    #[test]
    fn thin_keeps_ends_and_count() {
        let pts: Vec<(f64, f64)> = (0..100).map(|i| (i as f64, 0.0)).collect();
        let t = thin(pts, 7);
        assert_eq!(t.len(), 7);
        assert_eq!(t[0].0, 0.0);
        assert_eq!(t[6].0, 99.0);
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(thin(vec![(0.0, 0.0); 3], 0).len(), 2);
    }

    #[test]
    fn ties_give_a_single_step() {
        let probs = [0.5f32; 4];
        let truth = [true, false, true, false];
        assert_eq!(
            roc_points(&probs, &truth, None, 100),
            vec![(0.0, 0.0), (1.0, 1.0)]
        );
        assert_eq!(
            pr_points(&probs, &truth, None, 100),
            vec![(0.0, 1.0), (1.0, 0.5)]
        );
    }
}
