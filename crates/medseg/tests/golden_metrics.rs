//! Metrics against scikit-learn 1.7.2 (fixture from `tools/golden/gen_metrics.py`): confusion
//! counts, F1/IoU/sensitivity/specificity/precision/accuracy (`zero_division=1.0`), ROC-AUC and
//! average precision, per image, mean over images and pooled over pixels. Cases: continuous
//! f32, 8-bit and 16-bit quantised (ties), coarse ties at the threshold, a circular FOV, another
//! threshold, empty and full masks, and structured perfect/inverted/constant predictions.

use std::path::PathBuf;

use medseg::metrics::{
    Confusion, MetricAccumulator, ScoreHistogram, Scores, accuracy, f1, iou, precision,
    sensitivity, specificity,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    tolerance: Tol,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Tol {
    relative: f64,
    absolute: f64,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    threshold: f64,
    images: Vec<Image>,
    expected: Expected,
}

#[derive(Deserialize)]
struct Image {
    id: String,
    scale: Option<u32>,
    prob: Vec<f64>,
    truth: String,
    fov: Option<String>,
}

#[derive(Deserialize)]
struct Expected {
    images: Vec<Counted>,
    mean: Scores,
    pooled: Counted,
}

#[derive(Deserialize)]
struct Counted {
    tp: u64,
    fp: u64,
    tn: u64,
    #[serde(rename = "fn")]
    fn_: u64,
    #[serde(flatten)]
    scores: Scores,
}

impl Image {
    fn probabilities(&self) -> Vec<f32> {
        match self.scale {
            Some(s) => self.prob.iter().map(|&k| k as f32 / s as f32).collect(),
            None => self.prob.iter().map(|&p| p as f32).collect(),
        }
    }
}

fn bits(text: &str) -> Vec<bool> {
    text.bytes().map(|b| b == b'1').collect()
}

fn load() -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden/metrics.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run tools/golden/gen_metrics.py)", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn close(tol: &Tol, what: &str, actual: Option<f64>, expected: Option<f64>) {
    match (actual, expected) {
        (Some(a), Some(e)) => assert!(
            (a - e).abs() <= tol.absolute + tol.relative * e.abs(),
            "{what}: got {a}, scikit-learn gives {e}"
        ),
        (a, e) => assert_eq!(a, e, "{what}: definedness differs"),
    }
}

fn compare(tol: &Tol, what: &str, actual: &Scores, expected: &Scores) {
    for ((name, a), e) in Scores::NAMES
        .iter()
        .zip(actual.values())
        .zip(expected.values())
    {
        close(tol, &format!("{what} {name}"), a, e);
    }
}

#[test]
fn per_image_scores_match_scikit_learn() {
    let fx = load();
    for case in &fx.cases {
        for (img, exp) in case.images.iter().zip(&case.expected.images) {
            let what = format!("{}/{}", case.name, img.id);
            let (prob, truth) = (img.probabilities(), bits(&img.truth));
            let fov = img.fov.as_deref().map(bits);
            let c =
                Confusion::from_probabilities(&prob, &truth, fov.as_deref(), case.threshold as f32)
                    .expect("lengths match");
            assert_eq!(
                c,
                Confusion {
                    tp: exp.tp,
                    fp: exp.fp,
                    tn: exp.tn,
                    fn_: exp.fn_
                },
                "{what}: confusion counts"
            );
            let s = &exp.scores;
            for (name, a, e) in [
                ("f1", f1(&c), s.f1),
                ("iou", iou(&c), s.iou),
                ("sensitivity", sensitivity(&c), s.sensitivity),
                ("specificity", specificity(&c), s.specificity),
                ("precision", precision(&c), s.precision),
                ("accuracy", accuracy(&c), s.accuracy),
            ] {
                close(&fx.tolerance, &format!("{what} {name}"), Some(a), Some(e));
            }
            let mut h = ScoreHistogram::new();
            h.extend(&prob, &truth, fov.as_deref()).expect("no NaN");
            close(&fx.tolerance, &format!("{what} auc"), h.roc_auc(), s.auc);
            close(
                &fx.tolerance,
                &format!("{what} ap"),
                h.average_precision(),
                s.ap,
            );
        }
    }
}

#[test]
fn report_mean_and_pooled_match_scikit_learn() {
    let fx = load();
    for case in &fx.cases {
        let mut acc = MetricAccumulator::new(case.threshold).expect("valid threshold");
        for img in &case.images {
            let fov = img.fov.as_deref().map(bits);
            acc.add_image(
                &img.id,
                &img.probabilities(),
                &bits(&img.truth),
                fov.as_deref(),
            )
            .expect("valid image");
        }
        let p = &case.expected.pooled;
        assert_eq!(
            acc.pooled_confusion(),
            Confusion {
                tp: p.tp,
                fp: p.fp,
                tn: p.tn,
                fn_: p.fn_
            },
            "{}: pooled counts",
            case.name
        );
        let report = acc.finish().expect("at least one image");
        assert_eq!(report.threshold, case.threshold);
        assert_eq!(report.images.len(), case.images.len());
        for ((got, exp), img) in report
            .images
            .iter()
            .zip(&case.expected.images)
            .zip(&case.images)
        {
            assert_eq!(got.id, img.id);
            compare(
                &fx.tolerance,
                &format!("{}/{}", case.name, img.id),
                &got.scores,
                &exp.scores,
            );
        }
        compare(
            &fx.tolerance,
            &format!("{} mean", case.name),
            &report.mean,
            &case.expected.mean,
        );
        compare(
            &fx.tolerance,
            &format!("{} pooled", case.name),
            &report.pooled,
            &p.scores,
        );

        let json = report.to_json();
        assert!(
            !json.contains("NaN") && !json.contains("inf"),
            "{}: {json}",
            case.name
        );
    }
}

#[test]
fn empty_masks_follow_the_documented_conventions() {
    let fx = load();
    let case = fx
        .cases
        .iter()
        .find(|c| c.name == "empty-masks")
        .expect("case exists");
    let by_id = |id: &str| {
        let k = case
            .images
            .iter()
            .position(|i| i.id == id)
            .expect("image exists");
        &case.expected.images[k].scores
    };
    let both_empty = by_id("both-empty");
    assert_eq!(
        (both_empty.f1, both_empty.iou, both_empty.auc, both_empty.ap),
        (1.0, 1.0, None, None)
    );
    let false_alarm = by_id("empty-truth-fp");
    assert_eq!(
        (false_alarm.f1, false_alarm.sensitivity, false_alarm.ap),
        (0.0, 1.0, None)
    );
    let full = by_id("all-positive");
    assert_eq!(
        (full.auc, full.ap, full.specificity),
        (None, Some(1.0), 1.0)
    );
}

#[test]
fn pooled_histogram_memory_is_bounded_by_distinct_values() {
    let fx = load();
    let case = fx
        .cases
        .iter()
        .find(|c| c.name == "u8-ties-fov")
        .expect("case exists");
    let mut pooled = ScoreHistogram::new();
    let mut pixels = 0;
    for img in &case.images {
        let mut h = ScoreHistogram::new();
        h.extend(&img.probabilities(), &bits(&img.truth), None)
            .expect("no NaN");
        pooled.merge(&h);
        pixels += img.prob.len();
    }
    assert!(
        pooled.distinct_values() <= 256,
        "{}",
        pooled.distinct_values()
    );
    assert!(pooled.distinct_values() < pixels / 4);
    // A full-size 16-bit map: 2 M pixels, at most 65 536 histogram entries.
    let n = 2_000_000usize;
    let prob: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 65536) as f32 / 65535.0)
        .collect();
    let truth: Vec<bool> = (0..n)
        .map(|i| (i * 7919) % 65536 > 40000 || i % 11 == 0)
        .collect();
    let mut big = ScoreHistogram::new();
    big.extend(&prob, &truth, None).expect("no NaN");
    assert!(big.distinct_values() <= 65536);
    assert!(big.roc_auc().expect("both classes") > 0.9);
}
