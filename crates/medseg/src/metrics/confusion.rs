//! Confusion counts of a binary segmentation, optionally restricted to a field of view.

use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

use super::check_lengths;

/// True/false positive/negative pixel counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Predicted positive, truly positive.
    pub tp: u64,
    /// Predicted positive, truly negative.
    pub fp: u64,
    /// Predicted negative, truly negative.
    pub tn: u64,
    /// Predicted negative, truly positive (`fn` is a keyword).
    pub fn_: u64,
}

impl Confusion {
    /// Counts from binary predictions; pixels where `fov` is `false` are ignored.
    ///
    /// Errors with [`crate::Error::InvalidInput`] if the lengths differ.
    pub fn from_masks(pred: &[bool], truth: &[bool], fov: Option<&[bool]>) -> crate::Result<Self> {
        check_lengths(pred.len(), truth, fov)?;
        let mut c = Confusion::default();
        let mut add = |p: bool, t: bool| match (p, t) {
            (true, true) => c.tp += 1,
            (true, false) => c.fp += 1,
            (false, false) => c.tn += 1,
            (false, true) => c.fn_ += 1,
        };
        match fov {
            None => pred.iter().zip(truth).for_each(|(&p, &t)| add(p, t)),
            Some(fov) => pred
                .iter()
                .zip(truth)
                .zip(fov)
                .filter(|(_, inside)| **inside)
                .for_each(|((&p, &t), _)| add(p, t)),
        }
        Ok(c)
    }

    /// Counts from probabilities: a pixel is predicted positive when `prob >= threshold`
    /// (the comparison `roc_curve` uses). Pixels where `fov` is `false` are ignored. A NaN
    /// probability is never positive; [`super::ScoreHistogram`] rejects NaN.
    ///
    /// Errors with [`crate::Error::InvalidInput`] if the lengths differ.
    pub fn from_probabilities(
        prob: &[f32],
        truth: &[bool],
        fov: Option<&[bool]>,
        threshold: f32,
    ) -> crate::Result<Self> {
        check_lengths(prob.len(), truth, fov)?;
        let pred: Vec<bool> = prob.iter().map(|&p| p >= threshold).collect();
        Self::from_masks(&pred, truth, fov)
    }

    /// Number of counted pixels.
    pub fn total(&self) -> u64 {
        self.tp + self.fp + self.tn + self.fn_
    }

    /// Truly positive pixels (`tp + fn`).
    pub fn positives(&self) -> u64 {
        self.tp + self.fn_
    }

    /// Truly negative pixels (`tn + fp`).
    pub fn negatives(&self) -> u64 {
        self.tn + self.fp
    }
}

impl Add for Confusion {
    type Output = Confusion;

    fn add(self, o: Confusion) -> Confusion {
        Confusion {
            tp: self.tp + o.tp,
            fp: self.fp + o.fp,
            tn: self.tn + o.tn,
            fn_: self.fn_ + o.fn_,
        }
    }
}

impl AddAssign for Confusion {
    fn add_assign(&mut self, o: Confusion) {
        *self = *self + o;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_cell_and_respects_the_fov() {
        let pred = [true, true, false, false, true];
        let truth = [true, false, false, true, true];
        let c = Confusion::from_masks(&pred, &truth, None).unwrap();
        assert_eq!(
            c,
            Confusion {
                tp: 2,
                fp: 1,
                tn: 1,
                fn_: 1
            }
        );
        let fov = [true, true, true, true, false];
        let c = Confusion::from_masks(&pred, &truth, Some(&fov)).unwrap();
        assert_eq!(
            c,
            Confusion {
                tp: 1,
                fp: 1,
                tn: 1,
                fn_: 1
            }
        );
        assert_eq!(c.total(), 4);
        assert_eq!(
            c + c,
            Confusion {
                tp: 2,
                fp: 2,
                tn: 2,
                fn_: 2
            }
        );
    }

    #[test]
    fn threshold_is_inclusive() {
        let c = Confusion::from_probabilities(&[0.5, 0.49, 1.0], &[true, true, false], None, 0.5)
            .unwrap();
        assert_eq!(
            c,
            Confusion {
                tp: 1,
                fp: 1,
                tn: 0,
                fn_: 1
            }
        );
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let e = Confusion::from_masks(&[true], &[true, false], None).unwrap_err();
        assert!(e.to_string().contains("truth has 2"), "{e}");
        let e = Confusion::from_masks(&[true], &[true], Some(&[])).unwrap_err();
        assert!(e.to_string().contains("FOV mask has 0"), "{e}");
    }
}
