//! Sliding-window inference over images of any size, as in nnU-Net
//! (`inference/sliding_window_prediction.py`): tiles that overlap by a fraction of their size,
//! evenly spread so the first starts at 0 and the last ends at the border, and predictions blended
//! with a weight map that favours tile centres.
//!
//! Every pixel is covered by at least one tile, weights are strictly positive (nnU-Net clamps the
//! Gaussian's zeros to its smallest non-zero value), and the result is a weighted mean, so a
//! pointwise model gives the pointwise result whatever the tile size or overlap. Images smaller
//! than the tile are zero-padded (0 is the mean after per-image standardisation) and cropped back.
//! The model is any closure, so the library stays backend-free.

use serde::{Deserialize, Serialize};

use crate::data::preprocess::Planes;
use crate::{Error, Result};

/// Weight map used to blend overlapping tiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Blend {
    /// Gaussian centred on the tile, `sigma = sigma_scale × tile side` (nnU-Net: 1/8).
    Gaussian { sigma_scale: f32 },
    /// Linear ramp: 1 at the centre falling to a small floor at the edges (tent).
    Linear,
    /// Plain averaging.
    Constant,
}

/// Sliding-window settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TileConfig {
    /// Tile `[width, height]`.
    pub tile: [u32; 2],
    /// Overlap as a fraction of the tile side, in `[0, 1)`; nnU-Net uses 0.5.
    pub overlap: f32,
    /// Tiles per call of the model.
    pub batch: usize,
    pub blend: Blend,
    /// Test-time augmentation (nnU-Net's "mirroring"): the network also sees each tile flipped
    /// left-right, top-bottom and both, and the four probability maps, flipped back, are
    /// averaged. Four times the inference cost; off unless asked for.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mirror: bool,
}

impl Default for TileConfig {
    fn default() -> Self {
        TileConfig {
            tile: [96, 96],
            overlap: 0.5,
            batch: 8,
            blend: Blend::Gaussian { sigma_scale: 0.125 },
            mirror: false,
        }
    }
}

impl TileConfig {
    /// Checks sizes and ranges.
    pub fn validate(&self) -> Result<()> {
        if self.tile[0] == 0 || self.tile[1] == 0 || self.batch == 0 {
            return Err(Error::InvalidConfig(format!(
                "tiling needs a positive tile and batch, got tile {:?}, batch {}",
                self.tile, self.batch
            )));
        }
        if !(0.0..1.0).contains(&self.overlap) {
            return Err(Error::InvalidConfig(format!(
                "tile overlap must be in [0, 1), got {}",
                self.overlap
            )));
        }
        Ok(())
    }
}

/// Start offsets of tiles of length `tile` over `len` pixels with the given overlap: `[0]` when
/// `len ≤ tile`, else `n = ceil((len − tile) / (tile·(1 − overlap))) + 1` evenly spaced starts,
/// the last at `len − tile`.
pub fn tile_steps(len: usize, tile: usize, overlap: f32) -> Vec<usize> {
    if len <= tile || tile == 0 {
        return vec![0];
    }
    let target = (tile as f64 * (1.0 - overlap as f64)).max(1.0);
    let n = ((len - tile) as f64 / target).ceil() as usize + 1;
    let span = (len - tile) as f64;
    (0..n)
        .map(|i| (i as f64 * span / (n - 1) as f64).round() as usize)
        .collect()
}

/// The blending weights of a `w × h` tile, row-major, all strictly positive.
pub fn blend_weights(w: usize, h: usize, blend: Blend) -> Vec<f32> {
    let axis = |n: usize| -> Vec<f64> {
        (0..n)
            .map(|i| {
                let c = (n as f64 - 1.0) / 2.0;
                let d = i as f64 - c;
                match blend {
                    Blend::Gaussian { sigma_scale } => {
                        let s = (sigma_scale as f64 * n as f64).max(1e-3);
                        (-(d * d) / (2.0 * s * s)).exp()
                    }
                    Blend::Linear => 1.0 - d.abs() / (c + 1.0),
                    Blend::Constant => 1.0,
                }
            })
            .collect()
    };
    let (ax, ay) = (axis(w), axis(h));
    let mut out: Vec<f64> = ay
        .iter()
        .flat_map(|y| ax.iter().map(move |x| x * y))
        .collect();
    let max = out
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let min_pos = out
        .iter()
        .copied()
        .filter(|v| *v > 0.0)
        .fold(f64::MAX, f64::min);
    for v in out.iter_mut() {
        *v = (*v / max).max(min_pos / max).max(1e-6);
    }
    out.into_iter().map(|v| v as f32).collect()
}

/// Predicts `image` (`[C, H, W]`) tile by tile and blends the results.
///
/// `model(batch, n)` receives `n` tiles as `[n, C, tile_h, tile_w]` and must return
/// `[n, K, tile_h, tile_w]` for some `K ≥ 1` (e.g. logits or probabilities); the result is
/// `[K, H, W]`.
pub fn predict_tiled(
    image: &Planes,
    cfg: &TileConfig,
    mut model: impl FnMut(&[f32], usize) -> Result<Vec<f32>>,
) -> Result<Planes> {
    cfg.validate()?;
    let (w, h, c) = (image.width as usize, image.height as usize, image.channels);
    let (tw, th) = (cfg.tile[0] as usize, cfg.tile[1] as usize);
    let (pw, ph) = (w.max(tw), h.max(th));
    let xs = tile_steps(pw, tw, cfg.overlap);
    let ys = tile_steps(ph, th, cfg.overlap);
    let weights = blend_weights(tw, th, cfg.blend);
    let positions: Vec<(usize, usize)> = ys
        .iter()
        .flat_map(|&y| xs.iter().map(move |&x| (x, y)))
        .collect();
    let tile_area = tw * th;
    let mut acc: Vec<f64> = Vec::new();
    let mut wsum = vec![0.0f64; pw * ph];
    let mut k_out = 0usize;
    for chunk in positions.chunks(cfg.batch) {
        let n = chunk.len();
        let mut batch = vec![0.0f32; n * c * tile_area];
        for (b, &(x0, y0)) in chunk.iter().enumerate() {
            for ch in 0..c {
                let src = image.channel(ch);
                let dst = &mut batch[(b * c + ch) * tile_area..(b * c + ch + 1) * tile_area];
                for ty in 0..th {
                    let y = y0 + ty;
                    if y >= h {
                        break;
                    }
                    let x_end = (x0 + tw).min(w);
                    if x0 < x_end {
                        dst[ty * tw..ty * tw + (x_end - x0)]
                            .copy_from_slice(&src[y * w + x0..y * w + x_end]);
                    }
                }
            }
        }
        let out = if cfg.mirror {
            mirrored(&batch, n, (tw, th), &mut model)?
        } else {
            model(&batch, n)?
        };
        if out.is_empty() || out.len() % (n * tile_area) != 0 {
            return Err(Error::InvalidInput(format!(
                "the tiled model returned {} values for {n} tiles of {tw}×{th}; expected a \
                 multiple of {}",
                out.len(),
                n * tile_area
            )));
        }
        let k = out.len() / (n * tile_area);
        if k_out == 0 {
            k_out = k;
            acc = vec![0.0; k * pw * ph];
        } else if k != k_out {
            return Err(Error::InvalidInput(format!(
                "the tiled model returned {k} channels after returning {k_out}"
            )));
        }
        for (b, &(x0, y0)) in chunk.iter().enumerate() {
            for ty in 0..th {
                for tx in 0..tw {
                    let (x, y) = (x0 + tx, y0 + ty);
                    let wgt = weights[ty * tw + tx] as f64;
                    let pi = y * pw + x;
                    if k == k_out {
                        for kk in 0..k {
                            let v = out[(b * k + kk) * tile_area + ty * tw + tx] as f64;
                            acc[kk * pw * ph + pi] += wgt * v;
                        }
                    }
                    wsum[pi] += wgt;
                }
            }
        }
    }
    let mut result = Planes::zeros(k_out, image.width, image.height);
    for kk in 0..k_out {
        let dst = result.channel_mut(kk);
        for y in 0..h {
            for x in 0..w {
                let pi = y * pw + x;
                dst[y * w + x] = (acc[kk * pw * ph + pi] / wsum[pi]) as f32;
            }
        }
    }
    Ok(result)
}

/// Flips every `w`×`h` plane of `planes` left-right (`fx`) and/or top-bottom (`fy`).
fn flip_planes(planes: &[f32], (w, h): (usize, usize), fx: bool, fy: bool) -> Vec<f32> {
    let mut out = vec![0.0f32; planes.len()];
    for (src, dst) in planes.chunks_exact(w * h).zip(out.chunks_exact_mut(w * h)) {
        for y in 0..h {
            let sy = if fy { h - 1 - y } else { y };
            let row = &src[sy * w..(sy + 1) * w];
            let drow = &mut dst[y * w..(y + 1) * w];
            if fx {
                for (d, s) in drow.iter_mut().zip(row.iter().rev()) {
                    *d = *s;
                }
            } else {
                drow.copy_from_slice(row);
            }
        }
    }
    out
}

/// The model's output on a batch of tiles averaged over the four flips of the input, each
/// flipped back (test-time mirroring).
fn mirrored(
    batch: &[f32],
    n: usize,
    tile: (usize, usize),
    model: &mut impl FnMut(&[f32], usize) -> Result<Vec<f32>>,
) -> Result<Vec<f32>> {
    let area = tile.0 * tile.1;
    let mut sum: Vec<f32> = Vec::new();
    for (fx, fy) in [(false, false), (true, false), (false, true), (true, true)] {
        let input = flip_planes(batch, tile, fx, fy);
        let out = model(&input, n)?;
        if out.is_empty() || out.len() % area != 0 || (!sum.is_empty() && out.len() != sum.len()) {
            // The caller reports the size mismatch.
            return Ok(out);
        }
        let back = flip_planes(&out, tile, fx, fy);
        if sum.is_empty() {
            sum = back;
        } else {
            for (s, v) in sum.iter_mut().zip(back) {
                *s += v;
            }
        }
    }
    for s in &mut sum {
        *s *= 0.25;
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_cover_the_whole_length() {
        assert_eq!(tile_steps(10, 16, 0.5), vec![0]);
        assert_eq!(tile_steps(16, 16, 0.5), vec![0]);
        assert_eq!(tile_steps(32, 16, 0.5), vec![0, 8, 16]);
        assert_eq!(tile_steps(33, 16, 0.0), vec![0, 9, 17]);
        for len in [17usize, 50, 101, 584] {
            for tile in [8usize, 16, 48] {
                for ov in [0.0f32, 0.25, 0.5, 0.75] {
                    let s = tile_steps(len, tile, ov);
                    assert_eq!(s[0], 0);
                    assert_eq!(*s.last().unwrap() + tile, len.max(tile));
                    for pair in s.windows(2) {
                        assert!(pair[1] > pair[0] && pair[1] - pair[0] <= tile);
                    }
                }
            }
        }
    }

    #[test]
    fn weights_are_positive_and_peak_in_the_centre() {
        for blend in [
            Blend::Gaussian { sigma_scale: 0.125 },
            Blend::Linear,
            Blend::Constant,
        ] {
            let w = blend_weights(16, 12, blend);
            assert_eq!(w.len(), 192);
            assert!(w.iter().all(|v| *v > 0.0 && *v <= 1.0));
            assert!(w[6 * 16 + 8] >= w[0]);
        }
        let g = blend_weights(9, 9, Blend::Gaussian { sigma_scale: 0.125 });
        assert_eq!(g[4 * 9 + 4], 1.0);
    }

    fn test_image(c: usize, w: u32, h: u32) -> Planes {
        let n = w as usize * h as usize;
        Planes {
            channels: c,
            width: w,
            height: h,
            data: (0..c * n)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
                .collect(),
        }
    }

    /// A pointwise "model": sigmoid of a weighted channel sum.
    fn pointwise(c: usize) -> impl FnMut(&[f32], usize) -> Result<Vec<f32>> {
        move |batch: &[f32], n: usize| {
            let area = batch.len() / (n * c);
            let mut out = vec![0.0; n * area];
            for b in 0..n {
                for i in 0..area {
                    let s: f32 = (0..c)
                        .map(|ch| batch[(b * c + ch) * area + i] * (ch as f32 + 1.0))
                        .sum();
                    out[b * area + i] = 1.0 / (1.0 + (-s).exp());
                }
            }
            Ok(out)
        }
    }

    #[test]
    fn pointwise_model_gives_the_pointwise_result_for_any_tiling() {
        let img = test_image(2, 37, 23);
        let direct = {
            let mut f = pointwise(2);
            f(&img.data, 1).unwrap()
        };
        for tile in [[8u32, 8], [16, 8], [40, 40], [37, 23], [5, 7]] {
            for overlap in [0.0, 0.33, 0.5, 0.8] {
                for blend in [
                    Blend::Gaussian { sigma_scale: 0.125 },
                    Blend::Linear,
                    Blend::Constant,
                ] {
                    let cfg = TileConfig {
                        tile,
                        overlap,
                        batch: 3,
                        blend,
                        mirror: false,
                    };
                    let out = predict_tiled(&img, &cfg, pointwise(2)).unwrap();
                    assert_eq!((out.channels, out.width, out.height), (1, 37, 23));
                    for (a, b) in out.data.iter().zip(&direct) {
                        assert!(
                            (a - b).abs() <= 1e-6,
                            "{tile:?} {overlap} {blend:?}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn mirroring_leaves_a_pointwise_model_unchanged() {
        let img = test_image(2, 37, 23);
        for tile in [[16u32, 8], [37, 23]] {
            let plain = TileConfig {
                tile,
                ..TileConfig::default()
            };
            let mirror = TileConfig {
                mirror: true,
                ..plain.clone()
            };
            let a = predict_tiled(&img, &plain, pointwise(2)).unwrap();
            let b = predict_tiled(&img, &mirror, pointwise(2)).unwrap();
            for (x, y) in a.data.iter().zip(&b.data) {
                assert!((x - y).abs() <= 1e-6, "{tile:?}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn mirroring_averages_the_four_flips() {
        // A model that ignores its input and outputs x + 10 y inside the tile: the flips
        // average it to the constant ((w-1) + 10 (h-1)) / 2.
        let (w, h) = (6usize, 4usize);
        let img = test_image(1, w as u32, h as u32);
        let ramp = |batch: &[f32], n: usize| {
            let area = batch.len() / n;
            Ok((0..n * area)
                .map(|i| ((i % area) % w) as f32 + 10.0 * ((i % area) / w) as f32)
                .collect())
        };
        let cfg = TileConfig {
            tile: [w as u32, h as u32],
            overlap: 0.0,
            batch: 1,
            blend: Blend::Constant,
            mirror: false,
        };
        let plain = predict_tiled(&img, &cfg, ramp).unwrap();
        assert_eq!(plain.data[1], 1.0);
        assert_eq!(plain.data[w], 10.0);
        let cfg = TileConfig {
            mirror: true,
            ..cfg
        };
        let out = predict_tiled(&img, &cfg, ramp).unwrap();
        let expected = ((w - 1) as f32 + 10.0 * (h - 1) as f32) / 2.0;
        for v in &out.data {
            assert!((v - expected).abs() < 1e-5, "{v} vs {expected}");
        }
    }

    #[test]
    fn a_model_returning_the_wrong_size_is_an_error() {
        let img = test_image(1, 10, 10);
        let cfg = TileConfig {
            tile: [4, 4],
            ..TileConfig::default()
        };
        let r = predict_tiled(&img, &cfg, |_, _| Ok(vec![0.0; 3]));
        assert!(matches!(r, Err(Error::InvalidInput(_))));
    }
}
