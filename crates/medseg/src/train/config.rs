//! The experiment configuration: one TOML file holds everything that shapes a result.
//!
//! Operational settings (data root, output folder, device) are not part of it; the CLI passes
//! them separately. Unknown keys are errors that name the key.

use serde::{Deserialize, Serialize};

use crate::data::DatasetKind;
use crate::data::augment::AugmentConfig;
use crate::data::fov::FovSource;
use crate::data::loader::SampleMode;
use crate::data::preprocess::PreprocessConfig;
use crate::data::split::SplitConfig;
use crate::data::tiling::TileConfig;
use crate::loss::LossConfig;
use crate::models::{ModelConfig, ModelName};
use crate::train::schedule::ScheduleConfig;
use crate::{Error, Result};

/// A whole experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// A short name, used in run folder names and reports.
    pub name: String,
    /// Seed of weights initialisation, sampling and augmentation.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The network.
    pub model: ModelSection,
    /// Data, preprocessing, sampling and augmentation.
    pub data: DataSection,
    /// The loss; keys left out keep [`LossConfig::new`]'s defaults.
    #[serde(default = "LossConfig::new", deserialize_with = "loss_with_defaults")]
    pub loss: LossConfig,
    /// The optimizer.
    #[serde(default)]
    pub optim: OptimConfig,
    /// The learning-rate schedule.
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// Epochs, batching, validation and early stopping.
    pub train: TrainSection,
}

fn default_seed() -> u64 {
    42
}

/// Recursively overlays `partial` onto `base` (tables merge key by key; other values replace).
fn merge(base: &mut serde_json::Value, partial: serde_json::Value) {
    match (base, partial) {
        (serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Deserialises `partial` over the serialised `base`, so omitted keys keep `base`'s values
/// (burn's `Config` derive requires every field otherwise). Unknown keys are errors.
fn with_defaults<T: Serialize + serde::de::DeserializeOwned>(
    base: &T,
    partial: serde_json::Value,
    section: &str,
) -> std::result::Result<T, String> {
    let mut value = serde_json::to_value(base).map_err(|e| e.to_string())?;
    if let (serde_json::Value::Object(b), serde_json::Value::Object(p)) = (&value, &partial)
        && let Some(k) = p.keys().find(|k| !b.contains_key(*k))
    {
        return Err(format!(
            "unknown key `{section}.{k}` (valid: {})",
            b.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    merge(&mut value, partial);
    serde_json::from_value(value).map_err(|e| format!("in `{section}`: {e}"))
}

fn loss_with_defaults<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<LossConfig, D::Error> {
    let partial = serde_json::Value::deserialize(d)?;
    with_defaults(&LossConfig::new(), partial, "loss").map_err(serde::de::Error::custom)
}

/// The network: a preset, optionally replaced by a full configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// The preset name (`msa-u2net`, `unet`, ...).
    pub preset: String,
    /// Fields overriding the preset's configuration (for ablations), e.g.
    /// `overrides = { skips = "plain", unit = { kind = "plain" } }`; the keys are those of
    /// `medseg info --model NAME --json`'s `config`. `in_channels` always follows the
    /// preprocessing.
    #[serde(default)]
    pub overrides: Option<serde_json::Value>,
}

impl ModelSection {
    /// The resolved model configuration for `in_channels` input channels.
    pub fn resolve(&self, in_channels: usize) -> Result<ModelConfig> {
        let preset = ModelName::parse(&self.preset)?.config();
        let cfg = match &self.overrides {
            Some(o) => with_defaults(&preset, o.clone(), "model.overrides")
                .map_err(Error::InvalidConfig)?,
            None => preset,
        };
        let cfg = cfg.with_in_channels(in_channels);
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Data settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// The dataset layout.
    pub dataset: DatasetKind,
    /// Split scheme, seed and validation carve-out.
    #[serde(default)]
    pub split: SplitConfig,
    /// Use only the first `n` training cases (sorted by ID) after the split; 0 = all.
    #[serde(default)]
    pub train_limit: usize,
    /// Field of view source.
    #[serde(default)]
    pub fov: FovSource,
    /// Preprocessing.
    #[serde(default)]
    pub preprocess: PreprocessConfig,
    /// Random patches or whole images.
    pub sampling: SampleMode,
    /// Augmentation.
    #[serde(default)]
    pub augment: AugmentConfig,
}

/// Optimizer kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimKind {
    /// Adam (L2 weight decay added to the gradient).
    Adam,
    /// AdamW (decoupled weight decay).
    Adamw,
}

/// Optimizer settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    /// Adam or AdamW.
    pub kind: OptimKind,
    /// Peak learning rate.
    pub lr: f64,
    /// Weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Gradient-norm clipping; 0 = off.
    #[serde(default)]
    pub grad_clip: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            kind: OptimKind::Adamw,
            lr: 1e-3,
            weight_decay: 1e-4,
            grad_clip: 0.0,
        }
    }
}

/// Training-loop settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Batches per epoch (whole-image sampling: 0 = one pass over the training images).
    pub batches_per_epoch: usize,
    /// Validate every `n` epochs (and always after the last); 0 = never.
    #[serde(default = "one")]
    pub val_every: usize,
    /// Stop after this many validations without a better F1; 0 = off.
    #[serde(default)]
    pub early_stopping_patience: usize,
    /// Probability threshold for the binary masks and the F1 used for model selection.
    #[serde(default = "half")]
    pub threshold: f64,
    /// Sliding-window inference settings (validation, eval, predict).
    #[serde(default)]
    pub tiling: TileConfig,
    /// Batches prepared ahead by the loader thread.
    #[serde(default = "two")]
    pub prefetch: usize,
    /// Data-parallel replicas per step: the batch is cut into this many chunks whose forward and
    /// backward passes run concurrently, one model copy each, and their gradients are averaged
    /// (see [`crate::train::step`]; BatchNorm then normalises per chunk). 1 = the whole batch in
    /// one pass. At most `batch_size`.
    #[serde(default = "one")]
    pub replicas: usize,
}

fn one() -> usize {
    1
}
fn two() -> usize {
    2
}
fn half() -> f64 {
    0.5
}

impl ExperimentConfig {
    /// Parses TOML; errors name the file and the offending key.
    pub fn from_toml(text: &str, origin: &std::path::Path) -> Result<Self> {
        let cfg: ExperimentConfig = toml::from_str(text).map_err(|e| {
            Error::InvalidConfig(format!("{}: {}", origin.display(), e.to_string().trim()))
        })?;
        cfg.validate()
            .map_err(|e| Error::InvalidConfig(format!("{}: {e}", origin.display())))?;
        Ok(cfg)
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::MissingFile {
                path: path.to_path_buf(),
            },
            _ => Error::io(path, e),
        })?;
        Self::from_toml(&text, path)
    }

    /// The configuration as TOML (written into the run folder).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# not serialisable: {e}\n"))
    }

    /// The resolved model configuration.
    pub fn model_config(&self) -> Result<ModelConfig> {
        self.model.resolve(self.data.preprocess.in_channels())
    }

    /// Checks every section, naming the offending key.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if self.name.trim().is_empty() {
            return bad("name must not be empty".into());
        }
        let model = self.model_config()?;
        self.data.preprocess.validate()?;
        self.data.split.validate()?;
        self.data.augment.validate()?;
        if let SampleMode::Patches(p) = &self.data.sampling {
            p.validate()?;
        }
        self.loss.validate()?;
        self.loss.check_sides(model.side_outputs())?;
        let o = &self.optim;
        if !(o.lr.is_finite() && o.lr > 0.0) {
            return bad(format!("optim.lr must be > 0, got {}", o.lr));
        }
        if !(o.weight_decay.is_finite() && o.weight_decay >= 0.0) {
            return bad(format!(
                "optim.weight_decay must be >= 0, got {}",
                o.weight_decay
            ));
        }
        if !(o.grad_clip.is_finite() && o.grad_clip >= 0.0) {
            return bad(format!("optim.grad_clip must be >= 0, got {}", o.grad_clip));
        }
        self.schedule.validate()?;
        let t = &self.train;
        if t.epochs == 0 || t.batch_size == 0 {
            return bad(format!(
                "train.epochs and train.batch_size must be >= 1, got {} and {}",
                t.epochs, t.batch_size
            ));
        }
        if t.replicas == 0 || t.replicas > t.batch_size {
            return bad(format!(
                "train.replicas must be between 1 and train.batch_size ({}), got {}",
                t.batch_size, t.replicas
            ));
        }
        if t.batches_per_epoch == 0 && matches!(self.data.sampling, SampleMode::Patches(_)) {
            return bad("train.batches_per_epoch must be >= 1 with patch sampling".into());
        }
        if !(t.threshold > 0.0 && t.threshold < 1.0) {
            return bad(format!(
                "train.threshold must be in (0, 1), got {}",
                t.threshold
            ));
        }
        t.tiling.validate()?;
        Ok(())
    }
}
