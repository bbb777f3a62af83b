//! The training loop, in the parts [`train`] runs in order:
//!
//! 1. `prepare_run_folder`: the run folder, its resolved `config.toml` and `run.json`.
//! 2. `RunData::load`: split, decode once, cache; the batch plan of an epoch.
//! 3. `Trainer::new`: model, optimizer and loss, restored from the checkpoint when resuming.
//! 4. Per epoch, `Trainer::train_epoch`: `train.batches_per_epoch` batches from the
//!    prefetching [`BatchLoader`] (seeded by experiment seed and epoch, so a resumed run sees
//!    the same batches), one [`step::train_step`] per batch (the step `medseg bench` times) with
//!    the scheduled learning rate; then `Trainer::validate` (every `train.val_every` epochs)
//!    on the full validation images with tiled inference, scored inside the FOV, writing
//!    `model_best.safetensors` when the pooled F1 improves; then `Trainer::save_epoch`:
//!    the `metrics.csv` row, the checkpoint (replaced durably) and `curves.png`.
//! 5. `Trainer::finish`: `model_final.safetensors` (and `model_best` when never validated).

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
use super::config::{ExperimentConfig, OptimKind, TrainScale};
use super::step;
use crate::data::loader::{BatchConfig, BatchLoader, LoadConfig, SampleCache, SampleMode};
use crate::data::{Sample, split::Split};
use crate::durable::{read_csv, write_atomic, write_csv};
use crate::infer::scale::ScaleReference;
use crate::infer::{predict_class_planes, predict_planes};
use crate::loss::CombinedLoss;
use crate::metrics::MetricAccumulator;
use crate::metrics::classes::ClassesAccumulator;
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
    /// Initial weights for a fresh run (fine-tuning): a medseg weights file of the same network,
    /// or an official U-2-Net checkpoint (`.pth`) for `u2net` / `u2netp` networks. Ignored when
    /// resuming (the checkpoint holds the weights).
    pub init: Option<PathBuf>,
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
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Called with something the user should know that does not stop the run (a damaged
    /// checkpoint passed over on resume).
    fn on_warning(&mut self, _message: &str) {}
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

/// Prepares the run folder (refusing to overwrite it without `force`, unless resuming) and
/// writes the resolved config and the operational facts (`run.json`: the data root, so
/// `--resume` and `eval --run` find the data again).
fn prepare_run_folder(cfg: &ExperimentConfig, opts: &TrainOptions) -> Result<()> {
    make_run_folder(opts)?;
    let run = &opts.out;
    write_atomic(&run.join("config.toml"), cfg.to_toml().as_bytes())?;
    let info = serde_json::json!({
        "data_root": std::fs::canonicalize(&opts.data_root).unwrap_or_else(|_| opts.data_root.clone()),
        "medseg": env!("CARGO_PKG_VERSION"),
    });
    write_atomic(&run.join("run.json"), info.to_string().as_bytes())
}

fn make_run_folder(opts: &TrainOptions) -> Result<()> {
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

/// The optimizer `cfg.optim` describes.
pub(crate) fn build_optimizer(cfg: &ExperimentConfig) -> ModuleOptimizer {
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

/// The weights metadata of a run whose training images had the scale `reference`.
pub fn weights_meta(
    cfg: &ExperimentConfig,
    epochs: usize,
    reference: Option<ScaleReference>,
) -> Result<WeightsMeta> {
    Ok(WeightsMeta {
        format: WEIGHTS_FORMAT,
        name: cfg.name.clone(),
        model: cfg.model_config()?,
        labels: cfg.data.labels.clone(),
        dataset: Some(cfg.data.dataset),
        fov: cfg.data.fov,
        preprocess: cfg.data.preprocess.clone(),
        tiling: cfg.train.tiling.clone(),
        threshold: cfg.train.threshold,
        epochs,
        fused: false,
        scale_reference: reference,
    })
}

/// Scores `net` on validation samples (pooled and mean F1, pooled AUC). With K > 1 classes:
/// the means over classes ([`crate::metrics::classes::ClassesReport::mean_over_classes`]) of the per-class pooled Dice,
/// mean Dice and pooled AUC.
fn validation_scores(
    net: &SegNet,
    samples: &[Sample],
    cfg: &ExperimentConfig,
    device: &Device,
) -> Result<(f64, f64, Option<f64>)> {
    let labels = &cfg.data.labels;
    if !labels.is_binary() {
        let mut acc = ClassesAccumulator::new(labels, cfg.train.threshold)?;
        for s in samples {
            let probs =
                predict_class_planes(net, &s.image, &cfg.train.tiling, labels.mode, device)?;
            let k = probs.channels;
            let planes: Vec<Vec<f32>> = (0..k).map(|c| probs.channel(c).to_vec()).collect();
            let truths: Vec<Vec<bool>> = s.classes.iter().map(|m| m.data.clone()).collect();
            acc.add_image(
                &s.id,
                &planes,
                &truths,
                Some(&s.fov.data),
                (s.image.width as usize, s.image.height as usize),
            )?;
        }
        let m = acc.finish()?.mean_over_classes;
        return Ok((m.pooled.f1, m.mean.scores.f1, m.pooled.auc));
    }
    let mut acc = MetricAccumulator::new(cfg.train.threshold)?;
    for s in samples {
        let prob = predict_planes(net, &s.image, &cfg.train.tiling, device)?;
        acc.add_image(s.id.clone(), &prob, &s.mask.data, Some(&s.fov.data))?;
    }
    let report = acc.finish()?;
    Ok((report.pooled.f1, report.mean.f1, report.pooled.auc))
}

/// Redraws `curves.png` from `metrics.csv`; a failure is logged, never fatal.
fn plot_curves(run: &Path) {
    let rows = match read_csv::<EpochRecord>(&run.join("metrics.csv")) {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!("could not read the training log: {e}");
            return;
        }
    };
    let rows: Vec<crate::viz::EpochRow> = rows
        .iter()
        .map(|r| crate::viz::EpochRow {
            epoch: r.epoch,
            train_loss: r.train_loss,
            lr: r.lr,
            val_f1: r.val_f1,
            val_loss: None,
        })
        .collect();
    if let Err(e) = crate::viz::training_curves(&rows, run.join("curves.png")) {
        tracing::warn!("could not draw the training curves: {e}");
    }
}

/// The data of a run: the decoded training and validation images and the batch plan.
struct RunData {
    train: Arc<SampleCache>,
    /// The training images' scale, stored with the weights ([`ScaleReference`]).
    reference: Option<ScaleReference>,
    val: Vec<Sample>,
    steps_per_epoch: usize,
    batches: BatchConfig,
}

impl RunData {
    /// Splits the dataset as the config says, decodes every image once and caches it.
    fn load(
        cfg: &ExperimentConfig,
        opts: &TrainOptions,
        observer: &mut dyn TrainObserver,
    ) -> Result<Self> {
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
        let mut load = LoadConfig {
            preprocess: cfg.data.preprocess.clone(),
            fov: cfg.data.fov,
            threads: opts.threads,
            scale_to: None,
            labels: cfg.data.labels.clone(),
        };
        let mut train_cache = SampleCache::load(&train, kind, &load)?;
        // A fixed resize is the scale; otherwise the median FOV diameter (the image width for
        // whole images) of the training images as decoded.
        let reference = match cfg.data.preprocess.resize {
            Some(size) => Some(ScaleReference::ImageSize(size)),
            None => ScaleReference::from_fovs(train_cache.samples.iter().map(|s| &s.fov)),
        };
        if cfg.data.scale == TrainScale::Reference
            && let Some(ScaleReference::FovDiameter(d)) = reference
        {
            // Decode again, every image brought to the median FOV diameter.
            load.scale_to = Some(d);
            train_cache = SampleCache::load(&train, kind, &load)?;
        }
        let train_cache = Arc::new(train_cache);
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
        let batches = BatchConfig {
            batch_size: cfg.train.batch_size,
            batches_per_epoch: steps_per_epoch,
            mode: cfg.data.sampling.clone(),
            augment: cfg.data.augment.clone(),
            seed: cfg.seed,
            prefetch: cfg.train.prefetch,
        };
        Ok(RunData {
            train: train_cache,
            reference,
            val: val_samples,
            steps_per_epoch,
            batches,
        })
    }
}

/// What one epoch of optimizer steps measured.
struct EpochStats {
    mean_loss: f64,
    lr: f64,
    items_per_s: f64,
    data_wait_share: f64,
}

/// The state of a run between epochs: model, optimizer, loss and loop counters.
struct Trainer<'a> {
    cfg: &'a ExperimentConfig,
    run: PathBuf,
    /// The autodiff device training runs on.
    device: Device,
    /// The plain device validation runs on.
    plain: Device,
    model: SegNet,
    optim: ModuleOptimizer,
    loss: CombinedLoss,
    state: LoopState,
    reference: Option<ScaleReference>,
}

impl<'a> Trainer<'a> {
    /// A fresh model and optimizer, or those of the run's checkpoint when `opts.resume` (then
    /// `metrics.csv` keeps only the rows of the checkpoint's epochs).
    fn new(
        cfg: &'a ExperimentConfig,
        opts: &TrainOptions,
        data: &RunData,
        observer: &mut dyn TrainObserver,
    ) -> Result<Self> {
        let device = opts.device.clone().autodiff();
        device.seed(cfg.seed);
        let mut trainer = Trainer {
            cfg,
            run: opts.out.clone(),
            model: cfg.init_model(&device)?,
            device,
            plain: opts.device.clone(),
            optim: build_optimizer(cfg),
            loss: cfg.loss.init_for(&cfg.data.labels)?,
            state: LoopState::default(),
            reference: data.reference,
        };
        if opts.resume {
            trainer.restore(observer)?;
        } else if let Some(path) = opts.init.as_ref().or(cfg.train.init.as_ref()) {
            trainer.model = initial_weights(cfg, path, &trainer.device)?;
            observer.on_start(&format!("initial weights from {}", path.display()));
        }
        Ok(trainer)
    }

    /// Restores the newest intact checkpoint ([`checkpoint::load`]: the one `last.json` names,
    /// else older ones), warning through `observer` about every damaged one passed over.
    fn restore(&mut self, observer: &mut dyn TrainObserver) -> Result<()> {
        let csv = self.run.join("metrics.csv");
        let (cfg, template) = (self.cfg, self.model.clone());
        let mut restored = None;
        let loaded = checkpoint::load(&self.run, |ck| {
            let bad = |file: &str, e: &dyn std::fmt::Display| Error::Decode {
                path: ck.folder.join(file),
                reason: e.to_string(),
            };
            let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(ck.model.clone()))
                .map_err(|e| bad("model.bpk", &e))?;
            let model = template
                .clone()
                .try_load_record(record)
                .map_err(|e| bad("model.bpk", &e))?;
            let optim = build_optimizer(cfg)
                .from_bytes(Bytes::from_bytes_vec(ck.optim.clone()))
                .map_err(|e| bad("optim.bpk", &e))?;
            restored = Some((model, optim));
            Ok(())
        })?;
        let Some(loaded) = loaded else {
            return truncate_log(&csv, 0);
        };
        for reason in &loaded.rejected {
            observer.on_warning(&format!("damaged checkpoint passed over: {reason}"));
        }
        if !loaded.rejected.is_empty() {
            observer.on_warning(&format!(
                "resuming from the newest intact checkpoint, {} (after epoch {})",
                loaded.checkpoint.folder.display(),
                loaded.checkpoint.state.epochs_done
            ));
        }
        let (model, optim) = restored.expect("the accepted checkpoint was decoded");
        self.model = model;
        self.optim = optim;
        self.state = loaded.checkpoint.state;
        truncate_log(&csv, self.state.epochs_done)
    }

    fn done(&self) -> bool {
        self.state.epochs_done >= self.cfg.train.epochs || self.state.stopped_early
    }

    /// One epoch of optimizer steps.
    fn train_epoch(
        &mut self,
        data: &RunData,
        observer: &mut dyn TrainObserver,
    ) -> Result<EpochStats> {
        let cfg = self.cfg;
        let epoch = self.state.epochs_done;
        let steps_per_epoch = data.steps_per_epoch;
        let total_steps = cfg.train.epochs * steps_per_epoch;
        let start = Instant::now();
        let mut loader = BatchLoader::epoch(data.train.clone(), &data.batches, epoch as u64)?;
        let (mut loss_sum, mut items, mut lr) = (0.0, 0usize, cfg.optim.lr);
        tracing::info!(target: "medseg::phase", "training epoch {} of {}", epoch + 1, cfg.train.epochs);
        for step in 0..steps_per_epoch {
            let batch = match loader.next_batch() {
                Some(b) => b?,
                None => break,
            };
            lr = cfg.schedule.lr(
                cfg.optim.lr,
                self.state.steps_done,
                total_steps,
                steps_per_epoch,
            );
            let (x, y, _fov) = batch.to_tensors(&self.device);
            let (model, value, _phases) = step::train_step(
                self.model.clone(),
                &mut self.optim,
                &self.loss,
                x,
                y,
                lr,
                cfg.train.replicas,
            );
            if !value.is_finite() {
                // The updated model is dropped: the last checkpoint stays the run's state.
                return Err(Error::NonFinite {
                    epoch: epoch + 1,
                    step,
                    run: self.run.clone(),
                });
            }
            self.model = model;
            loss_sum += value;
            items += batch.shape[0];
            self.state.steps_done += 1;
            observer.on_step(&StepInfo {
                epoch,
                step,
                steps_per_epoch,
                loss: value,
                lr,
                items_per_s: items as f64 / start.elapsed().as_secs_f64().max(1e-9),
                data_wait_share: loader.stats().wait_share,
            });
        }
        let seconds = start.elapsed().as_secs_f64();
        let data_wait_share = loader.stats().wait_share;
        self.state.epochs_done += 1;
        Ok(EpochStats {
            mean_loss: loss_sum / steps_per_epoch.max(1) as f64,
            lr,
            items_per_s: items as f64 / seconds.max(1e-9),
            data_wait_share,
        })
    }

    /// Validates if this epoch is due (every `train.val_every` epochs and after the last),
    /// filling `record`'s validation fields, writing `model_best.safetensors` on a new best
    /// pooled F1 and counting towards early stopping otherwise.
    fn validate(&mut self, val: &[Sample], record: &mut EpochRecord) -> Result<()> {
        let cfg = self.cfg;
        let done = self.state.epochs_done;
        let due = !val.is_empty()
            && cfg.train.val_every > 0
            && (done.is_multiple_of(cfg.train.val_every) || done == cfg.train.epochs);
        if !due {
            return Ok(());
        }
        // Phase marks (target `medseg::phase`, off by default) let scripts/kill-resume.sh kill
        // a run inside a given phase.
        tracing::info!(target: "medseg::phase", "validation after epoch {done} of {}", cfg.train.epochs);
        let net = self.model.valid();
        let (f1, f1_mean, auc) = validation_scores(&net, val, cfg, &self.plain)?;
        record.val_f1 = Some(f1);
        record.val_f1_mean = Some(f1_mean);
        record.val_auc = auc;
        if self.state.best_f1.is_none_or(|b| f1 > b) {
            self.state.best_f1 = Some(f1);
            self.state.best_epoch = Some(done);
            self.state.since_best = 0;
            record.best = true;
            save_weights(
                &net,
                &weights_meta(cfg, done, self.reference)?,
                &self.run.join("model_best.safetensors"),
            )?;
        } else {
            self.state.since_best += 1;
            let patience = cfg.train.early_stopping_patience;
            if patience > 0 && self.state.since_best >= patience {
                self.state.stopped_early = true;
            }
        }
        Ok(())
    }

    /// Appends `record` to `metrics.csv`, replaces the checkpoint and redraws `curves.png`.
    fn save_epoch(&self, record: &EpochRecord) -> Result<()> {
        let csv = self.run.join("metrics.csv");
        let mut rows: Vec<EpochRecord> = read_csv(&csv)?;
        rows.push(record.clone());
        write_csv(&csv, &rows)?;
        let model = self
            .model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        let optim = self
            .optim
            .into_bytes()
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        checkpoint::save(&self.run, &self.state, &model, &optim)?;
        plot_curves(&self.run);
        Ok(())
    }

    /// Writes the final weights (also as the best ones when the run never validated).
    fn finish(self, started: Instant) -> Result<TrainSummary> {
        tracing::info!(target: "medseg::phase", "final weights");
        let net = self.model.valid();
        let meta = weights_meta(self.cfg, self.state.epochs_done, self.reference)?;
        save_weights(&net, &meta, &self.run.join("model_final.safetensors"))?;
        if self.state.best_f1.is_none() {
            save_weights(&net, &meta, &self.run.join("model_best.safetensors"))?;
        }
        Ok(TrainSummary {
            run: self.run,
            epochs_done: self.state.epochs_done,
            best: self.state.best_f1.zip(self.state.best_epoch),
            stopped_early: self.state.stopped_early,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// Keeps the first `rows` rows of `metrics.csv` (rows after the checkpoint are redone by a
/// resumed run).
fn truncate_log(path: &Path, rows: usize) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let mut kept: Vec<EpochRecord> = read_csv(path)?;
    kept.truncate(rows);
    write_csv(path, &kept)
}

/// The network of `cfg` with the weights of `path`: a medseg weights file of the same network
/// (as trained, not fused), or an official U-2-Net checkpoint.
fn initial_weights(cfg: &ExperimentConfig, path: &Path, device: &Device) -> Result<SegNet> {
    let config = cfg.model_config()?;
    if crate::models::checkpoint::is_pytorch_checkpoint(path) {
        if cfg.out_channels() != 1 {
            return Err(Error::InvalidConfig(format!(
                "initial weights {} (--init or train.init): the official U-2-Net checkpoints have one output channel, the config {}",
                path.display(),
                cfg.out_channels()
            )));
        }
        let mut net = config.init(device)?;
        crate::models::checkpoint::load_official_u2net(&mut net, &config, path)?;
        return Ok(net);
    }
    let (net, meta) = crate::models::weights::load_weights(path, device)?;
    let json = |c: &crate::models::ModelConfig| serde_json::to_value(c).ok();
    if meta.fused || json(&meta.model) != json(&config) || net.out_channels() != cfg.out_channels()
    {
        return Err(Error::InvalidConfig(format!(
            "initial weights {} (--init or train.init): its network ({}) differs from the config's model; initial weights must be of the same network, as trained (not fused)",
            path.display(),
            if meta.fused {
                "fused"
            } else {
                "another configuration"
            }
        )));
    }
    Ok(net)
}

/// Trains `cfg` into `opts.out`.
pub fn train(
    cfg: &ExperimentConfig,
    opts: &TrainOptions,
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary> {
    let started = Instant::now();
    cfg.validate()?;
    cfg.model_config()?;
    prepare_run_folder(cfg, opts)?;
    let data = RunData::load(cfg, opts, observer)?;
    let mut trainer = Trainer::new(cfg, opts, &data, observer)?;
    while !trainer.done() {
        let epoch_start = Instant::now();
        let stats = trainer.train_epoch(&data, observer)?;
        let mut record = EpochRecord {
            epoch: trainer.state.epochs_done,
            train_loss: stats.mean_loss,
            lr: stats.lr,
            val_f1: None,
            val_f1_mean: None,
            val_auc: None,
            items_per_s: stats.items_per_s,
            data_wait_share: stats.data_wait_share,
            seconds: 0.0,
            best: false,
        };
        trainer.validate(&data.val, &mut record)?;
        record.seconds = epoch_start.elapsed().as_secs_f64();
        trainer.save_epoch(&record)?;
        observer.on_epoch(&record);
    }
    trainer.finish(started)
}
