//! The U2-Net family: RSU blocks on an encoder/decoder grid with deep supervision.
//!
//! Paper: Qin et al., "U2-Net: Going deeper with nested U-structure for salient object
//! detection", Pattern Recognition 2020. Reference: xuebinqin/U-2-Net `model/u2net.py`
//! (`U2NET`, `U2NETP`), whose semantics this follows: 2x2 max-pool with `ceil_mode=True`
//! between stages, bilinear upsampling (align_corners = false) to the skip's size,
//! `cat(up, skip)` order, the RSU residual, 3x3 side heads and a 1x1 fuse over the side maps.
//!
//! One network type serves the whole family; the variants are presets:
//! - [`U2NetConfig::full`]: U2-Net (44.0 M parameters).
//! - [`U2NetConfig::lite`]: U2-NetP (1.13 M).
//! - [`U2NetConfig::msa`] / [`U2NetConfig::msa_tiny`]: our MSA-U2Net (see
//!   [`crate::models::msa_u2net`]): fewer levels, multi-scale asymmetric conv units and UNet++
//!   nested skips.
//! - [`U2NetConfig::nested`] / [`U2NetConfig::nested_wide`]: MSA-U2Net's nested grid with plain
//!   3x3 units instead of MSAC (`nested-u2net`, `nested-u2net-wide`).
//!
//! Deviations from the reference: the model returns logits (no sigmoid); side outputs are in the
//! order of [`U2NetConfig::heads`].

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::SegOutput;
use crate::nn::{
    ConcatOrder, ConvUnitKind, Form, GridDecoder, Macs, PoolMode, Rsu, RsuConfig, SkipKind,
    VggBlock, VggBlockConfig, conv2d, conv2d_macs, level_sizes, max_pool2x2, resize_like,
};

/// One RSU stage: `RSU{height}` (or `RSU{height}F` when dilated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// RSU height.
    pub height: usize,
    /// Internal channels.
    pub mid: usize,
    /// Output channels.
    pub out: usize,
    /// Dilated RSU-F variant.
    #[serde(default)]
    pub dilated: bool,
}

impl Stage {
    /// A plain RSU stage.
    pub const fn rsu(height: usize, mid: usize, out: usize) -> Self {
        Stage {
            height,
            mid,
            out,
            dilated: false,
        }
    }
    /// A dilated RSU-F stage.
    pub const fn rsu_f(height: usize, mid: usize, out: usize) -> Self {
        Stage {
            height,
            mid,
            out,
            dilated: true,
        }
    }
}

/// What each decoder node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeKind {
    /// An RSU block of its level's decoder stage.
    Rsu,
    /// Two conv units in series (`unit(in -> out) -> unit(out -> out)`), cheaper.
    Pair,
}

/// Configuration of a [`U2Net`]-family network.
#[derive(Config, Debug)]
pub struct U2NetConfig {
    /// Input channels (3 for RGB, 1 for a single preprocessed channel).
    #[config(default = 3)]
    pub in_channels: usize,
    /// Encoder stages `x[i][0]`, top (full resolution) to bottom.
    pub encoder: Vec<Stage>,
    /// Decoder stage for every node of level `i` (`decoder[i]`, `i < levels - 1`).
    pub decoder: Vec<Stage>,
    /// Conv unit used in every RSU.
    #[config(default = "ConvUnitKind::Plain")]
    pub unit: ConvUnitKind,
    /// Unit of each RSU's input conv (`conv_in`); `None` means `unit`.
    #[config(default = "None")]
    pub entry_unit: Option<ConvUnitKind>,
    /// Plain (U2-Net) or nested (UNet++) skips.
    #[config(default = "SkipKind::Plain")]
    pub skips: SkipKind,
    /// Decoder node kind.
    #[config(default = "NodeKind::Rsu")]
    pub node: NodeKind,
    /// Nodes `[i, j]` that get a side head, in output order. Empty means every row end
    /// `x[i][levels-1-i]` from level 0 down (U2-Net's `d1..d6`).
    #[config(default = "Vec::new()")]
    pub heads: Vec<[usize; 2]>,
    /// Side-head kernel size (3 in U2-Net).
    #[config(default = 3)]
    pub side_kernel: usize,
}

impl U2NetConfig {
    /// U2-Net (Qin et al. 2020): 44,009,869 trainable parameters.
    pub fn full() -> Self {
        let s = Stage::rsu;
        let f = Stage::rsu_f;
        Self::new(
            vec![
                s(7, 32, 64),
                s(6, 32, 128),
                s(5, 64, 256),
                s(4, 128, 512),
                f(4, 256, 512),
                f(4, 256, 512),
            ],
            vec![
                s(7, 16, 64),
                s(6, 32, 64),
                s(5, 64, 128),
                s(4, 128, 256),
                f(4, 256, 512),
            ],
        )
    }

    /// U2-NetP, the small U2-Net: 1,131,181 trainable parameters.
    pub fn lite() -> Self {
        let s = |h| Stage::rsu(h, 16, 64);
        let f = Stage::rsu_f(4, 16, 64);
        Self::new(
            vec![s(7), s(6), s(5), s(4), f, f],
            vec![s(7), s(6), s(5), s(4), f],
        )
    }

    /// Number of encoder levels.
    pub fn levels(&self) -> usize {
        self.encoder.len()
    }

    fn grid(&self) -> GridDecoder {
        GridDecoder {
            levels: self.levels(),
            skips: self.skips,
            order: ConcatOrder::UpFirst,
            align_corners: false,
        }
    }

    /// The side-head nodes in output order (resolving the empty default).
    pub fn head_nodes(&self) -> Vec<(usize, usize)> {
        if self.heads.is_empty() {
            self.grid().row_ends()
        } else {
            self.heads.iter().map(|&[i, j]| (i, j)).collect()
        }
    }

    /// Checks the configuration, naming the offending field.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::InvalidConfig(m));
        let l = self.levels();
        if l < 2 {
            return bad(format!("model.encoder needs at least 2 stages, got {l}"));
        }
        if self.decoder.len() != l - 1 {
            return bad(format!(
                "model.decoder needs one stage per level above the bottom ({}), got {}",
                l - 1,
                self.decoder.len()
            ));
        }
        if self.in_channels == 0 {
            return bad("model.in_channels must be >= 1".into());
        }
        for (name, stages) in [("encoder", &self.encoder), ("decoder", &self.decoder)] {
            for (k, s) in stages.iter().enumerate() {
                if s.height < 2 || s.mid == 0 || s.out == 0 {
                    return bad(format!(
                        "model.{name}[{k}] needs height >= 2 and non-zero channels, got {s:?}"
                    ));
                }
            }
        }
        if self.side_kernel.is_multiple_of(2) {
            return bad(format!(
                "model.side_kernel must be odd, got {}",
                self.side_kernel
            ));
        }
        let nodes = self.grid().nodes();
        for (i, j) in self.head_nodes() {
            let exists = (j == 0 && i < l) || nodes.contains(&(i, j));
            if !exists {
                return bad(format!(
                    "model.heads: node [{i}, {j}] does not exist with {:?} skips and {l} levels",
                    self.skips
                ));
            }
        }
        if self.head_nodes().is_empty() {
            return bad("model.heads must name at least one node".into());
        }
        if let Some(entry) = &self.entry_unit {
            entry.validate()?;
        }
        self.unit.validate()
    }

    /// Output channels of node `(i, j)`.
    fn node_channels(&self, i: usize, j: usize) -> usize {
        if j == 0 {
            self.encoder[i].out
        } else {
            self.decoder[i].out
        }
    }

    /// Builds the binary network (one output channel). Call [`validate`](Self::validate) first
    /// on user-provided configs.
    pub fn init(&self, device: &Device) -> U2Net {
        self.init_with_outputs(device, 1)
    }

    /// Builds the network with `out_channels` (K) output channels: every side head maps its
    /// node to K maps and the 1x1 fuse maps the `heads x K` side maps (side-major, as
    /// `torch.cat(sides, 1)` stacks them) to K. `out_channels = 1` is [`init`](Self::init).
    ///
    /// # Panics
    /// If the configuration is invalid or `out_channels` is 0.
    pub fn init_with_outputs(&self, device: &Device, out_channels: usize) -> U2Net {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        assert!(out_channels >= 1, "out_channels must be >= 1, got 0");
        let rsu = |cin: usize, s: &Stage| {
            RsuConfig::new(s.height, cin, s.mid, s.out)
                .with_dilated(s.dilated)
                .with_unit(self.unit.clone())
                .with_entry(self.entry_unit.clone())
                .init(device)
        };
        let mut cin = self.in_channels;
        let encoder = self
            .encoder
            .iter()
            .map(|s| {
                let block = rsu(cin, s);
                cin = s.out;
                block
            })
            .collect();
        let grid = self.grid();
        let channels = |i, j| self.node_channels(i, j);
        let decoder = grid
            .nodes()
            .into_iter()
            .map(|(i, j)| {
                let cin = grid.in_channels((i, j), channels);
                let s = &self.decoder[i];
                match self.node {
                    NodeKind::Rsu => DecoderNode::Rsu(rsu(cin, s)),
                    NodeKind::Pair => DecoderNode::Pair(
                        VggBlockConfig::new(cin, s.out, s.out)
                            .with_unit(self.unit.clone())
                            .init(device),
                    ),
                }
            })
            .collect();
        let k = self.side_kernel;
        let heads_nodes = self.head_nodes();
        let sides = heads_nodes
            .iter()
            .map(|&(i, j)| {
                Conv2dConfig::new([self.node_channels(i, j), out_channels], [k, k])
                    .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
                    .init(device)
            })
            .collect();
        let fuse = Conv2dConfig::new([heads_nodes.len() * out_channels, out_channels], [1, 1])
            .init(device);
        U2Net {
            encoder,
            decoder,
            sides,
            fuse,
            levels: self.levels(),
            skips: self.skips,
            heads: heads_nodes.iter().map(|&(i, j)| [i, j]).collect(),
        }
    }
}

/// A decoder node.
#[derive(Module, Debug)]
pub enum DecoderNode {
    /// RSU node.
    Rsu(Rsu),
    /// Conv-unit pair node.
    Pair(VggBlock),
}

impl DecoderNode {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            DecoderNode::Rsu(b) => b.forward(x),
            DecoderNode::Pair(b) => b.forward(x),
        }
    }

    fn fuse(self) -> Self {
        match self {
            DecoderNode::Rsu(b) => DecoderNode::Rsu(b.fuse()),
            DecoderNode::Pair(b) => DecoderNode::Pair(b.fuse()),
        }
    }
}

impl Macs for DecoderNode {
    fn macs(&self, size: [usize; 2], form: Form) -> u64 {
        match self {
            DecoderNode::Rsu(b) => b.macs(size, form),
            DecoderNode::Pair(b) => b.macs(size, form),
        }
    }
}

/// A U2-Net-family network. Returns logits.
///
/// # Shapes
/// - input: `[B, in_channels, H, W]`, any `H, W >= 1`
/// - output: [`SegOutput`] with `fused` `[B, K, H, W]` and one side map `[B, K, H, W]` per head
///   (`K` = the `out_channels` it was built with, 1 for a binary network).
#[derive(Module, Debug)]
pub struct U2Net {
    /// Encoder RSU stages `x[i][0]`.
    pub encoder: Vec<Rsu>,
    /// Decoder nodes in [`GridDecoder::nodes`] order.
    pub decoder: Vec<DecoderNode>,
    /// Side heads, one per entry of `heads`.
    pub sides: Vec<Conv2d>,
    /// 1x1 fusion of the side maps.
    pub fuse: Conv2d,
    #[module(skip)]
    pub(crate) levels: usize,
    #[module(skip)]
    pub(crate) skips: SkipKind,
    #[module(skip)]
    pub(crate) heads: Vec<[usize; 2]>,
}

impl U2Net {
    /// The deploy form: every conv unit re-parameterised (see [`crate::nn::msac::ConvUnit::fuse`]).
    pub fn fuse(self) -> Self {
        U2Net {
            encoder: self.encoder.into_iter().map(Rsu::fuse).collect(),
            decoder: self.decoder.into_iter().map(DecoderNode::fuse).collect(),
            ..self
        }
    }

    pub(crate) fn grid(&self) -> GridDecoder {
        GridDecoder {
            levels: self.levels,
            skips: self.skips,
            order: ConcatOrder::UpFirst,
            align_corners: false,
        }
    }

    /// Forward pass; see [`U2Net`] for shapes.
    pub fn forward(&self, x: Tensor<4>) -> SegOutput {
        let [_, _, h, w] = x.dims();
        let mut encoded = Vec::with_capacity(self.levels);
        let mut feat = x;
        for (i, stage) in self.encoder.iter().enumerate() {
            if i > 0 {
                feat = max_pool2x2(feat, PoolMode::Ceil); // [B, C, ceil(H/2^i), ceil(W/2^i)]
            }
            feat = stage.forward(feat);
            encoded.push(feat.clone());
        }
        let grid = self
            .grid()
            .forward(encoded, |k, input| self.decoder[k].forward(input));
        let sides: Vec<Tensor<4>> = self
            .heads
            .iter()
            .zip(&self.sides)
            .map(|(&[i, j], head)| {
                let node = grid[i][j].clone().expect("head nodes exist (validated)");
                resize_like(conv2d(head, node), [h, w], false) // [B, K, H, W]
            })
            .collect();
        let fused = conv2d(&self.fuse, Tensor::cat(sides.clone(), 1)); // [B, K, H, W]
        SegOutput { fused, sides }
    }

    /// Multiply-accumulates for one `[h, w]` image.
    pub fn macs(&self, size: [usize; 2], form: Form) -> u64 {
        let sizes = level_sizes(size, self.levels, PoolMode::Ceil);
        let sides: u64 = self
            .heads
            .iter()
            .zip(&self.sides)
            .map(|(&[i, _], c)| conv2d_macs(c, sizes[i]))
            .sum();
        self.grid().macs(&self.encoder, &self.decoder, &sizes, form)
            + sides
            + conv2d_macs(&self.fuse, size)
    }
}
