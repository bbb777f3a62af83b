//! The experiment configuration: one TOML file holds everything that shapes a result.
//!
//! Operational settings (data root, output folder, device) are not part of it; the CLI passes
//! them separately. Unknown keys are errors that name the key.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::DatasetKind;
use crate::data::augment::AugmentConfig;
use crate::data::fov::FovSource;
use crate::data::labels::LabelsConfig;
use crate::data::loader::SampleMode;
use crate::data::preprocess::PreprocessConfig;
use crate::data::split::SplitConfig;
use crate::infer::tiling::TileConfig;
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
    /// Scale of the training images: `"native"` (as decoded) or `"reference"` (each image
    /// resampled so that its FOV diameter equals the training images' median before patching:
    /// datasets that mix cameras; see [`crate::infer::scale`]).
    #[serde(default, skip_serializing_if = "TrainScale::is_native")]
    pub scale: TrainScale,
    /// The classes: binary (default, not serialised), multi-label or multi-class; sets the
    /// model's output channels (see [`crate::data::labels`]).
    #[serde(default, skip_serializing_if = "LabelsConfig::is_binary")]
    pub labels: LabelsConfig,
}

/// How training images are scaled before preprocessing (`data.scale`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainScale {
    /// As decoded.
    #[default]
    Native,
    /// Every image (training and validation) resampled to the training images' median FOV
    /// diameter.
    Reference,
}

impl TrainScale {
    fn is_native(&self) -> bool {
        *self == TrainScale::Native
    }
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
    /// Initial weights of a fresh run (fine-tuning), as `medseg train --init` (which overrides
    /// it): a medseg weights file of the same network, as trained, or an official U-2-Net
    /// checkpoint. A relative path is taken from the directory medseg runs in (the repository
    /// root for the committed configs). Ignored when resuming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
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
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self> {
        let cfg: ExperimentConfig = toml::from_str(text).map_err(|e| {
            Error::InvalidConfig(format!("{}: {}", origin.display(), e.to_string().trim()))
        })?;
        cfg.validate()
            .map_err(|e| in_file(origin.display().to_string(), e))?;
        Ok(cfg)
    }

    /// Reads and parses a TOML file, following its `extends` chain (see [`load_with`]).
    ///
    /// [`load_with`]: Self::load_with
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with(path, &[])
    }

    /// Reads a TOML file, follows its `extends` chain, applies the `--set` overrides `sets`
    /// (`KEY=VALUE` each, in order) and validates.
    ///
    /// `extends = "other.toml"` (a path relative to the extending file; chains allowed) makes
    /// the file a patch over `other.toml`: tables merge key by key, other values (arrays too)
    /// replace the parent's, and a table whose `kind` differs from the parent's replaces it
    /// whole. Each `KEY=VALUE` then sets a dotted key (`train.epochs=3`) to `VALUE` read as a
    /// TOML value, or as a string when it is not one. Errors name the file (and the `--set`)
    /// that brought the offending key.
    pub fn load_with(path: &Path, sets: &[String]) -> Result<Self> {
        let chain = read_chain(path)?;
        if chain.len() == 1 && sets.is_empty() {
            // One plain file: parse the text itself, so errors point at its lines.
            return Self::from_toml(&chain[0].text, path);
        }
        let mut merged = toml::Table::new();
        for layer in chain.iter().rev() {
            overlay(&mut merged, layer.table.clone());
        }
        let sets = sets
            .iter()
            .map(|s| Assignment::parse(s))
            .collect::<Result<Vec<_>>>()?;
        for set in &sets {
            set.apply(&mut merged)?;
        }
        Self::from_layers(merged, &chain, &sets, path)
    }

    /// Deserialises and validates the merged table of `chain` plus `sets`, naming where an
    /// offending key came from.
    fn from_layers(
        merged: toml::Table,
        chain: &[Layer],
        sets: &[Assignment],
        origin: &Path,
    ) -> Result<Self> {
        let context = || {
            let mut parts: Vec<String> = chain[1..]
                .iter()
                .map(|l| format!("extends {}", l.path.display()))
                .collect();
            parts.extend(sets.iter().map(|s| format!("--set {}", s.text)));
            parts.join(", ")
        };
        let text = toml::to_string(&merged).map_err(|e| {
            Error::InvalidConfig(format!("{} ({}): {e}", origin.display(), context()))
        })?;
        let cfg: ExperimentConfig = toml::from_str(&text).map_err(|mut e| {
            // Without the (generated) text, the error names the key path instead of a line.
            e.set_input(None);
            let shown = e.to_string();
            let at = shown
                .lines()
                .find_map(|l| l.strip_prefix("in `").and_then(|r| r.strip_suffix('`')))
                .unwrap_or("");
            let unknown = e
                .message()
                .strip_prefix("unknown field `")
                .and_then(|r| r.split('`').next());
            let key = match (at, unknown) {
                ("", Some(k)) => k.to_string(),
                (at, Some(k)) => format!("{at}.{k}"),
                (at, None) => at.to_string(),
            };
            let what = match (unknown, key.as_str()) {
                (Some(_), _) => format!("unknown key `{key}`"),
                (None, "") => {
                    return Error::InvalidConfig(format!(
                        "{} ({}): {}",
                        origin.display(),
                        context(),
                        e.message().trim()
                    ));
                }
                (None, _) => format!("bad value of `{key}`"),
            };
            Error::InvalidConfig(format!(
                "{}: {what}, from {}: {}",
                origin.display(),
                source_of(&key, chain, sets),
                e.message().trim()
            ))
        })?;
        cfg.validate()
            .map_err(|e| in_file(format!("{} ({})", origin.display(), context()), e))?;
        Ok(cfg)
    }

    /// The configuration as TOML (written into the run folder).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# not serialisable: {e}\n"))
    }

    /// The resolved model configuration.
    pub fn model_config(&self) -> Result<ModelConfig> {
        self.model.resolve(self.data.preprocess.in_channels())
    }

    /// The model's output channels K, from `data.labels` (1 for binary).
    pub fn out_channels(&self) -> usize {
        self.data.labels.out_channels()
    }

    /// Validates and builds the network with its K output channels.
    pub fn init_model(&self, device: &burn::prelude::Device) -> Result<crate::models::SegNet> {
        self.model_config()?
            .init_with_outputs(device, self.out_channels())
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
        self.data.labels.validate()?;
        if self.data.scale == TrainScale::Reference && self.data.preprocess.resize.is_some() {
            return bad(
                "data.scale = \"reference\" has no effect with data.preprocess.resize (every \
                 image is resized to one size already); remove one of them"
                    .into(),
            );
        }
        if let SampleMode::Patches(p) = &self.data.sampling {
            p.validate()?;
        }
        self.loss.validate()?;
        self.loss.check_sides(model.side_outputs())?;
        self.loss.check_labels(&self.data.labels)?;
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

impl ExperimentConfig {
    /// The experiment as it trains, for comparing configs: every default filled in and `model`
    /// replaced by the resolved network configuration (so a preset and the overrides that spell
    /// it out compare equal), with object keys sorted.
    pub fn effective_json(&self) -> Result<serde_json::Value> {
        let json = |e: serde_json::Error| Error::InvalidConfig(format!("not serialisable: {e}"));
        let mut v = serde_json::to_value(self).map_err(json)?;
        v["model"] = serde_json::to_value(self.model_config()?).map_err(json)?;
        Ok(sorted(v))
    }

    /// Every key path of this config, as written in `docs/training.md`: `a.b.c` for tables,
    /// `a.b[].c` for a key of the tables in an array. `model` gives `model.preset` and, under
    /// `model.overrides`, every key of the resolved network configuration (those an override
    /// may set). Only the keys of the enum variants in use appear.
    pub fn key_paths(&self) -> Result<BTreeSet<String>> {
        let json = |e: serde_json::Error| Error::InvalidConfig(format!("not serialisable: {e}"));
        let mut v = serde_json::to_value(self).map_err(json)?;
        v["model"] = serde_json::json!({
            "preset": self.model.preset,
            "overrides": serde_json::to_value(self.model_config()?).map_err(json)?,
        });
        let mut out = BTreeSet::new();
        collect_paths(&v, "", &mut out);
        Ok(out)
    }
}

/// A validation error of the config `file` (`InvalidConfig`, its message prefixed by `file`).
fn in_file(file: String, e: Error) -> Error {
    match e {
        Error::InvalidConfig(m) => Error::InvalidConfig(format!("{file}: {m}")),
        e => Error::InvalidConfig(format!("{file}: {e}")),
    }
}

/// `value` with every object's keys in sorted order.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(m) => {
            let mut entries: Vec<_> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(sorted).collect())
        }
        v => v,
    }
}

fn collect_paths(v: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                collect_paths(x, &join(k), out);
            }
        }
        serde_json::Value::Array(a) if a.iter().any(|x| x.is_object()) => {
            for x in a {
                collect_paths(x, &format!("{prefix}[]"), out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

/// The key naming a config's parent.
pub const EXTENDS: &str = "extends";

/// One file of an `extends` chain.
struct Layer {
    path: PathBuf,
    text: String,
    /// Its table, without `extends`.
    table: toml::Table,
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::MissingFile {
            path: path.to_path_buf(),
        },
        _ => Error::io(path, e),
    })
}

/// `path` and its ancestors, child first.
fn read_chain(path: &Path) -> Result<Vec<Layer>> {
    let mut chain: Vec<Layer> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut next = Some(path.to_path_buf());
    while let Some(p) = next.take() {
        let text = match (read_text(&p), chain.last()) {
            (Err(Error::MissingFile { .. }), Some(child)) => {
                return Err(Error::InvalidConfig(format!(
                    "{}: extends {}, which does not exist",
                    child.path.display(),
                    p.display()
                )));
            }
            (r, _) => r?,
        };
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| {
            Error::InvalidConfig(format!("{}: {}", p.display(), e.to_string().trim()))
        })?;
        seen.push(std::fs::canonicalize(&p).unwrap_or_else(|_| p.clone()));
        if let Some(parent) = table.remove(EXTENDS) {
            let rel = parent.as_str().ok_or_else(|| {
                Error::InvalidConfig(format!(
                    "{}: `{EXTENDS}` must be a path relative to this file, got {parent}",
                    p.display()
                ))
            })?;
            let parent = p.parent().unwrap_or(Path::new("")).join(rel);
            let canonical = std::fs::canonicalize(&parent).unwrap_or_else(|_| parent.clone());
            if seen.contains(&canonical) {
                let mut cycle: Vec<String> =
                    chain.iter().map(|l| l.path.display().to_string()).collect();
                cycle.push(p.display().to_string());
                cycle.push(parent.display().to_string());
                return Err(Error::InvalidConfig(format!(
                    "{}: `{EXTENDS}` cycle: {}",
                    path.display(),
                    cycle.join(" -> ")
                )));
            }
            next = Some(parent);
        }
        chain.push(Layer {
            path: p,
            text,
            table,
        });
    }
    Ok(chain)
}

/// Merges `top` over `base`: tables key by key, other values replace; a table whose `kind`
/// differs from the one it lands on replaces it whole (another variant of a tagged enum).
fn overlay(base: &mut toml::Table, top: toml::Table) {
    for (k, v) in top {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(t))
                if b.get("kind") == t.get("kind") || t.get("kind").is_none() =>
            {
                overlay(b, t)
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// One `--set KEY=VALUE`.
struct Assignment {
    text: String,
    key: Vec<String>,
    value: toml::Value,
}

impl Assignment {
    fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::InvalidConfig(format!(
                "--set {text}: {why} (expected KEY=VALUE with a dotted key, e.g. train.epochs=3)"
            ))
        };
        let (key, raw) = text.split_once('=').ok_or_else(|| bad("no `=`"))?;
        let key: Vec<String> = key
            .trim()
            .split('.')
            .map(|k| k.trim().to_string())
            .collect();
        if key.iter().any(String::is_empty) {
            return Err(bad("empty key"));
        }
        let raw = raw.trim();
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_string()));
        Ok(Assignment {
            text: text.to_string(),
            key,
            value,
        })
    }

    fn apply(&self, table: &mut toml::Table) -> Result<()> {
        let (last, parents) = self.key.split_last().expect("parse rejects empty keys");
        let mut t = table;
        for (i, k) in parents.iter().enumerate() {
            let slot = t
                .entry(k.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            t = match slot {
                toml::Value::Table(t) => t,
                other => {
                    return Err(Error::InvalidConfig(format!(
                        "--set {}: `{}` is {}, not a table",
                        self.text,
                        self.key[..=i].join("."),
                        other.type_str()
                    )));
                }
            };
        }
        t.insert(last.clone(), self.value.clone());
        Ok(())
    }
}

/// Where `key` (a dotted path) was last given: the last `--set` on it or above it, else the
/// nearest file of the chain that has it.
fn source_of(key: &str, chain: &[Layer], sets: &[Assignment]) -> String {
    let parts: Vec<&str> = key.split('.').filter(|k| !k.is_empty()).collect();
    let on_path = |set: &Assignment| {
        let n = set.key.len().min(parts.len());
        n > 0 && set.key[..n].iter().zip(&parts[..n]).all(|(a, b)| a == b)
    };
    if let Some(set) = sets.iter().rev().find(|s| on_path(s)) {
        return format!("--set {}", set.text);
    }
    let has = |t: &toml::Table| {
        let mut t = t;
        for (i, k) in parts.iter().enumerate() {
            match t.get(*k) {
                Some(toml::Value::Table(inner)) => t = inner,
                Some(_) => return i + 1 == parts.len(),
                None => return false,
            }
        }
        !parts.is_empty()
    };
    chain
        .iter()
        .find(|l| has(&l.table))
        .unwrap_or(&chain[0])
        .path
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn overlay_merges_tables_and_replaces_the_rest() {
        let mut base =
            table("a = 1\nlist = [1, 2]\n[t]\nx = 1\ny = 2\n[u]\nkind = \"focal\"\nalpha = 0.5\n");
        overlay(
            &mut base,
            table("list = [3]\n[t]\ny = 3\n[u]\nkind = \"plain\"\n"),
        );
        assert_eq!(
            base,
            table("a = 1\nlist = [3]\n[t]\nx = 1\ny = 3\n[u]\nkind = \"plain\"\n")
        );
        // the same kind (or none given) merges key by key
        overlay(&mut base, table("[u]\nkind = \"plain\"\nextra = 1\n"));
        assert_eq!(
            base["u"],
            toml::Value::Table(table("kind = \"plain\"\nextra = 1"))
        );
    }

    #[test]
    fn set_values_are_toml_else_strings() {
        let value = |text: &str| Assignment::parse(text).unwrap().value;
        assert_eq!(value("seed=1"), toml::Value::Integer(1));
        assert_eq!(value("a.b = 0.5"), toml::Value::Float(0.5));
        assert_eq!(value("a=true"), toml::Value::Boolean(true));
        assert_eq!(value("a=derive"), toml::Value::String("derive".into()));
        assert_eq!(value("a=\"x=y\""), toml::Value::String("x=y".into()));
        assert_eq!(
            value("a=[96, 96]"),
            toml::Value::Array(vec![96.into(), 96.into()])
        );
        assert_eq!(
            Assignment::parse(" data.split.seed =7").unwrap().key,
            ["data", "split", "seed"]
        );
        for bad in ["seed", "=1", "a..b=1", "a.=1"] {
            assert!(Assignment::parse(bad).is_err(), "{bad}");
        }
        let mut t = table("[train]\nepochs = 3\n");
        Assignment::parse("train.tiling.overlap=0.5")
            .unwrap()
            .apply(&mut t)
            .unwrap();
        assert_eq!(t["train"]["tiling"]["overlap"], toml::Value::Float(0.5));
        assert_eq!(t["train"]["epochs"], toml::Value::Integer(3));
        assert!(
            Assignment::parse("train.epochs.x=1")
                .unwrap()
                .apply(&mut t)
                .is_err()
        );
    }

    #[test]
    fn key_paths_use_dots_and_brackets_for_arrays_of_tables() {
        let v = serde_json::json!({
            "a": { "b": 1, "c": [1, 2], "d": null },
            "e": [{ "f": 1 }, { "g": 2 }],
            "h": {}
        });
        let mut out = BTreeSet::new();
        collect_paths(&v, "", &mut out);
        let expected: BTreeSet<String> = ["a.b", "a.c", "a.d", "e[].f", "e[].g", "h"]
            .map(String::from)
            .into();
        assert_eq!(out, expected);
    }
}
