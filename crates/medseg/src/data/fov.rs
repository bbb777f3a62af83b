//! Field of view (FOV): the region of the image that holds the retina (or, for lesions, the whole
//! image). Metrics and patch sampling are restricted to it.
//!
//! # Policy ([`FovSource::Auto`])
//! - The dataset's own masks where they exist (DRIVE `mask/`, HRF `mask/`, folder `fovTr/`).
//! - Otherwise, for fundus datasets (STARE, CHASE_DB1), derived from the image by
//!   [`derive_fov`]: threshold the red channel, open, keep the largest component, fill holes,
//!   erode slightly (the rim is dark and unreliable).
//! - Otherwise (ISIC 2018, PH2, folders without `fovTr/`) the whole image.
//!
//! `medseg data check --dataset drive --root …` reports how well the derived FOV agrees with
//! DRIVE's official masks (the figure is in `docs/datasets.md`).

use serde::{Deserialize, Serialize};

use super::io::{Mask, RgbPlanes, check_size, read_mask};
use super::{Case, DatasetKind};
use crate::Result;

/// Where a case's FOV comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FovSource {
    /// Official masks where present; derived for fundus datasets; whole image otherwise.
    #[default]
    Auto,
    /// Always derive from the image (ignores official masks).
    Derive,
    /// The whole image.
    Full,
}

/// How a FOV was obtained (reported by `data check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FovOrigin {
    Official,
    Derived,
    Full,
}

/// Parameters of [`derive_fov`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FovDeriveConfig {
    /// Threshold as a fraction of the red channel's 99th percentile.
    pub threshold: f32,
    /// Radius (pixels) of the disk used for the opening, scaled by `min(w, h) / 584`.
    pub open_radius: f32,
    /// Erosion radius (pixels) applied last, scaled like `open_radius`.
    pub erode_radius: f32,
}

impl Default for FovDeriveConfig {
    fn default() -> Self {
        FovDeriveConfig {
            threshold: 0.15,
            open_radius: 3.0,
            erode_radius: 1.0,
        }
    }
}

/// The FOV of a case whose image is already decoded, following `source` (see module docs).
pub fn fov_for(
    case: &Case,
    kind: DatasetKind,
    image: &RgbPlanes,
    source: FovSource,
) -> Result<(Mask, FovOrigin)> {
    match source {
        FovSource::Full => Ok((
            Mask::filled(image.width, image.height, true),
            FovOrigin::Full,
        )),
        FovSource::Derive => Ok((
            derive_fov(image, &FovDeriveConfig::default()),
            FovOrigin::Derived,
        )),
        FovSource::Auto => {
            if let Some(path) = &case.fov {
                let m = read_mask(path)?;
                check_size(path, image.size(), m.size())?;
                Ok((m, FovOrigin::Official))
            } else if kind.is_vessels() {
                Ok((
                    derive_fov(image, &FovDeriveConfig::default()),
                    FovOrigin::Derived,
                ))
            } else {
                Ok((
                    Mask::filled(image.width, image.height, true),
                    FovOrigin::Full,
                ))
            }
        }
    }
}

/// Derives a fundus FOV: red channel > `threshold` × its 99th percentile, opening with a disk,
/// largest 4-connected component, hole filling, final erosion.
pub fn derive_fov(image: &RgbPlanes, cfg: &FovDeriveConfig) -> Mask {
    let (w, h) = (image.width as usize, image.height as usize);
    let red = &image.planes[0];
    let mut sorted: Vec<f32> = red.clone();
    let k = ((sorted.len() as f64 * 0.99) as usize).min(sorted.len().saturating_sub(1));
    let p99 = if sorted.is_empty() {
        0.0
    } else {
        *sorted.select_nth_unstable_by(k, f32::total_cmp).1
    };
    let thr = cfg.threshold * p99.max(1e-6);
    let mut m = Mask {
        width: image.width,
        height: image.height,
        data: red.iter().map(|&v| v > thr).collect(),
    };
    let scale = w.min(h) as f32 / 584.0;
    let r_open = (cfg.open_radius * scale).round() as i32;
    if r_open > 0 {
        m = dilate(&erode(&m, r_open), r_open);
    }
    m = largest_component(&m);
    m = fill_holes(&m);
    let r_erode = (cfg.erode_radius * scale).round() as i32;
    if r_erode > 0 {
        m = erode(&m, r_erode);
    }
    m
}

/// Binary erosion with a disk of radius `r` (pixels at distance ≤ `r`); outside the image counts
/// as background.
pub fn erode(m: &Mask, r: i32) -> Mask {
    let d = sq_distance_to(m, false, true);
    let r2 = (r * r) as f32;
    Mask {
        width: m.width,
        height: m.height,
        data: d.iter().map(|&d| d > r2).collect(),
    }
}

/// Binary dilation with a disk of radius `r`.
pub fn dilate(m: &Mask, r: i32) -> Mask {
    let d = sq_distance_to(m, true, false);
    let r2 = (r * r) as f32;
    Mask {
        width: m.width,
        height: m.height,
        data: d.iter().map(|&d| d <= r2).collect(),
    }
}

/// Squared Euclidean distance from each pixel to the nearest pixel whose value is `target`
/// (Felzenszwalb & Huttenlocher 2012, linear time). With `outside_is_target`, the ring just
/// outside the image counts as `target`.
fn sq_distance_to(m: &Mask, target: bool, outside_is_target: bool) -> Vec<f32> {
    const INF: f32 = 1e20;
    let pad = outside_is_target as usize;
    let (w0, h0) = (m.width as usize, m.height as usize);
    let (w, h) = (w0 + 2 * pad, h0 + 2 * pad);
    let mut f = vec![if outside_is_target { 0.0 } else { INF }; w * h];
    for y in 0..h0 {
        for x in 0..w0 {
            f[(y + pad) * w + x + pad] = if m.data[y * w0 + x] == target {
                0.0
            } else {
                INF
            };
        }
    }
    let mut buf = vec![0.0f32; w.max(h)];
    let mut out = vec![0.0f32; w.max(h)];
    for x in 0..w {
        for y in 0..h {
            buf[y] = f[y * w + x];
        }
        edt_1d(&buf[..h], &mut out[..h]);
        for y in 0..h {
            f[y * w + x] = out[y];
        }
    }
    for y in 0..h {
        buf[..w].copy_from_slice(&f[y * w..(y + 1) * w]);
        edt_1d(&buf[..w], &mut out[..w]);
        f[y * w..(y + 1) * w].copy_from_slice(&out[..w]);
    }
    let mut res = Vec::with_capacity(w0 * h0);
    for y in 0..h0 {
        res.extend_from_slice(&f[(y + pad) * w + pad..(y + pad) * w + pad + w0]);
    }
    res
}

/// 1D squared distance transform of sampled function `f` (lower envelope of parabolas).
fn edt_1d(f: &[f32], d: &mut [f32]) {
    let n = f.len();
    if n == 0 {
        return;
    }
    let f64_at = |i: usize| f[i] as f64 + (i * i) as f64;
    let mut v = vec![0usize; n];
    let mut z = vec![0.0f64; n + 1];
    let mut k = 0usize;
    z[0] = f64::NEG_INFINITY;
    z[1] = f64::INFINITY;
    for q in 1..n {
        let mut s;
        loop {
            let p = v[k];
            s = (f64_at(q) - f64_at(p)) / (2.0 * (q - p) as f64);
            if s <= z[k] && k > 0 {
                k -= 1;
            } else {
                break;
            }
        }
        k += 1;
        v[k] = q;
        z[k] = s;
        z[k + 1] = f64::INFINITY;
    }
    k = 0;
    for (q, dq) in d.iter_mut().enumerate() {
        while z[k + 1] < q as f64 {
            k += 1;
        }
        let p = v[k];
        let diff = q as f64 - p as f64;
        *dq = (diff * diff + f[p] as f64) as f32;
    }
}

/// Labels 4-connected components of pixels equal to `value`; returns labels (0 = other) and sizes.
fn components(m: &Mask, value: bool) -> (Vec<u32>, Vec<usize>) {
    let (w, h) = (m.width as usize, m.height as usize);
    let mut labels = vec![0u32; m.data.len()];
    let mut sizes = vec![0usize];
    let mut stack = Vec::new();
    for start in 0..m.data.len() {
        if m.data[start] != value || labels[start] != 0 {
            continue;
        }
        let label = sizes.len() as u32;
        let mut size = 0;
        labels[start] = label;
        stack.push(start);
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = (i % w, i / w);
            let mut visit = |j: usize| {
                if m.data[j] == value && labels[j] == 0 {
                    labels[j] = label;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        sizes.push(size);
    }
    (labels, sizes)
}

/// Keeps only the largest 4-connected foreground component.
pub fn largest_component(m: &Mask) -> Mask {
    let (labels, sizes) = components(m, true);
    let best = (1..sizes.len()).max_by_key(|&l| sizes[l]).unwrap_or(0) as u32;
    Mask {
        width: m.width,
        height: m.height,
        data: labels.iter().map(|&l| best != 0 && l == best).collect(),
    }
}

/// Fills background regions not connected to the image border.
pub fn fill_holes(m: &Mask) -> Mask {
    let (w, h) = (m.width as usize, m.height as usize);
    let (labels, _) = components(m, false);
    let mut border = std::collections::HashSet::new();
    for x in 0..w {
        border.insert(labels[x]);
        border.insert(labels[(h.saturating_sub(1)) * w + x]);
    }
    for y in 0..h {
        border.insert(labels[y * w]);
        border.insert(labels[y * w + w.saturating_sub(1)]);
    }
    Mask {
        width: m.width,
        height: m.height,
        data: m
            .data
            .iter()
            .zip(&labels)
            .map(|(&v, l)| v || !border.contains(l))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk_image(w: u32, h: u32, r: f32) -> RgbPlanes {
        let mut red = vec![0.0; (w * h) as usize];
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f32 - w as f32 / 2.0, y as f32 - h as f32 / 2.0);
                if dx * dx + dy * dy < r * r {
                    // a dark hole in the middle must be filled
                    red[(y * w + x) as usize] = if dx.abs() < 2.0 && dy.abs() < 6.0 {
                        0.0
                    } else {
                        0.8
                    };
                }
            }
        }
        RgbPlanes {
            width: w,
            height: h,
            planes: [red.clone(), red.clone(), red],
        }
    }

    #[test]
    fn derived_fov_is_the_disk() {
        let img = disk_image(64, 64, 25.0);
        let fov = derive_fov(&img, &FovDeriveConfig::default());
        let mut truth = Mask::filled(64, 64, false);
        for y in 0..64 {
            for x in 0..64 {
                let (dx, dy) = (x as f32 - 32.0, y as f32 - 32.0);
                truth.data[y * 64 + x] = dx * dx + dy * dy < 625.0;
            }
        }
        assert!(fov.iou(&truth) > 0.9, "iou {}", fov.iou(&truth));
        assert!(fov.get(32, 32), "the dark stripe inside is filled");
        assert!(!fov.get(0, 0));
    }

    #[test]
    fn distance_transform_morphology_matches_brute_force_disks() {
        let mut rng = crate::data::Rng::new(4);
        let m = Mask {
            width: 23,
            height: 17,
            data: (0..23 * 17).map(|_| rng.chance(0.6)).collect(),
        };
        for r in [1, 2, 3] {
            let (w, h) = (23i32, 17i32);
            let at =
                |x: i32, y: i32| x >= 0 && y >= 0 && x < w && y < h && m.data[(y * w + x) as usize];
            let (e, d) = (erode(&m, r), dilate(&m, r));
            for y in 0..h {
                for x in 0..w {
                    let mut all = true;
                    let mut any = false;
                    for dy in -r..=r {
                        for dx in -r..=r {
                            if dx * dx + dy * dy <= r * r {
                                all &= at(x + dx, y + dy);
                                any |= at(x + dx, y + dy);
                            }
                        }
                    }
                    let i = (y * w + x) as usize;
                    assert_eq!(e.data[i], all, "erode r={r} at ({x}, {y})");
                    assert_eq!(d.data[i], any, "dilate r={r} at ({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn opening_removes_specks_and_holes_fill() {
        let mut m = Mask::filled(10, 10, false);
        m.data[55] = true;
        assert_eq!(dilate(&erode(&m, 1), 1).count(), 0);
        let mut ring = Mask::filled(5, 5, false);
        for i in 0..5 {
            for j in 0..5 {
                ring.data[i * 5 + j] = i == 0 || j == 0 || i == 4 || j == 4;
            }
        }
        assert_eq!(fill_holes(&ring).count(), 25);
    }
}
