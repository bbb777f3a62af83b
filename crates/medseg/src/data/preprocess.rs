//! Preprocessing, applied in this order: channel choice → CLAHE → gamma → normalisation → resize.
//!
//! Presets: [`PreprocessConfig::vessels`] (green channel, CLAHE clip 2 on 8×8 tiles, gamma 1.2,
//! per-image standardisation inside the FOV; the usual retinal-vessel pipeline) and
//! [`PreprocessConfig::lesions`] (RGB, resize to a fixed square, per-image standardisation).
//! With a resize, predictions are mapped back with [`PreprocessConfig::restore`] before scoring,
//! so metrics are always computed at the original resolution.

use serde::{Deserialize, Serialize};

use super::io::{Mask, Plane, RgbPlanes};
use crate::{Error, Result};

/// Which image channels feed the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// The green channel (best vessel contrast in fundus images); 1 channel.
    Green,
    /// Rec. 709 luminance; 1 channel.
    Grey,
    /// R, G, B; 3 channels.
    Rgb,
}

impl Channel {
    /// Number of network input channels.
    pub fn count(self) -> usize {
        match self {
            Channel::Rgb => 3,
            _ => 1,
        }
    }
}

/// Contrast-limited adaptive histogram equalisation (Zuiderveld 1994), 256 bins.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClaheConfig {
    /// Clip limit as a multiple of the mean bin count (OpenCV's `clipLimit`); 2.0 is usual.
    pub clip_limit: f32,
    /// Tiles per side (OpenCV's `tileGridSize`); 8 is usual.
    pub tiles: u32,
}

impl Default for ClaheConfig {
    fn default() -> Self {
        ClaheConfig {
            clip_limit: 2.0,
            tiles: 8,
        }
    }
}

/// Intensity normalisation after CLAHE and gamma.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalise {
    /// Keep `[0, 1]` values.
    None,
    /// Per image and channel: subtract the mean and divide by the standard deviation computed
    /// inside the FOV; pixels outside the FOV become 0.
    PerImage,
    /// Fixed per-channel mean and standard deviation (e.g. ImageNet's).
    Fixed { mean: Vec<f32>, std: Vec<f32> },
}

/// The preprocessing pipeline (see module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreprocessConfig {
    pub channel: Channel,
    /// CLAHE on each selected channel, or none.
    pub clahe: Option<ClaheConfig>,
    /// Applied as `v^(1/gamma)`; 1.0 is identity, > 1 brightens dark regions.
    pub gamma: f32,
    pub normalise: Normalise,
    /// Resize to `[width, height]` (images bilinear with antialiasing, masks nearest).
    pub resize: Option<[u32; 2]>,
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        PreprocessConfig::vessels()
    }
}

/// A multi-channel float image, `[C, H, W]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Planes {
    pub channels: usize,
    pub width: u32,
    pub height: u32,
    pub data: Vec<f32>,
}

impl Planes {
    /// Zero-filled planes.
    pub fn zeros(channels: usize, width: u32, height: u32) -> Self {
        Planes {
            channels,
            width,
            height,
            data: vec![0.0; channels * width as usize * height as usize],
        }
    }

    /// Number of pixels per channel.
    pub fn area(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Channel `c` as a slice.
    pub fn channel(&self, c: usize) -> &[f32] {
        let n = self.area();
        &self.data[c * n..(c + 1) * n]
    }

    /// Channel `c` as a mutable slice.
    pub fn channel_mut(&mut self, c: usize) -> &mut [f32] {
        let n = self.area();
        &mut self.data[c * n..(c + 1) * n]
    }

    /// Stacks single planes of equal size.
    pub fn from_planes(planes: &[Plane]) -> Self {
        let (width, height) = planes.first().map(|p| p.size()).unwrap_or((0, 0));
        Planes {
            channels: planes.len(),
            width,
            height,
            data: planes.iter().flat_map(|p| p.data.iter().copied()).collect(),
        }
    }
}

impl PreprocessConfig {
    /// Retinal vessels: green, CLAHE (2.0, 8×8), gamma 1.2, per-image standardisation.
    pub fn vessels() -> Self {
        PreprocessConfig {
            channel: Channel::Green,
            clahe: Some(ClaheConfig::default()),
            gamma: 1.2,
            normalise: Normalise::PerImage,
            resize: None,
        }
    }

    /// Skin lesions: RGB resized to `size × size`, per-image standardisation.
    pub fn lesions(size: u32) -> Self {
        PreprocessConfig {
            channel: Channel::Rgb,
            clahe: None,
            gamma: 1.0,
            normalise: Normalise::PerImage,
            resize: Some([size, size]),
        }
    }

    /// Checks value ranges.
    pub fn validate(&self) -> Result<()> {
        if !(self.gamma > 0.0 && self.gamma.is_finite()) {
            return Err(Error::InvalidConfig(format!(
                "gamma must be > 0, got {}",
                self.gamma
            )));
        }
        if let Some(c) = &self.clahe
            && (c.tiles == 0 || c.clip_limit <= 0.0)
        {
            return Err(Error::InvalidConfig(format!(
                "CLAHE needs tiles ≥ 1 and clip_limit > 0, got tiles = {}, clip_limit = {}",
                c.tiles, c.clip_limit
            )));
        }
        if let Some([w, h]) = self.resize
            && (w == 0 || h == 0)
        {
            return Err(Error::InvalidConfig(format!(
                "resize must be positive, got {w}×{h}"
            )));
        }
        if let Normalise::Fixed { mean, std } = &self.normalise
            && (mean.len() != self.channel.count()
                || std.len() != self.channel.count()
                || std.iter().any(|s| *s <= 0.0))
        {
            return Err(Error::InvalidConfig(format!(
                "fixed normalisation needs {} means and {} positive stds, got {mean:?} / {std:?}",
                self.channel.count(),
                self.channel.count()
            )));
        }
        Ok(())
    }

    /// Number of network input channels.
    pub fn in_channels(&self) -> usize {
        self.channel.count()
    }

    /// Runs the pipeline on an image with its FOV (same size as the image).
    pub fn apply(&self, image: &RgbPlanes, fov: &Mask) -> Result<Planes> {
        self.validate()?;
        if image.size() != fov.size() {
            return Err(Error::InvalidInput(format!(
                "image is {:?} but FOV is {:?}",
                image.size(),
                fov.size()
            )));
        }
        let mut planes = match self.channel {
            Channel::Green => Planes::from_planes(&[image.channel(1)]),
            Channel::Grey => Planes::from_planes(&[image.luminance()]),
            Channel::Rgb => {
                Planes::from_planes(&[image.channel(0), image.channel(1), image.channel(2)])
            }
        };
        let (w, h) = (planes.width, planes.height);
        for c in 0..planes.channels {
            let ch = planes.channel_mut(c);
            if let Some(cl) = &self.clahe {
                clahe(ch, w, h, cl);
            }
            if self.gamma != 1.0 {
                let inv = 1.0 / self.gamma;
                for v in ch.iter_mut() {
                    *v = v.clamp(0.0, 1.0).powf(inv);
                }
            }
            match &self.normalise {
                Normalise::None => {}
                Normalise::PerImage => {
                    let (mut s, mut s2, mut n) = (0.0f64, 0.0f64, 0usize);
                    for (v, &m) in ch.iter().zip(&fov.data) {
                        if m {
                            s += *v as f64;
                            s2 += (*v as f64) * (*v as f64);
                            n += 1;
                        }
                    }
                    let mean = if n > 0 { s / n as f64 } else { 0.0 };
                    let var = if n > 0 {
                        s2 / n as f64 - mean * mean
                    } else {
                        0.0
                    };
                    let std = var.max(0.0).sqrt().max(1e-6);
                    for (v, &m) in ch.iter_mut().zip(&fov.data) {
                        *v = if m {
                            ((*v as f64 - mean) / std) as f32
                        } else {
                            0.0
                        };
                    }
                }
                Normalise::Fixed { mean, std } => {
                    for v in ch.iter_mut() {
                        *v = (*v - mean[c]) / std[c];
                    }
                }
            }
        }
        Ok(match self.resize {
            Some([rw, rh]) if (rw, rh) != (w, h) => resize_planes(&planes, rw, rh),
            _ => planes,
        })
    }

    /// Resizes a mask (label or FOV) the way [`apply`](Self::apply) resizes images (nearest).
    pub fn apply_mask(&self, mask: &Mask) -> Mask {
        match self.resize {
            Some([rw, rh]) if (rw, rh) != mask.size() => resize_mask(mask, rw, rh),
            _ => mask.clone(),
        }
    }

    /// Maps a prediction made on preprocessed input back to the original `(width, height)`
    /// (bilinear), for scoring at the original resolution.
    pub fn restore(&self, prediction: &Plane, original: (u32, u32)) -> Plane {
        if prediction.size() == original {
            return prediction.clone();
        }
        let p = Planes::from_planes(std::slice::from_ref(prediction));
        let r = resize_planes(&p, original.0, original.1);
        Plane {
            width: r.width,
            height: r.height,
            data: r.data,
        }
    }
}

/// CLAHE in place on a `[0, 1]` plane of `w × h` (see [`ClaheConfig`]).
pub fn clahe(data: &mut [f32], w: u32, h: u32, cfg: &ClaheConfig) {
    const BINS: usize = 256;
    let (w, h) = (w as usize, h as usize);
    if w == 0 || h == 0 {
        return;
    }
    let tx = (cfg.tiles as usize).min(w).max(1);
    let ty = (cfg.tiles as usize).min(h).max(1);
    let bin = |v: f32| ((v.clamp(0.0, 1.0) * (BINS - 1) as f32).round()) as usize;
    let tile_x0 = |i: usize| i * w / tx;
    let tile_y0 = |j: usize| j * h / ty;
    let mut luts = vec![[0.0f32; BINS]; tx * ty];
    for j in 0..ty {
        for i in 0..tx {
            let (x0, x1, y0, y1) = (tile_x0(i), tile_x0(i + 1), tile_y0(j), tile_y0(j + 1));
            let mut hist = [0.0f32; BINS];
            for y in y0..y1 {
                for x in x0..x1 {
                    hist[bin(data[y * w + x])] += 1.0;
                }
            }
            let n = ((x1 - x0) * (y1 - y0)) as f32;
            let limit = (cfg.clip_limit * n / BINS as f32).max(1.0);
            let mut excess = 0.0;
            for b in hist.iter_mut() {
                if *b > limit {
                    excess += *b - limit;
                    *b = limit;
                }
            }
            let add = excess / BINS as f32;
            let mut cdf = 0.0;
            let lut = &mut luts[j * tx + i];
            for (b, l) in hist.iter().zip(lut.iter_mut()) {
                cdf += b + add;
                *l = (cdf / n.max(1.0)).clamp(0.0, 1.0);
            }
        }
    }
    // Bilinear interpolation between the LUTs of the four nearest tile centres.
    let centre_x = |i: usize| (tile_x0(i) + tile_x0(i + 1)) as f32 / 2.0;
    let centre_y = |j: usize| (tile_y0(j) + tile_y0(j + 1)) as f32 / 2.0;
    let locate = |p: f32, n: usize, centre: &dyn Fn(usize) -> f32| -> (usize, usize, f32) {
        if p <= centre(0) {
            return (0, 0, 0.0);
        }
        if p >= centre(n - 1) {
            return (n - 1, n - 1, 0.0);
        }
        let mut k = 0;
        while k + 1 < n && centre(k + 1) < p {
            k += 1;
        }
        let t = (p - centre(k)) / (centre(k + 1) - centre(k));
        (k, k + 1, t)
    };
    let xs: Vec<(usize, usize, f32)> = (0..w)
        .map(|x| locate(x as f32 + 0.5, tx, &centre_x))
        .collect();
    for y in 0..h {
        let (j0, j1, ty_) = locate(y as f32 + 0.5, ty, &centre_y);
        for x in 0..w {
            let (i0, i1, tx_) = xs[x];
            let b = bin(data[y * w + x]);
            let top = luts[j0 * tx + i0][b] * (1.0 - tx_) + luts[j0 * tx + i1][b] * tx_;
            let bot = luts[j1 * tx + i0][b] * (1.0 - tx_) + luts[j1 * tx + i1][b] * tx_;
            data[y * w + x] = top * (1.0 - ty_) + bot * ty_;
        }
    }
}

/// Per output index, the input indices and weights of a triangle (bilinear) filter whose support
/// widens when downscaling (antialiasing, as PIL's `BILINEAR`).
fn filter_weights(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = src as f32 / dst as f32;
    let support = scale.max(1.0);
    (0..dst)
        .map(|o| {
            let centre = (o as f32 + 0.5) * scale;
            let lo = (centre - support).floor().max(0.0) as usize;
            let hi = ((centre + support).ceil() as usize).min(src);
            let mut ws: Vec<(usize, f32)> = (lo..hi)
                .map(|i| {
                    let d = ((i as f32 + 0.5 - centre) / support).abs();
                    (i, (1.0 - d).max(0.0))
                })
                .filter(|(_, w)| *w > 0.0)
                .collect();
            if ws.is_empty() {
                ws.push((((centre) as usize).min(src - 1), 1.0));
            }
            let sum: f32 = ws.iter().map(|(_, w)| w).sum();
            for (_, w) in ws.iter_mut() {
                *w /= sum;
            }
            ws
        })
        .collect()
}

/// Resizes every channel to `width × height` (bilinear, antialiased when shrinking).
pub fn resize_planes(p: &Planes, width: u32, height: u32) -> Planes {
    let (sw, sh) = (p.width as usize, p.height as usize);
    let (dw, dh) = (width as usize, height as usize);
    if sw == 0 || sh == 0 || dw == 0 || dh == 0 {
        return Planes::zeros(p.channels, width, height);
    }
    let wx = filter_weights(sw, dw);
    let wy = filter_weights(sh, dh);
    let mut out = Planes::zeros(p.channels, width, height);
    let mut tmp = vec![0.0f32; sh * dw];
    for c in 0..p.channels {
        let src = p.channel(c);
        for y in 0..sh {
            for (x, ws) in wx.iter().enumerate() {
                tmp[y * dw + x] = ws.iter().map(|&(i, w)| src[y * sw + i] * w).sum();
            }
        }
        let dst = out.channel_mut(c);
        for (y, ws) in wy.iter().enumerate() {
            for x in 0..dw {
                dst[y * dw + x] = ws.iter().map(|&(j, w)| tmp[j * dw + x] * w).sum();
            }
        }
    }
    out
}

/// An RGB image resampled to `width x height` (bilinear, antialiased when shrinking).
pub fn resize_rgb(image: &RgbPlanes, width: u32, height: u32) -> RgbPlanes {
    let planes = Planes::from_planes(&[image.channel(0), image.channel(1), image.channel(2)]);
    let r = resize_planes(&planes, width, height);
    RgbPlanes {
        width,
        height,
        planes: [0, 1, 2].map(|c| r.channel(c).to_vec()),
    }
}

/// A probability map resampled to `width x height` (bilinear, antialiased when shrinking).
pub fn resize_plane(p: &Plane, width: u32, height: u32) -> Plane {
    let r = resize_planes(&Planes::from_planes(std::slice::from_ref(p)), width, height);
    Plane {
        width,
        height,
        data: r.channel(0).to_vec(),
    }
}

/// Resizes a mask to `width × height` (nearest neighbour, pixel centres).
pub fn resize_mask(m: &Mask, width: u32, height: u32) -> Mask {
    let (sw, sh) = (m.width as usize, m.height as usize);
    let (dw, dh) = (width as usize, height as usize);
    let mut data = vec![false; dw * dh];
    if sw > 0 && sh > 0 {
        for y in 0..dh {
            let sy = (((y as f64 + 0.5) * sh as f64 / dh as f64) as usize).min(sh - 1);
            for x in 0..dw {
                let sx = (((x as f64 + 0.5) * sw as f64 / dw as f64) as usize).min(sw - 1);
                data[y * dw + x] = m.data[sy * sw + sx];
            }
        }
    }
    Mask {
        width,
        height,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: u32, h: u32) -> RgbPlanes {
        let n = (w * h) as usize;
        let g: Vec<f32> = (0..n)
            .map(|i| (i % w as usize) as f32 / w as f32 * 0.3)
            .collect();
        RgbPlanes {
            width: w,
            height: h,
            planes: [g.clone(), g.clone(), g],
        }
    }

    #[test]
    fn clahe_spreads_a_narrow_histogram() {
        // a strong clip limit equalises almost fully; the default 2.0 would barely change this
        let mut d: Vec<f32> = (0..64 * 64)
            .map(|i| 0.4 + (i % 64) as f32 * 0.001)
            .collect();
        let cfg = ClaheConfig {
            clip_limit: 40.0,
            tiles: 2,
        };
        clahe(&mut d, 64, 64, &cfg);
        let (lo, hi) = d
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(hi - lo > 0.2, "range {lo}..{hi}");
        assert!(d.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn per_image_normalisation_is_standard_inside_fov() {
        let img = ramp(16, 8);
        let fov = Mask::filled(16, 8, true);
        let cfg = PreprocessConfig {
            clahe: None,
            gamma: 1.0,
            ..PreprocessConfig::vessels()
        };
        let p = cfg.apply(&img, &fov).unwrap();
        assert_eq!(p.channels, 1);
        let n = p.data.len() as f32;
        let mean: f32 = p.data.iter().sum::<f32>() / n;
        let var: f32 = p.data.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
        assert!(mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3);
    }

    #[test]
    fn resize_round_trip_keeps_constant_images_and_sizes() {
        let p = Planes {
            channels: 2,
            width: 10,
            height: 7,
            data: vec![0.25; 140],
        };
        let r = resize_planes(&p, 23, 4);
        assert_eq!((r.width, r.height, r.data.len()), (23, 4, 2 * 92));
        assert!(r.data.iter().all(|v| (v - 0.25).abs() < 1e-6));
        let cfg = PreprocessConfig::lesions(32);
        let pred = Plane::filled(32, 32, 0.7);
        let back = cfg.restore(&pred, (50, 40));
        assert_eq!(back.size(), (50, 40));
        assert!(back.data.iter().all(|v| (v - 0.7).abs() < 1e-5));
        let m = Mask::filled(5, 5, true);
        assert_eq!(resize_mask(&m, 9, 3).count(), 27);
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let cfg = PreprocessConfig {
            gamma: 0.0,
            ..PreprocessConfig::vessels()
        };
        assert!(cfg.validate().is_err());
    }
}
