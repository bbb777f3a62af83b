//! U-Net and UNet++ on VGG blocks (two conv-BN-ReLU), one network type with presets.
//!
//! References: Ronneberger et al., MICCAI 2015 (U-Net); Zhou et al., DLMIA 2018 (UNet++), as in
//! the common `NestedUNet`/`UNet` PyTorch definitions (4xzhou/UNet++ `archs.py` style): widths
//! 32/64/128/256/512, `VGGBlock(in, mid, out)` = `conv3x3 -> BN -> ReLU -> conv3x3 -> BN -> ReLU`,
//! `MaxPool2d(2, 2)` (floor), `Upsample(scale_factor=2, mode='bilinear', align_corners=True)`,
//! `cat(skips..., up)`, 1x1 output conv(s).
//!
//! Deviations: upsampling goes to the skip's exact size, so odd input sizes work (the reference
//! requires sizes divisible by 16); logits out. With deep supervision the fused output is the
//! mean of the four heads' logits (the UNet++ paper's "accurate mode" averages the heads).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;

use super::SegOutput;
use crate::nn::{
    ConcatOrder, ConvUnitKind, Form, GridDecoder, PoolMode, SkipKind, VggBlock, VggBlockConfig,
    conv2d, conv2d_macs, level_sizes, max_pool2x2,
};

/// Configuration of a [`Unet`] (plain skips) or UNet++ (nested skips).
#[derive(Config, Debug)]
pub struct UnetConfig {
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Channels of each level, top to bottom.
    #[config(default = "vec![32, 64, 128, 256, 512]")]
    pub widths: Vec<usize>,
    /// Plain (U-Net) or nested (UNet++) skips.
    #[config(default = "SkipKind::Plain")]
    pub skips: SkipKind,
    /// UNet++ deep supervision: 1x1 heads on every top-row node `x[0][1..]`.
    #[config(default = false)]
    pub deep_supervision: bool,
    /// Conv unit of the VGG blocks.
    #[config(default = "ConvUnitKind::Plain")]
    pub unit: ConvUnitKind,
}

impl UnetConfig {
    /// The classic U-Net: 7,852,545 trainable parameters.
    pub fn classic() -> Self {
        Self::new()
    }

    /// UNet++ (NestedUNet) without deep supervision: 9,163,329 trainable parameters.
    pub fn nested() -> Self {
        Self::new().with_skips(SkipKind::Nested)
    }

    /// Checks the configuration.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::InvalidConfig(m));
        if self.widths.len() < 2 || self.widths.contains(&0) {
            return bad(format!(
                "model.widths needs >= 2 non-zero levels, got {:?}",
                self.widths
            ));
        }
        if self.deep_supervision && self.skips == SkipKind::Plain {
            return bad("model.deep_supervision needs nested skips (UNet++)".into());
        }
        if self.in_channels == 0 {
            return bad("model.in_channels must be >= 1".into());
        }
        self.unit.validate()
    }

    fn grid(&self) -> GridDecoder {
        GridDecoder {
            levels: self.widths.len(),
            skips: self.skips,
            order: ConcatOrder::SkipsFirst,
            align_corners: true,
        }
    }

    /// Builds the binary network (one output channel).
    pub fn init(&self, device: &Device) -> Unet {
        self.init_with_outputs(device, 1)
    }

    /// Builds the network with `out_channels` (K) output channels on every head.
    /// `out_channels = 1` is [`init`](Self::init).
    ///
    /// # Panics
    /// If the configuration is invalid or `out_channels` is 0.
    pub fn init_with_outputs(&self, device: &Device, out_channels: usize) -> Unet {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        assert!(out_channels >= 1, "out_channels must be >= 1, got 0");
        let block = |i, m, o| {
            VggBlockConfig::new(i, m, o)
                .with_unit(self.unit.clone())
                .init(device)
        };
        let w = &self.widths;
        let encoder = (0..w.len())
            .map(|i| {
                let cin = if i == 0 { self.in_channels } else { w[i - 1] };
                block(cin, w[i], w[i])
            })
            .collect();
        let grid = self.grid();
        let decoder = grid
            .nodes()
            .into_iter()
            .map(|(i, j)| block(grid.in_channels((i, j), |i, _| w[i]), w[i], w[i]))
            .collect();
        let n_heads = if self.deep_supervision {
            w.len() - 1
        } else {
            1
        };
        let heads = (0..n_heads)
            .map(|_| Conv2dConfig::new([w[0], out_channels], [1, 1]).init(device))
            .collect();
        Unet {
            encoder,
            decoder,
            heads,
            levels: w.len(),
            skips: self.skips,
            deep_supervision: self.deep_supervision,
        }
    }
}

/// U-Net / UNet++. Returns logits.
///
/// # Shapes
/// - input: `[B, in_channels, H, W]`, any `H, W >= 1`
/// - output: `fused` `[B, K, H, W]` (`K` = the `out_channels` it was built with, 1 for a binary
///   network); with deep supervision `sides` holds the heads on `x[0][1..levels]`, each
///   `[B, K, H, W]`.
#[derive(Module, Debug)]
pub struct Unet {
    /// Encoder blocks `x[i][0]`.
    pub encoder: Vec<VggBlock>,
    /// Decoder blocks in [`GridDecoder::nodes`] order.
    pub decoder: Vec<VggBlock>,
    /// 1x1 output heads.
    pub heads: Vec<Conv2d>,
    #[module(skip)]
    pub(crate) levels: usize,
    #[module(skip)]
    pub(crate) skips: SkipKind,
    #[module(skip)]
    pub(crate) deep_supervision: bool,
}

impl Unet {
    /// The deploy form: every conv unit re-parameterised (see [`crate::nn::msac::ConvUnit::fuse`]).
    pub fn fuse(self) -> Self {
        Unet {
            encoder: self.encoder.into_iter().map(VggBlock::fuse).collect(),
            decoder: self.decoder.into_iter().map(VggBlock::fuse).collect(),
            ..self
        }
    }

    pub(crate) fn grid(&self) -> GridDecoder {
        GridDecoder {
            levels: self.levels,
            skips: self.skips,
            order: ConcatOrder::SkipsFirst,
            align_corners: true,
        }
    }

    /// Forward pass; see [`Unet`] for shapes.
    pub fn forward(&self, x: Tensor<4>) -> SegOutput {
        let mut encoded = Vec::with_capacity(self.levels);
        let mut feat = x;
        for (i, block) in self.encoder.iter().enumerate() {
            if i > 0 {
                feat = max_pool2x2(feat, PoolMode::Floor);
            }
            feat = block.forward(feat);
            encoded.push(feat.clone());
        }
        let grid = self
            .grid()
            .forward(encoded, |k, input| self.decoder[k].forward(input));
        let top = |j: usize| grid[0][j].clone().expect("top-row nodes exist");
        if self.deep_supervision {
            let sides: Vec<Tensor<4>> = self
                .heads
                .iter()
                .enumerate()
                .map(|(k, head)| conv2d(head, top(k + 1)))
                .collect();
            let n = sides.len() as f64;
            let fused = sides
                .iter()
                .cloned()
                .reduce(|a, b| a + b)
                .expect("heads exist")
                / n;
            SegOutput { fused, sides }
        } else {
            SegOutput {
                fused: conv2d(&self.heads[0], top(self.levels - 1)),
                sides: Vec::new(),
            }
        }
    }

    /// Multiply-accumulates for one `[h, w]` image.
    pub fn macs(&self, size: [usize; 2], form: Form) -> u64 {
        let sizes = level_sizes(size, self.levels, PoolMode::Floor);
        let heads: u64 = self.heads.iter().map(|c| conv2d_macs(c, size)).sum();
        self.grid().macs(&self.encoder, &self.decoder, &sizes, form) + heads
    }
}
