//! Per-class evaluation of K-channel segmentations (multi-label and multi-class; see
//! [`crate::data::labels`]).
//!
//! For each class: the eight scores of [`super::report`] (Dice = F1, IoU = Jaccard,
//! sensitivity, specificity, precision, accuracy, ROC-AUC, AP) per image, their mean over images
//! and their pooled value over all pixels, plus the contour distances of [`super::surface`]
//! (HD95 and mean contour distance, in pixels) per image and their mean over the images where
//! they are defined. Then the **mean over classes** of each class's mean and pooled values; in
//! multi-class mode the background (channel of label 0) is reported but left out of that mean,
//! as nnU-Net and MONAI's `include_background=False` do.
//!
//! A pixel of class k is predicted where `prob_k >= threshold` (multi-label: each channel on its
//! own, so structures may overlap) or where k is the argmax over the channels (multi-class,
//! ties to the lower channel; the threshold then plays no role). AUC and AP rank `prob_k`
//! (one-vs-rest).
//!
//! # JSON schema
//! ```json
//! {"mode": "multi-label", "threshold": 0.5,
//!  "classes": [{"name": "heart",
//!               "images": [{"id": "JPCLN001", "f1": ..., ..., "ap": ...,
//!                           "hd95": 3.2, "mean_contour_distance": 1.1}],
//!               "mean": {"f1": ..., ..., "hd95": ..., "mean_contour_distance": ...,
//!                        "distances_undefined": 0},
//!               "pooled": {"f1": ..., ..., "ap": ...}}],
//!  "mean_over_classes": {"classes": ["heart", ...], "mean": {...}, "pooled": {...}}}
//! ```
//! `hd95`/`mean_contour_distance` are `null` for an image where the prediction or the truth of
//! the class is empty; `distances_undefined` counts those images.

use serde::{Deserialize, Serialize};

use super::report::{ImageScores, MetricAccumulator, MetricReport, Scores};
use super::surface::contour_distances;
use crate::data::labels::{LabelMode, LabelsConfig};
use crate::{Error, Result};

/// One image's scores for one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassImageScores {
    /// Case ID.
    pub id: String,
    /// Counts and ranking scores.
    #[serde(flatten)]
    pub scores: Scores,
    /// 95th-percentile Hausdorff distance (pixels); `None` if a mask is empty.
    pub hd95: Option<f64>,
    /// Mean contour distance (pixels); `None` if a mask is empty.
    pub mean_contour_distance: Option<f64>,
}

/// Mean over images (or over classes) of the per-image values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassSummary {
    /// Mean scores.
    #[serde(flatten)]
    pub scores: Scores,
    /// Mean HD95 over the images where it is defined.
    pub hd95: Option<f64>,
    /// Mean contour distance over the images where it is defined.
    pub mean_contour_distance: Option<f64>,
    /// Images (or classes) without contour distances, left out of those means.
    pub distances_undefined: usize,
}

/// One class's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// Class name.
    pub name: String,
    /// Per image, in the order added.
    pub images: Vec<ClassImageScores>,
    /// Mean over images.
    pub mean: ClassSummary,
    /// Over all pixels of all images.
    pub pooled: Scores,
}

/// The mean over classes; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeanOverClasses {
    /// The classes averaged (multi-class: without the background).
    pub classes: Vec<String>,
    /// Mean over those classes of their mean-over-images values.
    pub mean: ClassSummary,
    /// Mean over those classes of their pooled values.
    pub pooled: Scores,
}

/// A per-class evaluation; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassesReport {
    /// Multi-label or multi-class.
    pub mode: LabelMode,
    /// The probability threshold (multi-label).
    pub threshold: f64,
    /// One report per class, in channel order.
    pub classes: Vec<ClassReport>,
    /// The mean over classes.
    pub mean_over_classes: MeanOverClasses,
}

impl ClassesReport {
    /// One class's scores as a binary [`MetricReport`] (per image, mean and pooled; the contour
    /// distances left out), for the tools that take one score per image (`medseg compare`).
    /// Unknown names are an error listing the classes.
    pub fn class(&self, name: &str) -> Result<MetricReport> {
        let c = self
            .classes
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "no class '{name}' in this report (its classes: {})",
                    self.names().join(", ")
                ))
            })?;
        Ok(MetricReport {
            threshold: self.threshold,
            images: c
                .images
                .iter()
                .map(|i| ImageScores {
                    id: i.id.clone(),
                    scores: i.scores,
                })
                .collect(),
            mean: c.mean.scores,
            pooled: c.pooled,
        })
    }

    /// The class names, in channel order.
    pub fn names(&self) -> Vec<&str> {
        self.classes.iter().map(|c| c.name.as_str()).collect()
    }

    /// Pretty-printed JSON in the documented schema.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a ClassesReport always serialises to JSON")
    }

    /// CSV with columns `class,row,id,f1,iou,sensitivity,specificity,precision,accuracy,auc,ap,
    /// hd95,mean_contour_distance`: per class one `image` row per image, then its `mean` and
    /// `pooled` rows (empty `id`); last the `mean` and `pooled` rows of the class
    /// `mean over classes`. Undefined values (and distances of pooled rows) are empty cells.
    pub fn to_csv(&self) -> String {
        let mut rows = Vec::new();
        for c in &self.classes {
            for i in &c.images {
                rows.push(ClassCsvRow::new(
                    &c.name,
                    "image",
                    &i.id,
                    &i.scores,
                    [i.hd95, i.mean_contour_distance],
                ));
            }
            rows.push(ClassCsvRow::new(
                &c.name,
                "mean",
                "",
                &c.mean.scores,
                [c.mean.hd95, c.mean.mean_contour_distance],
            ));
            rows.push(ClassCsvRow::new(
                &c.name,
                "pooled",
                "",
                &c.pooled,
                [None, None],
            ));
        }
        let m = &self.mean_over_classes;
        rows.push(ClassCsvRow::new(
            MEAN_OVER_CLASSES,
            "mean",
            "",
            &m.mean.scores,
            [m.mean.hd95, m.mean.mean_contour_distance],
        ));
        rows.push(ClassCsvRow::new(
            MEAN_OVER_CLASSES,
            "pooled",
            "",
            &m.pooled,
            [None, None],
        ));
        let bytes = crate::durable::csv_bytes(&rows).expect("flat rows always serialise to CSV");
        String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
    }

    /// A text table: one row per class (means over images), then the mean over classes.
    pub fn table(&self) -> String {
        let names = ["dice", "iou", "sens", "spec", "prec", "auc", "hd95", "mcd"];
        let width = self
            .classes
            .iter()
            .map(|c| c.name.len())
            .chain([17])
            .max()
            .unwrap_or(17);
        let mut out = format!("{:<width$}", "class");
        for n in names {
            out += &format!("  {n:>7}");
        }
        out.push('\n');
        let row = |label: &str, s: &ClassSummary| {
            let vals = [
                Some(s.scores.f1),
                Some(s.scores.iou),
                Some(s.scores.sensitivity),
                Some(s.scores.specificity),
                Some(s.scores.precision),
                s.scores.auc,
                s.hd95,
                s.mean_contour_distance,
            ];
            let mut line = format!("{label:<width$}");
            for v in vals {
                match v {
                    Some(v) => line += &format!("  {v:>7.4}"),
                    None => line += &format!("  {:>7}", "-"),
                }
            }
            line + "\n"
        };
        for c in &self.classes {
            out += &row(&c.name, &c.mean);
        }
        out += &row(MEAN_OVER_CLASSES, &self.mean_over_classes.mean);
        out += &format!(
            "means over {} image(s); hd95 and mcd (mean contour distance) in pixels",
            self.classes.first().map_or(0, |c| c.images.len())
        );
        out
    }
}

/// The class name of the mean-over-classes rows in tables and CSV.
pub const MEAN_OVER_CLASSES: &str = "mean over classes";

/// One row of [`ClassesReport::to_csv`].
#[derive(Serialize)]
struct ClassCsvRow<'a> {
    class: &'a str,
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
    hd95: Option<f64>,
    mean_contour_distance: Option<f64>,
}

impl<'a> ClassCsvRow<'a> {
    fn new(
        class: &'a str,
        row: &'a str,
        id: &'a str,
        scores: &Scores,
        [hd95, mcd]: [Option<f64>; 2],
    ) -> Self {
        ClassCsvRow {
            class,
            row,
            id,
            f1: scores.f1,
            iou: scores.iou,
            sensitivity: scores.sensitivity,
            specificity: scores.specificity,
            precision: scores.precision,
            accuracy: scores.accuracy,
            auc: scores.auc,
            ap: scores.ap,
            hd95,
            mean_contour_distance: mcd,
        }
    }
}

/// The predicted mask of every class from the per-class probabilities (see the module docs).
pub fn predicted_masks(mode: LabelMode, probs: &[Vec<f32>], threshold: f32) -> Vec<Vec<bool>> {
    match mode {
        LabelMode::MultiClass => {
            let n = probs.first().map_or(0, Vec::len);
            let mut out = vec![vec![false; n]; probs.len()];
            for i in 0..n {
                let mut best = 0;
                for k in 1..probs.len() {
                    if probs[k][i] > probs[best][i] {
                        best = k;
                    }
                }
                if let Some(m) = out.get_mut(best) {
                    m[i] = true;
                }
            }
            out
        }
        _ => probs
            .iter()
            .map(|p| p.iter().map(|&v| v >= threshold).collect())
            .collect(),
    }
}

/// Builds a [`ClassesReport`] image by image.
#[derive(Debug, Clone)]
pub struct ClassesAccumulator {
    mode: LabelMode,
    threshold: f64,
    names: Vec<String>,
    per_class: Vec<MetricAccumulator>,
    distances: Vec<Vec<(Option<f64>, Option<f64>)>>,
}

impl ClassesAccumulator {
    /// Starts an evaluation of the classes of `labels` at `threshold` (in `[0, 1]`).
    pub fn new(labels: &LabelsConfig, threshold: f64) -> Result<Self> {
        let k = labels.out_channels();
        Ok(ClassesAccumulator {
            mode: labels.mode,
            threshold,
            names: labels.names(),
            per_class: (0..k)
                .map(|_| MetricAccumulator::new(threshold))
                .collect::<Result<_>>()?,
            distances: vec![Vec::new(); k],
        })
    }

    /// Scores one `width x height` image: `probs[k]` and `truths[k]` per class (row-major),
    /// `fov` restricting every score (contour distances too) when given.
    pub fn add_image(
        &mut self,
        id: &str,
        probs: &[Vec<f32>],
        truths: &[Vec<bool>],
        fov: Option<&[bool]>,
        size: (usize, usize),
    ) -> Result<()> {
        let k = self.names.len();
        if probs.len() != k || truths.len() != k {
            return Err(Error::InvalidInput(format!(
                "image '{id}': {} probability maps and {} masks for {k} classes",
                probs.len(),
                truths.len()
            )));
        }
        let (w, h) = size;
        if let Some(bad) = probs.iter().map(Vec::len).find(|&n| n != w * h) {
            return Err(Error::InvalidInput(format!(
                "image '{id}': a {bad}-pixel probability map for a {w}x{h} image"
            )));
        }
        let preds = predicted_masks(self.mode, probs, self.threshold as f32);
        for c in 0..k {
            self.per_class[c].add_image_with_prediction(
                id,
                &probs[c],
                Some(&preds[c]),
                &truths[c],
                fov,
            )?;
            let inside = |m: &[bool]| -> Vec<bool> {
                match fov {
                    Some(f) => m.iter().zip(f).map(|(&a, &b)| a && b).collect(),
                    None => m.to_vec(),
                }
            };
            let d = contour_distances(&inside(&preds[c]), &inside(&truths[c]), w, h);
            self.distances[c].push((d.map(|d| d.hd95), d.map(|d| d.mean)));
        }
        Ok(())
    }

    /// The report; errors with [`Error::InvalidInput`] if no image was added.
    pub fn finish(self) -> Result<ClassesReport> {
        let mut classes = Vec::with_capacity(self.names.len());
        for ((name, acc), dists) in self
            .names
            .into_iter()
            .zip(self.per_class)
            .zip(self.distances)
        {
            let report = acc.finish()?;
            let images: Vec<ClassImageScores> = report
                .images
                .into_iter()
                .zip(&dists)
                .map(|(img, &(hd95, mcd))| ClassImageScores {
                    id: img.id,
                    scores: img.scores,
                    hd95,
                    mean_contour_distance: mcd,
                })
                .collect();
            let mean = ClassSummary {
                scores: report.mean,
                hd95: mean_defined(images.iter().map(|i| i.hd95)),
                mean_contour_distance: mean_defined(images.iter().map(|i| i.mean_contour_distance)),
                distances_undefined: images.iter().filter(|i| i.hd95.is_none()).count(),
            };
            classes.push(ClassReport {
                name,
                images,
                mean,
                pooled: report.pooled,
            });
        }
        let averaged: Vec<&ClassReport> = classes
            .iter()
            .enumerate()
            .filter(|(k, _)| !(self.mode == LabelMode::MultiClass && *k == 0))
            .map(|(_, c)| c)
            .collect();
        let none = || Error::InvalidInput("no class to average".into());
        let mean_over_classes = MeanOverClasses {
            classes: averaged.iter().map(|c| c.name.clone()).collect(),
            mean: ClassSummary {
                scores: Scores::mean(averaged.iter().map(|c| &c.mean.scores)).ok_or_else(none)?,
                hd95: mean_defined(averaged.iter().map(|c| c.mean.hd95)),
                mean_contour_distance: mean_defined(
                    averaged.iter().map(|c| c.mean.mean_contour_distance),
                ),
                distances_undefined: averaged.iter().filter(|c| c.mean.hd95.is_none()).count(),
            },
            pooled: Scores::mean(averaged.iter().map(|c| &c.pooled)).ok_or_else(none)?,
        };
        Ok(ClassesReport {
            mode: self.mode,
            threshold: self.threshold,
            classes,
            mean_over_classes,
        })
    }
}

/// Mean of the defined values; `None` if there are none.
fn mean_defined(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.flatten().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::labels::ClassSpec;

    #[test]
    fn argmax_and_threshold_predictions() {
        let probs = vec![
            vec![0.6, 0.2, 0.3],
            vec![0.3, 0.5, 0.3],
            vec![0.1, 0.3, 0.4],
        ];
        let mc = predicted_masks(LabelMode::MultiClass, &probs, 0.5);
        assert_eq!(mc[0], [true, false, false]);
        assert_eq!(mc[1], [false, true, false]);
        assert_eq!(mc[2], [false, false, true]);
        let ml = predicted_masks(LabelMode::MultiLabel, &probs, 0.5);
        assert_eq!(ml[0], [true, false, false]);
        assert_eq!(ml[1], [false, true, false]);
        assert_eq!(ml[2], [false, false, false]);
    }

    #[test]
    fn perfect_prediction_and_background_left_out_of_the_class_mean() {
        let labels = LabelsConfig::multi_class(vec![
            ClassSpec::new("background"),
            ClassSpec::new("a"),
            ClassSpec::new("b"),
        ]);
        let mut acc = ClassesAccumulator::new(&labels, 0.5).unwrap();
        // 4x1 image: background, a, a, b (perfect, one-hot probabilities)
        let truth = [
            vec![true, false, false, false],
            vec![false, true, true, false],
            vec![false, false, false, true],
        ];
        let probs: Vec<Vec<f32>> = truth
            .iter()
            .map(|t| t.iter().map(|&b| b as u8 as f32).collect())
            .collect();
        acc.add_image("x", &probs, &truth, None, (4, 1)).unwrap();
        let report = acc.finish().unwrap();
        assert_eq!(report.mean_over_classes.classes, ["a", "b"]);
        for c in &report.classes {
            assert_eq!(c.mean.scores.f1, 1.0, "{}", c.name);
            assert_eq!(c.mean.hd95, Some(0.0), "{}", c.name);
        }
        assert_eq!(report.mean_over_classes.mean.scores.iou, 1.0);
        let json = report.to_json();
        assert!(json.contains("\"mean_contour_distance\""), "{json}");
        assert!(report.table().contains("mean over classes"));
    }
}
