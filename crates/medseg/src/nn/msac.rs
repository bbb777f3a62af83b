//! The convolution unit used inside RSU blocks and nested nodes.
//!
//! - [`ConvUnitKind::Plain`]: U2-Net's `REBNCONV`: 3x3 conv (with bias) -> BN -> ReLU.
//! - [`ConvUnitKind::Msac`]: multi-scale asymmetric convolution. For every dilation `d` in the set,
//!   three parallel branches `3x3`, `1x3` and `3x1` at dilation `d`, each conv (no bias) followed
//!   by its own BatchNorm; all branch outputs are summed, then ReLU. Because the branches are
//!   linear up to the sum, each scale folds into one dilated 3x3 conv at inference (ACNet-style
//!   structural re-parameterisation).
//! - [`ConvUnitKind::Factorised`]: for every `k` in the set, `1xk -> BN -> kx1 -> BN` in series;
//!   branches summed, then ReLU.
//!
//! Inside an RSU block a unit is placed at a base dilation `r` (1, 2, 4, 8...); the unit's own
//! dilations multiply it (`r * d`).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::conv_bn_act::{ConvBn, ConvBnConfig};
use super::flops::{Form, Macs};

/// Which convolution unit to use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ConvUnitKind {
    /// 3x3 conv with bias, BN, ReLU (U2-Net's REBNCONV, UNet's conv).
    Plain,
    /// Multi-scale asymmetric conv: `3x3 + 1x3 + 3x1` branches at each dilation, summed.
    Msac {
        /// Dilations of the scales, e.g. `[1, 2]`.
        dilations: Vec<usize>,
    },
    /// Factorised asymmetric conv: `1xk` then `kx1` for each `k`, summed.
    Factorised {
        /// Kernel lengths, each odd, e.g. `[3, 5, 7]`.
        kernels: Vec<usize>,
    },
}

impl ConvUnitKind {
    /// The default MSAC unit: scales at dilations 1 and 2.
    pub fn msac() -> Self {
        ConvUnitKind::Msac {
            dilations: vec![1, 2],
        }
    }

    /// Checks the unit's parameters.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::InvalidConfig(m));
        match self {
            ConvUnitKind::Plain => Ok(()),
            ConvUnitKind::Msac { dilations } if dilations.is_empty() || dilations.contains(&0) => {
                bad(format!(
                    "msac dilations must be non-empty and >= 1, got {dilations:?}"
                ))
            }
            ConvUnitKind::Factorised { kernels }
                if kernels.is_empty() || kernels.iter().any(|k| k % 2 == 0) =>
            {
                bad(format!(
                    "factorised kernels must be non-empty and odd, got {kernels:?}"
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Configuration of a [`ConvUnit`].
#[derive(Config, Debug)]
pub struct ConvUnitConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Base dilation (the RSU's dilation rate at this position).
    #[config(default = 1)]
    pub dilation: usize,
    /// The unit kind.
    #[config(default = "ConvUnitKind::Plain")]
    pub kind: ConvUnitKind,
}

/// One branch: convs applied in series (no non-linearity in between).
#[derive(Module, Debug)]
pub struct Branch {
    /// The convs of the branch, applied in order.
    pub convs: Vec<ConvBn>,
}

/// A conv unit: parallel branches, summed, then ReLU.
///
/// # Shapes
/// `[B, in_channels, H, W]` -> `[B, out_channels, H, W]`
#[derive(Module, Debug)]
pub struct ConvUnit {
    /// The parallel branches.
    pub branches: Vec<Branch>,
}

impl ConvUnitConfig {
    /// Builds the unit.
    pub fn init(&self, device: &Device) -> ConvUnit {
        let (i, o, r) = (self.in_channels, self.out_channels, self.dilation);
        let conv = |cin: usize, kernel: [usize; 2], d: usize, bias: bool| {
            ConvBnConfig::new(cin, o)
                .with_kernel(kernel)
                .with_dilation([d, d])
                .with_bias(bias)
                .with_relu(false)
                .init(device)
        };
        let branches = match &self.kind {
            ConvUnitKind::Plain => vec![vec![conv(i, [3, 3], r, true)]],
            ConvUnitKind::Msac { dilations } => dilations
                .iter()
                .flat_map(|&d| [[3, 3], [1, 3], [3, 1]].map(|k| vec![conv(i, k, r * d, false)]))
                .collect(),
            ConvUnitKind::Factorised { kernels } => kernels
                .iter()
                .map(|&k| vec![conv(i, [1, k], r, false), conv(o, [k, 1], r, false)])
                .collect(),
        };
        ConvUnit {
            branches: branches.into_iter().map(|convs| Branch { convs }).collect(),
        }
    }
}

impl ConvUnit {
    /// Forward pass; see [`ConvUnit`] for shapes.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut sum: Option<Tensor<4>> = None;
        for branch in &self.branches {
            let y = branch
                .convs
                .iter()
                .fold(x.clone(), |h, conv| conv.forward(h));
            sum = Some(match sum {
                Some(s) => s + y,
                None => y,
            });
        }
        burn::tensor::activation::relu(sum.expect("a conv unit has at least one branch"))
    }

    /// The deploy form (ACNet-style structural re-parameterisation): every BatchNorm is folded
    /// into its conv, and the single-conv branches of equal dilation (`3x3`, `1x3`, `3x1`) are
    /// summed into one conv of the largest kernel, the smaller kernels zero-padded to its centre.
    /// Multi-conv (factorised) branches keep their convs, each with its BatchNorm folded in.
    /// In inference mode the result computes the same function as `self`.
    pub fn fuse(self) -> ConvUnit {
        let mut merged: Vec<ConvBn> = Vec::new();
        let mut rest: Vec<Branch> = Vec::new();
        for branch in self.branches {
            let mut convs: Vec<ConvBn> = branch.convs.into_iter().map(ConvBn::fuse).collect();
            if convs.len() != 1 {
                rest.push(Branch { convs });
                continue;
            }
            let conv = convs.pop().expect("one conv");
            match merged
                .iter()
                .position(|m| m.conv.dilation == conv.conv.dilation)
            {
                Some(k) => {
                    let sum = add_convs(merged.swap_remove(k), conv);
                    merged.push(sum);
                }
                None => merged.push(conv),
            }
        }
        let branches = merged
            .into_iter()
            .map(|c| Branch { convs: vec![c] })
            .chain(rest)
            .collect();
        ConvUnit { branches }
    }
}

/// One conv equal to the sum of two BN-free convs of the same dilation ("same" padding): both
/// kernels are zero-padded, centred, to the larger size, then weights and biases are added.
fn add_convs(a: ConvBn, b: ConvBn) -> ConvBn {
    let centred = |c: &ConvBn, [kh, kw]: [usize; 2]| {
        let w = c.conv.weight.val();
        let [o, i, h, wd] = w.dims();
        let (top, left) = ((kh - h) / 2, (kw - wd) / 2);
        Tensor::zeros([o, i, kh, kw], &w.device())
            .slice_assign([0..o, 0..i, top..top + h, left..left + wd], w)
    };
    let [_, _, ah, aw] = a.conv.weight.dims();
    let [_, _, bh, bw] = b.conv.weight.dims();
    let kernel = [ah.max(bh), aw.max(bw)];
    let weight = centred(&a, kernel) + centred(&b, kernel);
    let bias = a.bias_or_zeros() + b.bias_or_zeros();
    ConvBn::from_weights(weight, bias, a.conv.dilation, false)
}

impl Macs for ConvUnit {
    fn macs(&self, size: [usize; 2], form: Form) -> u64 {
        let train = |b: &Branch| b.convs.iter().map(|c| c.macs(size, form)).sum::<u64>();
        match form {
            Form::Train => self.branches.iter().map(train).sum(),
            Form::Deploy => {
                // Single-conv branches of equal dilation fold into the largest kernel among them
                // (3x3 + 1x3 + 3x1 -> 3x3); multi-conv branches (factorised) stay as they are.
                let mut total = 0;
                let mut folded: Vec<([usize; 2], u64)> = Vec::new();
                for b in &self.branches {
                    if let [conv] = b.convs.as_slice() {
                        let dilation = conv.conv.dilation;
                        let m = conv.macs(size, form);
                        match folded.iter_mut().find(|(d, _)| *d == dilation) {
                            Some((_, best)) => *best = (*best).max(m),
                            None => folded.push((dilation, m)),
                        }
                    } else {
                        total += train(b);
                    }
                }
                total + folded.iter().map(|(_, m)| m).sum::<u64>()
            }
        }
    }
}
