//! Evaluation of a model on a dataset split: per-image and aggregate metrics at the original
//! image size inside the FOV, probability maps, binary masks, overlays, error maps, ROC and
//! precision-recall curves, and the time per image.
//!
//! Output folder layout: `metrics.json` and `metrics.csv` (the [`MetricReport`] schema that
//! `medseg score` writes too), `timing.csv`, `roc.png`, `pr.png`, and per image
//! `prob/<id>.png` (16-bit), `mask/<id>.png`, `overlay/<id>.png`, `error/<id>.png` and
//! `panel/<id>.png` (image, truth, prediction, errors side by side).
//!
//! A model with several classes ([`evaluate_classes`]) writes `metrics.json` in the
//! [`ClassesReport`] schema, `metrics.csv` ([`ClassesReport::to_csv`]), `metrics.txt` (its
//! table), `timing.csv`, and per image
//! `prob/<class>/<id>.png`, `error/<class>/<id>.png`, `labels/<id>.png` and `overlay/<id>.png`
//! (see [`crate::infer::ClassPrediction::save`]).

use std::path::Path;

use crate::data::fov::FovSource;
use crate::data::labels::LabelsConfig;
use crate::data::loader::decode_case;
use crate::data::loader::read_class_masks;
use crate::data::{Case, DatasetKind};
use crate::durable::{write_atomic, write_csv};
use crate::infer::{PredictOptions, Predictor};
use crate::metrics::classes::{ClassesAccumulator, ClassesReport};
use crate::metrics::{MetricAccumulator, MetricReport};
use crate::viz;
use crate::{Error, Result};

/// What an evaluation returns.
#[derive(Debug, Clone)]
pub struct EvalResult {
    /// Metrics per image and aggregated.
    pub report: MetricReport,
    /// Time and scale of each image's inference, in evaluation order.
    pub timing: Vec<Timing>,
}

/// One row of `timing.csv`: the inference of one image.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Timing {
    /// Case ID.
    pub id: String,
    /// Seconds (scaling, preprocessing, network, restoring).
    pub seconds: f64,
    /// The scale factor applied before the network (1 = unscaled; see [`crate::infer::scale`]).
    pub scale: f64,
    /// The FOV diameter in pixels the factor came from (empty unless `--scale auto` measured
    /// one).
    pub fov_diameter: Option<f64>,
}

/// Evaluates a model with several classes (its weights' `labels`) on labelled `cases`, per
/// class at the original image size inside the FOV; writes pictures and reports under `out`
/// if given (see the module docs).
pub fn evaluate_classes(
    predictor: &Predictor,
    cases: &[Case],
    kind: DatasetKind,
    fov_source: FovSource,
    threshold: f64,
    out: Option<&Path>,
) -> Result<(ClassesReport, Vec<Timing>)> {
    let labels: &LabelsConfig = &predictor.meta.labels;
    if labels.is_binary() {
        return Err(Error::InvalidInput(
            "evaluate_classes needs a model with several classes (data.labels)".into(),
        ));
    }
    if cases.is_empty() {
        return Err(Error::InvalidInput("no cases to evaluate".into()));
    }
    let mut acc = ClassesAccumulator::new(labels, threshold)?;
    let mut timing = Vec::with_capacity(cases.len());
    for case in cases {
        let image = crate::data::read_rgb(&case.image)?;
        let (fov, _) = crate::data::fov::fov_for(case, kind, &image, fov_source)?;
        let truth: Vec<Vec<bool>> = read_class_masks(case, labels, image.size())?
            .into_iter()
            .map(|m| m.data)
            .collect();
        let pred = predictor.predict_classes(&image, &fov, PredictOptions::default())?;
        let probs: Vec<Vec<f32>> = pred.probs.iter().map(|p| p.data.clone()).collect();
        let size = (image.width as usize, image.height as usize);
        acc.add_image(&case.id, &probs, &truth, Some(&fov.data), size)?;
        timing.push(Timing {
            id: case.id.clone(),
            seconds: pred.seconds,
            scale: pred.scale.factor,
            fov_diameter: pred.scale.diameter,
        });
        if let Some(out) = out {
            pred.save(&image, labels, threshold, Some(&truth), out, &case.id)?;
        }
    }
    let report = acc.finish()?;
    if let Some(out) = out {
        write_atomic(&out.join("metrics.json"), report.to_json().as_bytes())?;
        write_atomic(&out.join("metrics.csv"), report.to_csv().as_bytes())?;
        write_atomic(&out.join("metrics.txt"), report.table().as_bytes())?;
        write_csv(&out.join("timing.csv"), &timing)?;
    }
    Ok((report, timing))
}

/// Evaluates `predictor` on labelled `cases`; writes pictures and reports under `out` if given.
pub fn evaluate(
    predictor: &Predictor,
    cases: &[Case],
    kind: DatasetKind,
    fov_source: FovSource,
    threshold: f64,
    out: Option<&Path>,
) -> Result<EvalResult> {
    evaluate_groups(&[(predictor, cases)], kind, fov_source, threshold, out)
}

/// Evaluates several models, each on its own labelled cases, as one report: cross-validation,
/// where every fold's model scores the fold's held-out images and the pooled metrics (AUC
/// included) are computed over all of them at once. An image may appear in only one group.
pub fn evaluate_groups(
    groups: &[(&Predictor, &[Case])],
    kind: DatasetKind,
    fov_source: FovSource,
    threshold: f64,
    out: Option<&Path>,
) -> Result<EvalResult> {
    let count: usize = groups.iter().map(|(_, c)| c.len()).sum();
    if count == 0 {
        return Err(Error::InvalidInput("no cases to evaluate".into()));
    }
    let mut acc = MetricAccumulator::new(threshold)?;
    let mut timing = Vec::with_capacity(count);
    for (predictor, case) in groups
        .iter()
        .flat_map(|(p, cases)| cases.iter().map(move |c| (*p, c)))
    {
        let decoded = decode_case(case, kind, fov_source)?;
        let truth = decoded.mask.as_ref().ok_or_else(|| {
            Error::InvalidInput(format!(
                "{} has no ground-truth mask; only labelled cases can be evaluated",
                case.image.display()
            ))
        })?;
        let pred = predictor.predict(&decoded.image, &decoded.fov)?;
        acc.add_image(
            case.id.clone(),
            &pred.prob.data,
            &truth.data,
            Some(&decoded.fov.data),
        )?;
        if pred.scale.fov_fallback {
            tracing::warn!(
                "{}: no field of view found; its width stood in for the FOV diameter",
                case.image.display()
            );
        }
        timing.push(Timing {
            id: case.id.clone(),
            seconds: pred.seconds,
            scale: pred.scale.factor,
            fov_diameter: pred.scale.diameter,
        });
        if let Some(out) = out {
            let (w, h) = (decoded.image.width, decoded.image.height);
            let id = &case.id;
            let file = |dir: &str| out.join(dir).join(format!("{id}.png"));
            pred.save(
                &decoded.image,
                threshold,
                &file("prob"),
                &file("mask"),
                &file("overlay"),
            )?;
            let binary = pred.binary(threshold);
            viz::save_png(
                &viz::error_map(&binary, &truth.data, Some(&decoded.fov.data), w, h),
                file("error"),
            )?;
            let rgb = crate::infer::to_rgb8(&decoded.image);
            let fov = Some(decoded.fov.data.as_slice());
            viz::save_png(
                &viz::comparison_panel(&rgb, w, h, &truth.data, &binary, fov),
                file("panel"),
            )?;
        }
    }
    let roc = viz::roc_points(acc.pooled_histogram(), 512);
    let pr = viz::pr_points(acc.pooled_histogram(), 512);
    let report = acc.finish()?;
    if let Some(out) = out {
        let write = |name: &str, text: String| write_atomic(&out.join(name), text.as_bytes());
        write("metrics.json", report.to_json())?;
        write("metrics.csv", report.to_csv())?;
        write_csv(&out.join("timing.csv"), &timing)?;
        if let Some(auc) = report.pooled.auc {
            viz::roc_curve(&roc, auc, out.join("roc.png"))?;
        }
        if let Some(ap) = report.pooled.ap {
            viz::pr_curve(&pr, ap, out.join("pr.png"))?;
        }
    }
    Ok(EvalResult { report, timing })
}
