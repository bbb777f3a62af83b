//! What the classes of an experiment are (`data.labels`): binary, multi-label or multi-class.
//!
//! - **binary** (the default): one foreground structure, one sigmoid output channel (K = 1).
//!   Everything binary works exactly as it did before this section existed; a binary config
//!   does not even serialise the section.
//! - **multi-label**: one sigmoid channel per structure, structures may overlap (the SCR chest
//!   masks: clavicles lie over the lungs). Each class names the mask sub-folders whose union is
//!   its mask (`masks = ["left_lung", "right_lung"]` groups both lungs into one class).
//! - **multi-class**: softmax over exclusive classes, background included (nnU-Net's
//!   `labelsTr` label maps with values `0..K-1`). Each class names the label value it is
//!   (`id`, default its position in the list); the ids must be exactly `0..K-1`, 0 the
//!   background.
//!
//! ```toml
//! [data.labels]
//! mode = "multi-label"
//! classes = [
//!   { name = "lungs", masks = ["left_lung", "right_lung"], colour = [0, 160, 255] },
//!   { name = "heart", colour = [255, 60, 60] },
//! ]
//! ```
//!
//! `weight` (default 1) is the class weight of the multi-class cross-entropy (PyTorch's
//! `CrossEntropyLoss(weight=...)`); it must stay 1 in the other modes.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::io::{Mask, decode};
use crate::{Error, Result};

/// How classes are encoded; see the module docs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelMode {
    /// One foreground structure, sigmoid (K = 1).
    #[default]
    Binary,
    /// One sigmoid channel per structure; structures may overlap.
    MultiLabel,
    /// Softmax over exclusive classes, background included.
    MultiClass,
}

impl LabelMode {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelMode::Binary => "binary",
            LabelMode::MultiLabel => "multi-label",
            LabelMode::MultiClass => "multi-class",
        }
    }
}

/// One class (output channel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassSpec {
    /// Name, used in reports and file names (`[a-z0-9_-]` recommended).
    pub name: String,
    /// Multi-class: the label value of this class in the label maps (default: its position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// Multi-label: the mask sub-folders whose union is this class (default: `[name]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masks: Vec<String>,
    /// RGB colour of the overlays and label-map PNGs (default: [`PALETTE`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<[u8; 3]>,
    /// Multi-class cross-entropy weight, finite and `> 0` (default 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}
fn is_one(w: &f64) -> bool {
    *w == 1.0
}

impl ClassSpec {
    /// A class with every optional field at its default.
    pub fn new(name: impl Into<String>) -> Self {
        ClassSpec {
            name: name.into(),
            id: None,
            masks: Vec::new(),
            colour: None,
            weight: 1.0,
        }
    }

    /// The mask sub-folders of a multi-label class (`masks`, else `[name]`).
    pub fn mask_folders(&self) -> Vec<String> {
        if self.masks.is_empty() {
            vec![self.name.clone()]
        } else {
            self.masks.clone()
        }
    }
}

/// The colours of classes without one, in order (background first in multi-class mode is
/// drawn transparent, so it never shows).
pub const PALETTE: [[u8; 3]; 10] = [
    [230, 25, 75],
    [60, 180, 75],
    [0, 130, 200],
    [255, 225, 25],
    [245, 130, 48],
    [145, 30, 180],
    [70, 240, 240],
    [240, 50, 230],
    [210, 245, 60],
    [250, 190, 190],
];

/// The `data.labels` section; see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsConfig {
    /// Binary, multi-label or multi-class.
    #[serde(default)]
    pub mode: LabelMode,
    /// The classes, in output-channel order (empty in binary mode).
    #[serde(default)]
    pub classes: Vec<ClassSpec>,
}

impl LabelsConfig {
    /// The binary default.
    pub fn binary() -> Self {
        Self::default()
    }

    /// Multi-label with these classes.
    pub fn multi_label(classes: Vec<ClassSpec>) -> Self {
        LabelsConfig {
            mode: LabelMode::MultiLabel,
            classes,
        }
    }

    /// Multi-class with these classes (background first unless ids say otherwise).
    pub fn multi_class(classes: Vec<ClassSpec>) -> Self {
        LabelsConfig {
            mode: LabelMode::MultiClass,
            classes,
        }
    }

    /// Whether this is the binary default (the section is then not serialised).
    pub fn is_binary(&self) -> bool {
        self.mode == LabelMode::Binary && self.classes.is_empty()
    }

    /// Output channels K: 1 in binary mode, one per class otherwise.
    pub fn out_channels(&self) -> usize {
        match self.mode {
            LabelMode::Binary => 1,
            _ => self.classes.len(),
        }
    }

    /// The class names in channel order (`["foreground"]` in binary mode).
    pub fn names(&self) -> Vec<String> {
        match self.mode {
            LabelMode::Binary => vec!["foreground".into()],
            _ => self.classes.iter().map(|c| c.name.clone()).collect(),
        }
    }

    /// The colour of each channel: the class's own, else [`PALETTE`] in order.
    pub fn colours(&self) -> Vec<[u8; 3]> {
        (0..self.out_channels())
            .map(|k| {
                self.classes
                    .get(k)
                    .and_then(|c| c.colour)
                    .unwrap_or(PALETTE[k % PALETTE.len()])
            })
            .collect()
    }

    /// The label value of each channel (multi-class): `id`, else the position.
    pub fn ids(&self) -> Vec<u32> {
        self.classes
            .iter()
            .enumerate()
            .map(|(k, c)| c.id.unwrap_or(k as u32))
            .collect()
    }

    /// The cross-entropy class weights, in channel order.
    pub fn weights(&self) -> Vec<f64> {
        self.classes.iter().map(|c| c.weight).collect()
    }

    /// Checks the section, naming the offending key.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        match self.mode {
            LabelMode::Binary => {
                if !self.classes.is_empty() {
                    return bad(format!(
                        "data.labels.classes must be empty in binary mode (got {}); set \
                         data.labels.mode = \"multi-label\" or \"multi-class\"",
                        self.classes.len()
                    ));
                }
                return Ok(());
            }
            LabelMode::MultiLabel if self.classes.is_empty() => {
                return bad("data.labels.classes: multi-label needs at least 1 class".into());
            }
            LabelMode::MultiClass if self.classes.len() < 2 => {
                return bad(format!(
                    "data.labels.classes: multi-class needs at least 2 classes (background \
                     and one structure), got {}",
                    self.classes.len()
                ));
            }
            _ => {}
        }
        for (k, c) in self.classes.iter().enumerate() {
            if c.name.trim().is_empty() {
                return bad(format!("data.labels.classes[{k}].name must not be empty"));
            }
            if self.classes[..k].iter().any(|o| o.name == c.name) {
                return bad(format!(
                    "data.labels.classes[{k}].name '{}' is used twice",
                    c.name
                ));
            }
            if !(c.weight.is_finite() && c.weight > 0.0) {
                return bad(format!(
                    "data.labels.classes[{k}].weight must be > 0, got {}",
                    c.weight
                ));
            }
            match self.mode {
                LabelMode::MultiLabel => {
                    if c.id.is_some() {
                        return bad(format!(
                            "data.labels.classes[{k}].id is for multi-class label maps; a \
                             multi-label class names its mask folders in `masks`"
                        ));
                    }
                    if c.weight != 1.0 {
                        return bad(format!(
                            "data.labels.classes[{k}].weight is a multi-class cross-entropy \
                             weight; it must be 1 in multi-label mode, got {}",
                            c.weight
                        ));
                    }
                    if let Some(m) = c.mask_folders().iter().find(|m| m.trim().is_empty()) {
                        return bad(format!(
                            "data.labels.classes[{k}].masks has an empty folder name {m:?}"
                        ));
                    }
                }
                LabelMode::MultiClass => {
                    if !c.masks.is_empty() {
                        return bad(format!(
                            "data.labels.classes[{k}].masks is for multi-label mask folders; \
                             a multi-class class is a label value (`id`)"
                        ));
                    }
                }
                LabelMode::Binary => unreachable!("handled above"),
            }
        }
        if self.mode == LabelMode::MultiClass {
            let mut ids = self.ids();
            ids.sort_unstable();
            let k = ids.len() as u32;
            if ids != (0..k).collect::<Vec<_>>() {
                return bad(format!(
                    "data.labels.classes: multi-class ids must be exactly 0..{} (0 = \
                     background), got {:?}",
                    k - 1,
                    self.ids()
                ));
            }
        }
        Ok(())
    }

    /// Reads a multi-class label map and returns one mask per channel (one-hot). Every value
    /// must be a class id (`0..K-1`); any other is [`Error::BadLabel`] naming the file and the
    /// value.
    pub fn read_label_map(&self, path: &Path) -> Result<Vec<Mask>> {
        let map = read_label_map(path, self.out_channels() as u32)?;
        let ids = self.ids();
        Ok(ids
            .iter()
            .map(|&id| Mask {
                width: map.width,
                height: map.height,
                data: map.data.iter().map(|&v| v == id).collect(),
            })
            .collect())
    }
}

/// A decoded label map: one class value per pixel, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMap {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u32>,
}

/// Reads a label map (grey PNG/TIFF/..., 8 or 16 bit; colour files are refused) whose values
/// must all be below `classes`. The first value that is not is [`Error::BadLabel`].
pub fn read_label_map(path: &Path, classes: u32) -> Result<LabelMap> {
    let img = decode(path)?;
    let (width, height) = (img.width(), img.height());
    let data: Vec<u32> = match &img {
        image::DynamicImage::ImageLuma8(l) => l.as_raw().iter().map(|&v| v as u32).collect(),
        image::DynamicImage::ImageLuma16(l) => l.as_raw().iter().map(|&v| v as u32).collect(),
        _ => {
            return Err(Error::Decode {
                path: path.to_path_buf(),
                reason: format!(
                    "a label map must be a single-channel (grey) image, got {:?}",
                    img.color()
                ),
            });
        }
    };
    if let Some(&value) = data.iter().find(|&&v| v >= classes) {
        return Err(Error::BadLabel {
            path: path.to_path_buf(),
            value,
            classes,
        });
    }
    Ok(LabelMap {
        width,
        height,
        data,
    })
}

/// The label map of per-channel masks: each pixel the index of the first set channel, else 0
/// (multi-class one-hot masks give their class; for multi-label masks this is a display
/// convenience where later structures hide under earlier ones).
pub fn to_label_map(masks: &[Mask]) -> LabelMap {
    let (width, height) = masks.first().map_or((0, 0), |m| (m.width, m.height));
    let n = width as usize * height as usize;
    let data = (0..n)
        .map(|i| masks.iter().position(|m| m.data[i]).map_or(0, |k| k as u32))
        .collect();
    LabelMap {
        width,
        height,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str) -> ClassSpec {
        ClassSpec::new(name)
    }

    #[test]
    fn out_channels_follow_the_mode() {
        assert_eq!(LabelsConfig::binary().out_channels(), 1);
        let ml = LabelsConfig::multi_label(vec![class("a"), class("b"), class("c")]);
        assert_eq!(ml.out_channels(), 3);
        ml.validate().unwrap();
        let mc = LabelsConfig::multi_class(vec![class("background"), class("lung")]);
        assert_eq!(mc.out_channels(), 2);
        mc.validate().unwrap();
        assert_eq!(mc.ids(), [0, 1]);
    }

    #[test]
    fn invalid_sections_name_the_key() {
        let cases = [
            (
                LabelsConfig {
                    mode: LabelMode::Binary,
                    classes: vec![class("a")],
                },
                "binary mode",
            ),
            (LabelsConfig::multi_label(vec![]), "at least 1 class"),
            (LabelsConfig::multi_class(vec![class("a")]), "at least 2"),
            (
                LabelsConfig::multi_label(vec![class("a"), class("a")]),
                "used twice",
            ),
            (
                LabelsConfig::multi_class(vec![
                    ClassSpec {
                        id: Some(0),
                        ..class("bg")
                    },
                    ClassSpec {
                        id: Some(2),
                        ..class("x")
                    },
                ]),
                "exactly 0..1",
            ),
            (
                LabelsConfig::multi_label(vec![ClassSpec {
                    weight: 2.0,
                    ..class("a")
                }]),
                "weight",
            ),
            (
                LabelsConfig::multi_class(vec![
                    class("bg"),
                    ClassSpec {
                        weight: -1.0,
                        ..class("x")
                    },
                ]),
                "classes[1].weight",
            ),
        ];
        for (cfg, needle) in cases {
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }

    #[test]
    fn binary_is_not_serialised_and_toml_round_trips() {
        assert!(LabelsConfig::default().is_binary());
        let text = r#"
            mode = "multi-label"
            classes = [
              { name = "lungs", masks = ["left_lung", "right_lung"], colour = [0, 160, 255] },
              { name = "heart" },
            ]
        "#;
        let cfg: LabelsConfig = toml::from_str(text).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.classes[0].mask_folders(), ["left_lung", "right_lung"]);
        assert_eq!(cfg.classes[1].mask_folders(), ["heart"]);
        assert_eq!(cfg.colours(), [[0, 160, 255], PALETTE[1]]);
        let back: LabelsConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
        assert!(toml::from_str::<LabelsConfig>("mode = \"multi-label\"\nbogus = 1").is_err());
    }

    #[test]
    fn label_maps_reject_values_outside_the_classes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("case_1.png");
        image::GrayImage::from_raw(3, 1, vec![0, 2, 1])
            .unwrap()
            .save(&path)
            .unwrap();
        let cfg = LabelsConfig::multi_class(vec![class("bg"), class("a"), class("b")]);
        let masks = cfg.read_label_map(&path).unwrap();
        assert_eq!(masks.len(), 3);
        assert_eq!(masks[0].data, [true, false, false]);
        assert_eq!(masks[2].data, [false, true, false]);
        assert_eq!(to_label_map(&masks).data, [0, 2, 1]);
        let two = LabelsConfig::multi_class(vec![class("bg"), class("a")]);
        match two.read_label_map(&path).unwrap_err() {
            Error::BadLabel {
                path: p,
                value,
                classes,
            } => {
                assert_eq!((p, value, classes), (path.clone(), 2, 2));
            }
            e => panic!("expected BadLabel, got {e}"),
        }
        let err = two.read_label_map(&path).unwrap_err().to_string();
        assert!(
            err.contains("case_1.png") && err.contains("value 2"),
            "{err}"
        );
    }
}
