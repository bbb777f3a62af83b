//! Inference on whole images of any size: preprocessing from the weights file, overlapping tiles
//! with blending and optional test-time mirroring ([`tiling`]), the network run on each batch of
//! tiles ([`predict_planes`]), and the probability map restored to the original size
//! ([`Predictor`]). Training's validation uses the same [`predict_planes`]; nothing here depends
//! on training.

pub mod tiling;

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;

use crate::data::Planes;
use crate::data::fov::{FovDeriveConfig, FovSource, derive_fov};
use crate::data::io::{Mask, Plane, RgbPlanes, read_rgb};
use crate::models::SegNet;
use crate::models::weights::{WeightsMeta, load_weights, load_weights_from_bytes};
use crate::{Error, Result};
use tiling::{TileConfig, predict_tiled};

/// Probability map `[H, W]` (row-major) of one preprocessed image: the image cut into tiles as
/// `tiling` says, each batch of tiles through `net` on `device`, sigmoid of the fused logits,
/// tiles blended back.
pub fn predict_planes(
    net: &SegNet,
    image: &Planes,
    tiling: &TileConfig,
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

/// A loaded model with everything needed to segment an image.
pub struct Predictor {
    /// The network (inference mode).
    pub net: SegNet,
    /// Model, preprocessing, tiling and threshold.
    pub meta: WeightsMeta,
    device: Device,
}

/// One prediction.
pub struct Prediction {
    /// Probabilities in `[0, 1]` at the original image size.
    pub prob: Plane,
    /// The field of view used (derived for vessel models, else the whole image).
    pub fov: Mask,
    /// Seconds spent (preprocessing, network, restoring).
    pub seconds: f64,
}

impl Prediction {
    /// The binary mask `prob >= threshold`.
    pub fn binary(&self, threshold: f64) -> Vec<bool> {
        self.prob
            .data
            .iter()
            .map(|&p| p as f64 >= threshold)
            .collect()
    }

    /// Writes the 16-bit probability map, the binary mask and a green overlay on `image`.
    pub fn save(
        &self,
        image: &RgbPlanes,
        threshold: f64,
        prob: &Path,
        mask: &Path,
        overlay: &Path,
    ) -> Result<()> {
        let (w, h) = (image.width, image.height);
        let binary = self.binary(threshold);
        crate::viz::save_png(&crate::viz::probability_png16(&self.prob.data, w, h), prob)?;
        crate::viz::save_png(&crate::viz::mask_png(&binary, w, h), mask)?;
        let rgb = to_rgb8(image);
        crate::viz::save_png(
            &crate::viz::overlay(&rgb, w, h, &binary, [0, 255, 0], 0.5),
            overlay,
        )
    }
}

/// Interleaved 8-bit RGB of an image in `[0, 1]` planes.
pub fn to_rgb8(image: &RgbPlanes) -> Vec<u8> {
    let n = image.width as usize * image.height as usize;
    let mut out = Vec::with_capacity(n * 3);
    for i in 0..n {
        for p in &image.planes {
            out.push((p[i].clamp(0.0, 1.0) * 255.0).round() as u8);
        }
    }
    out
}

impl Predictor {
    /// Loads a medseg weights file onto `device`, in the fast deploy form ([`SegNet::fuse`]).
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        Self::load_with(path, device, true)
    }

    /// Loads a medseg weights file onto `device`; `fuse` re-parameterises the network for
    /// inference unless the file already holds the deploy form.
    pub fn load_with(path: &Path, device: &Device, fuse: bool) -> Result<Self> {
        let (net, meta) = load_weights(path, device)?;
        Ok(Self::new(net, meta, device, fuse))
    }

    /// Loads medseg weights held in memory (a model embedded in a binary); `origin` names them
    /// in errors. `fuse` as in [`Predictor::load_with`].
    pub fn from_bytes(bytes: &[u8], origin: &Path, device: &Device, fuse: bool) -> Result<Self> {
        let (net, meta) = load_weights_from_bytes(bytes, origin, device)?;
        Ok(Self::new(net, meta, device, fuse))
    }

    /// Wraps an in-memory network (put in inference mode; fused if `fuse`).
    pub fn new(net: SegNet, mut meta: WeightsMeta, device: &Device, fuse: bool) -> Self {
        let mut net = net.valid();
        if fuse && !meta.fused {
            net = net.fuse();
            meta.fused = true;
        }
        Predictor {
            net,
            meta,
            device: device.clone(),
        }
    }

    /// The FOV the model's training used, for a new image: derived for vessel models whose
    /// training did so or had official masks, else the whole image.
    pub fn fov_for(&self, image: &RgbPlanes) -> Mask {
        let vessels = self.meta.dataset.is_some_and(|d| d.is_vessels());
        if vessels && self.meta.fov != FovSource::Full {
            derive_fov(image, &FovDeriveConfig::default())
        } else {
            Mask::filled(image.width, image.height, true)
        }
    }

    /// Segments a decoded image inside `fov` (pixels outside get probability 0).
    pub fn predict(&self, image: &RgbPlanes, fov: &Mask) -> Result<Prediction> {
        let start = Instant::now();
        let planes = self.meta.preprocess.apply(image, fov)?;
        let probs = predict_planes(&self.net, &planes, &self.meta.tiling, &self.device)?;
        let small = Plane {
            width: planes.width,
            height: planes.height,
            data: probs,
        };
        let mut prob = self
            .meta
            .preprocess
            .restore(&small, (image.width, image.height));
        for (p, &inside) in prob.data.iter_mut().zip(&fov.data) {
            if !inside {
                *p = 0.0;
            }
        }
        Ok(Prediction {
            prob,
            fov: fov.clone(),
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// Reads and segments an image file.
    pub fn predict_file(&self, path: &Path) -> Result<(RgbPlanes, Prediction)> {
        let image = read_rgb(path)?;
        let fov = self.fov_for(&image);
        let p = self.predict(&image, &fov)?;
        Ok((image, p))
    }
}
