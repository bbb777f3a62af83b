//! The model zoo written as ONNX operators, block by block, mirroring each block's `forward`:
//! the same operations in the same order, so an ONNX runtime computes medseg's logits.

use super::graph::Graph;
use crate::Result;
use crate::models::u2net::DecoderNode;
use crate::models::{SegNet, U2Net, Unet};
use crate::nn::{ConcatOrder, ConvBn, ConvUnit, GridDecoder, Rsu, VggBlock};

/// Emits `net` on the input value `x`; returns the fused logits' value name.
pub fn seg_net(g: &mut Graph, net: &SegNet, x: &str) -> Result<String> {
    match net {
        SegNet::U2net(m) => u2net(g, m, x),
        SegNet::Unet(m) => unet(g, m, x),
    }
}

/// `conv -> BN -> (ReLU)`, the BatchNorm folded into the conv first (a no-op when fused).
fn conv_bn(g: &mut Graph, layer: &ConvBn, x: &str, path: &str) -> Result<String> {
    let folded = layer.clone().fuse();
    let y = g.conv(x, &folded.conv, &format!("{path}.conv"))?;
    Ok(if layer.relu { g.relu(&y) } else { y })
}

/// Parallel branches (convs in series), summed in branch order, then ReLU.
fn conv_unit(g: &mut Graph, unit: &ConvUnit, x: &str, path: &str) -> Result<String> {
    let mut sum: Option<String> = None;
    for (b, branch) in unit.branches.iter().enumerate() {
        let mut h = x.to_string();
        for (c, conv) in branch.convs.iter().enumerate() {
            h = conv_bn(g, conv, &h, &format!("{path}.branches.{b}.convs.{c}"))?;
        }
        sum = Some(match sum {
            Some(s) => g.add(&s, &h),
            None => h,
        });
    }
    Ok(g.relu(&sum.expect("a conv unit has at least one branch")))
}

fn rsu(g: &mut Graph, block: &Rsu, x: &str, path: &str) -> Result<String> {
    let hxin = conv_unit(g, &block.conv_in, x, &format!("{path}.conv_in"))?;
    let mut skips = Vec::with_capacity(block.encoders.len());
    let mut h = hxin.clone();
    for (k, enc) in block.encoders.iter().enumerate() {
        if k > 0 && !block.dilated {
            h = g.max_pool2x2(&h, true);
        }
        h = conv_unit(g, enc, &h, &format!("{path}.encoders.{k}"))?;
        skips.push(h.clone());
    }
    let mut d = conv_unit(g, &block.bottom, &h, &format!("{path}.bottom"))?;
    for (k, dec) in block.decoders.iter().enumerate().rev() {
        let up = resize_unless_same(g, &d, &skips[k], block.dilated);
        let cat = g.concat(&[up, skips[k].clone()]);
        d = conv_unit(g, dec, &cat, &format!("{path}.decoders.{k}"))?;
    }
    Ok(g.add(&d, &hxin))
}

/// In an RSU-F block every level has the input's size, so the "resize" is the identity and is
/// left out; elsewhere a bilinear resize (align_corners false) to the skip's size.
fn resize_unless_same(g: &mut Graph, x: &str, like: &str, same: bool) -> String {
    if same {
        x.to_string()
    } else {
        g.resize_like(x, like, false)
    }
}

fn vgg(g: &mut Graph, block: &VggBlock, x: &str, path: &str) -> Result<String> {
    let h = conv_unit(g, &block.conv1, x, &format!("{path}.conv1"))?;
    conv_unit(g, &block.conv2, &h, &format!("{path}.conv2"))
}

/// The encoder/decoder grid ([`GridDecoder::forward`]): returns `grid[i][j]` value names.
fn grid(
    g: &mut Graph,
    layout: &GridDecoder,
    encoded: Vec<String>,
    mut node: impl FnMut(&mut Graph, usize, &str) -> Result<String>,
) -> Result<Vec<Vec<Option<String>>>> {
    let l = layout.levels;
    let mut out: Vec<Vec<Option<String>>> = (0..l).map(|i| vec![None; l - i]).collect();
    for (i, x) in encoded.into_iter().enumerate() {
        out[i][0] = Some(x);
    }
    for (k, (i, j)) in layout.nodes().into_iter().enumerate() {
        let get = |i: usize, j: usize| out[i][j].clone().expect("inputs come first");
        let skips: Vec<String> = layout.skip_columns(j).iter().map(|&c| get(i, c)).collect();
        let up = g.resize_like(&get(i + 1, j - 1), &skips[0], layout.align_corners);
        let inputs: Vec<String> = match layout.order {
            ConcatOrder::SkipsFirst => skips.into_iter().chain([up]).collect(),
            ConcatOrder::UpFirst => [up].into_iter().chain(skips).collect(),
        };
        let cat = g.concat(&inputs);
        out[i][j] = Some(node(g, k, &cat)?);
    }
    Ok(out)
}

fn u2net(g: &mut Graph, m: &U2Net, x: &str) -> Result<String> {
    let mut encoded = Vec::with_capacity(m.levels);
    let mut feat = x.to_string();
    for (i, stage) in m.encoder.iter().enumerate() {
        if i > 0 {
            feat = g.max_pool2x2(&feat, true);
        }
        feat = rsu(g, stage, &feat, &format!("encoder.{i}"))?;
        encoded.push(feat.clone());
    }
    let nodes = grid(g, &m.grid(), encoded, |g, k, input| {
        let path = format!("decoder.{k}");
        match &m.decoder[k] {
            DecoderNode::Rsu(b) => rsu(g, b, input, &path),
            DecoderNode::Pair(b) => vgg(g, b, input, &path),
        }
    })?;
    let mut sides = Vec::with_capacity(m.heads.len());
    for (s, (&[i, j], head)) in m.heads.iter().zip(&m.sides).enumerate() {
        let node = nodes[i][j].clone().expect("head nodes exist (validated)");
        let logits = g.conv(&node, head, &format!("sides.{s}"))?;
        // Level 0 already has the input's size; deeper levels are resized up to it.
        sides.push(if i == 0 {
            logits
        } else {
            g.resize_like(&logits, x, false)
        });
    }
    let cat = g.concat(&sides);
    g.conv(&cat, &m.fuse, "fuse")
}

fn unet(g: &mut Graph, m: &Unet, x: &str) -> Result<String> {
    let mut encoded = Vec::with_capacity(m.levels);
    let mut feat = x.to_string();
    for (i, block) in m.encoder.iter().enumerate() {
        if i > 0 {
            feat = g.max_pool2x2(&feat, false);
        }
        feat = vgg(g, block, &feat, &format!("encoder.{i}"))?;
        encoded.push(feat.clone());
    }
    let nodes = grid(g, &m.grid(), encoded, |g, k, input| {
        vgg(g, &m.decoder[k], input, &format!("decoder.{k}"))
    })?;
    let top = |j: usize| nodes[0][j].clone().expect("top-row nodes exist");
    if m.deep_supervision {
        let mut sum: Option<String> = None;
        for (k, head) in m.heads.iter().enumerate() {
            let side = g.conv(&top(k + 1), head, &format!("heads.{k}"))?;
            sum = Some(match sum {
                Some(s) => g.add(&s, &side),
                None => side,
            });
        }
        let sum = sum.expect("heads exist");
        Ok(g.div_scalar(&sum, m.heads.len() as f32, "heads.count"))
    } else {
        g.conv(&top(m.levels - 1), &m.heads[0], "heads.0")
    }
}
