//! Two training recipes compared over repeated runs (`medseg compare`): each recipe ("arm") is
//! several [`MetricReport`]s of the same test images (one per seed). The arms' scores are
//! summarised over runs ([`Spread`]), and the runs of each arm are averaged per image and the
//! two arms paired by image for a Wilcoxon signed-rank test.
//!
//! The verdict follows the rule of docs/claims.md: a difference counts only when it exceeds the
//! seed spread (the larger of the two arms' ranges over runs) **and** the paired test rejects
//! equality at the chosen level. One run per arm decides nothing.

use std::collections::BTreeMap;

use serde::Serialize;

use super::report::{MetricReport, Scores};
use super::stats::{Spread, Wilcoxon, wilcoxon_signed_rank};
use crate::{Error, Result};

/// Which aggregate of a run is its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregate {
    /// Mean over test images (the lesion tables' Dice).
    Mean,
    /// Pooled over all test pixels (the vessel tables' F1).
    Pooled,
}

/// One arm: its name and its runs' scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arm {
    /// Name shown in reports.
    pub name: String,
    /// Each run's score (the chosen aggregate of the chosen metric).
    pub runs: Vec<f64>,
    /// Their spread.
    pub spread: Spread,
}

/// What the comparison concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// B's mean exceeds A's by more than the seed spread and the paired test rejects equality.
    BBetter,
    /// The same with A ahead.
    ABetter,
    /// Several runs per arm, but the difference is within the seed spread or not significant.
    NoDifferenceShown,
    /// An arm has a single run, so the seed spread is unknown.
    OneRunPerArm,
}

impl Verdict {
    /// A sentence for reports.
    pub fn describe(self, a: &str, b: &str, alpha: f64) -> String {
        match self {
            Verdict::BBetter => format!(
                "{b} better than {a} (the difference exceeds the seed spread and p < {alpha})"
            ),
            Verdict::ABetter => format!(
                "{a} better than {b} (the difference exceeds the seed spread and p < {alpha})"
            ),
            Verdict::NoDifferenceShown => {
                format!("no difference shown (within the seed spread, or p >= {alpha})")
            }
            Verdict::OneRunPerArm => {
                "not decidable: an arm has one run, so the seed spread is unknown".to_string()
            }
        }
    }
}

/// The whole comparison; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Metric name (one of [`Scores::NAMES`]).
    pub metric: String,
    /// Which aggregate scores a run.
    pub aggregate: Aggregate,
    /// Significance level of the paired test.
    pub alpha: f64,
    /// Arm A.
    pub a: Arm,
    /// Arm B.
    pub b: Arm,
    /// B's mean over runs minus A's.
    pub difference: f64,
    /// The larger of the two arms' ranges over runs (0 when an arm has one run).
    pub seed_spread: f64,
    /// Test images paired.
    pub images: usize,
    /// Images where B's per-image score (averaged over its runs) is higher than A's.
    pub b_higher: usize,
    /// Images where it is lower.
    pub b_lower: usize,
    /// Wilcoxon signed-rank test on the per-image differences B - A.
    pub wilcoxon: Wilcoxon,
    /// The conclusion.
    pub verdict: Verdict,
}

/// Compares arm A (`a`: one report per run) with arm B on `metric` (one of [`Scores::NAMES`],
/// or `dice` for `f1` and `jaccard` for `iou`).
///
/// Errors ([`Error::InvalidInput`]) on an unknown metric, an empty arm, a metric undefined in
/// some report, or runs that do not score the same set of image IDs.
pub fn compare(
    a: (&str, &[MetricReport]),
    b: (&str, &[MetricReport]),
    metric: &str,
    aggregate: Aggregate,
    alpha: f64,
) -> Result<Comparison> {
    let metric = match metric {
        "dice" => "f1",
        "jaccard" => "iou",
        other => other,
    };
    let index = Scores::NAMES
        .iter()
        .position(|n| *n == metric)
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "unknown metric '{metric}' (expected one of {})",
                Scores::NAMES.join(", ")
            ))
        })?;
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(Error::InvalidInput(format!(
            "the significance level must lie in (0, 1), got {alpha}"
        )));
    }
    let value = |s: &Scores, what: &str| {
        s.values()[index]
            .ok_or_else(|| Error::InvalidInput(format!("{metric} is undefined for {what}")))
    };
    let reference: Vec<&str> = match a.1.first().or(b.1.first()) {
        Some(r) => r.images.iter().map(|i| i.id.as_str()).collect(),
        None => return Err(Error::InvalidInput("both arms are empty".into())),
    };
    let mut sorted_ref = reference.clone();
    sorted_ref.sort_unstable();
    let arm = |(name, runs): (&str, &[MetricReport])| -> Result<(Arm, BTreeMap<String, f64>)> {
        if runs.is_empty() {
            return Err(Error::InvalidInput(format!("arm {name} has no runs")));
        }
        let mut scores = Vec::with_capacity(runs.len());
        let mut per_image: BTreeMap<String, f64> = BTreeMap::new();
        for (r, run) in runs.iter().enumerate() {
            let mut ids: Vec<&str> = run.images.iter().map(|i| i.id.as_str()).collect();
            ids.sort_unstable();
            if ids != sorted_ref {
                return Err(Error::InvalidInput(format!(
                    "run {} of arm {name} scores other images than the first run compared \
                     ({} against {} images; the first difference: {})",
                    r + 1,
                    ids.len(),
                    sorted_ref.len(),
                    first_difference(&ids, &sorted_ref)
                )));
            }
            let aggregate_scores = match aggregate {
                Aggregate::Mean => &run.mean,
                Aggregate::Pooled => &run.pooled,
            };
            scores.push(value(
                aggregate_scores,
                &format!("run {} of arm {name}", r + 1),
            )?);
            for image in &run.images {
                let v = value(&image.scores, &format!("image {} of arm {name}", image.id))?;
                *per_image.entry(image.id.clone()).or_default() += v / runs.len() as f64;
            }
        }
        let spread = Spread::of(&scores)?.expect("an arm has at least one run");
        Ok((
            Arm {
                name: name.to_string(),
                runs: scores,
                spread,
            },
            per_image,
        ))
    };
    let (arm_a, images_a) = arm(a)?;
    let (arm_b, images_b) = arm(b)?;
    let differences: Vec<f64> = images_a.iter().map(|(id, va)| images_b[id] - va).collect();
    let wilcoxon = wilcoxon_signed_rank(&differences)?;
    let difference = arm_b.spread.mean - arm_a.spread.mean;
    let one_run = arm_a.spread.n < 2 || arm_b.spread.n < 2;
    let seed_spread = arm_a.spread.range().max(arm_b.spread.range());
    let verdict = if one_run {
        Verdict::OneRunPerArm
    } else if difference.abs() > seed_spread && wilcoxon.p_value < alpha {
        if difference > 0.0 {
            Verdict::BBetter
        } else {
            Verdict::ABetter
        }
    } else {
        Verdict::NoDifferenceShown
    };
    Ok(Comparison {
        metric: metric.to_string(),
        aggregate,
        alpha,
        difference,
        seed_spread,
        images: differences.len(),
        b_higher: differences.iter().filter(|d| **d > 0.0).count(),
        b_lower: differences.iter().filter(|d| **d < 0.0).count(),
        wilcoxon,
        verdict,
        a: arm_a,
        b: arm_b,
    })
}

fn first_difference(ids: &[&str], reference: &[&str]) -> String {
    if let Some(id) = ids.iter().find(|id| reference.binary_search(id).is_err()) {
        return format!("image '{id}' is not in the first run");
    }
    match reference.iter().find(|id| ids.binary_search(id).is_err()) {
        Some(id) => format!("image '{id}' is missing"),
        None => "duplicate image IDs".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::report::ImageScores;

    fn scores(f1: f64) -> Scores {
        Scores {
            f1,
            iou: f1,
            sensitivity: f1,
            specificity: f1,
            precision: f1,
            accuracy: f1,
            auc: None,
            ap: None,
        }
    }

    fn report(values: &[f64]) -> MetricReport {
        let images: Vec<ImageScores> = values
            .iter()
            .enumerate()
            .map(|(i, v)| ImageScores {
                id: format!("{i:02}"),
                scores: scores(*v),
            })
            .collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        MetricReport {
            threshold: 0.5,
            images,
            mean: scores(mean),
            pooled: scores(mean),
        }
    }

    #[test]
    fn a_clear_gain_is_found_and_a_small_one_is_not() {
        let base: Vec<f64> = (0..12).map(|i| 0.70 + 0.01 * i as f64).collect();
        let shifted = |d: f64, j: f64| -> Vec<f64> {
            base.iter()
                .enumerate()
                .map(|(i, v)| v + d + j * (i % 3) as f64)
                .collect()
        };
        let a = [
            report(&base),
            report(&shifted(0.001, 0.0)),
            report(&shifted(-0.001, 0.0)),
        ];
        let b = [
            report(&shifted(0.05, 0.001)),
            report(&shifted(0.051, 0.0)),
            report(&shifted(0.049, 0.002)),
        ];
        let c = compare(("a", &a), ("b", &b), "dice", Aggregate::Mean, 0.05).unwrap();
        assert_eq!(c.verdict, Verdict::BBetter);
        assert_eq!(c.metric, "f1");
        assert_eq!((c.images, c.b_higher, c.b_lower), (12, 12, 0));
        assert!(c.difference > 0.04 && c.seed_spread < 0.01);
        let swapped = compare(("b", &b), ("a", &a), "f1", Aggregate::Mean, 0.05).unwrap();
        assert_eq!(swapped.verdict, Verdict::ABetter);
        // Within the seed spread: no difference shown, whatever the test says.
        let c2 = [
            report(&shifted(0.003, 0.0)),
            report(&shifted(-0.004, 0.0)),
            report(&shifted(0.002, 0.0)),
        ];
        let c = compare(("a", &a), ("c", &c2), "f1", Aggregate::Pooled, 0.05).unwrap();
        assert_eq!(c.verdict, Verdict::NoDifferenceShown);
        let one = compare(("a", &a[..1]), ("b", &b), "f1", Aggregate::Mean, 0.05).unwrap();
        assert_eq!(one.verdict, Verdict::OneRunPerArm);
    }

    #[test]
    fn mismatched_images_and_bad_arguments_are_errors() {
        let a = [report(&[0.5, 0.6, 0.7])];
        let b = [report(&[0.5, 0.6])];
        let e = compare(("a", &a), ("b", &b), "f1", Aggregate::Mean, 0.05).unwrap_err();
        assert!(e.to_string().contains("image '02' is missing"), "{e}");
        let e = compare(("a", &a), ("a2", &a), "hd95", Aggregate::Mean, 0.05).unwrap_err();
        assert!(e.to_string().contains("unknown metric 'hd95'"), "{e}");
        let e = compare(("a", &a), ("a2", &a), "auc", Aggregate::Mean, 0.05).unwrap_err();
        assert!(e.to_string().contains("auc is undefined"), "{e}");
        assert!(compare(("a", &a), ("b", &[]), "f1", Aggregate::Mean, 0.05).is_err());
        assert!(compare(("a", &a), ("a2", &a), "f1", Aggregate::Mean, 1.5).is_err());
    }
}
