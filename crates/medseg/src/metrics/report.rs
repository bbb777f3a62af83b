//! Per-image scores, the two aggregates and the report `medseg score` / `medseg eval` write.
//!
//! # JSON schema (stable)
//! ```json
//! {
//!   "threshold": 0.5,
//!   "images": [{"id": "01", "f1": 0.8, "iou": 0.67, "sensitivity": 0.79, "specificity": 0.98,
//!               "precision": 0.81, "accuracy": 0.96, "auc": 0.97, "ap": 0.89}],
//!   "mean":   {"f1": ..., "iou": ..., ..., "auc": ..., "ap": ...},
//!   "pooled": {"f1": ..., "iou": ..., ..., "auc": ..., "ap": ...}
//! }
//! ```
//! - `threshold`: a pixel is predicted positive when `prob >= threshold`.
//! - `images`: in the order they were added (`score` sorts them by ID).
//! - `mean`: the mean over images of each per-image value (macro average).
//! - `pooled`: the value computed once over all pixels of all images (micro average): summed
//!   confusion counts, and AUC/AP over the merged probability histogram.
//! - Only pixels inside the field-of-view mask count, when one is given.
//! - Counts-based scores are always numbers (zero denominators give 1, see
//!   [`super::scores`]). `auc` is `null` when an image (or the pool) lacks a class, `ap` is
//!   `null` without positive pixels; in `mean` they average the images where they are defined
//!   and are `null` if there are none. There is never a NaN.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{
    Confusion, ScoreHistogram, accuracy, check_lengths, f1, iou, precision, sensitivity,
    specificity,
};

/// The eight reported values of one image or one aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// F1 score (= Dice coefficient).
    pub f1: f64,
    /// Intersection over union (Jaccard).
    pub iou: f64,
    /// Sensitivity (recall).
    pub sensitivity: f64,
    /// Specificity.
    pub specificity: f64,
    /// Precision.
    pub precision: f64,
    /// Accuracy.
    pub accuracy: f64,
    /// ROC-AUC; `None` (JSON `null`) when undefined.
    pub auc: Option<f64>,
    /// Average precision; `None` (JSON `null`) when undefined.
    pub ap: Option<f64>,
}

impl Scores {
    /// Names of the values, in schema order (also the CSV/table column order).
    pub const NAMES: [&'static str; 8] = [
        "f1",
        "iou",
        "sensitivity",
        "specificity",
        "precision",
        "accuracy",
        "auc",
        "ap",
    ];

    /// Scores from confusion counts and a probability histogram of the same pixels.
    pub fn from_counts(confusion: &Confusion, histogram: &ScoreHistogram) -> Self {
        Scores {
            f1: f1(confusion),
            iou: iou(confusion),
            sensitivity: sensitivity(confusion),
            specificity: specificity(confusion),
            precision: precision(confusion),
            accuracy: accuracy(confusion),
            auc: histogram.roc_auc(),
            ap: histogram.average_precision(),
        }
    }

    /// The values in [`Scores::NAMES`] order.
    pub fn values(&self) -> [Option<f64>; 8] {
        [
            Some(self.f1),
            Some(self.iou),
            Some(self.sensitivity),
            Some(self.specificity),
            Some(self.precision),
            Some(self.accuracy),
            self.auc,
            self.ap,
        ]
    }

    /// Mean over several scores; optional values average where defined. `None` if empty.
    pub fn mean<'a>(items: impl IntoIterator<Item = &'a Scores>) -> Option<Scores> {
        let items: Vec<&Scores> = items.into_iter().collect();
        if items.is_empty() {
            return None;
        }
        let n = items.len() as f64;
        let mean = |f: fn(&Scores) -> f64| items.iter().map(|s| f(s)).sum::<f64>() / n;
        let mean_defined = |f: fn(&Scores) -> Option<f64>| {
            let vals: Vec<f64> = items.iter().filter_map(|s| f(s)).collect();
            (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
        };
        Some(Scores {
            f1: mean(|s| s.f1),
            iou: mean(|s| s.iou),
            sensitivity: mean(|s| s.sensitivity),
            specificity: mean(|s| s.specificity),
            precision: mean(|s| s.precision),
            accuracy: mean(|s| s.accuracy),
            auc: mean_defined(|s| s.auc),
            ap: mean_defined(|s| s.ap),
        })
    }
}

/// The scores of one image, with its ID.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageScores {
    /// Case ID (file stem without dataset suffixes).
    pub id: String,
    /// Its scores (flattened into the same JSON object).
    #[serde(flatten)]
    pub scores: Scores,
}

/// A complete evaluation: per-image scores and both aggregates; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricReport {
    /// Probability threshold for the counts-based scores.
    pub threshold: f64,
    /// Per-image scores.
    pub images: Vec<ImageScores>,
    /// Mean over images (macro).
    pub mean: Scores,
    /// Over all pixels of all images (micro).
    pub pooled: Scores,
}

impl MetricReport {
    /// Pretty-printed JSON in the documented schema.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a MetricReport always serialises to JSON")
    }

    /// CSV with columns `row,id,f1,iou,sensitivity,specificity,precision,accuracy,auc,ap`:
    /// one `image` row per image, then a `mean` and a `pooled` row (empty `id`). Undefined
    /// values are empty cells; numbers use the shortest round-trip form.
    pub fn to_csv(&self) -> String {
        let rows: Vec<CsvRow> = self
            .images
            .iter()
            .map(|i| CsvRow::new("image", &i.id, &i.scores))
            .chain([
                CsvRow::new("mean", "", &self.mean),
                CsvRow::new("pooled", "", &self.pooled),
            ])
            .collect();
        let bytes = crate::durable::csv_bytes(&rows).expect("flat rows always serialise to CSV");
        String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
    }
}

/// One row of [`MetricReport::to_csv`].
#[derive(Serialize)]
struct CsvRow<'a> {
    row: &'a str,
    id: &'a str,
    f1: f64,
    iou: f64,
    sensitivity: f64,
    specificity: f64,
    precision: f64,
    accuracy: f64,
    auc: Option<f64>,
    ap: Option<f64>,
}

impl<'a> CsvRow<'a> {
    fn new(row: &'a str, id: &'a str, s: &Scores) -> Self {
        CsvRow {
            row,
            id,
            f1: s.f1,
            iou: s.iou,
            sensitivity: s.sensitivity,
            specificity: s.specificity,
            precision: s.precision,
            accuracy: s.accuracy,
            auc: s.auc,
            ap: s.ap,
        }
    }
}

/// A text table: one row per image, then the two labelled aggregates; `-` is undefined.
impl fmt::Display for MetricReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.images.len();
        let mean_label = format!("mean ({n} image{})", if n == 1 { "" } else { "s" });
        let pooled_label = "pooled (all pixels)".to_string();
        let width = self
            .images
            .iter()
            .map(|i| i.id.chars().count())
            .chain([mean_label.len(), pooled_label.len(), 2])
            .max()
            .unwrap_or(2);
        let row = |f: &mut fmt::Formatter<'_>, label: &str, s: &Scores| -> fmt::Result {
            write!(f, "{label:<width$}")?;
            for (name, v) in Scores::NAMES.iter().zip(s.values()) {
                let w = name.len().max(6);
                match v {
                    Some(v) => write!(f, "  {v:>w$.4}")?,
                    None => write!(f, "  {:>w$}", "-")?,
                }
            }
            writeln!(f)
        };
        write!(f, "{:<width$}", "id")?;
        for name in Scores::NAMES {
            write!(f, "  {name:>w$}", w = name.len().max(6))?;
        }
        writeln!(f)?;
        for img in &self.images {
            row(f, &img.id, &img.scores)?;
        }
        let rule = width
            + Scores::NAMES
                .iter()
                .map(|n| 2 + n.len().max(6))
                .sum::<usize>();
        writeln!(f, "{}", "-".repeat(rule))?;
        row(f, &mean_label, &self.mean)?;
        row(f, &pooled_label, &self.pooled)?;
        write!(
            f,
            "threshold {}: prob >= threshold is positive; mean = average of per-image values, \
             pooled = computed over all pixels at once",
            self.threshold
        )
    }
}

/// Builds a [`MetricReport`] image by image, keeping only counts: per-image confusion and
/// scores, the pooled confusion and the pooled probability histogram (bounded by the number of
/// distinct probability values, see [`super::ranking`]).
#[derive(Debug, Clone)]
pub struct MetricAccumulator {
    threshold: f64,
    images: Vec<ImageScores>,
    confusions: Vec<Confusion>,
    pooled_confusion: Confusion,
    pooled_histogram: ScoreHistogram,
}

impl MetricAccumulator {
    /// Starts an evaluation at `threshold`, which must lie in `[0, 1]`.
    pub fn new(threshold: f64) -> crate::Result<Self> {
        if !(0.0..=1.0).contains(&threshold) {
            return Err(crate::Error::InvalidConfig(format!(
                "threshold = {threshold} is invalid: must be in [0, 1]"
            )));
        }
        Ok(MetricAccumulator {
            threshold,
            images: Vec::new(),
            confusions: Vec::new(),
            pooled_confusion: Confusion::default(),
            pooled_histogram: ScoreHistogram::new(),
        })
    }

    /// Scores one image and adds it to the pool.
    ///
    /// Errors with [`crate::Error::InvalidInput`] (naming the image) if the lengths differ, a
    /// probability is NaN, the FOV mask selects no pixel, or the ID was already added.
    pub fn add_image(
        &mut self,
        id: impl Into<String>,
        prob: &[f32],
        truth: &[bool],
        fov: Option<&[bool]>,
    ) -> crate::Result<&ImageScores> {
        self.add_image_with_prediction(id, prob, None, truth, fov)
    }

    /// [`add_image`](Self::add_image) with the predicted mask given (`Some`) instead of
    /// `prob >= threshold`: a multi-class class mask is the argmax over the classes. AUC and
    /// AP still rank `prob`.
    pub fn add_image_with_prediction(
        &mut self,
        id: impl Into<String>,
        prob: &[f32],
        pred: Option<&[bool]>,
        truth: &[bool],
        fov: Option<&[bool]>,
    ) -> crate::Result<&ImageScores> {
        let id = id.into();
        let with_id = |e: crate::Error| match e {
            crate::Error::InvalidInput(msg) => {
                crate::Error::InvalidInput(format!("image '{id}': {msg}"))
            }
            other => other,
        };
        if self.images.iter().any(|i| i.id == id) {
            return Err(crate::Error::InvalidInput(format!(
                "image '{id}' was scored twice"
            )));
        }
        check_lengths(prob.len(), truth, fov).map_err(with_id)?;
        let mut histogram = ScoreHistogram::new();
        histogram.extend(prob, truth, fov).map_err(with_id)?;
        let confusion = match pred {
            None => Confusion::from_probabilities(prob, truth, fov, self.threshold as f32),
            Some(pred) => check_lengths(pred.len(), truth, fov)
                .and_then(|()| Confusion::from_masks(pred, truth, fov)),
        }
        .map_err(with_id)?;
        if confusion.total() == 0 {
            return Err(crate::Error::InvalidInput(format!(
                "image '{id}': the FOV mask selects no pixel"
            )));
        }
        self.pooled_confusion += confusion;
        self.pooled_histogram.merge(&histogram);
        self.confusions.push(confusion);
        self.images.push(ImageScores {
            id,
            scores: Scores::from_counts(&confusion, &histogram),
        });
        Ok(self.images.last().expect("just pushed"))
    }

    /// Number of images added.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether no image was added.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// Per-image confusion counts, in the order added.
    pub fn confusions(&self) -> &[Confusion] {
        &self.confusions
    }

    /// The pooled probability histogram over all images (ROC and PR curves, AUC, AP).
    pub fn pooled_histogram(&self) -> &ScoreHistogram {
        &self.pooled_histogram
    }

    /// Pooled confusion counts over all images.
    pub fn pooled_confusion(&self) -> Confusion {
        self.pooled_confusion
    }

    /// The report; errors with [`crate::Error::InvalidInput`] if no image was added.
    pub fn finish(self) -> crate::Result<MetricReport> {
        let mean = Scores::mean(self.images.iter().map(|i| &i.scores))
            .ok_or_else(|| crate::Error::InvalidInput("no images to score".into()))?;
        let pooled = Scores::from_counts(&self.pooled_confusion, &self.pooled_histogram);
        Ok(MetricReport {
            threshold: self.threshold,
            images: self.images,
            mean,
            pooled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> MetricReport {
        let mut acc = MetricAccumulator::new(0.5).unwrap();
        acc.add_image(
            "a",
            &[0.9, 0.2, 0.6, 0.1],
            &[true, false, true, false],
            None,
        )
        .unwrap();
        // Empty truth, empty prediction: counts-based scores are 1, AUC/AP undefined.
        acc.add_image("empty", &[0.1, 0.2], &[false, false], None)
            .unwrap();
        acc.finish().unwrap()
    }

    #[test]
    fn json_has_the_schema_keys_and_no_nan() {
        let r = report();
        let json = r.to_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["threshold"], 0.5);
        let img = &v["images"][1];
        assert_eq!(img["id"], "empty");
        assert_eq!(img["f1"], 1.0);
        assert!(img["auc"].is_null() && img["ap"].is_null());
        let keys: Vec<&str> = v["mean"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut expected = Scores::NAMES.to_vec();
        expected.sort();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort();
        assert_eq!(keys_sorted, expected);
        assert_eq!(
            v["mean"]["auc"], 1.0,
            "mean AUC averages the defined images only"
        );
        assert!(!json.contains("NaN"));
        let back: MetricReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn csv_and_table_label_both_aggregates() {
        let r = report();
        let csv = r.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "row,id,f1,iou,sensitivity,specificity,precision,accuracy,auc,ap"
        );
        assert_eq!(lines[2], "image,empty,1.0,1.0,1.0,1.0,1.0,1.0,,");
        assert!(lines[3].starts_with("mean,,") && lines[4].starts_with("pooled,,"));
        let table = r.to_string();
        assert!(table.contains("mean (2 images)") && table.contains("pooled (all pixels)"));
    }

    #[test]
    fn accumulator_rejects_bad_input_naming_the_image() {
        assert!(MetricAccumulator::new(1.5).is_err());
        let mut acc = MetricAccumulator::new(0.5).unwrap();
        let e = acc
            .add_image("x", &[0.1], &[true, false], None)
            .unwrap_err();
        assert!(e.to_string().contains("image 'x'"), "{e}");
        let e = acc
            .add_image("y", &[0.1, 0.2], &[true, false], Some(&[false, false]))
            .unwrap_err();
        assert!(e.to_string().contains("selects no pixel"), "{e}");
        acc.add_image("z", &[0.1], &[true], None).unwrap();
        assert!(acc.add_image("z", &[0.1], &[true], None).is_err());
        assert!(MetricAccumulator::new(0.5).unwrap().finish().is_err());
    }
}
