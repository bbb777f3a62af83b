//! Two conv units in series: UNet/UNet++'s `VGGBlock` (with plain units) or an MSAC pair.

use burn::prelude::*;

use super::flops::{Form, Macs};
use super::msac::{ConvUnit, ConvUnitConfig, ConvUnitKind};

/// Configuration of a [`VggBlock`].
#[derive(Config, Debug)]
pub struct VggBlockConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Channels after the first unit.
    pub mid_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// The unit kind of both units.
    #[config(default = "ConvUnitKind::Plain")]
    pub unit: ConvUnitKind,
}

/// `unit(in -> mid) -> unit(mid -> out)`.
///
/// # Shapes
/// `[B, in_channels, H, W]` -> `[B, out_channels, H, W]`
#[derive(Module, Debug)]
pub struct VggBlock {
    /// First unit.
    pub conv1: ConvUnit,
    /// Second unit.
    pub conv2: ConvUnit,
}

impl VggBlockConfig {
    /// Builds the block.
    pub fn init(&self, device: &Device) -> VggBlock {
        let unit = |i, o| {
            ConvUnitConfig::new(i, o)
                .with_kind(self.unit.clone())
                .init(device)
        };
        VggBlock {
            conv1: unit(self.in_channels, self.mid_channels),
            conv2: unit(self.mid_channels, self.out_channels),
        }
    }
}

impl VggBlock {
    /// Forward pass; see [`VggBlock`] for shapes.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv2.forward(self.conv1.forward(x))
    }

    /// The deploy form: both units re-parameterised ([`ConvUnit::fuse`]).
    pub fn fuse(self) -> VggBlock {
        VggBlock {
            conv1: self.conv1.fuse(),
            conv2: self.conv2.fuse(),
        }
    }
}

impl Macs for VggBlock {
    fn macs(&self, size: [usize; 2], form: Form) -> u64 {
        self.conv1.macs(size, form) + self.conv2.macs(size, form)
    }
}
