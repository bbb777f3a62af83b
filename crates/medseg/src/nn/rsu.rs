//! U2-Net's residual U-block (RSU), parameterised by height, with the dilated "F" variant.
//!
//! Follows `RSU7`...`RSU4F` of xuebinqin/U-2-Net `model/u2net.py`, collapsed into one block:
//!
//! - `conv_in`: unit(in -> out), the residual branch `hxin`.
//! - `encoders[0]`: unit(out -> mid); `encoders[k]`, k = 1..height-2: unit(mid -> mid), each after
//!   a 2x2 max-pool (ceil mode) in the plain RSU, or at dilation `2^k` without pooling in RSU-F.
//! - `bottom`: unit(mid -> mid) at dilation 2 (RSU) or `2^(height-1)` (RSU-F), no pooling.
//! - `decoders[k]`, k = height-2 down to 0: unit(2 mid -> mid), the last (`decoders[0]`)
//!   unit(2 mid -> out); input is `cat(deeper upsampled to the skip's size, skip)`, deeper first.
//! - output: `decoders[0] + conv_in`.

use burn::prelude::*;

use super::flops::{Form, Macs};
use super::msac::{ConvUnit, ConvUnitConfig, ConvUnitKind};
use super::resize::{PoolMode, max_pool2x2, pooled_size, resize_like};

/// Configuration of an [`Rsu`] block.
#[derive(Config, Debug)]
pub struct RsuConfig {
    /// Height `L` (number of encoder levels including the bottom), at least 2. RSU7 has 7.
    pub height: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Internal channels.
    pub mid_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// The dilated variant (RSU-F): no pooling, dilations 1, 2, 4, ... instead.
    #[config(default = false)]
    pub dilated: bool,
    /// The conv unit used throughout the block.
    #[config(default = "ConvUnitKind::Plain")]
    pub unit: ConvUnitKind,
    /// The unit of `conv_in`, which mixes the (possibly concatenated) input channels; `None`
    /// means `unit`. A plain entry keeps wide nested-node inputs cheap.
    #[config(default = "None")]
    pub entry: Option<ConvUnitKind>,
}

/// A residual U-block.
///
/// # Shapes
/// `[B, in_channels, H, W]` -> `[B, out_channels, H, W]` for any `H, W >= 1`.
#[derive(Module, Debug)]
pub struct Rsu {
    /// Input conv; its output is the residual.
    pub conv_in: ConvUnit,
    /// Encoder units, top to bottom (excluding the bottom unit).
    pub encoders: Vec<ConvUnit>,
    /// The bottom (dilated) unit.
    pub bottom: ConvUnit,
    /// Decoder units; `decoders[k]` produces level `k`'s output.
    pub decoders: Vec<ConvUnit>,
    /// Whether this is the dilated RSU-F variant.
    #[module(skip)]
    pub dilated: bool,
}

impl RsuConfig {
    /// Builds the block.
    pub fn init(&self, device: &Device) -> Rsu {
        assert!(
            self.height >= 2,
            "RSU height must be >= 2, got {}",
            self.height
        );
        let (i, m, o) = (self.in_channels, self.mid_channels, self.out_channels);
        let unit = |cin, cout, dilation| {
            ConvUnitConfig::new(cin, cout)
                .with_dilation(dilation)
                .with_kind(self.unit.clone())
                .init(device)
        };
        let level_dilation = |k: usize| if self.dilated { 1 << k } else { 1 };
        let levels = self.height - 1;
        let encoders = (0..levels)
            .map(|k| unit(if k == 0 { o } else { m }, m, level_dilation(k)))
            .collect();
        let bottom_dilation = if self.dilated { 1 << levels } else { 2 };
        let decoders = (0..levels)
            .map(|k| unit(2 * m, if k == 0 { o } else { m }, level_dilation(k)))
            .collect();
        let entry = self.entry.clone().unwrap_or_else(|| self.unit.clone());
        Rsu {
            conv_in: ConvUnitConfig::new(i, o).with_kind(entry).init(device),
            encoders,
            bottom: unit(m, m, bottom_dilation),
            decoders,
            dilated: self.dilated,
        }
    }
}

impl Rsu {
    /// Forward pass; see [`Rsu`] for shapes.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let hxin = self.conv_in.forward(x);
        let mut skips: Vec<Tensor<4>> = Vec::with_capacity(self.encoders.len());
        let mut h = hxin.clone();
        for (k, enc) in self.encoders.iter().enumerate() {
            if k > 0 && !self.dilated {
                h = max_pool2x2(h, PoolMode::Ceil);
            }
            h = enc.forward(h);
            skips.push(h.clone());
        }
        let mut d = self.bottom.forward(h);
        for (k, dec) in self.decoders.iter().enumerate().rev() {
            let skip = &skips[k];
            let [_, _, sh, sw] = skip.dims();
            let up = resize_like(d, [sh, sw], false);
            d = dec.forward(Tensor::cat(vec![up, skip.clone()], 1));
        }
        d + hxin
    }

    /// The deploy form: every unit re-parameterised ([`ConvUnit::fuse`]).
    pub fn fuse(self) -> Rsu {
        Rsu {
            conv_in: self.conv_in.fuse(),
            encoders: self.encoders.into_iter().map(ConvUnit::fuse).collect(),
            bottom: self.bottom.fuse(),
            decoders: self.decoders.into_iter().map(ConvUnit::fuse).collect(),
            dilated: self.dilated,
        }
    }

    /// Spatial size of each encoder level for an input of `size`.
    fn level_sizes(&self, size: [usize; 2]) -> Vec<[usize; 2]> {
        let mut sizes = vec![size];
        for k in 1..self.encoders.len() {
            let [h, w] = sizes[k - 1];
            sizes.push(if self.dilated {
                [h, w]
            } else {
                [
                    pooled_size(h, PoolMode::Ceil),
                    pooled_size(w, PoolMode::Ceil),
                ]
            });
        }
        sizes
    }
}

impl Macs for Rsu {
    fn macs(&self, size: [usize; 2], form: Form) -> u64 {
        let sizes = self.level_sizes(size);
        let last = *sizes.last().expect("an RSU has at least one level");
        self.conv_in.macs(size, form)
            + self.bottom.macs(last, form)
            + sizes
                .iter()
                .zip(self.encoders.iter().zip(&self.decoders))
                .map(|(&s, (e, d))| e.macs(s, form) + d.macs(s, form))
                .sum::<u64>()
    }
}
