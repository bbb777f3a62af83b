//! Exact ROC-AUC and average precision, streamed over images.
//!
//! [`ScoreHistogram`] counts positive and negative pixels per **distinct** probability value
//! (a `BTreeMap` keyed by the value's order-preserving bit pattern). Both scores are exact
//! functions of these counts, tied values included, and histograms of several images merge by
//! adding counts. Memory is proportional to the number of distinct values: at most 256 for
//! 8-bit and 65 536 for 16-bit probability maps, however many pixels. For raw f32 maps it can
//! approach the pixel count (exactness first; quantise to 16 bits if that is too large).
//!
//! Definitions (scikit-learn 1.7):
//! - **ROC-AUC** = `roc_auc_score`: the area under the ROC curve, equal to the probability
//!   that a random positive pixel scores higher than a random negative one, ties counting ½:
//!   `Σ_v pos(v) · (neg(< v) + neg(v)/2) / (P · N)`, computed in exact integer arithmetic.
//!   Undefined (`None`) when the truth has no positive or no negative pixel (scikit-learn
//!   raises).
//! - **Average precision** = `average_precision_score`: `Σ_n (R_n - R_{n-1}) P_n` over the
//!   distinct thresholds in decreasing order, where a threshold `v` predicts `prob >= v`.
//!   Undefined (`None`) without positive pixels (recall is 0/0); equal to 1 when every pixel is
//!   positive.

use std::collections::BTreeMap;

use super::check_lengths;

/// Positive and negative counts per distinct probability value; see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScoreHistogram {
    /// Order-preserving key of the value → (positives, negatives).
    counts: BTreeMap<u32, (u64, u64)>,
    positives: u64,
    negatives: u64,
}

/// Maps an f32 (not NaN) to a `u32` with the same order; `-0.0` and `0.0` share a key.
fn key(value: f32) -> u32 {
    let bits = (value + 0.0).to_bits();
    if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

impl ScoreHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one pixel. Errors with [`crate::Error::InvalidInput`] on NaN.
    pub fn push(&mut self, prob: f32, positive: bool) -> crate::Result<()> {
        if prob.is_nan() {
            return Err(crate::Error::InvalidInput(
                "probability is NaN; scores need a total order".into(),
            ));
        }
        let entry = self.counts.entry(key(prob)).or_default();
        if positive {
            entry.0 += 1;
            self.positives += 1;
        } else {
            entry.1 += 1;
            self.negatives += 1;
        }
        Ok(())
    }

    /// Adds every pixel of an image (those inside `fov`, when given).
    ///
    /// Errors with [`crate::Error::InvalidInput`] if the lengths differ or a probability is NaN
    /// (the message gives its index); the histogram is then unchanged.
    pub fn extend(
        &mut self,
        prob: &[f32],
        truth: &[bool],
        fov: Option<&[bool]>,
    ) -> crate::Result<()> {
        check_lengths(prob.len(), truth, fov)?;
        if let Some(i) = prob.iter().position(|p| p.is_nan()) {
            return Err(crate::Error::InvalidInput(format!(
                "probability at pixel {i} is NaN"
            )));
        }
        for (i, (&p, &t)) in prob.iter().zip(truth).enumerate() {
            if fov.is_none_or(|f| f[i]) {
                self.push(p, t)?;
            }
        }
        Ok(())
    }

    /// Adds the counts of `other` (pooling two images or two shards of one).
    pub fn merge(&mut self, other: &ScoreHistogram) {
        for (&k, &(p, n)) in &other.counts {
            let e = self.counts.entry(k).or_default();
            e.0 += p;
            e.1 += n;
        }
        self.positives += other.positives;
        self.negatives += other.negatives;
    }

    /// Number of positive pixels added.
    pub fn positives(&self) -> u64 {
        self.positives
    }

    /// Number of negative pixels added.
    pub fn negatives(&self) -> u64 {
        self.negatives
    }

    /// Number of distinct probability values (the memory footprint).
    pub fn distinct_values(&self) -> usize {
        self.counts.len()
    }

    /// Cumulative `(true positives, false positives)` with each distinct value as the threshold
    /// (`prob >= v` predicts positive), from the highest value down: the exact points of the
    /// ROC and precision-recall curves.
    pub fn cumulative_counts(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let (mut tp, mut fp) = (0u64, 0u64);
        self.counts.values().rev().map(move |&(p, n)| {
            tp += p;
            fp += n;
            (tp, fp)
        })
    }

    /// Exact ROC-AUC; `None` unless both classes are present.
    pub fn roc_auc(&self) -> Option<f64> {
        if self.positives == 0 || self.negatives == 0 {
            return None;
        }
        // Twice the Mann-Whitney U: Σ pos(v) · (2 neg(< v) + neg(v)), exact in u128.
        let mut neg_below: u128 = 0;
        let mut twice_u: u128 = 0;
        for &(p, n) in self.counts.values() {
            twice_u += p as u128 * (2 * neg_below + n as u128);
            neg_below += n as u128;
        }
        let pairs = 2 * self.positives as u128 * self.negatives as u128;
        Some(twice_u as f64 / pairs as f64)
    }

    /// Average precision as scikit-learn computes it; `None` without positive pixels.
    pub fn average_precision(&self) -> Option<f64> {
        if self.positives == 0 {
            return None;
        }
        let (mut tp, mut fp) = (0u64, 0u64);
        let mut sum = 0.0;
        for &(p, n) in self.counts.values().rev() {
            tp += p;
            fp += n;
            if p > 0 {
                sum += p as f64 * (tp as f64 / (tp + fp) as f64);
            }
        }
        Some(sum / self.positives as f64)
    }
}

/// ROC-AUC of one image; `Ok(None)` unless both classes occur inside the FOV.
pub fn roc_auc(prob: &[f32], truth: &[bool], fov: Option<&[bool]>) -> crate::Result<Option<f64>> {
    let mut h = ScoreHistogram::new();
    h.extend(prob, truth, fov)?;
    Ok(h.roc_auc())
}

/// Average precision of one image; `Ok(None)` without positive pixels inside the FOV.
pub fn average_precision(
    prob: &[f32],
    truth: &[bool],
    fov: Option<&[bool]>,
) -> crate::Result<Option<f64>> {
    let mut h = ScoreHistogram::new();
    h.extend(prob, truth, fov)?;
    Ok(h.average_precision())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_preserves_order_and_merges_signed_zero() {
        let values = [
            f32::NEG_INFINITY,
            -1.0,
            -1e-30,
            0.0,
            1e-30,
            0.5,
            1.0,
            f32::INFINITY,
        ];
        for w in values.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(key(-0.0), key(0.0));
    }

    #[test]
    fn closed_form_cases() {
        let truth = [true, true, false, false];
        assert_eq!(
            roc_auc(&[0.9, 0.8, 0.2, 0.1], &truth, None).unwrap(),
            Some(1.0)
        );
        assert_eq!(
            roc_auc(&[0.1, 0.2, 0.8, 0.9], &truth, None).unwrap(),
            Some(0.0)
        );
        assert_eq!(roc_auc(&[0.5; 4], &truth, None).unwrap(), Some(0.5));
        assert_eq!(
            average_precision(&[0.5; 4], &truth, None).unwrap(),
            Some(0.5)
        );
        // One positive ranked first, one tied with a negative.
        let ap = average_precision(&[0.9, 0.4, 0.4, 0.1], &truth, None)
            .unwrap()
            .unwrap();
        assert!((ap - (0.5 * 1.0 + 0.5 * (2.0 / 3.0))).abs() < 1e-15);
    }

    #[test]
    fn undefined_cases_are_none() {
        assert_eq!(roc_auc(&[0.1, 0.9], &[false, false], None).unwrap(), None);
        assert_eq!(roc_auc(&[0.1, 0.9], &[true, true], None).unwrap(), None);
        assert_eq!(
            average_precision(&[0.1, 0.9], &[false, false], None).unwrap(),
            None
        );
        assert_eq!(
            average_precision(&[0.1, 0.9], &[true, true], None).unwrap(),
            Some(1.0)
        );
        assert_eq!(ScoreHistogram::new().roc_auc(), None);
    }

    #[test]
    fn merging_equals_pooling_and_nan_is_rejected() {
        let (p1, t1) = ([0.1f32, 0.7, 0.7, 0.3], [false, true, false, true]);
        let (p2, t2) = ([0.7f32, 0.2, 0.9], [true, false, true]);
        let mut a = ScoreHistogram::new();
        a.extend(&p1, &t1, None).unwrap();
        let mut b = ScoreHistogram::new();
        b.extend(&p2, &t2, None).unwrap();
        a.merge(&b);
        let mut all = ScoreHistogram::new();
        all.extend(
            &[p1.as_slice(), &p2].concat(),
            &[t1.as_slice(), &t2].concat(),
            None,
        )
        .unwrap();
        assert_eq!(a, all);
        assert_eq!(all.distinct_values(), 5);
        let e = all
            .extend(&[0.1, f32::NAN], &[true, false], None)
            .unwrap_err();
        assert!(e.to_string().contains("pixel 1"), "{e}");
        assert_eq!(a, all, "a failed extend leaves the histogram unchanged");
    }
}
