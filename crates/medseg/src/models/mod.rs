//! The model zoo. Every model returns logits ([`SegOutput`]); no sigmoid inside.
//!
//! - [`u2net`]: the U2-Net family (U2-Net, U2-NetP) on RSU blocks, which also hosts our
//!   network's presets from [`msa_u2net`].
//! - [`unet`]: U-Net and UNet++ on VGG blocks.
//! - [`weights`]: medseg's weights files; [`checkpoint`]: the official U-2-Net checkpoints.

pub mod checkpoint;
pub mod msa_u2net;
pub mod u2net;
pub mod unet;
pub mod weights;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::nn::Form;

pub use u2net::{NodeKind, Stage, U2Net, U2NetConfig};
pub use unet::{Unet, UnetConfig};

/// What every segmentation model returns: logits, never probabilities.
///
/// # Shapes
/// - `fused`: `[B, K, H, W]`, the final prediction (logits), same `H, W` as the input; `K` is
///   the number of output channels the model was built with (1 for binary segmentation, one
///   per structure or class otherwise; see [`crate::data::labels`]).
/// - `sides`: side outputs for deep supervision, each `[B, K, H, W]` (already resized to the
///   input size), in a documented, model-specific order. Empty for models without deep supervision.
#[derive(Debug, Clone)]
pub struct SegOutput {
    /// Fused output logits `[B, K, H, W]`.
    pub fused: Tensor<4>,
    /// Side output logits, each `[B, K, H, W]`.
    pub sides: Vec<Tensor<4>>,
}

/// The named model presets (CLI `--model` and config `model.preset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelName {
    /// U2-Net (44.0 M parameters).
    U2net,
    /// U2-NetP (1.13 M parameters).
    U2netp,
    /// U-Net, VGG blocks, widths 32..512.
    Unet,
    /// UNet++ (NestedUNet), widths 32..512, no deep supervision.
    UnetPp,
    /// UNet++ with deep supervision (four 1x1 heads).
    UnetPpDs,
    /// MSA-U2Net, the paper's network as we read it, with MSAC units (<= 1.0 M parameters).
    MsaU2net,
    /// MSA-U2Net-tiny (<= 0.15 M parameters).
    MsaU2netTiny,
    /// MSA-U2Net's nested (UNet++) grid of RSU blocks with plain 3x3 units in place of MSAC
    /// (formerly `msa-u2net-plain`, still accepted).
    #[serde(alias = "msa-u2net-plain")]
    NestedU2net,
    /// `nested-u2net` with the three upper levels twice as wide (the network of
    /// `configs/drive/msa-u2net-plain-wide-long-a05-p96-r2.toml`).
    NestedU2netWide,
}

impl ModelName {
    /// All presets, in display order.
    pub const ALL: [ModelName; 9] = [
        ModelName::U2net,
        ModelName::U2netp,
        ModelName::Unet,
        ModelName::UnetPp,
        ModelName::UnetPpDs,
        ModelName::MsaU2net,
        ModelName::MsaU2netTiny,
        ModelName::NestedU2net,
        ModelName::NestedU2netWide,
    ];

    /// Former names still accepted by [`parse`](Self::parse), with the preset each now names.
    pub const ALIASES: [(&'static str, ModelName); 1] =
        [("msa-u2net-plain", ModelName::NestedU2net)];

    /// The kebab-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ModelName::U2net => "u2net",
            ModelName::U2netp => "u2netp",
            ModelName::Unet => "unet",
            ModelName::UnetPp => "unet-pp",
            ModelName::UnetPpDs => "unet-pp-ds",
            ModelName::MsaU2net => "msa-u2net",
            ModelName::MsaU2netTiny => "msa-u2net-tiny",
            ModelName::NestedU2net => "nested-u2net",
            ModelName::NestedU2netWide => "nested-u2net-wide",
        }
    }

    /// Parses a kebab-case name (or a former name, [`ALIASES`](Self::ALIASES)), listing the
    /// valid ones on a miss.
    pub fn parse(name: &str) -> crate::Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == name)
            .or_else(|| {
                Self::ALIASES
                    .into_iter()
                    .find_map(|(alias, m)| (alias == name).then_some(m))
            })
            .ok_or_else(|| crate::Error::Unknown {
                kind: "model",
                name: name.to_string(),
                valid: Self::ALL.map(|m| m.as_str()).join(", "),
            })
    }

    /// The preset's configuration.
    pub fn config(&self) -> ModelConfig {
        match self {
            ModelName::U2net => ModelConfig::U2net(U2NetConfig::full()),
            ModelName::U2netp => ModelConfig::U2net(U2NetConfig::lite()),
            ModelName::Unet => ModelConfig::Unet(UnetConfig::classic()),
            ModelName::UnetPp => ModelConfig::Unet(UnetConfig::nested()),
            ModelName::UnetPpDs => {
                ModelConfig::Unet(UnetConfig::nested().with_deep_supervision(true))
            }
            ModelName::MsaU2net => ModelConfig::U2net(U2NetConfig::msa()),
            ModelName::MsaU2netTiny => ModelConfig::U2net(U2NetConfig::msa_tiny()),
            ModelName::NestedU2net => ModelConfig::U2net(U2NetConfig::nested()),
            ModelName::NestedU2netWide => ModelConfig::U2net(U2NetConfig::nested_wide()),
        }
    }
}

/// A model configuration: one variant per network type.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// The U2-Net family (U2-Net, U2-NetP, MSA-U2Net).
    U2net(U2NetConfig),
    /// U-Net / UNet++.
    Unet(UnetConfig),
}

impl ModelConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> crate::Result<()> {
        match self {
            ModelConfig::U2net(c) => c.validate(),
            ModelConfig::Unet(c) => c.validate(),
        }
    }

    /// Input channels the model expects.
    pub fn in_channels(&self) -> usize {
        match self {
            ModelConfig::U2net(c) => c.in_channels,
            ModelConfig::Unet(c) => c.in_channels,
        }
    }

    /// Number of side outputs the model returns.
    pub fn side_outputs(&self) -> usize {
        match self {
            ModelConfig::U2net(c) => c.head_nodes().len(),
            ModelConfig::Unet(c) if c.deep_supervision => c.widths.len() - 1,
            ModelConfig::Unet(_) => 0,
        }
    }

    /// Returns a copy with `in_channels` replaced.
    pub fn with_in_channels(&self, n: usize) -> Self {
        match self.clone() {
            ModelConfig::U2net(c) => ModelConfig::U2net(c.with_in_channels(n)),
            ModelConfig::Unet(c) => ModelConfig::Unet(c.with_in_channels(n)),
        }
    }

    /// Validates, then builds the binary network (one output channel).
    pub fn init(&self, device: &Device) -> crate::Result<SegNet> {
        self.init_with_outputs(device, 1)
    }

    /// Validates, then builds the network with `out_channels` (K) output channels, side
    /// outputs and fusion included. K is not part of the configuration: it follows the
    /// experiment's class list (`data.labels`), as `in_channels` follows the preprocessing, so
    /// binary configurations serialise exactly as before.
    pub fn init_with_outputs(&self, device: &Device, out_channels: usize) -> crate::Result<SegNet> {
        self.validate()?;
        if out_channels == 0 {
            return Err(crate::Error::InvalidConfig(
                "the model needs at least 1 output channel, got 0".into(),
            ));
        }
        Ok(match self {
            ModelConfig::U2net(c) => SegNet::U2net(c.init_with_outputs(device, out_channels)),
            ModelConfig::Unet(c) => SegNet::Unet(c.init_with_outputs(device, out_channels)),
        })
    }
}

/// Any model of the zoo.
#[allow(clippy::large_enum_variant)] // one value per process; boxing would complicate Module
#[derive(Module, Debug)]
pub enum SegNet {
    /// A U2-Net-family network.
    U2net(U2Net),
    /// A U-Net / UNet++.
    Unet(Unet),
}

impl SegNet {
    /// Output channels K (1 for a binary network).
    pub fn out_channels(&self) -> usize {
        match self {
            SegNet::U2net(m) => m.fuse.weight.dims()[0],
            SegNet::Unet(m) => m.heads[0].weight.dims()[0],
        }
    }

    /// Forward pass: logits.
    ///
    /// # Shapes
    /// `[B, C, H, W]` -> [`SegOutput`] with maps `[B, K, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> SegOutput {
        match self {
            SegNet::U2net(m) => m.forward(x),
            SegNet::Unet(m) => m.forward(x),
        }
    }

    /// Multiply-accumulates of one forward pass of one `[h, w]` image (convolutions only), as
    /// trained or as deployed (see [`crate::nn::flops`]).
    pub fn macs(&self, size: [usize; 2], form: Form) -> u64 {
        match self {
            SegNet::U2net(m) => m.macs(size, form),
            SegNet::Unet(m) => m.macs(size, form),
        }
    }

    /// The deploy form for inference: BatchNorms folded into their convs and the parallel
    /// branches of each conv unit of equal dilation summed into one conv (ACNet-style). Computes
    /// the same logits as `self` in inference mode (to float rounding), with fewer operations.
    /// Not for training: the folded network has no BatchNorm left to train.
    pub fn fuse(self) -> Self {
        match self {
            SegNet::U2net(m) => SegNet::U2net(m.fuse()),
            SegNet::Unet(m) => SegNet::Unet(m.fuse()),
        }
    }

    /// Trainable parameters (BatchNorm running statistics are not counted).
    pub fn trainable_params(&self) -> usize {
        trainable_params(self)
    }
}

/// Counts trainable parameters: every float [`Param`], excluding BatchNorm running statistics
/// (`running_mean`, `running_var`), which burn's `num_params` includes.
pub fn trainable_params<M: Module>(module: &M) -> usize {
    #[derive(Default)]
    struct Counter {
        path: Vec<String>,
        count: usize,
    }
    impl ModuleVisitor for Counter {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let running = matches!(
                self.path.last().map(String::as_str),
                Some("running_mean" | "running_var")
            );
            if !running {
                self.count += param.lazy_shape().num_elements();
            }
        }
    }
    let mut counter = Counter::default();
    module.visit(&mut counter);
    counter.count
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::BatchNormConfig;

    #[test]
    fn batchnorm_running_stats_are_not_trainable() {
        let bn = BatchNormConfig::new(4).init(&Device::flex());
        assert_eq!(trainable_params(&bn), 8);
    }
}
