//! `medseg data fingerprint`: what a dataset looks like, as numbers a planner can use (in the
//! spirit of nnU-Net's dataset fingerprint; photographs have no spacing, so the field of view and
//! the size of the structures are the rulers).
//!
//! Per labelled case: image size, colour type and bit depth, intensity inside the FOV (per RGB
//! channel) and each channel's contrast between foreground and background, the FOV diameter ([`crate::infer::scale::fov_diameter`]), the foreground fraction
//! inside the FOV, and two sizes of the segmented structures:
//! - **structure width**: twice the Euclidean distance from each skeleton pixel of the mask to the
//!   background, minus one (a bar `w` pixels wide gives `w`), the median over the skeleton pixels
//!   of all images: vessel calibre, for thin structures;
//! - **equivalent diameter**: `sqrt(4 A / π)` of each image's foreground area `A`: lesion or organ
//!   size, for compact structures.
//!
//! The skeleton is Zhang & Suen's thinning (1984); the distance transform is exact
//! (Felzenszwalb & Huttenlocher's lower envelope of parabolas, 2012).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::ColorType;
use serde::Serialize;

use super::check::{SizeCount, Stats};
use super::fov::FovSource;
use super::io::{Mask, decode};
use super::loader::{decode_case, par_map};
use super::{Case, DatasetKind};
use crate::infer::scale::fov_diameter;
use crate::{Error, Result};

/// Mean and standard deviation of one channel's values inside the FOV, over all images.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Intensity {
    pub mean: f64,
    pub std: f64,
}

/// The fingerprint of a dataset (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fingerprint {
    pub dataset: DatasetKind,
    pub root: PathBuf,
    /// Labelled cases measured.
    pub cases: usize,
    pub sizes: Vec<SizeCount>,
    /// Colour type of the image files (`rgb8`, `l8`, `rgb16`, ...) → count.
    pub color_types: BTreeMap<String, usize>,
    /// R, G and B intensity in `[0, 1]` inside the FOV.
    pub intensity: [Intensity; 3],
    /// R, G and B contrast of the structures: `|mean(foreground) - mean(background)| / std`,
    /// all inside the FOV and pooled over the images (a contrast-to-noise ratio; the channel
    /// that shows the structures best has the largest).
    pub contrast: [f64; 3],
    /// FOV diameter in pixels per case.
    pub fov_diameter: Stats,
    /// Foreground pixels / FOV pixels per case.
    pub foreground_in_fov: Stats,
    /// Structure width in pixels (skeleton-based); `None` without foreground.
    pub structure_width: Option<Stats>,
    /// Equivalent diameter of each case's foreground in pixels; `None` without foreground.
    pub equivalent_diameter: Option<Stats>,
}

struct CaseFingerprint {
    size: (u32, u32),
    color: ColorType,
    sums: [(f64, f64); 3],
    /// Sum of each channel over the foreground inside the FOV.
    fg_sums: [f64; 3],
    fov_pixels: f64,
    fov_diameter: f64,
    foreground: f64,
    widths: Vec<f64>,
    area: usize,
}

fn measure(case: &Case, kind: DatasetKind) -> Result<CaseFingerprint> {
    let color = decode(&case.image)?.color();
    let d = decode_case(case, kind, FovSource::Auto)?;
    let mask = d.mask.expect("only labelled cases are measured");
    let mut sums = [(0.0, 0.0); 3];
    for (c, plane) in d.image.planes.iter().enumerate() {
        for (&v, &inside) in plane.iter().zip(&d.fov.data) {
            if inside {
                sums[c].0 += v as f64;
                sums[c].1 += (v as f64) * (v as f64);
            }
        }
    }
    let fov_pixels = d.fov.count() as f64;
    let in_fov = |m: &Mask| Mask {
        width: m.width,
        height: m.height,
        data: m
            .data
            .iter()
            .zip(&d.fov.data)
            .map(|(&a, &b)| a && b)
            .collect(),
    };
    let fg = in_fov(&mask);
    let area = fg.count();
    let mut fg_sums = [0.0; 3];
    for (c, plane) in d.image.planes.iter().enumerate() {
        fg_sums[c] = plane
            .iter()
            .zip(&fg.data)
            .filter(|(_, f)| **f)
            .map(|(&v, _)| v as f64)
            .sum();
    }
    Ok(CaseFingerprint {
        size: d.image.size(),
        color,
        sums,
        fg_sums,
        fov_pixels,
        fov_diameter: fov_diameter(&d.fov).unwrap_or(d.image.width as f64),
        foreground: if fov_pixels > 0.0 {
            area as f64 / fov_pixels
        } else {
            0.0
        },
        widths: skeleton_widths(&fg),
        area,
    })
}

/// Measures every labelled case of `kind` under `root` with `threads` workers (0 = all cores).
///
/// # Errors
/// The first decoding error (naming the file), or [`Error::InvalidInput`] without labelled
/// cases.
pub fn fingerprint(kind: DatasetKind, root: &Path, threads: usize) -> Result<Fingerprint> {
    fingerprint_cases(kind, root, kind.cases(root)?, threads)
}

/// Measures the labelled ones of `cases` (e.g. a split's training cases, as `medseg plan`
/// does, so that no test label shapes a plan); `root` is only reported.
///
/// # Errors
/// As [`fingerprint`].
pub fn fingerprint_cases(
    kind: DatasetKind,
    root: &Path,
    cases: Vec<Case>,
    threads: usize,
) -> Result<Fingerprint> {
    if cases
        .iter()
        .any(|c| c.mask.is_none() && !c.structures.is_empty())
    {
        return Err(Error::InvalidInput(format!(
            "{} holds one mask folder per structure (several structures per image); the \
             fingerprint and `medseg plan` measure single-mask datasets only so far: start from \
             a multi-structure config such as configs/jsrt/msa-u2net.toml (data.labels)",
            root.display()
        )));
    }
    let cases: Vec<Case> = cases.into_iter().filter(|c| c.mask.is_some()).collect();
    if cases.is_empty() {
        return Err(Error::InvalidInput(format!(
            "no labelled cases in {}",
            root.display()
        )));
    }
    let per_case = par_map(&cases, threads, |c| measure(c, kind))?;
    let mut sizes: BTreeMap<(u32, u32), usize> = BTreeMap::new();
    let mut color_types = BTreeMap::new();
    let mut sums = [(0.0, 0.0); 3];
    let mut fg_sums = [0.0; 3];
    let (mut n, mut n_fg) = (0.0, 0.0);
    let (mut diameters, mut fractions, mut widths, mut eq) = (vec![], vec![], vec![], vec![]);
    for c in &per_case {
        *sizes.entry(c.size).or_default() += 1;
        *color_types
            .entry(format!("{:?}", c.color).to_lowercase())
            .or_default() += 1;
        for (acc, s) in sums.iter_mut().zip(&c.sums) {
            acc.0 += s.0;
            acc.1 += s.1;
        }
        for (acc, s) in fg_sums.iter_mut().zip(&c.fg_sums) {
            *acc += s;
        }
        n += c.fov_pixels;
        n_fg += c.area as f64;
        diameters.push(c.fov_diameter);
        fractions.push(c.foreground);
        widths.extend(&c.widths);
        if c.area > 0 {
            eq.push((4.0 * c.area as f64 / std::f64::consts::PI).sqrt());
        }
    }
    let intensity = sums.map(|(s, s2)| {
        let mean = s / n.max(1.0);
        Intensity {
            mean,
            std: (s2 / n.max(1.0) - mean * mean).max(0.0).sqrt(),
        }
    });
    let contrast = std::array::from_fn(|c| {
        let (s, bg_n) = (sums[c].0, n - n_fg);
        if n_fg == 0.0 || bg_n <= 0.0 || intensity[c].std == 0.0 {
            return 0.0;
        }
        let fg_mean = fg_sums[c] / n_fg;
        let bg_mean = (s - fg_sums[c]) / bg_n;
        (fg_mean - bg_mean).abs() / intensity[c].std
    });
    Ok(Fingerprint {
        dataset: kind,
        root: root.to_path_buf(),
        cases: cases.len(),
        sizes: sizes
            .into_iter()
            .map(|((width, height), count)| SizeCount {
                width,
                height,
                count,
            })
            .collect(),
        color_types,
        intensity,
        contrast,
        fov_diameter: Stats::of(&diameters).expect("at least one case"),
        foreground_in_fov: Stats::of(&fractions).expect("at least one case"),
        structure_width: Stats::of(&widths),
        equivalent_diameter: Stats::of(&eq),
    })
}

/// The width at each skeleton pixel of `mask`: `2 d - 1`, `d` the Euclidean distance to the
/// nearest background pixel (outside the image counts as background).
pub fn skeleton_widths(mask: &Mask) -> Vec<f64> {
    let dist = distance_to_background(mask);
    let skeleton = thin(mask);
    skeleton
        .data
        .iter()
        .zip(&dist)
        .filter(|(s, _)| **s)
        .map(|(_, &d)| 2.0 * d - 1.0)
        .collect()
}

/// Exact Euclidean distance from each foreground pixel to the nearest background pixel (0 on
/// background); the image is surrounded by background.
pub fn distance_to_background(mask: &Mask) -> Vec<f64> {
    let (w, h) = (mask.width as usize + 2, mask.height as usize + 2);
    const INF: f64 = 1e20;
    // padded grid: the border is background
    let mut f = vec![0.0f64; w * h];
    for y in 0..mask.height as usize {
        for x in 0..mask.width as usize {
            if mask.data[y * mask.width as usize + x] {
                f[(y + 1) * w + x + 1] = INF;
            }
        }
    }
    let mut line = Vec::new();
    for x in 0..w {
        line.clear();
        line.extend((0..h).map(|y| f[y * w + x]));
        let d = edt_1d(&line);
        for y in 0..h {
            f[y * w + x] = d[y];
        }
    }
    for y in 0..h {
        let d = edt_1d(&f[y * w..(y + 1) * w]);
        f[y * w..(y + 1) * w].copy_from_slice(&d);
    }
    let mut out = Vec::with_capacity(mask.data.len());
    for y in 0..mask.height as usize {
        for x in 0..mask.width as usize {
            out.push(f[(y + 1) * w + x + 1].sqrt());
        }
    }
    out
}

/// Squared distance transform of a 1-D sampled function (Felzenszwalb & Huttenlocher): the
/// lower envelope of the parabolas `(q - p)^2 + f(p)`.
fn edt_1d(f: &[f64]) -> Vec<f64> {
    let n = f.len();
    if n == 0 {
        return Vec::new();
    }
    let mut v = vec![0usize; n];
    let mut z = vec![0.0f64; n + 1];
    let mut k = 0usize;
    z[0] = f64::NEG_INFINITY;
    z[1] = f64::INFINITY;
    // where the parabolas of q and p intersect; the differences first, so that two "infinite"
    // (1e20) values cancel exactly
    let meet = |q: usize, p: usize| {
        ((f[q] - f[p]) + (q * q) as f64 - (p * p) as f64) / (2.0 * (q - p) as f64)
    };
    for q in 1..n {
        let mut s = meet(q, v[k]);
        while s <= z[k] {
            k -= 1;
            s = meet(q, v[k]);
        }
        k += 1;
        v[k] = q;
        z[k] = s;
        z[k + 1] = f64::INFINITY;
    }
    let mut d = vec![0.0; n];
    k = 0;
    for (q, out) in d.iter_mut().enumerate() {
        while z[k + 1] < q as f64 {
            k += 1;
        }
        let dq = q as f64 - v[k] as f64;
        *out = dq * dq + f[v[k]];
    }
    d
}

/// Zhang & Suen's thinning: the one-pixel-wide skeleton of `mask`.
pub fn thin(mask: &Mask) -> Mask {
    let (w, h) = (mask.width as usize, mask.height as usize);
    let mut m = mask.data.clone();
    let at = |m: &[bool], x: isize, y: isize| -> bool {
        x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h && m[y as usize * w + x as usize]
    };
    loop {
        let mut changed = false;
        for step in 0..2 {
            let mut remove = Vec::new();
            for y in 0..h as isize {
                for x in 0..w as isize {
                    if !m[y as usize * w + x as usize] {
                        continue;
                    }
                    // P2..P9 clockwise from north
                    let p = [
                        at(&m, x, y - 1),
                        at(&m, x + 1, y - 1),
                        at(&m, x + 1, y),
                        at(&m, x + 1, y + 1),
                        at(&m, x, y + 1),
                        at(&m, x - 1, y + 1),
                        at(&m, x - 1, y),
                        at(&m, x - 1, y - 1),
                    ];
                    let b = p.iter().filter(|&&v| v).count();
                    let a = (0..8).filter(|&i| !p[i] && p[(i + 1) % 8]).count();
                    let (p2, p4, p6, p8) = (p[0], p[2], p[4], p[6]);
                    // Zhang-Suen: P2·P4·P6 = 0 and P4·P6·P8 = 0 in the first sub-step,
                    // P2·P4·P8 = 0 and P2·P6·P8 = 0 in the second
                    let cond = if step == 0 {
                        !(p4 && p6 && (p2 || p8))
                    } else {
                        !(p2 && p8 && (p4 || p6))
                    };
                    if (2..=6).contains(&b) && a == 1 && cond {
                        remove.push(y as usize * w + x as usize);
                    }
                }
            }
            changed |= !remove.is_empty();
            for i in remove {
                m[i] = false;
            }
        }
        if !changed {
            break;
        }
    }
    Mask {
        width: mask.width,
        height: mask.height,
        data: m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_from(w: u32, h: u32, f: impl Fn(u32, u32) -> bool) -> Mask {
        Mask {
            width: w,
            height: h,
            data: (0..h)
                .flat_map(|y| (0..w).map(move |x| (x, y)))
                .map(|(x, y)| f(x, y))
                .collect(),
        }
    }

    #[test]
    fn distance_transform_is_exact_on_a_square() {
        let m = mask_from(7, 7, |x, y| (1..6).contains(&x) && (1..6).contains(&y));
        let d = distance_to_background(&m);
        assert_eq!(d[3 * 7 + 3], 3.0); // centre of a 5x5 square: 3 steps to the border
        assert_eq!(d[7 + 1], 1.0);
        assert_eq!(d[0], 0.0);
        // a single pixel next to the image edge: 1 (outside is background)
        let one = mask_from(3, 1, |x, _| x == 0);
        assert_eq!(distance_to_background(&one)[0], 1.0);
    }

    #[test]
    fn bars_measure_their_width_and_discs_their_diameter() {
        for width in [1u32, 3, 5, 9] {
            let m = mask_from(80, 40, |x, y| {
                (10..70).contains(&x) && (20..20 + width).contains(&y)
            });
            let mut w = skeleton_widths(&m);
            assert!(!w.is_empty());
            w.sort_by(f64::total_cmp);
            let median = w[w.len() / 2];
            assert!(
                (median - width as f64).abs() <= 1.0,
                "bar {width}: {median}"
            );
        }
        let r = 20.0;
        let disc = mask_from(60, 60, |x, y| {
            let (dx, dy) = (x as f64 + 0.5 - 30.0, y as f64 + 0.5 - 30.0);
            dx * dx + dy * dy <= r * r
        });
        let eq = (4.0 * disc.count() as f64 / std::f64::consts::PI).sqrt();
        assert!((eq - 2.0 * r).abs() < 1.0, "{eq}");
    }

    #[test]
    fn thinning_keeps_a_line_and_shrinks_a_block_to_a_connected_core() {
        let line = mask_from(20, 5, |x, y| y == 2 && (2..18).contains(&x));
        assert_eq!(thin(&line).count(), line.count());
        let block = mask_from(20, 20, |x, y| (4..16).contains(&x) && (6..14).contains(&y));
        let t = thin(&block);
        assert!(t.count() > 0 && t.count() < 20, "{}", t.count());
    }
}
