//! Statistics for comparing training recipes over repeated runs: the spread of a score over
//! seeds ([`Spread`]) and the Wilcoxon signed-rank test on paired per-image scores
//! ([`wilcoxon_signed_rank`]).
//!
//! The test follows `scipy.stats.wilcoxon` with its defaults (`zero_method="wilcox"`: zero
//! differences are dropped; two-sided; no continuity correction): the exact null distribution
//! when at most 50 differences remain and none are tied or zero, the normal approximation with
//! the tie correction otherwise. (Where there are ties or zeros and at most 13 differences,
//! SciPy runs a permutation test instead; we use the normal approximation there too, and say
//! so in [`Method`].) Golden values: `tools/golden/gen_stats.py` (SciPy), checked by
//! `crates/medseg/tests/golden_stats.rs`.

use serde::Serialize;

use crate::{Error, Result};

/// How a value varies over repeated runs (seeds) of one recipe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Number of runs.
    pub n: usize,
    /// Mean over runs.
    pub mean: f64,
    /// Sample standard deviation (n - 1 in the denominator); `None` for a single run.
    pub sd: Option<f64>,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when empty. Errors on a value that is not finite.
    pub fn of(values: &[f64]) -> Result<Option<Spread>> {
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "a run's score is not finite: {v}"
            )));
        }
        if values.is_empty() {
            return Ok(None);
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = (n > 1).then(|| {
            let ss: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
            (ss / (n - 1) as f64).sqrt()
        });
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Ok(Some(Spread {
            n,
            mean,
            sd,
            min,
            max,
        }))
    }

    /// Largest minus smallest value.
    pub fn range(&self) -> f64 {
        self.max - self.min
    }
}

/// Which null distribution gave the p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Exact distribution of the rank sum (no ties or zeros, at most 50 differences).
    Exact,
    /// Normal approximation with the tie correction, no continuity correction.
    Normal,
}

/// The result of [`wilcoxon_signed_rank`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Wilcoxon {
    /// Non-zero differences that entered the test.
    pub n: usize,
    /// Zero differences dropped.
    pub zeros: usize,
    /// Sum of the ranks of the positive differences.
    pub w_plus: f64,
    /// Sum of the ranks of the negative differences.
    pub w_minus: f64,
    /// The two-sided statistic, `min(w_plus, w_minus)` (SciPy's `statistic`).
    pub statistic: f64,
    /// Two-sided p-value; 1 when no non-zero difference is left.
    pub p_value: f64,
    /// How the p-value was computed.
    pub method: Method,
}

/// Largest number of differences for which the exact distribution is used (SciPy's rule).
pub const EXACT_MAX_N: usize = 50;

/// Two-sided Wilcoxon signed-rank test of `differences` (e.g. per-image score of recipe B
/// minus that of recipe A, paired by image) against a distribution symmetric about zero.
///
/// Errors on a difference that is not finite.
pub fn wilcoxon_signed_rank(differences: &[f64]) -> Result<Wilcoxon> {
    if let Some(d) = differences.iter().find(|d| !d.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "a paired difference is not finite: {d}"
        )));
    }
    let nonzero: Vec<f64> = differences.iter().copied().filter(|&d| d != 0.0).collect();
    let zeros = differences.len() - nonzero.len();
    let n = nonzero.len();
    if n == 0 {
        return Ok(Wilcoxon {
            n,
            zeros,
            w_plus: 0.0,
            w_minus: 0.0,
            statistic: 0.0,
            p_value: 1.0,
            method: Method::Normal,
        });
    }
    // Average ranks of |d| (ties share the mean of their ranks), and the tie groups' sizes.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| nonzero[a].abs().total_cmp(&nonzero[b].abs()));
    let mut ranks = vec![0.0; n];
    let mut tie_term = 0.0;
    let mut has_ties = false;
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && nonzero[order[end]].abs() == nonzero[order[start]].abs() {
            end += 1;
        }
        let t = (end - start) as f64;
        let rank = (start + end + 1) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        if end - start > 1 {
            has_ties = true;
            tie_term += t * t * t - t;
        }
        start = end;
    }
    let w_plus: f64 = (0..n).filter(|&i| nonzero[i] > 0.0).map(|i| ranks[i]).sum();
    let total = (n * (n + 1)) as f64 / 2.0;
    let w_minus = total - w_plus;

    let exact = !has_ties && zeros == 0 && differences.len() <= EXACT_MAX_N;
    let p_value = if exact {
        // w_plus is an integer here (no ties).
        let k = w_plus.round() as usize;
        let pmf = rank_sum_pmf(n);
        let cdf: f64 = pmf[..=k].iter().sum();
        let sf: f64 = pmf[k..].iter().sum();
        (2.0 * cdf.min(sf)).min(1.0)
    } else {
        let nf = n as f64;
        let mean = nf * (nf + 1.0) / 4.0;
        let var = (nf * (nf + 1.0) * (2.0 * nf + 1.0) - tie_term / 2.0) / 24.0;
        if var <= 0.0 {
            1.0
        } else {
            let z = (w_plus - mean) / var.sqrt();
            libm::erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
        }
    };
    Ok(Wilcoxon {
        n,
        zeros,
        w_plus,
        w_minus,
        statistic: w_plus.min(w_minus),
        p_value,
        method: if exact { Method::Exact } else { Method::Normal },
    })
}

/// Probability of each rank sum `0..=n(n+1)/2` when every sign of the ranks `1..=n` is a fair
/// coin: the number of subsets of `1..=n` with each sum, over `2^n`.
fn rank_sum_pmf(n: usize) -> Vec<f64> {
    let max = n * (n + 1) / 2;
    // Counts reach C(n, n/2)-sized numbers (about 1.3e14 for n = 50): exact in f64 (< 2^53).
    let mut counts = vec![0.0f64; max + 1];
    counts[0] = 1.0;
    for r in 1..=n {
        for s in (r..=r * (r + 1) / 2).rev() {
            counts[s] += counts[s - r];
        }
    }
    let total = 2f64.powi(n as i32);
    counts.iter().map(|c| c / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_three() {
        let s = Spread::of(&[0.80, 0.82, 0.81]).unwrap().unwrap();
        assert_eq!(s.n, 3);
        assert!((s.mean - 0.81).abs() < 1e-12);
        assert!((s.sd.unwrap() - 0.01).abs() < 1e-12);
        assert!((s.range() - 0.02).abs() < 1e-12);
        assert_eq!(Spread::of(&[0.5]).unwrap().unwrap().sd, None);
        assert!(Spread::of(&[]).unwrap().is_none());
        assert!(Spread::of(&[f64::NAN]).is_err());
    }

    #[test]
    fn pmf_sums_to_one_and_is_symmetric() {
        for n in [1, 5, 20, 50] {
            let pmf = rank_sum_pmf(n);
            assert!((pmf.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            for (a, b) in pmf.iter().zip(pmf.iter().rev()) {
                assert!((a - b).abs() < 1e-15);
            }
        }
        // n = 3: sums 0..6 have 1,1,1,2,1,1,1 subsets.
        let pmf = rank_sum_pmf(3);
        assert_eq!(
            pmf.iter().map(|p| p * 8.0).collect::<Vec<_>>(),
            [1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0]
        );
    }

    #[test]
    fn all_positive_differences_give_the_smallest_p() {
        let w = wilcoxon_signed_rank(&[0.1, 0.2, 0.3, 0.4, 0.5]).unwrap();
        assert_eq!(w.method, Method::Exact);
        assert_eq!((w.w_plus, w.w_minus, w.statistic), (15.0, 0.0, 0.0));
        assert!((w.p_value - 2.0 / 32.0).abs() < 1e-15);
    }

    #[test]
    fn no_differences_and_bad_values() {
        let w = wilcoxon_signed_rank(&[0.0, 0.0]).unwrap();
        assert_eq!((w.n, w.zeros, w.p_value), (0, 2, 1.0));
        assert!(wilcoxon_signed_rank(&[0.1, f64::INFINITY]).is_err());
    }
}
