//! MSA-U2Net: a lightweight U2-Net with multi-scale asymmetric convolution and UNet++ nested
//! skips (our reading of Sun et al., "Lightweight U2-Net with multi-scale asymmetric
//! convolution", J. Chongqing Univ. Technol. 2024, 38(21)).
//!
//! The paper's full text was not available; every choice below is a config field of
//! [`U2NetConfig`] so that each can be ablated by a config, not a code change:
//!
//! - **Fewer layers**: 4 encoder levels (U2-Net has 6) with RSU heights falling with depth,
//!   `RSU5 -> RSU4 -> RSU3 -> RSU4F`; decoder nodes use their level's height.
//! - **MSAC units** replace the plain 3x3 conv units inside every RSU: for each dilation in
//!   `{1, 2}`, parallel `3x3`, `1x3`, `3x1` branches with their own BatchNorm, summed, then ReLU
//!   ([`ConvUnitKind::Msac`]). Each scale folds into one dilated 3x3 conv at inference.
//! - **UNet++ nested skips**: decoder nodes `x[i][j]`, `i + j <= 3`, each taking all same-level
//!   nodes and the upsampled node below ([`SkipKind::Nested`]).
//! - **Plain entry convs**: each RSU's input conv (`conv_in`), which mixes the concatenated
//!   nested inputs, is a plain 3x3 unit; MSAC is used inside the U-structure. This keeps the
//!   nested nodes (whose inputs are wide) within the FLOPs budget.
//! - **Deep supervision**: side heads on the top-row nodes `x[0][1..=3]` and on the row ends
//!   `x[1][2]`, `x[2][1]`, `x[3][0]`, all resized to the input, plus a 1x1 fusion.
//!
//! Widths are narrow at full resolution (where FLOPs are spent) and wider below (where
//! parameters are), chosen for the budget: at most 1.0 M trainable parameters and 4 GFLOPs
//! (2 x MACs) per 256x256 forward pass of the deployed (re-parameterised) network for
//! [`U2NetConfig::msa`] (0.62 M, 3.68 GFLOPs deployed, 5.21 GFLOPs as trained); at most 0.15 M
//! parameters for [`U2NetConfig::msa_tiny`].

use super::u2net::{NodeKind, Stage, U2NetConfig};
use crate::nn::{ConvUnitKind, SkipKind};

/// Side heads of the default MSA-U2Net: the top row, then the row ends from level 1 down.
pub const MSA_HEADS: [[usize; 2]; 6] = [[0, 1], [0, 2], [0, 3], [1, 2], [2, 1], [3, 0]];

impl U2NetConfig {
    /// MSA-U2Net, the paper's network (MSAC units, nested skips, 4 levels).
    pub fn msa() -> Self {
        Self::msa_with_widths([8, 12, 24, 64], [4, 6, 12, 32])
    }

    /// MSA-U2Net-tiny, for laptops: at most 0.15 M parameters.
    pub fn msa_tiny() -> Self {
        Self::msa_with_widths([4, 8, 16, 24], [2, 4, 8, 12])
    }

    /// The `nested-u2net` preset (formerly `msa-u2net-plain`): MSA-U2Net without its
    /// multi-scale asymmetric convolution, i.e. plain 3x3 units (U2-Net's `REBNCONV`) instead of
    /// MSAC, with the nested skips, widths, heads and levels of [`msa`](Self::msa).
    pub fn nested() -> Self {
        Self::msa().with_unit(ConvUnitKind::Plain)
    }

    /// The `nested-u2net-wide` preset: [`nested`](Self::nested) with the three upper levels
    /// twice as wide (outputs 8/12/24 -> 16/24/48, internal widths 4/6/12 -> 8/12/24); the bottom
    /// RSU4F as in `nested`.
    pub fn nested_wide() -> Self {
        Self::msa_with_widths([16, 24, 48, 64], [8, 12, 24, 32]).with_unit(ConvUnitKind::Plain)
    }

    /// MSA-U2Net with the given per-level output and internal widths (4 levels).
    pub fn msa_with_widths(out: [usize; 4], mid: [usize; 4]) -> Self {
        let heights = [5, 4, 3];
        let stages: Vec<Stage> = (0..3)
            .map(|i| Stage::rsu(heights[i], mid[i], out[i]))
            .collect();
        let mut encoder = stages.clone();
        encoder.push(Stage::rsu_f(4, mid[3], out[3]));
        U2NetConfig::new(encoder, stages)
            .with_unit(ConvUnitKind::msac())
            .with_entry_unit(Some(ConvUnitKind::Plain))
            .with_skips(SkipKind::Nested)
            .with_node(NodeKind::Rsu)
            .with_heads(MSA_HEADS.to_vec())
            .with_side_kernel(3)
    }
}
