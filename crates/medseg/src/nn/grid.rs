//! Encoder/decoder wiring shared by U-Net, UNet++, U2-Net and MSA-U2Net.
//!
//! Nodes are `x[i][j]` as in the UNet++ paper: `i` is the level (0 = full resolution), `j` the
//! column. `x[i][0]` are encoder outputs. A decoder node `x[i][j]` (j >= 1) takes the
//! concatenation of same-level skips and the deeper node `x[i+1][j-1]` resized to level `i`:
//!
//! - [`SkipKind::Nested`] (UNet++): every node with `i + j <= levels - 1` exists, and `x[i][j]`
//!   takes `x[i][0..j]` (dense skips) plus the upsampled `x[i+1][j-1]`.
//! - [`SkipKind::Plain`] (U-Net, U2-Net): only the nodes with `i + j = levels - 1` exist, and
//!   `x[i][j]` takes `x[i][0]` plus the upsampled `x[i+1][j-1]`.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::flops::{Form, Macs};
use super::resize::resize_like;

/// Which skip connections the decoder uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipKind {
    /// UNet++ nested dense skips.
    Nested,
    /// U-Net / U2-Net plain skips.
    Plain,
}

/// Order of the concatenation at a decoder node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConcatOrder {
    /// `cat(skips..., up)`: UNet++ reference order.
    SkipsFirst,
    /// `cat(up, skips...)`: U2-Net reference order.
    UpFirst,
}

/// The decoder's node layout and wiring for `levels` encoder levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridDecoder {
    /// Encoder levels (`x[0][0]` ... `x[levels-1][0]`).
    pub levels: usize,
    /// Skip kind.
    pub skips: SkipKind,
    /// Concatenation order.
    pub order: ConcatOrder,
    /// `align_corners` of the bilinear upsampling.
    pub align_corners: bool,
}

impl GridDecoder {
    /// Decoder nodes `(i, j)` in evaluation order (every node after its inputs).
    pub fn nodes(&self) -> Vec<(usize, usize)> {
        let l = self.levels;
        match self.skips {
            SkipKind::Nested => (1..l)
                .flat_map(|j| (0..l - j).rev().map(move |i| (i, j)))
                .collect(),
            SkipKind::Plain => (0..l.saturating_sub(1))
                .rev()
                .map(|i| (i, l - 1 - i))
                .collect(),
        }
    }

    /// The same-level inputs of node `(i, j)`, as columns of level `i`.
    pub fn skip_columns(&self, j: usize) -> Vec<usize> {
        match self.skips {
            SkipKind::Nested => (0..j).collect(),
            SkipKind::Plain => vec![0],
        }
    }

    /// Input channels of node `(i, j)` given the output channels of each node.
    pub fn in_channels(
        &self,
        (i, j): (usize, usize),
        channels: impl Fn(usize, usize) -> usize,
    ) -> usize {
        self.skip_columns(j)
            .iter()
            .map(|&c| channels(i, c))
            .sum::<usize>()
            + channels(i + 1, j - 1)
    }

    /// The node ending each level's row: `x[i][levels-1-i]`, i.e. the deepest decoder node of
    /// each level (for `i = levels - 1` the bottom encoder output).
    pub fn row_ends(&self) -> Vec<(usize, usize)> {
        (0..self.levels).map(|i| (i, self.levels - 1 - i)).collect()
    }

    /// MACs of the encoder blocks and decoder nodes, given each level's spatial size.
    pub fn macs(
        &self,
        encoder: &[impl Macs],
        decoder: &[impl Macs],
        sizes: &[[usize; 2]],
        form: Form,
    ) -> u64 {
        let enc: u64 = encoder
            .iter()
            .zip(sizes)
            .map(|(b, &s)| b.macs(s, form))
            .sum();
        let dec: u64 = self
            .nodes()
            .iter()
            .zip(decoder)
            .map(|(&(i, _), b)| b.macs(sizes[i], form))
            .sum();
        enc + dec
    }

    /// Runs the decoder: `encoded[i]` is `x[i][0]`; `node(k, input)` runs the `k`-th node of
    /// [`nodes`](Self::nodes). Returns the grid of outputs, `out[i][j]` (absent nodes are `None`).
    pub fn forward(
        &self,
        encoded: Vec<Tensor<4>>,
        mut node: impl FnMut(usize, Tensor<4>) -> Tensor<4>,
    ) -> Vec<Vec<Option<Tensor<4>>>> {
        let l = self.levels;
        let mut grid: Vec<Vec<Option<Tensor<4>>>> = (0..l).map(|i| vec![None; l - i]).collect();
        for (i, x) in encoded.into_iter().enumerate() {
            grid[i][0] = Some(x);
        }
        for (k, (i, j)) in self.nodes().into_iter().enumerate() {
            let get = |i: usize, j: usize| {
                grid[i][j]
                    .clone()
                    .expect("grid inputs are computed before the node that uses them")
            };
            let skips: Vec<Tensor<4>> = self.skip_columns(j).iter().map(|&c| get(i, c)).collect();
            let [_, _, h, w] = skips[0].dims();
            let up = resize_like(get(i + 1, j - 1), [h, w], self.align_corners);
            let inputs = match self.order {
                ConcatOrder::SkipsFirst => skips.into_iter().chain([up]).collect(),
                ConcatOrder::UpFirst => [up].into_iter().chain(skips).collect(),
            };
            grid[i][j] = Some(node(k, Tensor::cat(inputs, 1)));
        }
        grid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(skips: SkipKind) -> GridDecoder {
        GridDecoder {
            levels: 5,
            skips,
            order: ConcatOrder::SkipsFirst,
            align_corners: true,
        }
    }

    #[test]
    fn nested_has_all_upper_triangle_nodes() {
        let nodes = grid(SkipKind::Nested).nodes();
        assert_eq!(nodes.len(), 10);
        assert_eq!(nodes[0], (3, 1));
        assert_eq!(*nodes.last().unwrap(), (0, 4));
        // every node's deeper input comes earlier
        for (k, &(i, j)) in nodes.iter().enumerate() {
            if j > 1 {
                assert!(nodes[..k].contains(&(i + 1, j - 1)));
            }
        }
    }

    #[test]
    fn plain_has_one_node_per_level() {
        let g = grid(SkipKind::Plain);
        assert_eq!(g.nodes(), vec![(3, 1), (2, 2), (1, 3), (0, 4)]);
        // UNet: x[0][4] takes x[0][0] (32) + x[1][3] (64)
        let ch = |i: usize, _j: usize| [32, 64, 128, 256, 512][i];
        assert_eq!(g.in_channels((0, 4), ch), 96);
        // UNet++: x[0][4] takes 4 * 32 + 64
        assert_eq!(grid(SkipKind::Nested).in_channels((0, 4), ch), 192);
    }
}
