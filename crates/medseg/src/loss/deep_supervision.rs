//! The combined, deep-supervised training loss.
//!
//! For one output `o` (logits) and target `y`:
//!
//! ```text
//! term(o) = w_bce · pixel(o, y) + w_dice · dice(o, y) + w_msssim · (1 - MS-SSIM(σ(o), y))
//! total   = fused_weight · term(fused) + Σ_i side_weight_i · term(side_i)
//! ```
//!
//! where `pixel` is plain BCE, weighted BCE or focal loss ([`BceKind`]).
//!
//! With K output channels ([`crate::data::labels`]): binary and multi-label apply a sigmoid per
//! channel (the pixel term averages over every channel, the Dice is per class); multi-class
//! applies the softmax over the channels, the pixel term is then the class-weighted softmax
//! cross-entropy ([`crate::loss::cross_entropy`], `bce` must be `plain`) and the Dice the
//! softmax Dice with the same class weights ([`crate::loss::dice::softmax_dice_loss`]), which
//! together are MONAI's `DiceCELoss(softmax=True, to_onehot_y=True, weight=w)`. MS-SSIM is a
//! sigmoid term and is refused in multi-class mode. Terms and outputs whose
//! weight is `0` are not computed. `side_weights` is either empty (side outputs are not
//! supervised), a single value applied to every side output (U²-Net uses `1.0` for all), or one
//! value per side output, in the model's documented side order.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::bce::{bce_with_logits, top_k_bce_with_logits};
use super::cross_entropy::softmax_cross_entropy;
use super::dice::{DiceLoss, DiceLossConfig, softmax_dice_loss};
use super::focal::sigmoid_focal_loss;
use super::ms_ssim::{MsSsimLoss, MsSsimLossConfig};
use super::{BceLossConfig, FocalLossConfig, check};
use crate::data::labels::{LabelMode, LabelsConfig};
use crate::models::SegOutput;

/// Which pixel-wise cross-entropy term to use. Serialised with a `kind` tag:
/// `{"kind": "plain"}`, `{"kind": "weighted", "pos_weight": 3.0}`,
/// `{"kind": "focal", "alpha": 0.25, "gamma": 2.0}`, `{"kind": "top-k", "fraction": 0.1}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum BceKind {
    /// BCE with logits.
    Plain,
    /// BCE with PyTorch's `pos_weight` on the positive term ("weighted-BCE" reading).
    Weighted {
        /// See [`BceLossConfig::pos_weight`].
        pos_weight: f64,
    },
    /// torchvision's sigmoid focal loss ("focal" reading).
    Focal {
        /// See [`FocalLossConfig::alpha`].
        alpha: Option<f64>,
        /// See [`FocalLossConfig::gamma`].
        gamma: f64,
    },
    /// Plain BCE over each image's hardest pixels only ("top-k" or online hard example mining
    /// reading; [`top_k_bce_with_logits`]).
    TopK {
        /// Share of each image's pixels kept, in `(0, 1]`.
        fraction: f64,
    },
}

impl BceKind {
    fn validate(&self) -> crate::Result<()> {
        match *self {
            BceKind::Plain => Ok(()),
            BceKind::Weighted { pos_weight } => BceLossConfig::new()
                .with_pos_weight(Some(pos_weight))
                .validate(),
            BceKind::Focal { alpha, gamma } => FocalLossConfig::new()
                .with_alpha(alpha)
                .with_gamma(gamma)
                .validate(),
            BceKind::TopK { fraction } => check(
                "bce.fraction",
                fraction,
                fraction > 0.0 && fraction <= 1.0,
                "must be in (0, 1]",
            ),
        }
    }

    fn forward(&self, logits: Tensor<4>, targets: Tensor<4>) -> Tensor<1> {
        match *self {
            BceKind::Plain => bce_with_logits(logits, targets, None),
            BceKind::Weighted { pos_weight } => bce_with_logits(logits, targets, Some(pos_weight)),
            BceKind::Focal { alpha, gamma } => sigmoid_focal_loss(logits, targets, alpha, gamma),
            BceKind::TopK { fraction } => top_k_bce_with_logits(logits, targets, fraction),
        }
    }
}

/// Weights and settings of the combined loss; see the module docs.
#[derive(Config, Debug, PartialEq)]
pub struct LossConfig {
    /// The pixel-wise term.
    #[config(default = "BceKind::Plain")]
    pub bce: BceKind,
    /// Weight of the pixel-wise term, `>= 0`.
    #[config(default = 1.0)]
    pub w_bce: f64,
    /// Weight of the soft Dice term, `>= 0`.
    #[config(default = 0.0)]
    pub w_dice: f64,
    /// Weight of the `1 - MS-SSIM` term, `>= 0`.
    #[config(default = 0.0)]
    pub w_msssim: f64,
    /// Soft Dice settings.
    #[config(default = "DiceLossConfig::new()")]
    pub dice: DiceLossConfig,
    /// MS-SSIM settings.
    #[config(default = "MsSsimLossConfig::new()")]
    pub ms_ssim: MsSsimLossConfig,
    /// Weight of the fused output, `>= 0`.
    #[config(default = 1.0)]
    pub fused_weight: f64,
    /// Side-output weights: empty, one value for all, or one per side output (each `>= 0`).
    #[config(default = "vec![1.0]")]
    pub side_weights: Vec<f64>,
}

impl LossConfig {
    /// Checks every weight and sub-configuration.
    pub fn validate(&self) -> crate::Result<()> {
        self.bce.validate()?;
        for (name, w) in [
            ("loss.w_bce", self.w_bce),
            ("loss.w_dice", self.w_dice),
            ("loss.w_msssim", self.w_msssim),
            ("loss.fused_weight", self.fused_weight),
        ] {
            check(name, w, w >= 0.0, "must be >= 0")?;
        }
        for (i, &w) in self.side_weights.iter().enumerate() {
            check(
                &format!("loss.side_weights[{i}]"),
                w,
                w >= 0.0,
                "must be >= 0",
            )?;
        }
        if self.w_bce + self.w_dice + self.w_msssim == 0.0 {
            return Err(crate::Error::InvalidConfig(
                "loss: w_bce, w_dice and w_msssim are all 0; give at least one term a weight"
                    .into(),
            ));
        }
        self.dice.validate()?;
        self.ms_ssim.validate()
    }

    /// Checks that `side_weights` fits a model with `sides` side outputs (empty, one value, or
    /// exactly `sides` values).
    pub fn check_sides(&self, sides: usize) -> crate::Result<()> {
        match self.side_weights.len() {
            0 | 1 => Ok(()),
            n if n == sides => Ok(()),
            n => Err(crate::Error::InvalidConfig(format!(
                "loss.side_weights has {n} entries but the model has {sides} side outputs \
                 (give one value for all, or one per side output)"
            ))),
        }
    }

    /// Checks that the loss fits the experiment's classes: multi-class (softmax) takes the
    /// cross-entropy as its pixel term (`bce` plain) and no MS-SSIM.
    pub fn check_labels(&self, labels: &LabelsConfig) -> crate::Result<()> {
        if labels.mode != LabelMode::MultiClass {
            return Ok(());
        }
        let bad = |m: String| Err(crate::Error::InvalidConfig(m));
        if self.bce != BceKind::Plain && self.w_bce != 0.0 {
            return bad(format!(
                "loss.bce = {:?}: multi-class labels use the softmax cross-entropy as the \
                 pixel term, so loss.bce.kind must be \"plain\" (class weights go in \
                 data.labels.classes[].weight)",
                self.bce
            ));
        }
        if self.w_msssim != 0.0 {
            return bad(format!(
                "loss.w_msssim = {}: MS-SSIM is a sigmoid term; multi-class labels support \
                 w_bce (cross-entropy) and w_dice only",
                self.w_msssim
            ));
        }
        Ok(())
    }

    /// Validates and builds the binary loss (sigmoid, K = 1 or K independent channels).
    pub fn init(&self) -> crate::Result<CombinedLoss> {
        self.init_for(&LabelsConfig::binary())
    }

    /// Validates and builds the loss for the experiment's classes (see the module docs).
    pub fn init_for(&self, labels: &LabelsConfig) -> crate::Result<CombinedLoss> {
        self.validate()?;
        self.check_labels(labels)?;
        let channels = match labels.mode {
            LabelMode::MultiClass => ChannelMode::Softmax {
                class_weights: labels.weights(),
            },
            _ => ChannelMode::Sigmoid,
        };
        Ok(CombinedLoss {
            channels,
            bce: self.bce.clone(),
            w_bce: self.w_bce,
            w_dice: self.w_dice,
            w_msssim: self.w_msssim,
            dice: self.dice.init(),
            ms_ssim: self.ms_ssim.init(),
            fused_weight: self.fused_weight,
            side_weights: self.side_weights.clone(),
        })
    }
}

/// The unweighted term values of one output, for logging. A term with weight 0 is `None`.
#[derive(Debug, Clone)]
pub struct LossTerms {
    /// Pixel-wise term (BCE, weighted BCE or focal), `[1]`.
    pub bce: Option<Tensor<1>>,
    /// `1 - soft Dice`, `[1]`.
    pub dice: Option<Tensor<1>>,
    /// `1 - MS-SSIM`, `[1]`.
    pub ms_ssim: Option<Tensor<1>>,
    /// `w_bce · bce + w_dice · dice + w_msssim · ms_ssim`, `[1]`.
    pub total: Tensor<1>,
}

/// Result of [`CombinedLoss::forward`].
#[derive(Debug, Clone)]
pub struct LossOutput {
    /// The scalar to back-propagate, `[1]`.
    pub total: Tensor<1>,
    /// Terms of the fused output (`None` when `fused_weight` is 0).
    pub fused: Option<LossTerms>,
    /// Terms of each side output, in model order (`None` where its weight is 0).
    pub sides: Vec<Option<LossTerms>>,
}

/// How the loss reads the output channels.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelMode {
    /// An independent sigmoid per channel (binary, multi-label).
    Sigmoid,
    /// Softmax over exclusive classes (multi-class), with the cross-entropy and Dice class
    /// weights in channel order.
    Softmax {
        /// One weight per channel.
        class_weights: Vec<f64>,
    },
}

/// The combined, deep-supervised loss built by [`LossConfig::init`] / [`LossConfig::init_for`].
#[derive(Debug, Clone)]
pub struct CombinedLoss {
    channels: ChannelMode,
    bce: BceKind,
    w_bce: f64,
    w_dice: f64,
    w_msssim: f64,
    dice: DiceLoss,
    ms_ssim: MsSsimLoss,
    fused_weight: f64,
    side_weights: Vec<f64>,
}

impl CombinedLoss {
    /// Weighted loss over the fused output and every side output.
    ///
    /// # Shapes
    /// - `output.fused`, each of `output.sides`, `targets`: `[B, K, H, W]` (multi-class targets
    ///   one-hot); `total`: `[1]`.
    ///
    /// # Panics
    /// If a shape differs from the target's, or `side_weights` does not fit the number of side
    /// outputs (call [`LossConfig::check_sides`] when the experiment is validated).
    pub fn forward(&self, output: SegOutput, targets: Tensor<4>) -> LossOutput {
        let sides = output.sides.len();
        let side_weight = |i: usize| match self.side_weights.len() {
            0 => 0.0,
            1 => self.side_weights[0],
            n => {
                assert!(
                    n == sides,
                    "loss.side_weights has {n} entries but the model returned {sides} side outputs"
                );
                self.side_weights[i]
            }
        };
        let fused = (self.fused_weight != 0.0).then(|| self.terms(output.fused, targets.clone()));
        let mut total = fused
            .as_ref()
            .map(|t| t.total.clone().mul_scalar(self.fused_weight));
        let mut side_terms = Vec::with_capacity(sides);
        for (i, side) in output.sides.into_iter().enumerate() {
            let w = side_weight(i);
            if w == 0.0 {
                side_terms.push(None);
                continue;
            }
            let terms = self.terms(side, targets.clone());
            let weighted = terms.total.clone().mul_scalar(w);
            total = Some(match total {
                Some(t) => t + weighted,
                None => weighted,
            });
            side_terms.push(Some(terms));
        }
        let total = total.unwrap_or_else(|| Tensor::zeros([1], &targets.device()));
        LossOutput {
            total,
            fused,
            sides: side_terms,
        }
    }

    /// The unweighted terms and their weighted sum for one output.
    pub fn terms(&self, logits: Tensor<4>, targets: Tensor<4>) -> LossTerms {
        let (bce, dice) = match &self.channels {
            ChannelMode::Sigmoid => (
                (self.w_bce != 0.0).then(|| self.bce.forward(logits.clone(), targets.clone())),
                (self.w_dice != 0.0).then(|| self.dice.forward(logits.clone(), targets.clone())),
            ),
            ChannelMode::Softmax { class_weights } => (
                (self.w_bce != 0.0)
                    .then(|| softmax_cross_entropy(logits.clone(), targets.clone(), class_weights)),
                (self.w_dice != 0.0).then(|| {
                    softmax_dice_loss(
                        logits.clone(),
                        targets.clone(),
                        self.dice.smooth,
                        self.dice.reduction,
                        class_weights,
                    )
                }),
            ),
        };
        let ms_ssim = (self.w_msssim != 0.0).then(|| self.ms_ssim.forward(logits, targets));
        let total = [
            (bce.as_ref(), self.w_bce),
            (dice.as_ref(), self.w_dice),
            (ms_ssim.as_ref(), self.w_msssim),
        ]
        .into_iter()
        .filter_map(|(t, w)| t.map(|t| t.clone().mul_scalar(w)))
        .reduce(|a, b| a + b)
        .expect("validate() guarantees at least one term with a non-zero weight");
        LossTerms {
            bce,
            dice,
            ms_ssim,
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_through_json_with_kebab_case_kinds() {
        let config = LossConfig::new()
            .with_bce(BceKind::Focal {
                alpha: Some(0.25),
                gamma: 2.0,
            })
            .with_w_dice(1.0)
            .with_side_weights(vec![1.0, 0.5]);
        let json = serde_json::to_string(&config).expect("serialises");
        assert!(json.contains(r#""kind":"focal""#), "{json}");
        assert!(json.contains(r#""reduction":"per-image""#), "{json}");
        let back: LossConfig = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, config);
        let weighted: BceKind =
            serde_json::from_str(r#"{"kind":"weighted","pos_weight":3.0}"#).expect("parses");
        assert_eq!(weighted, BceKind::Weighted { pos_weight: 3.0 });
    }

    #[test]
    fn validation_names_bad_values() {
        assert!(LossConfig::new().validate().is_ok());
        let e = LossConfig::new().with_w_dice(-1.0).validate().unwrap_err();
        assert!(e.to_string().contains("loss.w_dice = -1"), "{e}");
        let e = LossConfig::new().with_w_bce(0.0).validate().unwrap_err();
        assert!(e.to_string().contains("all 0"), "{e}");
        let e = LossConfig::new()
            .with_bce(BceKind::Weighted { pos_weight: -2.0 })
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("pos_weight"), "{e}");
        let e = LossConfig::new()
            .with_side_weights(vec![1.0, f64::INFINITY])
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("side_weights[1]"), "{e}");
    }

    #[test]
    fn side_weights_must_fit_the_model() {
        let config = LossConfig::new().with_side_weights(vec![1.0, 0.5, 0.25]);
        assert!(config.check_sides(3).is_ok());
        let e = config.check_sides(6).unwrap_err();
        assert!(e.to_string().contains("3 entries") && e.to_string().contains("6 side"));
        assert!(LossConfig::new().check_sides(6).is_ok());
        assert!(
            LossConfig::new()
                .with_side_weights(vec![])
                .check_sides(6)
                .is_ok()
        );
    }
}
