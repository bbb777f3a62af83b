//! Scale normalisation: images from other cameras and resolutions are brought to the scale the
//! model was trained at before the network sees them.
//!
//! Photographs carry no pixel spacing, so the ruler is the field of view: a model trained on
//! DRIVE saw fundus discs about 540 pixels across, and a 3504x2336 photograph of the same retina
//! shows vessels four times wider. Every weights file carries its training data's reference
//! ([`ScaleReference`]); at inference ([`ScaleMode::Auto`]) each image's FOV diameter is measured
//! ([`fov_diameter`]), the image is resampled by `reference / diameter` (antialiased when
//! shrinking), the network runs, and the probabilities are resampled back to the original size,
//! where masks, overlays and metrics are computed against the original labels.
//!
//! The diameter of a FOV is its horizontal extent in pixels (the width of its bounding box):
//! fundus discs are often cut at the top and bottom, never at the sides. Without a FOV (whole
//! images) it is the image width. Factors within [`UNIT_TOLERANCE`] of 1 are taken as 1: the
//! resampling would blur more than so small a scale difference matters, and images at the
//! training scale give exactly the unscaled result.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::data::io::Mask;
use crate::{Error, Result};

/// Factors in `[1 - UNIT_TOLERANCE, 1 + UNIT_TOLERANCE]` are applied as 1.
pub const UNIT_TOLERANCE: f64 = 0.05;

/// Largest image, in pixels, that scaling may produce (a 100-megapixel guard against factors
/// that would exhaust memory).
pub const MAX_SCALED_PIXELS: u64 = 100_000_000;

/// The scale a model was trained at, stored with its weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScaleReference {
    /// Median FOV diameter in pixels (see the module docs) over the training images.
    FovDiameter(f64),
    /// Training resized every image to this `[width, height]`; preprocessing does the same to a
    /// new image, so no further scaling is needed.
    ImageSize([u32; 2]),
}

impl ScaleReference {
    /// The reference of a set of training FOVs: [`ScaleReference::FovDiameter`] of their median
    /// diameter (an empty FOV counts as its image's width). `None` without images.
    pub fn from_fovs<'a>(fovs: impl IntoIterator<Item = &'a Mask>) -> Option<Self> {
        let mut d: Vec<f64> = fovs
            .into_iter()
            .map(|m| fov_diameter(m).unwrap_or(m.width as f64))
            .collect();
        if d.is_empty() {
            return None;
        }
        d.sort_by(f64::total_cmp);
        let n = d.len();
        let median = if n % 2 == 1 {
            d[n / 2]
        } else {
            (d[n / 2 - 1] + d[n / 2]) / 2.0
        };
        Some(ScaleReference::FovDiameter(median))
    }
}

/// How inference scales an image (`--scale`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ScaleMode {
    /// `reference / FOV diameter` when the weights carry a FOV-diameter reference, else 1.
    #[default]
    Auto,
    /// Never rescale (the behaviour of weights without a reference).
    None,
    /// Resample every image by this factor (> 0; 0.5 halves each side).
    Factor(f64),
}

impl FromStr for ScaleMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(ScaleMode::Auto),
            "none" => Ok(ScaleMode::None),
            other => match other.parse::<f64>() {
                Ok(f) if f.is_finite() && f > 0.0 => Ok(ScaleMode::Factor(f)),
                _ => Err(Error::InvalidConfig(format!(
                    "scale must be auto, none or a factor > 0, got '{s}'"
                ))),
            },
        }
    }
}

/// The horizontal extent of the FOV in pixels, or `None` when it selects no pixel.
pub fn fov_diameter(fov: &Mask) -> Option<f64> {
    let w = fov.width as usize;
    if w == 0 {
        return None;
    }
    let (mut lo, mut hi) = (usize::MAX, 0usize);
    for row in fov.data.chunks(w) {
        if let Some(first) = row.iter().position(|&v| v) {
            let last = w - 1 - row.iter().rev().position(|&v| v).expect("row has a pixel");
            lo = lo.min(first);
            hi = hi.max(last);
        }
    }
    (lo != usize::MAX).then(|| (hi - lo + 1) as f64)
}

/// A FOV too small to measure (under a fifth of the image width) is taken as not found.
const MIN_FOV_SHARE: f64 = 0.2;

/// What [`factor`] decided for one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleDecision {
    /// The factor applied (1 = unscaled).
    pub factor: f64,
    /// The FOV diameter measured, when the factor came from one.
    pub diameter: Option<f64>,
    /// True when the FOV could not be measured and the image width stood in for it.
    pub fov_fallback: bool,
}

/// The resampling factor for an image of `fov.width x fov.height` with field of view `fov`.
///
/// # Errors
/// [`Error::InvalidInput`] when the scaled image would exceed [`MAX_SCALED_PIXELS`] or be
/// smaller than one pixel.
pub fn factor(
    mode: ScaleMode,
    reference: Option<&ScaleReference>,
    fov: &Mask,
) -> Result<ScaleDecision> {
    let (w, h) = (fov.width as f64, fov.height as f64);
    let decision = match (mode, reference) {
        (ScaleMode::None, _) | (ScaleMode::Auto, None | Some(ScaleReference::ImageSize(_))) => {
            ScaleDecision {
                factor: 1.0,
                diameter: None,
                fov_fallback: false,
            }
        }
        (ScaleMode::Factor(f), _) => ScaleDecision {
            factor: f,
            diameter: None,
            fov_fallback: false,
        },
        (ScaleMode::Auto, Some(ScaleReference::FovDiameter(reference))) => {
            let measured = fov_diameter(fov).filter(|&d| d >= MIN_FOV_SHARE * w);
            let diameter = measured.unwrap_or(w);
            let f = reference / diameter;
            ScaleDecision {
                factor: if (f - 1.0).abs() <= UNIT_TOLERANCE {
                    1.0
                } else {
                    f
                },
                diameter: Some(diameter),
                fov_fallback: measured.is_none(),
            }
        }
    };
    let (sw, sh) = scaled_size((fov.width, fov.height), decision.factor);
    if (sw as u64) * (sh as u64) > MAX_SCALED_PIXELS || w * decision.factor < 1.0 {
        return Err(Error::InvalidInput(format!(
            "scale factor {} turns a {}x{} image into {sw}x{sh} pixels (limit {} megapixels, \
             at least 1 pixel)",
            decision.factor,
            w,
            h,
            MAX_SCALED_PIXELS / 1_000_000
        )));
    }
    Ok(decision)
}

/// The size `(width, height)` of an image of `size` resampled by `factor` (each side rounded,
/// at least 1).
pub fn scaled_size(size: (u32, u32), factor: f64) -> (u32, u32) {
    let side = |s: u32| ((s as f64 * factor).round() as u32).max(1);
    (side(size.0), side(size.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disc(w: u32, h: u32, cx: f64, cy: f64, r: f64) -> Mask {
        let data = (0..h)
            .flat_map(|y| {
                (0..w).map(move |x| {
                    let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
                    dx * dx + dy * dy <= r * r
                })
            })
            .collect();
        Mask {
            width: w,
            height: h,
            data,
        }
    }

    #[test]
    fn diameter_is_the_horizontal_extent_even_when_the_disc_is_cut() {
        // a disc of radius 40 cut at the top and bottom of a 100x60 image
        let m = disc(100, 60, 50.0, 30.0, 40.0);
        assert_eq!(fov_diameter(&m), Some(80.0));
        assert_eq!(fov_diameter(&Mask::filled(7, 3, false)), None);
        assert_eq!(fov_diameter(&Mask::filled(7, 3, true)), Some(7.0));
    }

    #[test]
    fn modes_parse_and_bad_factors_are_rejected() {
        assert_eq!("auto".parse::<ScaleMode>().unwrap(), ScaleMode::Auto);
        assert_eq!("None".parse::<ScaleMode>().unwrap(), ScaleMode::None);
        assert_eq!("0.5".parse::<ScaleMode>().unwrap(), ScaleMode::Factor(0.5));
        for bad in ["0", "-1", "nan", "inf", "x", ""] {
            assert!(bad.parse::<ScaleMode>().is_err(), "{bad}");
        }
    }

    #[test]
    fn auto_brings_the_fov_to_the_reference() {
        let reference = ScaleReference::FovDiameter(40.0);
        let m = disc(200, 160, 100.0, 80.0, 40.0); // diameter 80
        let d = factor(ScaleMode::Auto, Some(&reference), &m).unwrap();
        assert_eq!(d.factor, 0.5);
        assert!(!d.fov_fallback);
        // within the tolerance of 1: unscaled
        let near = ScaleReference::FovDiameter(82.0);
        assert_eq!(
            factor(ScaleMode::Auto, Some(&near), &m).unwrap().factor,
            1.0
        );
        // no reference, an image-size reference or `none`: unscaled
        assert_eq!(factor(ScaleMode::Auto, None, &m).unwrap().factor, 1.0);
        let fixed = ScaleReference::ImageSize([256, 256]);
        assert_eq!(
            factor(ScaleMode::Auto, Some(&fixed), &m).unwrap().factor,
            1.0
        );
        assert_eq!(
            factor(ScaleMode::None, Some(&reference), &m)
                .unwrap()
                .factor,
            1.0
        );
        assert_eq!(
            factor(ScaleMode::Factor(2.0), None, &m).unwrap().factor,
            2.0
        );
    }

    #[test]
    fn a_missing_fov_falls_back_to_the_image_width() {
        let reference = ScaleReference::FovDiameter(50.0);
        let dark = Mask::filled(200, 100, false);
        let d = factor(ScaleMode::Auto, Some(&reference), &dark).unwrap();
        assert!(d.fov_fallback);
        assert_eq!(d.factor, 0.25);
    }

    #[test]
    fn absurd_factors_are_errors() {
        let m = Mask::filled(1000, 1000, true);
        assert!(factor(ScaleMode::Factor(20.0), None, &m).is_err());
        assert!(factor(ScaleMode::Factor(1e-4), None, &m).is_err());
    }

    #[test]
    fn reference_is_the_median_diameter() {
        let fovs = [
            disc(100, 100, 50.0, 50.0, 10.0),
            disc(100, 100, 50.0, 50.0, 30.0),
            disc(100, 100, 50.0, 50.0, 20.0),
        ];
        assert_eq!(
            ScaleReference::from_fovs(&fovs),
            Some(ScaleReference::FovDiameter(40.0))
        );
        assert_eq!(ScaleReference::from_fovs(&[]), None);
    }
}
