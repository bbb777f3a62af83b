//! Training samples: random patches centred inside the FOV, optionally biased toward foreground,
//! or whole (already resized) images.
//!
//! A patch centre is a random foreground pixel with probability `foreground_bias`, otherwise a
//! random FOV pixel (any pixel if the FOV is empty). The patch is then shifted to lie inside the
//! image when the image is at least as large; smaller images are zero-padded (mask and FOV
//! `false` in the padding, so padded pixels never count in the loss).

use serde::{Deserialize, Serialize};

use super::io::Mask;
use super::preprocess::Planes;
use super::{Rng, Sample};
use crate::{Error, Result};

/// Random patch settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchConfig {
    /// Patch `[width, height]`.
    pub size: [u32; 2],
    /// Probability in `[0, 1]` of centring a patch on a foreground pixel.
    pub foreground_bias: f32,
}

impl Default for PatchConfig {
    fn default() -> Self {
        PatchConfig {
            size: [96, 96],
            foreground_bias: 0.5,
        }
    }
}

/// Pixel indices of a sample's FOV and foreground (inside the FOV), computed once per sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PixelIndex {
    pub fov: Vec<u32>,
    pub foreground: Vec<u32>,
}

impl PixelIndex {
    /// Indexes `sample`.
    pub fn new(sample: &Sample) -> Self {
        let mut ix = PixelIndex::default();
        for (i, (&f, &m)) in sample.fov.data.iter().zip(&sample.mask.data).enumerate() {
            if f {
                ix.fov.push(i as u32);
                if m {
                    ix.foreground.push(i as u32);
                }
            }
        }
        ix
    }
}

impl PatchConfig {
    /// Checks the size and bias.
    pub fn validate(&self) -> Result<()> {
        if self.size[0] == 0 || self.size[1] == 0 || !(0.0..=1.0).contains(&self.foreground_bias) {
            return Err(Error::InvalidConfig(format!(
                "patches need a positive size and foreground_bias in [0, 1], got {:?}, {}",
                self.size, self.foreground_bias
            )));
        }
        Ok(())
    }

    /// Picks the top-left corner (may be negative for images smaller than the patch).
    pub fn pick(&self, sample: &Sample, index: &PixelIndex, rng: &mut Rng) -> (i64, i64) {
        let (w, h) = (sample.image.width as i64, sample.image.height as i64);
        let pool = if !index.foreground.is_empty() && rng.chance(self.foreground_bias as f64) {
            &index.foreground
        } else {
            &index.fov
        };
        let centre = if pool.is_empty() {
            rng.below((w * h).max(1) as usize) as i64
        } else {
            pool[rng.below(pool.len())] as i64
        };
        let (cx, cy) = (centre % w.max(1), centre / w.max(1));
        let (pw, ph) = (self.size[0] as i64, self.size[1] as i64);
        let place = |c: i64, p: i64, len: i64| {
            let start = c - p / 2;
            if len >= p {
                start.clamp(0, len - p)
            } else {
                -((p - len) / 2)
            }
        };
        (place(cx, pw, w), place(cy, ph, h))
    }

    /// A random patch of `sample`.
    pub fn sample(&self, sample: &Sample, index: &PixelIndex, rng: &mut Rng) -> Sample {
        let (x0, y0) = self.pick(sample, index, rng);
        crop(sample, x0, y0, self.size[0], self.size[1])
    }
}

/// The `w × h` window of `sample` at `(x0, y0)`; outside the image: 0 and `false`.
pub fn crop(sample: &Sample, x0: i64, y0: i64, w: u32, h: u32) -> Sample {
    let (sw, sh) = (sample.image.width as i64, sample.image.height as i64);
    let (w_, h_) = (w as usize, h as usize);
    let c = sample.image.channels;
    let mut image = Planes::zeros(c, w, h);
    let mut mask = Mask::filled(w, h, false);
    let mut fov = Mask::filled(w, h, false);
    let mut classes = vec![Mask::filled(w, h, false); sample.classes.len()];
    for y in 0..h_ {
        let sy = y0 + y as i64;
        if sy < 0 || sy >= sh {
            continue;
        }
        for x in 0..w_ {
            let sx = x0 + x as i64;
            if sx < 0 || sx >= sw {
                continue;
            }
            let si = (sy * sw + sx) as usize;
            let di = y * w_ + x;
            mask.data[di] = sample.mask.data[si];
            fov.data[di] = sample.fov.data[si];
            for (dst, src) in classes.iter_mut().zip(&sample.classes) {
                dst.data[di] = src.data[si];
            }
            for ch in 0..c {
                image.data[ch * w_ * h_ + di] = sample.image.data[ch * (sw * sh) as usize + si];
            }
        }
    }
    Sample {
        id: sample.id.clone(),
        image,
        mask,
        fov,
        classes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(w: u32, h: u32) -> Sample {
        let n = (w * h) as usize;
        let mut mask = Mask::filled(w, h, false);
        mask.data[n - 1] = true; // one foreground pixel, bottom-right
        let mut fov = Mask::filled(w, h, true);
        fov.data[0] = false;
        Sample {
            id: "s".into(),
            image: Planes {
                channels: 1,
                width: w,
                height: h,
                data: (0..n).map(|i| i as f32).collect(),
            },
            mask,
            fov,
            classes: Vec::new(),
        }
    }

    #[test]
    fn full_bias_always_contains_the_foreground() {
        let s = sample(40, 30);
        let ix = PixelIndex::new(&s);
        let cfg = PatchConfig {
            size: [8, 8],
            foreground_bias: 1.0,
        };
        let mut rng = Rng::new(0);
        for _ in 0..20 {
            let p = cfg.sample(&s, &ix, &mut rng);
            assert_eq!((p.image.width, p.image.height), (8, 8));
            assert_eq!(p.mask.count(), 1);
        }
    }

    #[test]
    fn crop_copies_values_and_pads_outside() {
        let s = sample(5, 4);
        let p = crop(&s, -1, 2, 3, 3);
        // row 0 of the patch = image row 2, columns -1..2
        assert_eq!(&p.image.data[0..3], &[0.0, 10.0, 11.0]);
        assert!(!p.fov.data[0] && p.fov.data[1]);
        assert_eq!(&p.image.data[6..9], &[0.0, 0.0, 0.0]); // row 4 is outside
        let small = PatchConfig {
            size: [9, 9],
            foreground_bias: 0.0,
        };
        let mut rng = Rng::new(1);
        assert_eq!(small.pick(&s, &PixelIndex::new(&s), &mut rng), (-2, -2));
    }
}
