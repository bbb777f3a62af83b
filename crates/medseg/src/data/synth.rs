//! Procedural datasets for tests and demos, seeded and deterministic.
//!
//! - **Vessels** ([`vessel_sample`]), written in the DRIVE layout: a fundus-like orange disc with
//!   uneven illumination, low-frequency texture, an optic disc and a darker macula, inside a
//!   circular field of view; a branching vessel tree that starts at the optic disc, with widths
//!   that shrink at each branching and a contrast that varies per branch (vessels are darkest in
//!   the green channel, as in real fundus photographs); Gaussian noise. The label is the set of
//!   pixels at least half covered by a vessel.
//! - **Lesions** ([`lesion_sample`]), written in the ISIC 2018 Task 1 layout: textured skin with
//!   a dark vignette, one lesion with an irregular border (a radius with random harmonics), colour
//!   that darkens toward the centre with mottling, and dark hair-like curves drawn over both skin
//!   and lesion (not part of the label).
//! - **Chest radiographs** ([`chest_sample`]), written in the JSRT layout with the SCR masks
//!   ([`crate::data::datasets::jsrt`]): a grey `size × size` image with two dark lungs, a brighter
//!   heart between their lower halves and two bright clavicles across the lungs' tops (they
//!   overlap the lungs, as in SCR), soft noise; one mask per structure at twice the image size.
//!
//! Every sample depends only on `(seed, index, size)`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::datasets::jsrt::STRUCTURES;
use super::io::{Mask, Plane, RgbPlanes};
use super::rng::Rng;
use crate::{Error, Result};

/// What to synthesise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SynthKind {
    /// Retinal vessels, DRIVE layout.
    Vessels,
    /// Skin lesions, ISIC 2018 layout.
    Lesions,
    /// Chest radiographs with five structures, JSRT/SCR layout.
    Chest,
}

/// A synthetic dataset to write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthConfig {
    pub kind: SynthKind,
    /// Number of images in total (vessels: half, rounded up, go to `training/`, the rest to `test/`).
    pub count: usize,
    /// Image width in pixels (vessels are square; lesions are `size × 3·size/4`).
    pub size: u32,
    pub seed: u64,
}

/// One synthetic image with its label and field of view.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSample {
    pub image: RgbPlanes,
    pub mask: Mask,
    pub fov: Mask,
}

/// Files written by [`write_dataset`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SynthSummary {
    pub train: usize,
    pub test: usize,
    pub files: Vec<PathBuf>,
}

/// Writes a synthetic dataset under `out` (see the module docs for the layouts).
pub fn write_dataset(cfg: &SynthConfig, out: &Path) -> Result<SynthSummary> {
    if cfg.count == 0 || cfg.size < 16 || cfg.size > 4096 {
        return Err(Error::InvalidConfig(format!(
            "synth needs count ≥ 1 and 16 ≤ size ≤ 4096, got count = {}, size = {}",
            cfg.count, cfg.size
        )));
    }
    let mut summary = SynthSummary::default();
    match cfg.kind {
        SynthKind::Vessels => {
            let n_train = cfg.count.div_ceil(2);
            let n_test = cfg.count - n_train;
            let digits = (cfg.count.to_string().len()).max(2);
            for i in 0..cfg.count {
                let s = vessel_sample(cfg.size, cfg.seed, i as u64);
                // DRIVE numbers test 01.. and training after it.
                let (folder, num) = if i < n_train {
                    ("training", n_test + i + 1)
                } else {
                    ("test", i - n_train + 1)
                };
                let id = format!("{num:0digits$}");
                let dir = out.join(folder);
                let files = [
                    dir.join(format!("images/{id}_{folder}.tif")),
                    dir.join(format!("1st_manual/{id}_manual1.gif")),
                    dir.join(format!("mask/{id}_{folder}_mask.gif")),
                ];
                s.image.save(&files[0])?;
                s.mask.save(&files[1])?;
                s.fov.save(&files[2])?;
                summary.files.extend(files);
            }
            summary.train = n_train;
            summary.test = n_test;
        }
        SynthKind::Lesions => {
            for i in 0..cfg.count {
                let s = lesion_sample(cfg.size, cfg.seed, i as u64);
                let id = format!("ISIC_{:07}", i);
                let files = [
                    out.join(format!("ISIC2018_Task1-2_Training_Input/{id}.jpg")),
                    out.join(format!(
                        "ISIC2018_Task1_Training_GroundTruth/{id}_segmentation.png"
                    )),
                ];
                s.image.save(&files[0])?;
                s.mask.save(&files[1])?;
                summary.files.extend(files);
            }
            summary.train = cfg.count;
        }
        SynthKind::Chest => {
            for i in 0..cfg.count {
                let s = chest_sample(cfg.size, cfg.seed, i as u64);
                let id = format!("JPCLN{:03}", i + 1);
                let image = out.join(format!("images/{id}.png"));
                s.image.save(&image)?;
                summary.files.push(image);
                for (structure, mask) in STRUCTURES.iter().zip(&s.masks) {
                    let file = out.join(format!("masks/{structure}/{id}.gif"));
                    mask.save(&file)?;
                    summary.files.push(file);
                }
            }
            summary.train = cfg.count;
        }
    }
    tracing::info!(
        "wrote {} synthetic files under {}",
        summary.files.len(),
        out.display()
    );
    Ok(summary)
}

/// Smooth value noise in about `[-1, 1]`: random values on a `cells × cells` grid, bicubic-ish
/// (smoothstep) interpolation.
pub(crate) fn value_noise(rng: &mut Rng, w: usize, h: usize, cells: usize) -> Vec<f32> {
    let g = cells + 2;
    let grid: Vec<f32> = (0..g * g).map(|_| rng.range_f32(-1.0, 1.0)).collect();
    let mut out = vec![0.0; w * h];
    let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
    for y in 0..h {
        let fy = y as f32 / h as f32 * cells as f32;
        let (iy, ty) = (fy as usize, smooth(fy.fract()));
        for x in 0..w {
            let fx = x as f32 / w as f32 * cells as f32;
            let (ix, tx) = (fx as usize, smooth(fx.fract()));
            let at = |i: usize, j: usize| grid[j * g + i];
            let top = at(ix, iy) * (1.0 - tx) + at(ix + 1, iy) * tx;
            let bot = at(ix, iy + 1) * (1.0 - tx) + at(ix + 1, iy + 1) * tx;
            out[y * w + x] = top * (1.0 - ty) + bot * ty;
        }
    }
    out
}

/// Adds max-coverage of a disk (antialiased) at `(cx, cy)` with radius `r` into `cov`, and marks
/// `id` for the covered pixels in `owner` where the coverage increased.
fn stamp_disk(cov: &mut [f32], owner: &mut [u16], w: usize, h: usize, c: (f32, f32, f32), id: u16) {
    let (cx, cy, r) = c;
    let x0 = (cx - r - 1.0).floor().max(0.0) as usize;
    let y0 = (cy - r - 1.0).floor().max(0.0) as usize;
    let x1 = ((cx + r + 1.0).ceil() as usize).min(w.saturating_sub(1));
    let y1 = ((cy + r + 1.0).ceil() as usize).min(h.saturating_sub(1));
    if cx + r + 1.0 < 0.0 || cy + r + 1.0 < 0.0 {
        return;
    }
    for y in y0..=y1 {
        for x in x0..=x1 {
            let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
            let v = (r + 0.5 - d).clamp(0.0, 1.0);
            let i = y * w + x;
            if v > cov[i] {
                cov[i] = v;
                owner[i] = id;
            }
        }
    }
}

struct Branch {
    x: f32,
    y: f32,
    angle: f32,
    width: f32,
    depth: u32,
}

/// A synthetic fundus image of `size × size` with its vessel label and circular FOV.
pub fn vessel_sample(size: u32, seed: u64, index: u64) -> SynthSample {
    let mut rng = Rng::with_stream(seed, index.wrapping_mul(2).wrapping_add(1));
    let (w, h) = (size as usize, size as usize);
    let s = size as f32;
    let (cx, cy) = (s / 2.0 + rng.range_f32(-0.02, 0.02) * s, s / 2.0);
    let radius = s * rng.range_f32(0.44, 0.48);
    let mut fov = Mask::filled(size, size, false);
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            fov.data[y * w + x] = dx * dx + dy * dy <= radius * radius;
        }
    }

    // Optic disc on one side, macula on the other.
    let side = if rng.chance(0.5) { 1.0 } else { -1.0 };
    let od = (
        cx + side * radius * rng.range_f32(0.45, 0.6),
        cy + radius * rng.range_f32(-0.1, 0.1),
    );
    let od_r = radius * rng.range_f32(0.12, 0.16);
    let mac = (cx - side * radius * 0.25, cy);

    // Vessel tree.
    let mut cov = vec![0.0f32; w * h];
    let mut owner = vec![0u16; w * h];
    let mut contrasts = vec![0.0f32];
    let mut stack: Vec<Branch> = Vec::new();
    let trunks = 5 + rng.below(3);
    let w0 = (s * rng.range_f32(0.011, 0.016)).max(1.2);
    // toward the macula = angle pi when side = 1; arcades leave up and down, then bend
    let axis = if side > 0.0 {
        std::f32::consts::PI
    } else {
        0.0
    };
    for t in 0..trunks {
        let base = if t < 4 {
            axis + [1.2f32, -1.2, 2.2, -2.2][t] * side
        } else {
            rng.range_f32(0.0, std::f32::consts::TAU)
        };
        stack.push(Branch {
            x: od.0,
            y: od.1,
            angle: base + rng.range_f32(-0.25, 0.25),
            width: w0 * rng.range_f32(0.8, 1.1),
            depth: 0,
        });
    }
    let step = (s / 256.0).max(0.5);
    let max_branches = 300usize;
    while let Some(mut b) = stack.pop() {
        if contrasts.len() >= max_branches {
            break;
        }
        let id = contrasts.len() as u16;
        contrasts.push(rng.range_f32(0.25, 0.6));
        let mut curvature = rng.range_f32(-0.02, 0.02);
        let length = s * rng.range_f32(0.25, 0.45) / (1.0 + 0.25 * b.depth as f32);
        let mut walked = 0.0;
        while walked < length {
            curvature = (curvature + rng.normal() * 0.006).clamp(-0.05, 0.05);
            b.angle += curvature;
            b.x += b.angle.cos() * step;
            b.y += b.angle.sin() * step;
            walked += step;
            b.width *= 1.0 - 0.0008 * step;
            let (dx, dy) = (b.x - cx, b.y - cy);
            if dx * dx + dy * dy > (radius * 1.02).powi(2) || b.width < 0.35 {
                break;
            }
            stamp_disk(&mut cov, &mut owner, w, h, (b.x, b.y, b.width / 2.0), id);
            if b.depth < 7 && rng.chance((0.03 * step / (s / 256.0).max(0.5)) as f64) {
                let sign = if rng.chance(0.5) { 1.0 } else { -1.0 };
                stack.push(Branch {
                    x: b.x,
                    y: b.y,
                    angle: b.angle + sign * rng.range_f32(0.4, 1.1),
                    width: b.width * rng.range_f32(0.55, 0.8),
                    depth: b.depth + 1,
                });
                b.width *= 0.9;
            }
        }
        // The remainder of a branch continues as a thinner child.
        if b.depth < 6 && b.width > 0.6 && walked >= length {
            stack.push(Branch {
                x: b.x,
                y: b.y,
                angle: b.angle + rng.range_f32(-0.5, 0.5),
                width: b.width * 0.8,
                depth: b.depth + 1,
            });
        }
    }

    // Background and illumination.
    let tex = value_noise(&mut rng, w, h, 6);
    let fine = value_noise(&mut rng, w, h, 24);
    let base = [
        rng.range_f32(0.65, 0.85),
        rng.range_f32(0.28, 0.40),
        rng.range_f32(0.08, 0.16),
    ];
    let grad_angle = rng.range_f32(0.0, std::f32::consts::TAU);
    let grad = rng.range_f32(0.05, 0.2);
    let noise_sigma = rng.range_f32(0.01, 0.03);
    let mut planes = [vec![0.0; w * h], vec![0.0; w * h], vec![0.0; w * h]];
    let mut mask = Mask::filled(size, size, false);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            mask.data[i] = cov[i] >= 0.5 && fov.data[i];
            if !fov.data[i] {
                for p in planes.iter_mut() {
                    p[i] = (0.01 + rng.normal() * 0.005).clamp(0.0, 1.0);
                }
                continue;
            }
            let rr = ((px - cx).powi(2) + (py - cy).powi(2)) / (radius * radius);
            let gxy = ((px - cx) * grad_angle.cos() + (py - cy) * grad_angle.sin()) / radius;
            let illum = (1.0 - 0.45 * rr.powf(1.5)) * (1.0 + grad * gxy) * (1.0 + 0.08 * tex[i]);
            let d_od = ((px - od.0).powi(2) + (py - od.1).powi(2)).sqrt() / od_r;
            let disc = (-(d_od * d_od) * 1.2).exp();
            let d_mac = ((px - mac.0).powi(2) + (py - mac.1).powi(2)).sqrt() / (radius * 0.18);
            let macula = 0.25 * (-(d_mac * d_mac)).exp();
            let vessel = cov[i] * contrasts[owner[i] as usize];
            let strength = [0.35, 1.0, 0.6];
            for c in 0..3 {
                let mut v = base[c] * illum * (1.0 - macula);
                v += disc * [0.25, 0.45, 0.35][c];
                v *= 1.0 - vessel * strength[c];
                v += 0.015 * fine[i] + noise_sigma * rng.normal();
                planes[c][i] = v.clamp(0.0, 1.0);
            }
        }
    }
    SynthSample {
        image: RgbPlanes {
            width: size,
            height: size,
            planes,
        },
        mask,
        fov,
    }
}

/// A synthetic dermoscopy image of `size × (3·size/4)` with its lesion label (FOV = whole image).
pub fn lesion_sample(size: u32, seed: u64, index: u64) -> SynthSample {
    let mut rng = Rng::with_stream(seed, index.wrapping_mul(2));
    let (width, height) = (size, (size * 3 / 4).max(1));
    let (w, h) = (width as usize, height as usize);
    let (fw, fh) = (w as f32, h as f32);
    let (cx, cy) = (
        fw / 2.0 + rng.range_f32(-0.12, 0.12) * fw,
        fh / 2.0 + rng.range_f32(-0.12, 0.12) * fh,
    );
    let r0 = fh * rng.range_f32(0.18, 0.38);
    let harmonics: Vec<(f32, f32, f32)> = (2..8)
        .map(|k| {
            (
                k as f32,
                rng.range_f32(0.0, 0.22) / k as f32 * 2.0,
                rng.range_f32(0.0, std::f32::consts::TAU),
            )
        })
        .collect();
    let radius_at = |theta: f32| {
        let mut r = 1.0;
        for &(k, a, p) in &harmonics {
            r += a * (k * theta + p).cos();
        }
        r0 * r.max(0.3)
    };
    let skin = [
        rng.range_f32(0.78, 0.92),
        rng.range_f32(0.55, 0.70),
        rng.range_f32(0.45, 0.60),
    ];
    let lesion = [
        rng.range_f32(0.35, 0.60),
        rng.range_f32(0.20, 0.38),
        rng.range_f32(0.12, 0.28),
    ];
    let tex = value_noise(&mut rng, w, h, 8);
    let mottle = value_noise(&mut rng, w, h, 16);
    let vignette = rng.range_f32(0.1, 0.5);
    let mut planes = [vec![0.0; w * h], vec![0.0; w * h], vec![0.0; w * h]];
    let mut mask = Mask::filled(width, height, false);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let d = (dx * dx + dy * dy).sqrt();
            let rb = radius_at(dy.atan2(dx));
            mask.data[i] = d <= rb;
            // soft border of ~1.5 px, darker centre, mottling
            let inside = ((rb - d) / 1.5 + 0.5).clamp(0.0, 1.0);
            let depth = (1.0 - d / rb).clamp(0.0, 1.0);
            let (ex, ey) = ((x as f32 / fw - 0.5) * 2.0, (y as f32 / fh - 0.5) * 2.0);
            let vig = 1.0 - vignette * ((ex * ex + ey * ey) / 2.0).powi(2);
            for c in 0..3 {
                let sk = skin[c] * (1.0 + 0.05 * tex[i]);
                let le = lesion[c] * (1.0 - 0.35 * depth) * (1.0 + 0.25 * mottle[i]);
                let v = (sk * (1.0 - inside) + le * inside) * vig + 0.012 * rng.normal();
                planes[c][i] = v.clamp(0.0, 1.0);
            }
        }
    }
    // Hairs: dark quadratic Bézier curves, 1-2 px wide, over everything (not labelled).
    let hairs = rng.below(7);
    for _ in 0..hairs {
        let p0 = (rng.range_f32(0.0, fw), rng.range_f32(0.0, fh));
        let p1 = (rng.range_f32(0.0, fw), rng.range_f32(0.0, fh));
        let p2 = (rng.range_f32(0.0, fw), rng.range_f32(0.0, fh));
        let half = rng.range_f32(0.4, 0.9) * (fw / 256.0).max(0.6);
        let darkness = rng.range_f32(0.5, 0.85);
        let steps = (fw * 2.0) as usize;
        let mut cov = vec![0.0f32; w * h];
        let mut owner = vec![0u16; w * h];
        for k in 0..=steps {
            let t = k as f32 / steps as f32;
            let a = (1.0 - t) * (1.0 - t);
            let b = 2.0 * (1.0 - t) * t;
            let c = t * t;
            let x = a * p0.0 + b * p1.0 + c * p2.0;
            let y = a * p0.1 + b * p1.1 + c * p2.1;
            stamp_disk(&mut cov, &mut owner, w, h, (x, y, half), 1);
        }
        for (i, &v) in cov.iter().enumerate() {
            if v > 0.0 {
                for p in planes.iter_mut() {
                    p[i] *= 1.0 - darkness * v;
                }
            }
        }
    }
    SynthSample {
        image: RgbPlanes {
            width,
            height,
            planes,
        },
        mask,
        fov: Mask::filled(width, height, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vessels_are_deterministic_and_plausible() {
        let a = vessel_sample(64, 5, 0);
        let b = vessel_sample(64, 5, 0);
        let c = vessel_sample(64, 5, 1);
        assert_eq!(a, b);
        assert_ne!(a.mask, c.mask);
        let frac = a.mask.count() as f64 / a.fov.count() as f64;
        assert!((0.02..0.35).contains(&frac), "vessel fraction {frac}");
        assert!((0.55..0.75).contains(&a.fov.fraction()));
        // vessels are darker than background in green
        let g = &a.image.planes[1];
        let mean = |want: bool| {
            let v: Vec<f32> = (0..g.len())
                .filter(|&i| a.fov.data[i] && a.mask.data[i] == want)
                .map(|i| g[i])
                .collect();
            v.iter().sum::<f32>() / v.len() as f32
        };
        assert!(mean(true) < mean(false));
    }

    #[test]
    fn lesions_are_deterministic_and_plausible() {
        let a = lesion_sample(64, 5, 0);
        assert_eq!(a, lesion_sample(64, 5, 0));
        assert_eq!(a.image.size(), (64, 48));
        let frac = a.mask.fraction();
        assert!((0.03..0.8).contains(&frac), "lesion fraction {frac}");
    }
}

/// One synthetic chest radiograph: the grey image and one mask per [`STRUCTURES`] entry, in that
/// order, at twice the image's size (as JSRT's SCR masks are).
#[derive(Debug, Clone, PartialEq)]
pub struct ChestSample {
    pub image: Plane,
    pub masks: Vec<Mask>,
}

/// A synthetic chest radiograph of `size × size` (see the module docs).
pub fn chest_sample(size: u32, seed: u64, index: u64) -> ChestSample {
    let mut rng = Rng::with_stream(seed, index.wrapping_mul(2) + 1);
    let m = 2 * size;
    let f = m as f32;
    let jitter = |rng: &mut Rng| rng.range_f32(-0.02, 0.02) * f;
    // ellipses (cx, cy, rx, ry) in mask pixels
    let lung_ry = 0.36 * f + jitter(&mut rng);
    let left = (0.27 * f + jitter(&mut rng), 0.5 * f, 0.17 * f, lung_ry);
    let right = (0.73 * f + jitter(&mut rng), 0.5 * f, 0.17 * f, lung_ry);
    let heart = (
        0.5 * f + jitter(&mut rng),
        0.66 * f + jitter(&mut rng),
        0.14 * f + jitter(&mut rng).abs(),
        0.13 * f,
    );
    let clavicle_y = 0.2 * f + jitter(&mut rng);
    let in_ellipse = |(cx, cy, rx, ry): (f32, f32, f32, f32), x: f32, y: f32| {
        ((x - cx) / rx).powi(2) + ((y - cy) / ry).powi(2) <= 1.0
    };
    // a clavicle: a band 0.05 f thick from the spine outwards across the lung's top
    let clavicle = |x0: f32, x1: f32, x: f32, y: f32| {
        let t = ((x - x0) / (x1 - x0)).clamp(0.0, 1.0);
        (x0.min(x1)..=x0.max(x1)).contains(&x)
            && (y - (clavicle_y - 0.04 * f * t)).abs() <= 0.025 * f
    };
    let shapes: [&dyn Fn(f32, f32) -> bool; 5] = [
        &|x, y| in_ellipse(heart, x, y),
        &|x, y| in_ellipse(left, x, y) && !in_ellipse(heart, x, y),
        &|x, y| in_ellipse(right, x, y) && !in_ellipse(heart, x, y),
        &|x, y| clavicle(0.46 * f, 0.1 * f, x, y),
        &|x, y| clavicle(0.54 * f, 0.9 * f, x, y),
    ];
    let masks: Vec<Mask> = shapes
        .iter()
        .map(|inside| Mask {
            width: m,
            height: m,
            data: (0..m)
                .flat_map(|y| (0..m).map(move |x| (x as f32 + 0.5, y as f32 + 0.5)))
                .map(|(x, y)| inside(x, y))
                .collect(),
        })
        .collect();
    // the image: each pixel the mean over its 2x2 mask pixels of the tissue's brightness
    let (w, n) = (size as usize, size as usize * size as usize);
    let noise = value_noise(&mut rng, w, w, 4);
    let level = |i: usize| {
        if masks[3].data[i] || masks[4].data[i] {
            0.9
        } else if masks[0].data[i] {
            0.7
        } else if masks[1].data[i] || masks[2].data[i] {
            0.22
        } else {
            0.55
        }
    };
    let data = (0..n)
        .map(|p| {
            let (x, y) = (p % w, p / w);
            let (mx, my, mw) = (2 * x, 2 * y, m as usize);
            let mean = [0, 1, mw, mw + 1]
                .iter()
                .map(|d| level(my * mw + mx + d))
                .sum::<f32>()
                / 4.0;
            (mean + 0.05 * noise[p] + 0.02 * rng.normal()).clamp(0.0, 1.0)
        })
        .collect();
    ChestSample {
        image: Plane {
            width: size,
            height: size,
            data,
        },
        masks,
    }
}
