//! Per-class metrics against MONAI, scikit-learn and SciPy (fixture from
//! `tools/golden/gen_multi_metrics.py`; versions and tolerances in the fixture): Dice and IoU
//! (MONAI `DiceMetric`/`MeanIoU`), sensitivity, specificity, precision and ROC-AUC
//! (scikit-learn), HD95 and mean contour distance (MONAI, cross-checked with SciPy there), per
//! image and class, pooled per class, for a multi-label and a multi-class case.

use std::path::PathBuf;

use medseg::data::labels::{ClassSpec, LabelMode, LabelsConfig};
use medseg::metrics::classes::ClassesAccumulator;
use serde::Deserialize;

#[derive(Deserialize)]
struct Expected {
    f1: f64,
    iou: f64,
    sensitivity: f64,
    specificity: f64,
    precision: f64,
    auc: Option<f64>,
    #[serde(default)]
    hd95: Option<f64>,
    #[serde(default)]
    mean_contour_distance: Option<f64>,
}

#[derive(Deserialize)]
struct Class {
    images: Vec<Expected>,
    pooled: Expected,
}

#[derive(Deserialize)]
struct Case {
    mode: LabelMode,
    threshold: f64,
    shape: [usize; 4],
    probs_milli: Vec<u32>,
    truth: String,
    classes: Vec<Class>,
}

#[derive(Deserialize)]
struct Tolerance {
    relative: f64,
    distance_absolute: f64,
}

#[derive(Deserialize)]
struct Fixture {
    tolerance: Tolerance,
    cases: Vec<Case>,
}

fn fixture() -> Fixture {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden/multi_metrics.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run tools/golden/gen_multi_metrics.py)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * want.abs().max(1e-12),
        "{what}: got {got}, reference {want}"
    );
}

fn close_opt(what: &str, got: Option<f64>, want: Option<f64>, tol: f64, absolute: bool) {
    match (got, want) {
        (Some(g), Some(w)) => {
            let allowed = if absolute {
                tol
            } else {
                tol * w.abs().max(1e-12)
            };
            assert!((g - w).abs() <= allowed, "{what}: got {g}, reference {w}");
        }
        (None, None) => {}
        (g, w) => panic!("{what}: got {g:?}, reference {w:?}"),
    }
}

#[test]
fn per_class_metrics_match_monai_sklearn_and_scipy() {
    let fx = fixture();
    assert_eq!(fx.cases.len(), 2);
    for case in &fx.cases {
        let [b, k, h, w] = case.shape;
        let n = h * w;
        let probs: Vec<f32> = case
            .probs_milli
            .iter()
            .map(|&m| (m as f64 / 1000.0) as f32)
            .collect();
        let truth: Vec<bool> = case.truth.bytes().map(|c| c == b'1').collect();
        let classes = (0..k).map(|c| ClassSpec::new(format!("c{c}"))).collect();
        let labels = match case.mode {
            LabelMode::MultiClass => LabelsConfig::multi_class(classes),
            _ => LabelsConfig::multi_label(classes),
        };
        let mut acc = ClassesAccumulator::new(&labels, case.threshold).unwrap();
        for img in 0..b {
            let plane = |v: &[f32], c: usize| v[(img * k + c) * n..(img * k + c + 1) * n].to_vec();
            let p: Vec<Vec<f32>> = (0..k).map(|c| plane(&probs, c)).collect();
            let t: Vec<Vec<bool>> = (0..k)
                .map(|c| truth[(img * k + c) * n..(img * k + c + 1) * n].to_vec())
                .collect();
            acc.add_image(&format!("img{img}"), &p, &t, None, (w, h))
                .unwrap();
        }
        let report = acc.finish().unwrap();
        let rel = fx.tolerance.relative;
        let dist = fx.tolerance.distance_absolute;
        for (c, (ours, reference)) in report.classes.iter().zip(&case.classes).enumerate() {
            let tag = |what: &str| format!("{:?} class {c} {what}", case.mode);
            for (i, (o, r)) in ours.images.iter().zip(&reference.images).enumerate() {
                let t = |m: &str| tag(&format!("image {i} {m}"));
                close(&t("dice"), o.scores.f1, r.f1, rel);
                close(&t("iou"), o.scores.iou, r.iou, rel);
                close(&t("sensitivity"), o.scores.sensitivity, r.sensitivity, rel);
                close(&t("specificity"), o.scores.specificity, r.specificity, rel);
                close(&t("precision"), o.scores.precision, r.precision, rel);
                close_opt(&t("auc"), o.scores.auc, r.auc, rel, false);
                close_opt(&t("hd95"), o.hd95, r.hd95, dist, true);
                close_opt(
                    &t("mean contour distance"),
                    o.mean_contour_distance,
                    r.mean_contour_distance,
                    dist,
                    true,
                );
            }
            let p = &reference.pooled;
            close(&tag("pooled dice"), ours.pooled.f1, p.f1, rel);
            close(&tag("pooled iou"), ours.pooled.iou, p.iou, rel);
            close(
                &tag("pooled sensitivity"),
                ours.pooled.sensitivity,
                p.sensitivity,
                rel,
            );
            close(
                &tag("pooled specificity"),
                ours.pooled.specificity,
                p.specificity,
                rel,
            );
            close(
                &tag("pooled precision"),
                ours.pooled.precision,
                p.precision,
                rel,
            );
            close_opt(&tag("pooled auc"), ours.pooled.auc, p.auc, rel, false);
            // The mean over images of the defined distances.
            let defined: Vec<f64> = reference.images.iter().filter_map(|i| i.hd95).collect();
            let want =
                (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64);
            close_opt(&tag("mean hd95"), ours.mean.hd95, want, dist, true);
            assert_eq!(
                ours.mean.distances_undefined,
                reference.images.len() - defined.len()
            );
        }
        // Mean over classes: the background is left out in multi-class mode.
        let averaged: Vec<usize> = match case.mode {
            LabelMode::MultiClass => (1..k).collect(),
            _ => (0..k).collect(),
        };
        let want = averaged
            .iter()
            .map(|&c| report.classes[c].mean.scores.f1)
            .sum::<f64>()
            / averaged.len() as f64;
        close(
            "mean over classes dice",
            report.mean_over_classes.mean.scores.f1,
            want,
            1e-12,
        );
        assert_eq!(report.mean_over_classes.classes.len(), averaged.len());
    }
}

/// The multi-label case covers the undefined distances: a class absent and not predicted
/// (Dice 1, no distance), and a class present but missed (Dice 0, no distance).
#[test]
fn fixture_covers_absent_and_missed_classes() {
    let fx = fixture();
    let ml = &fx.cases[0];
    assert_eq!(ml.mode, LabelMode::MultiLabel);
    let class2 = &ml.classes[2].images;
    assert!(class2.iter().any(|i| i.hd95.is_none() && i.f1 == 1.0));
    assert!(class2.iter().any(|i| i.hd95.is_none() && i.f1 == 0.0));
    assert!(class2.iter().any(|i| i.hd95.is_some()));
}
