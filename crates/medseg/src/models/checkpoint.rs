//! The official U-2-Net checkpoints (xuebinqin/U-2-Net `u2net.pth`, `u2netp.pth`: PyTorch
//! state dicts of `model/u2net.py`'s `U2NET` and `U2NETP`) loaded into our `u2net` / `u2netp`
//! presets, or into any U2-Net-family network of the same structure (plain units, plain skips,
//! RSU decoder nodes, one side head per level).
//!
//! The networks are the same function; only the parameter names differ, and they map by
//! structure (`N` levels; an RSU of height `H`):
//!
//! | official | medseg |
//! |---|---|
//! | `stage{S+1}` | `encoder.S` |
//! | `stage{L}d` (level `L - 1`) | `decoder.{N-1-L}` |
//! | `rebnconvin` | `conv_in` |
//! | `rebnconv{i+1}`, `i < H - 1` | `encoders.i` |
//! | `rebnconv{H}` | `bottom` |
//! | `rebnconv{i+1}d` | `decoders.i` |
//! | `conv_s1`, `bn_s1` | `branches.0.convs.0.conv`, `branches.0.convs.0.bn` |
//! | `side{i+1}` | `sides.i` |
//! | `outconv` | `fuse` |

use std::collections::HashMap;
use std::path::Path;

use burn::store::ModuleSnapshot;
use burn::store::pytorch_reader::PytorchReader;
use burn::store::{PyTorchToBurnAdapter, bridge};

use super::weights::WeightsMeta;
use super::{ModelConfig, ModelName, NodeKind, SegNet};
use crate::nn::{ConvUnitKind, SkipKind};
use crate::{Error, Result};

/// Whether `path` looks like a PyTorch checkpoint (`.pth`, `.pt`, `.bin`, `.ckpt`).
pub fn is_pytorch_checkpoint(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["pth", "pt", "bin", "ckpt"].contains(&e.to_ascii_lowercase().as_str()))
}

/// The stage heights of a configuration the official naming can describe, or why not.
fn layout(config: &ModelConfig) -> std::result::Result<(Vec<usize>, Vec<usize>), String> {
    let ModelConfig::U2net(c) = config else {
        return Err("the official U-2-Net checkpoints fit U2-Net-family networks only (presets u2net, u2netp)".into());
    };
    if c.unit != ConvUnitKind::Plain
        || c.entry_unit
            .as_ref()
            .is_some_and(|u| *u != ConvUnitKind::Plain)
        || c.skips != SkipKind::Plain
        || c.node != NodeKind::Rsu
        || c.head_nodes()
            != (0..c.levels())
                .map(|i| (i, c.levels() - 1 - i))
                .collect::<Vec<_>>()
        || c.side_kernel != 3
    {
        return Err("the official U-2-Net checkpoints fit networks with plain units, plain skips, RSU nodes and one 3x3 side head per level (presets u2net, u2netp)".into());
    }
    Ok((
        c.encoder.iter().map(|s| s.height).collect(),
        c.decoder.iter().map(|s| s.height).collect(),
    ))
}

/// Our name of an official parameter name, for a network with these encoder and decoder stage
/// heights; `None` when the name has no place in it.
pub fn our_name(official: &str, encoder: &[usize], decoder: &[usize]) -> Option<String> {
    let n = encoder.len();
    let name = official.strip_prefix("module.").unwrap_or(official);
    let (block, rest) = name.split_once('.')?;
    if let Some(k) = block.strip_prefix("side") {
        let k: usize = k.parse().ok()?;
        return (1..=n)
            .contains(&k)
            .then(|| format!("sides.{}.{rest}", k - 1));
    }
    if block == "outconv" {
        return Some(format!("fuse.{rest}"));
    }
    let stage = block.strip_prefix("stage")?;
    let (prefix, height) = match stage.strip_suffix('d') {
        Some(l) => {
            let l: usize = l.parse().ok()?;
            if !(1..n).contains(&l) {
                return None;
            }
            let k = n - 1 - l;
            (format!("decoder.{k}"), decoder[l - 1])
        }
        None => {
            let s: usize = stage.parse().ok()?;
            if !(1..=n).contains(&s) {
                return None;
            }
            (format!("encoder.{}", s - 1), encoder[s - 1])
        }
    };
    let (conv, rest) = rest.split_once('.')?;
    let unit = if conv == "rebnconvin" {
        "conv_in".to_string()
    } else {
        let c = conv.strip_prefix("rebnconv")?;
        match c.strip_suffix('d') {
            Some(i) => {
                let i: usize = i.parse().ok()?;
                if !(1..height).contains(&i) {
                    return None;
                }
                format!("decoders.{}", i - 1)
            }
            None => {
                let i: usize = c.parse().ok()?;
                match i {
                    i if (1..height).contains(&i) => format!("encoders.{}", i - 1),
                    i if i == height => "bottom".to_string(),
                    _ => return None,
                }
            }
        }
    };
    let (layer, field) = rest.split_once('.')?;
    let layer = match layer {
        "conv_s1" => "conv",
        "bn_s1" => "bn",
        _ => return None,
    };
    Some(format!(
        "{prefix}.{unit}.branches.0.convs.0.{layer}.{field}"
    ))
}

/// Loads an official U-2-Net checkpoint (a PyTorch pickle state dict, optionally saved from
/// `DataParallel` with `module.` prefixes) into `net`, built from `config`.
///
/// Errors name the first parameter of `net` the file lacks, the first tensor whose shape
/// differs, or the first tensor of the file with no place in the network.
pub fn load_official_u2net(net: &mut SegNet, config: &ModelConfig, path: &Path) -> Result<()> {
    let bad = |reason: String| Error::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let (encoder, decoder) = layout(config).map_err(&bad)?;
    if !path.exists() {
        return Err(Error::MissingFile {
            path: path.to_path_buf(),
        });
    }
    let reader =
        PytorchReader::new(path).map_err(|e| bad(format!("not a PyTorch checkpoint: {e}")))?;
    let mut official: Vec<(String, _)> = reader.into_tensors().into_iter().collect();
    official.sort_by(|a, b| a.0.cmp(&b.0));
    let mut theirs_of: HashMap<String, String> = HashMap::new();
    let mut tensors = Vec::new();
    for (name, tensor) in official {
        if name.ends_with("num_batches_tracked") {
            continue;
        }
        let Some(ours) = our_name(&name, &encoder, &decoder) else {
            return Err(bad(format!(
                "tensor '{name}' has no place in a {}-level U2-Net (is this an official u2net.pth / u2netp.pth?)",
                encoder.len()
            )));
        };
        let data = bridge::into_data(bridge::from_pytorch(tensor))
            .map_err(|e| bad(format!("tensor '{name}': {e:?}")))?;
        theirs_of.insert(ours.clone(), name);
        tensors.push(bridge::from_data(data, ours, None));
    }
    let result = net.apply(tensors, None, Some(Box::new(PyTorchToBurnAdapter)), true);
    let theirs = |ours: &str| {
        theirs_of
            .get(ours)
            .cloned()
            .unwrap_or_else(|| ours.to_string())
    };
    if let Some((missing, _)) = result.missing.first() {
        return Err(bad(format!(
            "the checkpoint has no tensor for medseg's '{missing}'{}",
            more(result.missing.len())
        )));
    }
    if let Some(error) = result.errors.first() {
        return Err(bad(format!(
            "{}{}",
            describe_error(&error.to_string(), &theirs),
            more(result.errors.len())
        )));
    }
    if let Some(unused) = result.unused.first() {
        return Err(bad(format!(
            "tensor '{}' has no place in the network{}",
            theirs(unused),
            more(result.unused.len())
        )));
    }
    Ok(())
}

/// Weights metadata for an official checkpoint loaded into `preset`, with the official test
/// script's preprocessing (`u2net_test.py`: RGB resized to 320x320, ImageNet mean and standard
/// deviation; the official script divides by the image's maximum, medseg by 255) and whole-image
/// inference at 320x320.
pub fn official_meta(name: &str, preset: ModelName) -> WeightsMeta {
    use crate::data::preprocess::{Normalise, PreprocessConfig};
    use crate::infer::tiling::{Blend, TileConfig};
    let mut preprocess = PreprocessConfig::lesions(320);
    preprocess.normalise = Normalise::Fixed {
        mean: vec![0.485, 0.456, 0.406],
        std: vec![0.229, 0.224, 0.225],
    };
    WeightsMeta {
        format: crate::models::weights::WEIGHTS_FORMAT,
        name: name.to_string(),
        model: preset.config(),
        dataset: None,
        fov: crate::data::fov::FovSource::Full,
        preprocess,
        tiling: TileConfig {
            tile: [320, 320],
            overlap: 0.0,
            batch: 1,
            blend: Blend::Constant,
            mirror: false,
        },
        threshold: 0.5,
        epochs: 0,
        labels: Default::default(),
        fused: false,
        scale_reference: Some(crate::infer::scale::ScaleReference::ImageSize([320, 320])),
    }
}

/// An official checkpoint loaded into `preset`, with [`official_meta`]'s metadata (named after
/// the file).
pub fn load_official(
    path: &Path,
    preset: ModelName,
    device: &burn::prelude::Device,
) -> Result<(SegNet, WeightsMeta)> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("u2net");
    let meta = official_meta(stem, preset);
    let mut net = meta.model.init(device)?;
    load_official_u2net(&mut net, &meta.model, path)?;
    Ok((net, meta))
}

/// A shape error of the applier, with the official name in front.
fn describe_error(message: &str, theirs: &dyn Fn(&str) -> String) -> String {
    // The applier's messages start with the (our) tensor path.
    let path = message
        .split(|c: char| c.is_whitespace() || c == ':' || c == '\'')
        .find(|w| w.contains('.'))
        .unwrap_or("");
    format!("tensor '{}' is mis-shaped: {message}", theirs(path))
}

fn more(n: usize) -> String {
    if n > 1 {
        format!(", and {} more", n - 1)
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENC: [usize; 6] = [7, 6, 5, 4, 4, 4];
    const DEC: [usize; 5] = [7, 6, 5, 4, 4];

    #[test]
    fn official_names_map_by_structure() {
        let map = |n: &str| our_name(n, &ENC, &DEC);
        assert_eq!(
            map("stage1.rebnconvin.conv_s1.weight").as_deref(),
            Some("encoder.0.conv_in.branches.0.convs.0.conv.weight")
        );
        assert_eq!(
            map("module.stage1.rebnconv7.bn_s1.running_var").as_deref(),
            Some("encoder.0.bottom.branches.0.convs.0.bn.running_var")
        );
        assert_eq!(
            map("stage6.rebnconv3.conv_s1.bias").as_deref(),
            Some("encoder.5.encoders.2.branches.0.convs.0.conv.bias")
        );
        assert_eq!(
            map("stage5d.rebnconv3d.bn_s1.weight").as_deref(),
            Some("decoder.0.decoders.2.branches.0.convs.0.bn.weight")
        );
        assert_eq!(
            map("stage1d.rebnconv6d.conv_s1.weight").as_deref(),
            Some("decoder.4.decoders.5.branches.0.convs.0.conv.weight")
        );
        assert_eq!(map("side6.weight").as_deref(), Some("sides.5.weight"));
        assert_eq!(map("outconv.bias").as_deref(), Some("fuse.bias"));
        for bad in [
            "stage7.rebnconvin.conv_s1.weight",
            "stage6d.rebnconvin.conv_s1.weight",
            "stage1.rebnconv8.conv_s1.weight",
            "stage4.rebnconv4d.conv_s1.weight",
            "side7.weight",
            "stage1.rebnconvin.conv.weight",
            "fc.weight",
        ] {
            assert_eq!(map(bad), None, "{bad}");
        }
    }
}
