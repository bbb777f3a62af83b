//! Feeding training: decode every case once (in parallel), keep the preprocessed samples in
//! memory, and assemble batches on a background thread while the model trains.
//!
//! [`BatchLoader`] records how long the consumer waited for each batch; the training log reports
//! [`LoaderStats::wait_share`], the share of wall time spent waiting for data.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::augment::AugmentConfig;
use super::datasets::structures::read_structure_masks;
use super::fov::{FovOrigin, FovSource, fov_for};
use super::io::{Mask, check_size, read_mask, read_rgb};
use super::labels::{LabelMode, LabelsConfig};
use super::patches::{PatchConfig, PixelIndex};
use super::preprocess::PreprocessConfig;
use super::{Case, DatasetKind, Rng, Sample};
use crate::{Error, Result};

/// How cases are decoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadConfig {
    pub preprocess: PreprocessConfig,
    #[serde(default)]
    pub fov: FovSource,
    /// Decoding threads; 0 = all available cores.
    #[serde(default)]
    pub threads: usize,
    /// Resample each image (and its mask and FOV) so that its FOV diameter is this many pixels
    /// before preprocessing ([`crate::infer::scale`]); `None` keeps the decoded size.
    #[serde(default)]
    pub scale_to: Option<f64>,
    /// The classes (`data.labels`): binary reads `Case::mask`; multi-label reads one mask per
    /// structure (`Case::structures`); multi-class reads `Case::mask` as a label map.
    #[serde(default, skip_serializing_if = "LabelsConfig::is_binary")]
    pub labels: LabelsConfig,
}

/// A decoded case at the original resolution, before preprocessing (used by `data check`
/// and for scoring at full size).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub image: super::RgbPlanes,
    /// `None` for unlabelled cases.
    pub mask: Option<Mask>,
    pub fov: Mask,
    pub fov_origin: FovOrigin,
}

/// Decodes one case and checks that mask and FOV match the image size.
pub fn decode_case(case: &Case, kind: DatasetKind, fov: FovSource) -> Result<Decoded> {
    let image = read_rgb(&case.image)?;
    let mask = match &case.mask {
        Some(p) => {
            let m = read_mask(p)?;
            check_size(p, image.size(), m.size())?;
            Some(m)
        }
        None => None,
    };
    let (fov, fov_origin) = fov_for(case, kind, &image, fov)?;
    Ok(Decoded {
        image,
        mask,
        fov,
        fov_origin,
    })
}

/// Decodes and preprocesses one labelled case into a [`Sample`] (mask and FOV resized with the
/// image when the preprocessing resizes).
pub fn load_case(case: &Case, kind: DatasetKind, cfg: &LoadConfig) -> Result<Sample> {
    if !cfg.labels.is_binary() {
        return load_classes(case, kind, cfg);
    }
    let d = decode_case(case, kind, cfg.fov)?;
    let mask = match d.mask {
        Some(m) => m,
        None => {
            return Err(Error::InvalidInput(format!(
                "case '{}' ({}) has no mask; unlabelled cases cannot be training samples",
                case.id,
                case.image.display()
            )));
        }
    };
    let (image, mask, fov) = match cfg.scale_to {
        Some(target) => scale_to(d.image, mask, d.fov, target, case)?,
        None => (d.image, mask, d.fov),
    };
    Ok(Sample {
        id: case.id.clone(),
        image: cfg.preprocess.apply(&image, &fov)?,
        mask: cfg.preprocess.apply_mask(&mask),
        fov: cfg.preprocess.apply_mask(&fov),
        classes: Vec::new(),
    })
}

/// The per-class masks of one labelled case at the image's size `size` (see
/// [`LoadConfig::labels`]).
pub fn read_class_masks(case: &Case, labels: &LabelsConfig, size: (u32, u32)) -> Result<Vec<Mask>> {
    let unlabelled = || {
        Error::InvalidInput(format!(
            "case '{}' ({}) has no {}; unlabelled cases cannot be training or evaluation samples",
            case.id,
            case.image.display(),
            if labels.mode == LabelMode::MultiLabel {
                "structure masks"
            } else {
                "label map"
            }
        ))
    };
    match labels.mode {
        LabelMode::MultiLabel if case.structures.is_empty() => Err(unlabelled()),
        LabelMode::MultiLabel => read_structure_masks(case, labels, size),
        _ => {
            let path = case.mask.as_ref().ok_or_else(unlabelled)?;
            let masks = labels.read_label_map(path)?;
            if let Some(m) = masks.first() {
                check_size(path, size, m.size())?;
            }
            Ok(masks)
        }
    }
}

/// The union of the foreground classes (multi-class: every class but label 0).
pub fn foreground_union(masks: &[Mask], labels: &LabelsConfig) -> Option<Mask> {
    let ids = labels.ids();
    let mut out: Option<Mask> = None;
    for (k, m) in masks.iter().enumerate() {
        if labels.mode == LabelMode::MultiClass && ids.get(k) == Some(&0) {
            continue;
        }
        match &mut out {
            None => out = Some(m.clone()),
            Some(u) => u.data.iter_mut().zip(&m.data).for_each(|(a, &b)| *a |= b),
        }
    }
    out
}

/// [`load_case`] for K > 1 classes: the per-class masks follow the image through scaling and
/// preprocessing; `mask` is their foreground union.
fn load_classes(case: &Case, kind: DatasetKind, cfg: &LoadConfig) -> Result<Sample> {
    let image = read_rgb(&case.image)?;
    let (fov, _) = fov_for(case, kind, &image, cfg.fov)?;
    let mut classes = read_class_masks(case, &cfg.labels, image.size())?;
    let union = foreground_union(&classes, &cfg.labels)
        .unwrap_or_else(|| Mask::filled(image.width, image.height, false));
    let (image, mask, fov) = match cfg.scale_to {
        Some(target) => scale_to(image, union, fov, target, case)?,
        None => (image, union, fov),
    };
    if mask.size() != classes[0].size() {
        let (w, h) = mask.size();
        classes = classes
            .iter()
            .map(|m| super::preprocess::resize_mask(m, w, h))
            .collect();
    }
    Ok(Sample {
        id: case.id.clone(),
        image: cfg.preprocess.apply(&image, &fov)?,
        mask: cfg.preprocess.apply_mask(&mask),
        fov: cfg.preprocess.apply_mask(&fov),
        classes: classes
            .iter()
            .map(|m| cfg.preprocess.apply_mask(m))
            .collect(),
    })
}

/// Image, mask and FOV resampled so that the FOV diameter becomes `target` pixels (unchanged
/// within [`crate::infer::scale::UNIT_TOLERANCE`]).
fn scale_to(
    image: super::RgbPlanes,
    mask: Mask,
    fov: Mask,
    target: f64,
    case: &Case,
) -> Result<(super::RgbPlanes, Mask, Mask)> {
    use crate::infer::scale::{ScaleMode, ScaleReference, factor, scaled_size};
    let decision = factor(
        ScaleMode::Auto,
        Some(&ScaleReference::FovDiameter(target)),
        &fov,
    )?;
    if decision.fov_fallback {
        tracing::warn!(
            "{}: no field of view found; its width stood in for the FOV diameter",
            case.image.display()
        );
    }
    if decision.factor == 1.0 {
        return Ok((image, mask, fov));
    }
    let (w, h) = scaled_size(image.size(), decision.factor);
    Ok((
        super::preprocess::resize_rgb(&image, w, h),
        super::preprocess::resize_mask(&mask, w, h),
        super::preprocess::resize_mask(&fov, w, h),
    ))
}

/// Runs `f` on every item with `threads` workers (0 = available cores), keeping input order.
/// Returns the first error in input order.
pub fn par_map<T: Sync, U: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> Result<U> + Sync,
) -> Result<Vec<U>> {
    let threads = if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        threads
    }
    .min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<U>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() {
                        break;
                    }
                    let r = f(&items[i]);
                    if let Ok(mut guard) = results.lock() {
                        guard[i] = Some(r);
                    }
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| Error::InvalidInput("a decoding thread panicked".into()))?;
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::InvalidInput("a decoding thread panicked".into()))))
        .collect()
}

/// Decoded, preprocessed samples held in memory with their pixel indices (decode once, reuse
/// every epoch).
#[derive(Debug, Clone, Default)]
pub struct SampleCache {
    pub samples: Vec<Sample>,
    pub index: Vec<PixelIndex>,
}

impl SampleCache {
    /// Decodes `cases` in parallel.
    pub fn load(cases: &[Case], kind: DatasetKind, cfg: &LoadConfig) -> Result<Self> {
        let start = Instant::now();
        let samples = par_map(cases, cfg.threads, |c| load_case(c, kind, cfg))?;
        let index = samples.iter().map(PixelIndex::new).collect();
        tracing::info!(
            "decoded {} cases in {:.2} s",
            samples.len(),
            start.elapsed().as_secs_f64()
        );
        Ok(SampleCache { samples, index })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// What one training item is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SampleMode {
    /// Random patches (vessels).
    Patches(PatchConfig),
    /// Whole images; all samples must have the same size (set `preprocess.resize`).
    Whole,
}

/// Batching settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchConfig {
    pub batch_size: usize,
    /// Batches per epoch (whole mode: 0 = one pass over the samples).
    pub batches_per_epoch: usize,
    pub mode: SampleMode,
    pub augment: AugmentConfig,
    pub seed: u64,
    /// Batches prepared ahead of the consumer.
    pub prefetch: usize,
}

/// A training batch: images `[B, C, H, W]`, masks `[B, K, H, W]` (K = 1 binary, else one per
/// class) and FOV `[B, 1, H, W]` as 0/1 floats.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub images: Vec<f32>,
    pub masks: Vec<f32>,
    /// K, the channels of `masks`.
    pub mask_channels: usize,
    pub fov: Vec<f32>,
    /// `[B, C, H, W]` of `images`.
    pub shape: [usize; 4],
    pub ids: Vec<String>,
}

impl Batch {
    /// Stacks samples of equal size.
    pub fn stack(samples: &[Sample]) -> Result<Self> {
        let first = samples
            .first()
            .ok_or_else(|| Error::InvalidInput("cannot batch zero samples".into()))?;
        let (c, w, h) = (first.image.channels, first.image.width, first.image.height);
        let mut b = Batch {
            images: Vec::with_capacity(samples.len() * first.image.data.len()),
            masks: Vec::new(),
            mask_channels: first.classes.len().max(1),
            fov: Vec::new(),
            shape: [samples.len(), c, h as usize, w as usize],
            ids: Vec::new(),
        };
        for s in samples {
            if (s.image.channels, s.image.width, s.image.height) != (c, w, h) {
                return Err(Error::InvalidInput(format!(
                    "cannot batch '{}' ({}×{}×{}) with '{}' ({c}×{w}×{h}); set a resize or use \
                     patches",
                    s.id, s.image.channels, s.image.width, s.image.height, first.id
                )));
            }
            b.images.extend_from_slice(&s.image.data);
            if s.classes.len().max(1) != b.mask_channels {
                return Err(Error::InvalidInput(format!(
                    "cannot batch '{}' ({} classes) with '{}' ({})",
                    s.id,
                    s.classes.len(),
                    first.id,
                    first.classes.len()
                )));
            }
            if s.classes.is_empty() {
                b.masks.extend(s.mask.data.iter().map(|&v| v as u8 as f32));
            } else {
                for m in &s.classes {
                    b.masks.extend(m.data.iter().map(|&v| v as u8 as f32));
                }
            }
            b.fov.extend(s.fov.data.iter().map(|&v| v as u8 as f32));
            b.ids.push(s.id.clone());
        }
        Ok(b)
    }

    /// `(images [B, C, H, W], masks [B, K, H, W], fov [B, 1, H, W])` as tensors on `device`.
    pub fn to_tensors(&self, device: &Device) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let [b, c, h, w] = self.shape;
        let t = |v: &Vec<f32>, ch: usize| {
            Tensor::<4>::from_data(TensorData::new(v.clone(), [b, ch, h, w]), device)
        };
        (
            t(&self.images, c),
            t(&self.masks, self.mask_channels),
            t(&self.fov, 1),
        )
    }
}

/// Builds batch `i` of `epoch` deterministically from the cache.
pub fn make_batch(cache: &SampleCache, cfg: &BatchConfig, epoch: u64, i: usize) -> Result<Batch> {
    let mut rng = Rng::with_stream(cfg.seed, (epoch << 32) ^ i as u64);
    let n = cache.len();
    if n == 0 {
        return Err(Error::InvalidInput("no samples to batch".into()));
    }
    let mut items = Vec::with_capacity(cfg.batch_size);
    match &cfg.mode {
        SampleMode::Patches(p) => {
            for _ in 0..cfg.batch_size {
                let k = rng.below(n);
                let patch = p.sample(&cache.samples[k], &cache.index[k], &mut rng);
                items.push(cfg.augment.apply(&patch, &mut rng));
            }
        }
        SampleMode::Whole => {
            // a seeded permutation per epoch, walked batch by batch
            let mut order: Vec<usize> = (0..n).collect();
            Rng::with_stream(cfg.seed, epoch).shuffle(&mut order);
            for j in 0..cfg.batch_size {
                let k = order[(i * cfg.batch_size + j) % n];
                items.push(cfg.augment.apply(&cache.samples[k], &mut rng));
            }
        }
    }
    Batch::stack(&items)
}

/// Timing of a [`BatchLoader`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LoaderStats {
    pub batches: usize,
    /// Seconds the consumer spent blocked waiting for batches.
    pub wait_s: f64,
    /// Seconds since the loader started.
    pub elapsed_s: f64,
    /// `wait_s / elapsed_s`.
    pub wait_share: f64,
}

/// Prepares the batches of one epoch on a background thread, `prefetch` ahead.
pub struct BatchLoader {
    rx: Receiver<Result<Batch>>,
    handle: Option<JoinHandle<()>>,
    started: Instant,
    wait: Duration,
    batches: usize,
}

impl BatchLoader {
    /// Starts producing the batches of `epoch`.
    pub fn epoch(cache: Arc<SampleCache>, cfg: &BatchConfig, epoch: u64) -> Result<Self> {
        cfg.augment.validate()?;
        if cfg.batch_size == 0 {
            return Err(Error::InvalidConfig("batch_size must be ≥ 1".into()));
        }
        if let SampleMode::Patches(p) = &cfg.mode {
            p.validate()?;
        }
        let count = match (&cfg.mode, cfg.batches_per_epoch) {
            (SampleMode::Whole, 0) => cache.len().div_ceil(cfg.batch_size),
            (_, 0) => 1,
            (_, n) => n,
        };
        let (tx, rx): (SyncSender<Result<Batch>>, _) = sync_channel(cfg.prefetch.max(1));
        let cfg = cfg.clone();
        let handle = std::thread::spawn(move || {
            for i in 0..count {
                let b = make_batch(&cache, &cfg, epoch, i);
                let stop = b.is_err();
                if tx.send(b).is_err() || stop {
                    break;
                }
            }
        });
        Ok(BatchLoader {
            rx,
            handle: Some(handle),
            started: Instant::now(),
            wait: Duration::ZERO,
            batches: 0,
        })
    }

    /// The next batch, `None` at the end of the epoch; time spent blocked is recorded.
    pub fn next_batch(&mut self) -> Option<Result<Batch>> {
        let t = Instant::now();
        let r = self.rx.recv().ok();
        self.wait += t.elapsed();
        if r.is_some() {
            self.batches += 1;
        }
        r
    }

    /// Waiting statistics so far.
    pub fn stats(&self) -> LoaderStats {
        let elapsed = self.started.elapsed().as_secs_f64();
        let wait = self.wait.as_secs_f64();
        LoaderStats {
            batches: self.batches,
            wait_s: wait,
            elapsed_s: elapsed,
            wait_share: if elapsed > 0.0 { wait / elapsed } else { 0.0 },
        }
    }
}

impl Iterator for BatchLoader {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch()
    }
}

impl Drop for BatchLoader {
    fn drop(&mut self) {
        // Dropping the receiver unblocks the producer; then wait for it.
        let (_tx, rx) = sync_channel(1);
        drop(std::mem::replace(&mut self.rx, rx));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::io::Mask;
    use crate::data::preprocess::Planes;

    fn cache(n: usize, w: u32) -> SampleCache {
        let samples: Vec<Sample> = (0..n)
            .map(|k| {
                let area = (w * w) as usize;
                let mut mask = Mask::filled(w, w, false);
                mask.data[k % area] = true;
                Sample {
                    id: format!("{k}"),
                    image: Planes {
                        channels: 1,
                        width: w,
                        height: w,
                        data: vec![k as f32; area],
                    },
                    mask,
                    fov: Mask::filled(w, w, true),
                    classes: Vec::new(),
                }
            })
            .collect();
        let index = samples.iter().map(PixelIndex::new).collect();
        SampleCache { samples, index }
    }

    #[test]
    fn par_map_keeps_order_and_reports_the_first_error() {
        let v: Vec<usize> = (0..50).collect();
        let out = par_map(&v, 4, |&x| Ok(x * 2)).unwrap();
        assert_eq!(out, (0..50).map(|x| x * 2).collect::<Vec<_>>());
        let err = par_map(&v, 3, |&x| {
            if x % 10 == 7 {
                Err(Error::InvalidInput(format!("{x}")))
            } else {
                Ok(x)
            }
        });
        assert!(matches!(err, Err(Error::InvalidInput(s)) if s == "7"));
    }

    #[test]
    fn loader_yields_deterministic_batches_and_reports_waiting() {
        let c = Arc::new(cache(5, 8));
        let cfg = BatchConfig {
            batch_size: 2,
            batches_per_epoch: 0,
            mode: SampleMode::Whole,
            augment: AugmentConfig::none(),
            seed: 1,
            prefetch: 2,
        };
        let a: Vec<Batch> = BatchLoader::epoch(c.clone(), &cfg, 0)
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        let b: Vec<Batch> = BatchLoader::epoch(c.clone(), &cfg, 0)
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].shape, [2, 1, 8, 8]);
        let mut l = BatchLoader::epoch(c.clone(), &cfg, 1).unwrap();
        while let Some(b) = l.next_batch() {
            b.unwrap();
        }
        let s = l.stats();
        assert_eq!(s.batches, 3);
        assert!((0.0..=1.0).contains(&s.wait_share));
        let patches = BatchConfig {
            mode: SampleMode::Patches(PatchConfig {
                size: [4, 4],
                foreground_bias: 1.0,
            }),
            batches_per_epoch: 4,
            augment: AugmentConfig {
                p_affine: 0.0,
                ..AugmentConfig::default()
            },
            ..cfg
        };
        let batches: Vec<Batch> = BatchLoader::epoch(c, &patches, 0)
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        assert_eq!(batches.len(), 4);
        for b in &batches {
            assert_eq!(b.shape, [2, 1, 4, 4]);
            assert_eq!(
                b.masks.iter().sum::<f32>(),
                2.0,
                "each patch holds its pixel"
            );
        }
    }

    #[test]
    fn batch_to_tensors_has_the_right_shapes() {
        let c = cache(2, 4);
        let b = Batch::stack(&c.samples).unwrap();
        let device = Device::flex();
        let (x, y, f) = b.to_tensors(&device);
        assert_eq!(x.dims(), [2, 1, 4, 4]);
        assert_eq!(y.dims(), [2, 1, 4, 4]);
        assert_eq!(f.dims(), [2, 1, 4, 4]);
    }
}
