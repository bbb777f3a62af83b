//! Inference on whole images of any size: preprocessing from the weights file, overlapping tiles
//! with blending and optional test-time mirroring ([`tiling`]), the network run on each batch of
//! tiles ([`predict_planes`]), and the probability map restored to the original size
//! ([`Predictor`]). Training's validation uses the same [`predict_planes`]; nothing here depends
//! on training.

pub mod scale;
pub mod tiling;

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;

use crate::data::Planes;
use crate::data::fov::{FovDeriveConfig, FovSource, derive_fov};
use crate::data::io::{Mask, Plane, RgbPlanes, read_rgb};
use crate::data::labels::LabelMode;
use crate::data::preprocess::{resize_mask, resize_plane, resize_rgb};
use crate::models::SegNet;
use crate::models::weights::{WeightsMeta, load_weights, load_weights_from_bytes};
use crate::{Error, Result};
use scale::{ScaleDecision, ScaleMode};
use tiling::{TileConfig, predict_tiled};

/// Probability map `[H, W]` (row-major) of one preprocessed image through a one-channel
/// (binary) `net`: [`predict_class_planes`] with the sigmoid.
pub fn predict_planes(
    net: &SegNet,
    image: &Planes,
    tiling: &TileConfig,
    device: &Device,
) -> Result<Vec<f32>> {
    Ok(predict_class_planes(net, image, tiling, LabelMode::Binary, device)?.data)
}

/// Per-class probability maps `[K, H, W]` of one preprocessed image: the image cut into tiles as
/// `tiling` says, each batch of tiles through `net` on `device`, an independent sigmoid per
/// channel of the fused logits (binary, multi-label) or the softmax over the channels
/// (multi-class), tiles (and test-time mirrors) blended back as probabilities.
pub fn predict_class_planes(
    net: &SegNet,
    image: &Planes,
    tiling: &TileConfig,
    mode: LabelMode,
    device: &Device,
) -> Result<Planes> {
    let [tw, th] = tiling.tile;
    let c = image.channels;
    predict_tiled(image, tiling, |batch, n| {
        let x = Tensor::<4>::from_data(
            TensorData::new(batch.to_vec(), [n, c, th as usize, tw as usize]),
            device,
        );
        let logits = net.forward(x).fused; // [n, K, th, tw]
        let probs = match mode {
            LabelMode::MultiClass => burn::tensor::activation::softmax(logits, 1),
            _ => burn::tensor::activation::sigmoid(logits),
        };
        probs
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| Error::InvalidInput(format!("model output: {e:?}")))
    })
}

/// One prediction of a model with K > 1 classes.
pub struct ClassPrediction {
    /// One probability map per class, at the original image size.
    pub probs: Vec<Plane>,
    /// The field of view used.
    pub fov: Mask,
    /// Seconds spent.
    pub seconds: f64,
    /// The scale factor applied and how it was found.
    pub scale: ScaleDecision,
}

impl ClassPrediction {
    /// The predicted mask of every class (threshold or argmax, see
    /// [`crate::metrics::classes::predicted_masks`]).
    pub fn masks(&self, mode: LabelMode, threshold: f64) -> Vec<Vec<bool>> {
        let planes: Vec<Vec<f32>> = self.probs.iter().map(|p| p.data.clone()).collect();
        crate::metrics::classes::predicted_masks(mode, &planes, threshold as f32)
    }

    /// The pictures of this prediction over `image`, in memory: per class its 16-bit
    /// probability map and binary mask, the label map ([`crate::viz::label_map_png`]) and the
    /// colour overlay with a legend (multi-class: the background, label 0, is neither drawn nor
    /// listed).
    pub fn pictures(
        &self,
        image: &RgbPlanes,
        labels: &crate::data::labels::LabelsConfig,
        threshold: f64,
    ) -> ClassPictures {
        let (w, h) = (image.width, image.height);
        let masks = self.masks(labels.mode, threshold);
        let names = labels.names();
        let colours = labels.colours();
        let exclusive = labels.mode == LabelMode::MultiClass;
        let background: Vec<usize> = if exclusive {
            labels
                .ids()
                .iter()
                .enumerate()
                .filter(|(_, id)| **id == 0)
                .map(|(k, _)| k)
                .collect()
        } else {
            Vec::new()
        };
        let overlay =
            crate::viz::class_overlay(&to_rgb8(image), w, h, &masks, &colours, &background, 0.45);
        let legend: Vec<(&str, [u8; 3])> = names
            .iter()
            .zip(&colours)
            .enumerate()
            .filter(|(k, _)| !background.contains(k))
            .map(|(_, (n, c))| (n.as_str(), *c))
            .collect();
        let classes = names
            .iter()
            .zip(&colours)
            .zip(self.probs.iter().zip(&masks))
            .map(|((name, colour), (prob, mask))| ClassPicture {
                name: name.clone(),
                colour: *colour,
                probability: crate::viz::probability_png16(&prob.data, w, h),
                mask: crate::viz::mask_png(mask, w, h),
                foreground_fraction: mask.iter().filter(|&&m| m).count() as f64
                    / mask.len().max(1) as f64,
            })
            .collect();
        ClassPictures {
            classes,
            label_map: crate::viz::label_map_png(&masks, w, h, exclusive),
            overlay: crate::viz::with_legend(&overlay, &legend),
            masks,
        }
    }

    /// Writes the pictures of this prediction over `image` under `out`: `prob/<class>/<id>.png`
    /// (16-bit probabilities), `error/<class>/<id>.png` when `truth` is given, `labels/<id>.png`
    /// (label map) and `overlay/<id>.png` (colours and legend); see
    /// [`ClassPrediction::pictures`].
    pub fn save(
        &self,
        image: &RgbPlanes,
        labels: &crate::data::labels::LabelsConfig,
        threshold: f64,
        truth: Option<&[Vec<bool>]>,
        out: &Path,
        id: &str,
    ) -> Result<()> {
        let (w, h) = (image.width, image.height);
        let pictures = self.pictures(image, labels, threshold);
        let file = |dir: &str| out.join(dir).join(format!("{id}.png"));
        for (k, class) in pictures.classes.iter().enumerate() {
            let class_file = |dir: &str| out.join(dir).join(&class.name).join(format!("{id}.png"));
            crate::viz::save_png(&class.probability, class_file("prob"))?;
            if let Some(truth) = truth {
                crate::viz::save_png(
                    &crate::viz::error_map(
                        &pictures.masks[k],
                        &truth[k],
                        Some(&self.fov.data),
                        w,
                        h,
                    ),
                    class_file("error"),
                )?;
            }
        }
        crate::viz::save_png(&pictures.label_map, file("labels"))?;
        crate::viz::save_png(&pictures.overlay, file("overlay"))
    }
}

/// One class's pictures ([`ClassPrediction::pictures`]).
pub struct ClassPicture {
    /// Class name.
    pub name: String,
    /// Its colour in the overlay.
    pub colour: [u8; 3],
    /// Probabilities as 16-bit grey.
    pub probability: crate::viz::Gray16Image,
    /// The class's mask, 0 or 255.
    pub mask: image::GrayImage,
    /// Share of the pixels in the mask.
    pub foreground_fraction: f64,
}

/// What `predict` writes for an image of a K-class model, in memory.
pub struct ClassPictures {
    /// Per class, in channel order.
    pub classes: Vec<ClassPicture>,
    /// The label map: each pixel its class's index (see [`crate::viz::label_map_png`]).
    pub label_map: image::GrayImage,
    /// The classes drawn in their colours over the image, with a legend below.
    pub overlay: image::RgbImage,
    /// The predicted masks, per class.
    pub masks: Vec<Vec<bool>>,
}

/// A loaded model with everything needed to segment an image.
pub struct Predictor {
    /// The network (inference mode).
    pub net: SegNet,
    /// Model, preprocessing, tiling and threshold.
    pub meta: WeightsMeta,
    /// How each image is scaled before the network ([`scale`]); `Auto` by default.
    pub scale: ScaleMode,
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
    /// The scale factor applied and how it was found.
    pub scale: ScaleDecision,
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

    /// The pictures of this prediction over `image` at `threshold`: the 16-bit probability
    /// map, the binary mask and a green overlay.
    pub fn pictures(&self, image: &RgbPlanes, threshold: f64) -> Pictures {
        let (w, h) = (image.width, image.height);
        let binary = self.binary(threshold);
        let foreground = binary.iter().filter(|&&b| b).count();
        Pictures {
            probability: crate::viz::probability_png16(&self.prob.data, w, h),
            mask: crate::viz::mask_png(&binary, w, h),
            overlay: crate::viz::overlay(&to_rgb8(image), w, h, &binary, OVERLAY_COLOR, 0.5),
            foreground_fraction: foreground as f64 / binary.len().max(1) as f64,
        }
    }

    /// Writes the [`Prediction::pictures`] to three PNG files.
    pub fn save(
        &self,
        image: &RgbPlanes,
        threshold: f64,
        prob: &Path,
        mask: &Path,
        overlay: &Path,
    ) -> Result<()> {
        let pictures = self.pictures(image, threshold);
        crate::viz::save_png(&pictures.probability, prob)?;
        crate::viz::save_png(&pictures.mask, mask)?;
        crate::viz::save_png(&pictures.overlay, overlay)
    }
}

/// Colour of the foreground in overlays (green).
pub const OVERLAY_COLOR: [u8; 3] = [0, 255, 0];

/// What `predict` writes for an image, in memory.
pub struct Pictures {
    /// Probabilities as 16-bit grey (0..=65535 for 0..=1).
    pub probability: crate::viz::Gray16Image,
    /// The binary mask, 0 or 255.
    pub mask: image::GrayImage,
    /// The mask drawn in [`OVERLAY_COLOR`] at half opacity over the image.
    pub overlay: image::RgbImage,
    /// Share of the pixels in the mask.
    pub foreground_fraction: f64,
}

/// Per-call inference options that override a [`Predictor`]'s defaults (a server's request
/// parameters).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PredictOptions {
    /// How to scale the image; `None` keeps [`Predictor::scale`].
    pub scale: Option<ScaleMode>,
    /// Test-time mirroring; `None` keeps the weights' tiling setting.
    pub mirror: Option<bool>,
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
            scale: ScaleMode::Auto,
            device: device.clone(),
        }
    }

    /// The FOV the model's training used, for a new image: derived for vessel models whose
    /// training did so or had official masks, else the whole image.
    pub fn fov_for(&self, image: &RgbPlanes) -> Mask {
        let vessels = self.meta.dataset.is_some_and(|d| d.is_vessels());
        if vessels && self.meta.fov != FovSource::Full {
            derive_fov_fast(image)
        } else {
            Mask::filled(image.width, image.height, true)
        }
    }

    /// Segments a decoded image inside `fov` (pixels outside get probability 0), scaled as
    /// [`Predictor::scale`] says: the image (and FOV) resampled by the factor, the network run,
    /// the probabilities resampled back to the original size.
    pub fn predict(&self, image: &RgbPlanes, fov: &Mask) -> Result<Prediction> {
        self.predict_with(image, fov, PredictOptions::default())
    }

    /// [`Predictor::predict`] with the scale mode and mirroring of `options` where they are set.
    /// For a one-channel model; a K-channel model's first class (see
    /// [`Predictor::predict_classes`] for all of them).
    pub fn predict_with(
        &self,
        image: &RgbPlanes,
        fov: &Mask,
        options: PredictOptions,
    ) -> Result<Prediction> {
        let p = self.predict_classes(image, fov, options)?;
        Ok(Prediction {
            prob: p
                .probs
                .into_iter()
                .next()
                .expect("a model has at least one channel"),
            fov: p.fov,
            seconds: p.seconds,
            scale: p.scale,
        })
    }

    /// The per-class probability maps (one for a binary model; a sigmoid per channel, or the
    /// softmax for multi-class weights), 0 outside `fov`: the image (and FOV) resampled by the
    /// scale factor, cropped to the FOV's bounding box (see [`CROP_MARGIN`]), preprocessed and
    /// tiled through the network, each map restored to the original size.
    pub fn predict_classes(
        &self,
        image: &RgbPlanes,
        fov: &Mask,
        options: PredictOptions,
    ) -> Result<ClassPrediction> {
        let start = Instant::now();
        let mode = options.scale.unwrap_or(self.scale);
        let mut tiling = self.meta.tiling.clone();
        tiling.mirror = options.mirror.unwrap_or(tiling.mirror);
        let decision = scale::factor(mode, self.meta.scale_reference.as_ref(), fov)?;
        let original = (image.width, image.height);
        let mut probs = if decision.factor == 1.0 {
            self.predict_unscaled(image, fov, &tiling)?
        } else {
            let (sw, sh) = scale::scaled_size(original, decision.factor);
            let scaled = resize_rgb(image, sw, sh);
            let scaled_fov = resize_mask(fov, sw, sh);
            self.predict_unscaled(&scaled, &scaled_fov, &tiling)?
                .iter()
                .map(|p| resize_plane(p, original.0, original.1))
                .collect()
        };
        for plane in &mut probs {
            for (p, &inside) in plane.data.iter_mut().zip(&fov.data) {
                if !inside {
                    *p = 0.0;
                }
            }
        }
        Ok(ClassPrediction {
            probs,
            fov: fov.clone(),
            seconds: start.elapsed().as_secs_f64(),
            scale: decision,
        })
    }

    /// Preprocessing, tiled network, per-class probabilities restored to the image's size. A
    /// FOV that leaves most of the image out (a disc on a wide black frame) is cropped to its
    /// bounding box plus [`CROP_MARGIN`] first, when that saves at least a quarter of the
    /// pixels and the preprocessing keeps the image size: the pixels outside get probability 0
    /// anyway.
    fn predict_unscaled(
        &self,
        image: &RgbPlanes,
        fov: &Mask,
        tiling: &TileConfig,
    ) -> Result<Vec<Plane>> {
        let (w, h) = (image.width, image.height);
        let [x0, y0, x1, y1] = self.crop_box(fov);
        if [x0, y0, x1, y1] == [0, 0, w, h] {
            return self.run_network(image, fov, tiling);
        }
        let (crop_image, crop_fov) = crop_both(image, fov, [x0, y0, x1, y1]);
        let cw = (x1 - x0) as usize;
        Ok(self
            .run_network(&crop_image, &crop_fov, tiling)?
            .into_iter()
            .map(|inner| {
                let mut out = Plane::filled(w, h, 0.0);
                for (row, src) in inner.data.chunks(cw).enumerate() {
                    let start = (y0 as usize + row) * w as usize + x0 as usize;
                    out.data[start..start + cw].copy_from_slice(src);
                }
                out
            })
            .collect())
    }

    /// The region the network runs on: the FOV's bounding box plus [`CROP_MARGIN`] when that
    /// saves at least a quarter of the pixels (and the model does not resize its input), else
    /// the whole image. `[x0, y0, x1, y1]`, end-exclusive.
    fn crop_box(&self, fov: &Mask) -> [u32; 4] {
        let (w, h) = (fov.width, fov.height);
        if self.meta.preprocess.resize.is_none()
            && let Some([x0, y0, x1, y1]) = bounding_box(fov, CROP_MARGIN)
            && ((x1 - x0) as u64 * (y1 - y0) as u64) * 4 <= (w as u64 * h as u64) * 3
        {
            return [x0, y0, x1, y1];
        }
        [0, 0, w, h]
    }

    /// What the network is given for `image`: the image brought to the model's scale (`mode`),
    /// cropped to the FOV's box and preprocessed, as [`Predictor::predict_with`] does before
    /// tiling. For running the network elsewhere (an exported ONNX file) on exactly medseg's
    /// input.
    pub fn network_input(
        &self,
        image: &RgbPlanes,
        fov: &Mask,
        mode: ScaleMode,
    ) -> Result<NetworkInput> {
        let decision = scale::factor(mode, self.meta.scale_reference.as_ref(), fov)?;
        let (image, fov) = if decision.factor == 1.0 {
            (image.clone(), fov.clone())
        } else {
            let (sw, sh) = scale::scaled_size((image.width, image.height), decision.factor);
            (resize_rgb(image, sw, sh), resize_mask(fov, sw, sh))
        };
        let crop = self.crop_box(&fov);
        let (crop_image, crop_fov) = crop_both(&image, &fov, crop);
        Ok(NetworkInput {
            planes: self.meta.preprocess.apply(&crop_image, &crop_fov)?,
            factor: decision.factor,
            scaled_size: (image.width, image.height),
            crop,
        })
    }

    fn run_network(
        &self,
        image: &RgbPlanes,
        fov: &Mask,
        tiling: &TileConfig,
    ) -> Result<Vec<Plane>> {
        let planes = self.meta.preprocess.apply(image, fov)?;
        let probs = predict_class_planes(
            &self.net,
            &planes,
            tiling,
            self.meta.labels.mode,
            &self.device,
        )?;
        Ok((0..probs.channels)
            .map(|k| {
                let small = Plane {
                    width: probs.width,
                    height: probs.height,
                    data: probs.channel(k).to_vec(),
                };
                self.meta
                    .preprocess
                    .restore(&small, (image.width, image.height))
            })
            .collect())
    }

    /// Reads and segments an image file.
    pub fn predict_file(&self, path: &Path) -> Result<(RgbPlanes, Prediction)> {
        let image = read_rgb(path)?;
        let fov = self.fov_for(&image);
        let p = self.predict(&image, &fov)?;
        Ok((image, p))
    }
}

/// Pixels of context kept around the FOV's bounding box when an image is cropped to it.
pub const CROP_MARGIN: u32 = 32;

/// The network's input for one image ([`Predictor::network_input`]).
#[derive(Debug, Clone)]
pub struct NetworkInput {
    /// The preprocessed planes, `channels x height x width`.
    pub planes: Planes,
    /// The scale factor applied to the image first (1 when none).
    pub factor: f64,
    /// The image's `(width, height)` after scaling.
    pub scaled_size: (u32, u32),
    /// The crop of the scaled image the planes cover, `[x0, y0, x1, y1]` (end-exclusive); the
    /// network's output goes there, zeros elsewhere, then back to the original size.
    pub crop: [u32; 4],
}

/// `image` and `fov` cropped to `[x0, y0, x1, y1]` (copies when the box is the whole image).
fn crop_both(image: &RgbPlanes, fov: &Mask, [x0, y0, x1, y1]: [u32; 4]) -> (RgbPlanes, Mask) {
    let w = image.width;
    (
        RgbPlanes {
            width: x1 - x0,
            height: y1 - y0,
            planes: [0, 1, 2].map(|c| crop(&image.planes[c], w, [x0, y0, x1, y1])),
        },
        Mask {
            width: x1 - x0,
            height: y1 - y0,
            data: crop(&fov.data, w, [x0, y0, x1, y1]),
        },
    )
}

/// The FOV's bounding box `[x0, y0, x1, y1]` (end-exclusive) grown by `margin` and clipped to
/// the image; `None` for an empty FOV.
fn bounding_box(fov: &Mask, margin: u32) -> Option<[u32; 4]> {
    let w = fov.width as usize;
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for (y, row) in fov.data.chunks(w.max(1)).enumerate() {
        if let Some(first) = row.iter().position(|&v| v) {
            let last = w - 1 - row.iter().rev().position(|&v| v).expect("row has a pixel");
            x0 = x0.min(first);
            x1 = x1.max(last + 1);
            y0 = y0.min(y);
            y1 = y + 1;
        }
    }
    if x0 == usize::MAX {
        return None;
    }
    let m = margin as usize;
    Some([
        x0.saturating_sub(m) as u32,
        y0.saturating_sub(m) as u32,
        (x1 + m).min(w) as u32,
        (y1 + m).min(fov.height as usize) as u32,
    ])
}

/// The pixels of a row-major `width`-wide buffer inside `[x0, y0, x1, y1]`.
fn crop<T: Copy>(data: &[T], width: u32, [x0, y0, x1, y1]: [u32; 4]) -> Vec<T> {
    let w = width as usize;
    (y0 as usize..y1 as usize)
        .flat_map(|y| {
            data[y * w + x0 as usize..y * w + x1 as usize]
                .iter()
                .copied()
        })
        .collect()
}

/// Side beyond which [`derive_fov_fast`] derives the FOV on a reduced copy.
const FOV_DERIVE_SIDE: u32 = 1024;

/// [`derive_fov`] on a copy reduced to about DRIVE's size when the image is large (the
/// morphology's cost grows with the square of its radius, which grows with the image), the mask
/// brought back to full size by nearest neighbour.
pub fn derive_fov_fast(image: &RgbPlanes) -> Mask {
    let short = image.width.min(image.height);
    if short <= FOV_DERIVE_SIDE {
        return derive_fov(image, &FovDeriveConfig::default());
    }
    let f = 584.0 / short as f64;
    let (w, h) = scale::scaled_size((image.width, image.height), f);
    let small = derive_fov(&resize_rgb(image, w, h), &FovDeriveConfig::default());
    resize_mask(&small, image.width, image.height)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_round_trip_keeps_size_constants_and_alignment() {
        // a constant map stays constant, sizes come back
        let c = Plane::filled(37, 23, 0.7);
        let up = resize_plane(&c, 111, 69);
        assert!(up.data.iter().all(|&v| (v - 0.7).abs() < 1e-6));
        let back = resize_plane(&up, 37, 23);
        assert_eq!(back.size(), (37, 23));
        assert!(back.data.iter().all(|&v| (v - 0.7).abs() < 1e-6));
        // a horizontal ramp (pixel-centre coordinates) is preserved within half a pixel after
        // going down by 2.5x and back up
        let (w, h) = (100u32, 10u32);
        let ramp = Plane {
            width: w,
            height: h,
            data: (0..h)
                .flat_map(|_| (0..w).map(|x| x as f32 + 0.5))
                .collect(),
        };
        let round = resize_plane(&resize_plane(&ramp, 40, 4), w, h);
        for x in 5..95 {
            let v = round.data[5 * w as usize + x];
            assert!((v - (x as f32 + 0.5)).abs() <= 0.5, "x {x}: {v}");
        }
    }

    #[test]
    fn bounding_box_grows_by_the_margin_and_clips() {
        let mut m = Mask::filled(100, 50, false);
        for y in 10..20 {
            for x in 30..60 {
                m.data[y * 100 + x] = true;
            }
        }
        assert_eq!(bounding_box(&m, 0), Some([30, 10, 60, 20]));
        assert_eq!(bounding_box(&m, 15), Some([15, 0, 75, 35]));
        assert_eq!(bounding_box(&Mask::filled(4, 4, false), 2), None);
        let data: Vec<u32> = (0..12).collect();
        assert_eq!(crop(&data, 4, [1, 1, 3, 3]), vec![5, 6, 9, 10]);
    }

    #[test]
    fn large_images_derive_the_fov_on_a_reduced_copy() {
        // a bright disc on black, 1400x1200: the fast path finds the same disc
        let (w, h) = (1400u32, 1200u32);
        let inside = |x: u32, y: u32| {
            let (dx, dy) = (x as f64 - 700.0, y as f64 - 600.0);
            dx * dx + dy * dy < 500.0 * 500.0
        };
        let plane: Vec<f32> = (0..h)
            .flat_map(|y| (0..w).map(move |x| if inside(x, y) { 0.6 } else { 0.0 }))
            .collect();
        let image = RgbPlanes {
            width: w,
            height: h,
            planes: [plane.clone(), plane.clone(), plane],
        };
        let fov = derive_fov_fast(&image);
        assert_eq!(fov.size(), (w, h));
        let d = scale::fov_diameter(&fov).unwrap();
        assert!((d - 1000.0).abs() < 20.0, "{d}");
    }
}
