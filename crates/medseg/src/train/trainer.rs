//! The training loop.
//!
//! One epoch = `train.batches_per_epoch` batches from the prefetching [`BatchLoader`] (seeded by
//! experiment seed and epoch, so a resumed run sees the same batches), an optimizer step per
//! batch with the scheduled learning rate, then (every `train.val_every` epochs) validation on
//! the full validation images with tiled inference, scored inside the FOV. After each epoch the
//! checkpoint is replaced atomically; the best epoch by pooled validation F1 is written as
//! `model_best.safetensors` (with its config), the last as `model_final.safetensors`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;

use super::checkpoint::{self, LoopState};
use super::config::{ExperimentConfig, OptimKind};
use super::step;
use crate::data::loader::{BatchConfig, BatchLoader, LoadConfig, SampleCache, SampleMode};
use crate::data::tiling::predict_tiled;
use crate::data::{Sample, split::Split};
use crate::metrics::MetricAccumulator;
use crate::models::SegNet;
use crate::models::weights::{WEIGHTS_FORMAT, WeightsMeta, save_weights};
use crate::{Error, Result};

/// Operational settings (not part of the experiment).
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Root of the dataset.
    pub data_root: PathBuf,
    /// The run folder.
    pub out: PathBuf,
    /// Compute device (the autodiff decorator is added here).
    pub device: Device,
    /// Continue from the run folder's checkpoint.
    pub resume: bool,
    /// Replace an existing run folder.
    pub force: bool,
    /// Decoding threads (0 = all cores).
    pub threads: usize,
}

/// One optimizer step, for progress bars.
#[derive(Debug, Clone)]
pub struct StepInfo {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Step within the epoch (0-based).
    pub step: usize,
    /// Steps per epoch.
    pub steps_per_epoch: usize,
    /// Loss of this step.
    pub loss: f64,
    /// Learning rate of this step.
    pub lr: f64,
    /// Training items (patches or images) per second in this epoch so far.
    pub items_per_s: f64,
    /// Share of this epoch's wall time spent waiting for data.
    pub data_wait_share: f64,
}

/// One epoch's summary (a row of `metrics.csv`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct EpochRecord {
    /// Epoch (1-based, as printed).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Pooled validation F1 inside the FOV, if validated.
    pub val_f1: Option<f64>,
    /// Mean-over-images validation F1.
    pub val_f1_mean: Option<f64>,
    /// Pooled validation ROC-AUC.
    pub val_auc: Option<f64>,
    /// Training items per second.
    pub items_per_s: f64,
    /// Share of the epoch spent waiting for data.
    pub data_wait_share: f64,
    /// Seconds for the epoch (training + validation).
    pub seconds: f64,
    /// Whether this epoch is the best so far.
    pub best: bool,
}

/// Callbacks for progress display; the library never prints.
pub trait TrainObserver {
    /// Called once the data is loaded.
    fn on_start(&mut self, _info: &str) {}
    /// Called after every optimizer step.
    fn on_step(&mut self, _step: &StepInfo) {}
    /// Called after every epoch.
    fn on_epoch(&mut self, _record: &EpochRecord) {}
}

impl TrainObserver for () {}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// The run folder.
    pub run: PathBuf,
    /// Epochs completed (including those of a resumed run).
    pub epochs_done: usize,
    /// Best pooled validation F1 and its epoch.
    pub best: Option<(f64, usize)>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Wall seconds of this invocation.
    pub seconds: f64,
}

/// Prepares the run folder: refuses to overwrite without `force`, unless resuming.
fn prepare_run_folder(opts: &TrainOptions) -> Result<()> {
    let out = &opts.out;
    let non_empty = out.is_dir()
        && std::fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .next()
            .is_some();
    if non_empty && !opts.resume {
        if !opts.force {
            return Err(Error::InvalidInput(format!(
                "run folder {} already exists; pass --force to replace it or --resume to continue it",
                out.display()
            )));
        }
        std::fs::remove_dir_all(out).map_err(|e| Error::io(out, e))?;
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))
}

fn build_optimizer(cfg: &ExperimentConfig) -> ModuleOptimizer {
    let o = &cfg.optim;
    let clip = (o.grad_clip > 0.0).then_some(GradientClippingConfig::Norm(o.grad_clip as f32));
    match o.kind {
        OptimKind::Adam => AdamConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(
                (o.weight_decay > 0.0).then(|| WeightDecayConfig::new(o.weight_decay as f32)),
            )
            .with_grad_clipping(clip)
            .init(),
        OptimKind::Adamw => AdamWConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(o.weight_decay as f32)
            .with_grad_clipping(clip)
            .init(),
    }
}

/// The weights metadata of a run.
pub fn weights_meta(cfg: &ExperimentConfig, epochs: usize) -> Result<WeightsMeta> {
    Ok(WeightsMeta {
        format: WEIGHTS_FORMAT,
        name: cfg.name.clone(),
        model: cfg.model_config()?,
        dataset: Some(cfg.data.dataset),
        fov: cfg.data.fov,
        preprocess: cfg.data.preprocess.clone(),
        tiling: cfg.train.tiling.clone(),
        threshold: cfg.train.threshold,
        epochs,
        fused: false,
    })
}

/// Probability map `[H, W]` of one preprocessed sample, by tiled inference.
pub fn predict_planes(
    net: &SegNet,
    image: &crate::data::Planes,
    tiling: &crate::data::tiling::TileConfig,
    device: &Device,
) -> Result<Vec<f32>> {
    let [tw, th] = tiling.tile;
    let c = image.channels;
    let probs = predict_tiled(image, tiling, |batch, n| {
        let x = Tensor::<4>::from_data(
            TensorData::new(batch.to_vec(), [n, c, th as usize, tw as usize]),
            device,
        );
        let logits = net.forward(x).fused; // [n, 1, th, tw]
        burn::tensor::activation::sigmoid(logits)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| Error::InvalidInput(format!("model output: {e:?}")))
    })?;
    Ok(probs.data)
}

/// Scores `net` on validation samples (pooled and mean F1, pooled AUC).
fn validate(
    net: &SegNet,
    samples: &[Sample],
    cfg: &ExperimentConfig,
    device: &Device,
) -> Result<(f64, f64, Option<f64>)> {
    let mut acc = MetricAccumulator::new(cfg.train.threshold)?;
    for s in samples {
        let prob = predict_planes(net, &s.image, &cfg.train.tiling, device)?;
        acc.add_image(s.id.clone(), &prob, &s.mask.data, Some(&s.fov.data))?;
    }
    let report = acc.finish()?;
    Ok((report.pooled.f1, report.mean.f1, report.pooled.auc))
}

fn append_csv(path: &Path, record: &EpochRecord) -> Result<()> {
    use std::io::Write;
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
    let mut line = String::new();
    if new {
        line.push_str("epoch,train_loss,lr,val_f1,val_f1_mean,val_auc,items_per_s,data_wait_share,seconds,best\n");
    }
    line.push_str(&format!(
        "{},{:.6},{:.3e},{},{},{},{:.2},{:.4},{:.2},{}\n",
        record.epoch,
        record.train_loss,
        record.lr,
        opt(record.val_f1),
        opt(record.val_f1_mean),
        opt(record.val_auc),
        record.items_per_s,
        record.data_wait_share,
        record.seconds,
        record.best
    ));
    f.write_all(line.as_bytes()).map_err(|e| Error::io(path, e))
}

/// Keeps the header and the first `rows` rows of `metrics.csv` (rows after the checkpoint are
/// redone by a resumed run).
fn truncate_csv(path: &Path, rows: usize) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let kept: Vec<&str> = text.lines().take(rows + 1).collect();
    checkpoint::write_atomic(path, format!("{}\n", kept.join("\n")).as_bytes())
}

/// Redraws `curves.png` from `metrics.csv`; a failure is logged, never fatal.
fn plot_curves(run: &Path) {
    let csv = run.join("metrics.csv");
    let Ok(text) = std::fs::read_to_string(&csv) else {
        return;
    };
    let num = |s: &str| s.parse::<f64>().ok();
    let rows: Vec<crate::viz::EpochRow> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let c: Vec<&str> = line.split(',').collect();
            Some(crate::viz::EpochRow {
                epoch: c.first()?.parse().ok()?,
                train_loss: num(c.get(1)?)?,
                lr: num(c.get(2)?)?,
                val_f1: c.get(3).and_then(|v| num(v)),
                val_loss: None,
            })
        })
        .collect();
    if let Err(e) = crate::viz::training_curves(&rows, run.join("curves.png")) {
        tracing::warn!("could not draw the training curves: {e}");
    }
}

/// Trains `cfg` into `opts.out`.
pub fn train(
    cfg: &ExperimentConfig,
    opts: &TrainOptions,
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary> {
    let started = Instant::now();
    cfg.validate()?;
    let model_cfg = cfg.model_config()?;
    prepare_run_folder(opts)?;
    let run = opts.out.clone();
    checkpoint::write_atomic(&run.join("config.toml"), cfg.to_toml().as_bytes())?;
    // Operational facts, so `--resume` and `eval --run` find the data again.
    let info = serde_json::json!({
        "data_root": std::fs::canonicalize(&opts.data_root).unwrap_or_else(|_| opts.data_root.clone()),
        "medseg": env!("CARGO_PKG_VERSION"),
    });
    checkpoint::write_atomic(&run.join("run.json"), info.to_string().as_bytes())?;

    // Data: split, decode once, cache.
    let kind = cfg.data.dataset;
    let cases = kind.cases(&opts.data_root)?;
    let Split { mut train, val, .. } = cfg.data.split.apply(&cases)?;
    if cfg.data.train_limit > 0 {
        train.truncate(cfg.data.train_limit);
    }
    if train.is_empty() {
        return Err(Error::InvalidConfig(format!(
            "no training cases in {} with this split",
            opts.data_root.display()
        )));
    }
    let load = LoadConfig {
        preprocess: cfg.data.preprocess.clone(),
        fov: cfg.data.fov,
        threads: opts.threads,
    };
    let train_cache = Arc::new(SampleCache::load(&train, kind, &load)?);
    let val_samples = SampleCache::load(&val, kind, &load)?.samples;
    observer.on_start(&format!(
        "{} training and {} validation images from {}",
        train.len(),
        val_samples.len(),
        opts.data_root.display()
    ));

    let steps_per_epoch = match (&cfg.data.sampling, cfg.train.batches_per_epoch) {
        (SampleMode::Whole, 0) => train_cache.len().div_ceil(cfg.train.batch_size),
        (_, n) => n,
    };
    let batch_cfg = BatchConfig {
        batch_size: cfg.train.batch_size,
        batches_per_epoch: steps_per_epoch,
        mode: cfg.data.sampling.clone(),
        augment: cfg.data.augment.clone(),
        seed: cfg.seed,
        prefetch: cfg.train.prefetch,
    };

    // Model, optimizer, loss; restored from the checkpoint when resuming.
    let device = opts.device.clone().autodiff();
    device.seed(cfg.seed);
    let mut model = model_cfg.init(&device)?;
    let mut optim = build_optimizer(cfg);
    let loss_fn = cfg.loss.init()?;
    let mut state = LoopState::default();
    let csv = run.join("metrics.csv");
    if opts.resume {
        if let Some(ck) = checkpoint::load(&run)? {
            let record =
                ModuleRecord::from_bytes(Bytes::from_bytes_vec(ck.model)).map_err(|e| {
                    Error::Decode {
                        path: checkpoint::dir(&run),
                        reason: e.to_string(),
                    }
                })?;
            model = model.try_load_record(record).map_err(|e| Error::Decode {
                path: checkpoint::dir(&run),
                reason: e.to_string(),
            })?;
            optim = optim
                .from_bytes(Bytes::from_bytes_vec(ck.optim))
                .map_err(|e| Error::Decode {
                    path: checkpoint::dir(&run),
                    reason: e.to_string(),
                })?;
            state = ck.state;
            truncate_csv(&csv, state.epochs_done)?;
        } else {
            truncate_csv(&csv, 0)?;
        }
    }

    let total_steps = cfg.train.epochs * steps_per_epoch;
    let meta_best = |epochs| weights_meta(cfg, epochs);
    let mut lr = cfg.optim.lr;
    while state.epochs_done < cfg.train.epochs && !state.stopped_early {
        let epoch = state.epochs_done;
        let epoch_start = Instant::now();
        let mut loader = BatchLoader::epoch(train_cache.clone(), &batch_cfg, epoch as u64)?;
        let mut loss_sum = 0.0;
        let mut items = 0usize;
        for step in 0..steps_per_epoch {
            let batch = match loader.next_batch() {
                Some(b) => b?,
                None => break,
            };
            lr = cfg
                .schedule
                .lr(cfg.optim.lr, state.steps_done, total_steps, steps_per_epoch);
            let (x, y, _fov) = batch.to_tensors(&device);
            let (grads, value) = step::batch_gradients(&model, &loss_fn, x, y, cfg.train.replicas);
            if !value.is_finite() {
                return Err(Error::NonFinite {
                    epoch: epoch + 1,
                    step,
                    run: run.clone(),
                });
            }
            model = optim.step(lr, model, grads);
            loss_sum += value;
            items += batch.shape[0];
            state.steps_done += 1;
            let stats = loader.stats();
            observer.on_step(&StepInfo {
                epoch,
                step,
                steps_per_epoch,
                loss: value,
                lr,
                items_per_s: items as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9),
                data_wait_share: stats.wait_share,
            });
        }
        let train_seconds = epoch_start.elapsed().as_secs_f64();
        let wait_share = loader.stats().wait_share;
        drop(loader);
        state.epochs_done += 1;

        let last = state.epochs_done == cfg.train.epochs;
        let do_val = !val_samples.is_empty()
            && cfg.train.val_every > 0
            && (state.epochs_done % cfg.train.val_every == 0 || last);
        let mut record = EpochRecord {
            epoch: state.epochs_done,
            train_loss: loss_sum / steps_per_epoch.max(1) as f64,
            lr,
            val_f1: None,
            val_f1_mean: None,
            val_auc: None,
            items_per_s: items as f64 / train_seconds.max(1e-9),
            data_wait_share: wait_share,
            seconds: 0.0,
            best: false,
        };
        let plain = opts.device.clone();
        if do_val {
            let eval_net = model.valid();
            let (f1, f1_mean, auc) = validate(&eval_net, &val_samples, cfg, &plain)?;
            record.val_f1 = Some(f1);
            record.val_f1_mean = Some(f1_mean);
            record.val_auc = auc;
            if state.best_f1.is_none_or(|b| f1 > b) {
                state.best_f1 = Some(f1);
                state.best_epoch = Some(state.epochs_done);
                state.since_best = 0;
                record.best = true;
                save_weights(
                    &eval_net,
                    &meta_best(state.epochs_done)?,
                    &run.join("model_best.safetensors"),
                )?;
            } else {
                state.since_best += 1;
                let patience = cfg.train.early_stopping_patience;
                if patience > 0 && state.since_best >= patience {
                    state.stopped_early = true;
                }
            }
        }
        record.seconds = epoch_start.elapsed().as_secs_f64();
        append_csv(&csv, &record)?;
        let model_bytes = model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        let optim_bytes = optim
            .into_bytes()
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        checkpoint::save(&run, &state, &model_bytes, &optim_bytes)?;
        plot_curves(&run);
        observer.on_epoch(&record);
    }
    let final_net = model.valid();
    save_weights(
        &final_net,
        &weights_meta(cfg, state.epochs_done)?,
        &run.join("model_final.safetensors"),
    )?;
    if state.best_f1.is_none() {
        // no validation: the final weights are also the best we know
        save_weights(
            &final_net,
            &weights_meta(cfg, state.epochs_done)?,
            &run.join("model_best.safetensors"),
        )?;
    }
    Ok(TrainSummary {
        run,
        epochs_done: state.epochs_done,
        best: state.best_f1.zip(state.best_epoch),
        stopped_early: state.stopped_early,
        seconds: started.elapsed().as_secs_f64(),
    })
}
