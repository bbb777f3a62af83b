//! Loading weights saved by PyTorch (the reference definitions in `tools/reference/`).

use std::path::Path;

use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore, bridge};
use burn::tensor::{DType, TensorData};
use safetensors::{Dtype, SafeTensors};

use super::SegNet;

/// Reads a whole file, naming it in the error.
fn read_file(path: &Path) -> crate::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => crate::Error::MissingFile {
            path: path.to_path_buf(),
        },
        _ => crate::Error::io(path, e),
    })
}

fn decode_error(path: &Path, reason: String) -> crate::Error {
    crate::Error::Decode {
        path: path.to_path_buf(),
        reason,
    }
}

/// Loads a PyTorch `state_dict` saved as safetensors (module names as in
/// `tools/reference/medseg_ref.py`, `num_batches_tracked` absent or ignored) into `net`.
///
/// Every parameter of `net` must be present with the right shape; extra tensors are an error too.
pub fn load_pytorch_safetensors(net: &mut SegNet, path: &Path) -> crate::Result<()> {
    apply_safetensors(net, &read_file(path)?, path)
}

/// Applies the tensors of safetensors `bytes` (read from `path`) to `net`. The header is parsed
/// once (burn-store's lazy safetensors reader parses it again for every tensor, which made
/// loading a 600-tensor file take seconds).
fn apply_safetensors(net: &mut SegNet, bytes: &[u8], path: &Path) -> crate::Result<()> {
    let decode = |reason: String| decode_error(path, reason);
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| decode(format!("not a safetensors file: {e}")))?;
    let mut tensors = Vec::new();
    for (name, view) in file.tensors() {
        if name.ends_with("num_batches_tracked") {
            continue;
        }
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F64 => DType::F64,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            other => {
                return Err(decode(format!(
                    "tensor '{name}' has unsupported type {other:?}"
                )));
            }
        };
        let data = TensorData::from_bytes_vec(view.data().to_vec(), view.shape().to_vec(), dtype);
        tensors.push(bridge::from_data(data, name, None));
    }
    let result = net.apply(tensors, None, Some(Box::new(PyTorchToBurnAdapter)), true);
    if !result.missing.is_empty() || !result.unused.is_empty() || !result.errors.is_empty() {
        return Err(decode(format!(
            "weights do not match the model: missing {:?}, unexpected {:?}, errors {:?}",
            result.missing.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            result.unused,
            result.errors
        )));
    }
    Ok(())
}

/// What a medseg weights file carries besides the tensors, so that a prediction needs nothing
/// else: the model, the preprocessing, the tiling and the threshold.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WeightsMeta {
    /// File format version.
    pub format: u32,
    /// Experiment name the weights come from.
    pub name: String,
    /// The model configuration.
    pub model: super::ModelConfig,
    /// The dataset layout trained on, if any.
    pub dataset: Option<crate::data::DatasetKind>,
    /// FOV source used in training.
    pub fov: crate::data::fov::FovSource,
    /// Preprocessing to apply to an input image.
    pub preprocess: crate::data::preprocess::PreprocessConfig,
    /// Sliding-window settings.
    pub tiling: crate::infer::tiling::TileConfig,
    /// Probability threshold for binary masks.
    pub threshold: f64,
    /// Training epochs behind the weights.
    pub epochs: usize,
    /// The classes the weights segment; absent (binary, K = 1) in binary files, which thus
    /// read and write exactly as before.
    #[serde(
        default,
        skip_serializing_if = "crate::data::labels::LabelsConfig::is_binary"
    )]
    pub labels: crate::data::labels::LabelsConfig,
    /// Whether the tensors are the deploy form ([`SegNet::fuse`]): BatchNorms folded, branches
    /// summed. Such a file loads for inference only.
    #[serde(default)]
    pub fused: bool,
    /// The scale of the training images ([`crate::infer::scale`]); `None` in format-1 files,
    /// which then predict unscaled.
    #[serde(default)]
    pub scale_reference: Option<crate::infer::scale::ScaleReference>,
}

/// Current [`WeightsMeta::format`]. Format 2 added [`WeightsMeta::scale_reference`]; format 1
/// files still load (without a reference).
pub const WEIGHTS_FORMAT: u32 = 2;
const META_KEY: &str = "medseg";

/// Writes `net` as a safetensors file with PyTorch parameter names (loadable by
/// `tools/reference/medseg_ref.py`) and `meta` as JSON metadata, through
/// [`crate::durable::write_atomic`].
pub fn save_weights(net: &SegNet, meta: &WeightsMeta, path: &Path) -> crate::Result<()> {
    // Always the current format, whatever file the metadata was read from.
    let meta = WeightsMeta {
        format: WEIGHTS_FORMAT,
        ..meta.clone()
    };
    let json = serde_json::to_string(&meta)
        .map_err(|e| crate::Error::InvalidInput(format!("weights metadata: {e}")))?;
    let cannot_write = |e: &dyn std::fmt::Display| crate::Error::Decode {
        path: path.to_path_buf(),
        reason: format!("cannot write weights: {e}"),
    };
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(burn::store::BurnToPyTorchAdapter)
        .skip_enum_variants(true)
        .metadata(META_KEY, json);
    net.save_into(&mut store).map_err(|e| cannot_write(&e))?;
    let bytes = store.get_bytes().map_err(|e| cannot_write(&e))?;
    let bytes = canonical_header(&bytes).map_err(|e| cannot_write(&e))?;
    crate::durable::write_atomic(path, &bytes)
}

/// The same safetensors file with its header in one fixed order: every JSON object's keys
/// sorted (the metadata's too), padded with spaces to a multiple of 8 bytes as the format asks.
/// The safetensors writer takes the metadata as a hash map, whose order changes from one map to
/// the next, so two saves of the same tensors would otherwise differ byte for byte. The tensor
/// data (already sorted by type and name) is unchanged.
fn canonical_header(bytes: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let len = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
        .ok_or("no header length")?;
    let header = bytes.get(8..8 + len).ok_or("header past the end")?;
    // serde_json's map is a BTreeMap (no `preserve_order`), so writing it back sorts the keys.
    let header: serde_json::Value = serde_json::from_slice(header).map_err(|e| e.to_string())?;
    let mut text = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(bytes.len());
    out.extend((text.len() as u64).to_le_bytes());
    out.extend(text);
    out.extend(&bytes[8 + len..]);
    Ok(out)
}

/// Reads the metadata of a medseg weights file.
pub fn read_weights_meta(path: &Path) -> crate::Result<WeightsMeta> {
    meta_from_bytes(&read_file(path)?, path)
}

/// The medseg metadata in the header of safetensors `bytes` (read from `path`, which names
/// them in errors): [`read_weights_meta`] for bytes already in memory.
pub fn meta_from_bytes(bytes: &[u8], path: &Path) -> crate::Result<WeightsMeta> {
    let bad = |reason: String| decode_error(path, reason);
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let meta = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| bad("no medseg metadata: not a medseg weights file".into()))?;
    let meta: WeightsMeta =
        serde_json::from_str(meta).map_err(|e| bad(format!("bad medseg metadata: {e}")))?;
    if !(1..=WEIGHTS_FORMAT).contains(&meta.format) {
        return Err(bad(format!(
            "weights format {} is not supported (this medseg reads 1 to {WEIGHTS_FORMAT})",
            meta.format
        )));
    }
    Ok(meta)
}

/// Loads a medseg weights file: the network (on `device`) and its metadata.
pub fn load_weights(
    path: &Path,
    device: &burn::prelude::Device,
) -> crate::Result<(SegNet, WeightsMeta)> {
    load_weights_from_bytes(&read_file(path)?, path, device)
}

/// Loads medseg weights held in memory (e.g. embedded in a binary); `origin` names them in
/// errors.
pub fn load_weights_from_bytes(
    bytes: &[u8],
    origin: &Path,
    device: &burn::prelude::Device,
) -> crate::Result<(SegNet, WeightsMeta)> {
    let meta = meta_from_bytes(bytes, origin)?;
    let mut net = meta
        .model
        .init_with_outputs(device, meta.labels.out_channels())?;
    if meta.fused {
        // Build the deploy structure first; its values are then replaced by the file's.
        net = net.fuse();
    }
    apply_safetensors(&mut net, bytes, origin)?;
    Ok((net, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors file with no tensors and `medseg` metadata `meta`.
    fn header_only(meta: &serde_json::Value) -> Vec<u8> {
        let header = serde_json::json!({"__metadata__": {"medseg": meta.to_string()}});
        let text = header.to_string();
        let mut bytes = (text.len() as u64).to_le_bytes().to_vec();
        bytes.extend(text.as_bytes());
        bytes
    }

    fn meta_json(format: u32) -> serde_json::Value {
        let cfg = crate::models::ModelName::parse("msa-u2net-tiny")
            .unwrap()
            .config();
        serde_json::json!({
            "format": format,
            "name": "x",
            "model": cfg,
            "dataset": "drive",
            "fov": "auto",
            "preprocess": crate::data::preprocess::PreprocessConfig::vessels(),
            "tiling": crate::infer::tiling::TileConfig::default(),
            "threshold": 0.5,
            "epochs": 1,
        })
    }

    /// Saving the same network again gives the same bytes (the header's order is fixed), and
    /// the file still loads.
    #[test]
    fn weights_files_are_byte_identical_across_saves() {
        let device = burn::prelude::Device::flex();
        let cfg = crate::models::ModelName::parse("msa-u2net-tiny")
            .unwrap()
            .config();
        let net = cfg.init(&device).unwrap();
        let meta: WeightsMeta = serde_json::from_value(meta_json(2)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<Vec<u8>> = (0..4)
            .map(|i| {
                let path = dir.path().join(format!("w{i}.safetensors"));
                save_weights(&net, &meta, &path).unwrap();
                std::fs::read(&path).unwrap()
            })
            .collect();
        assert!(files.windows(2).all(|w| w[0] == w[1]));
        let (_, back) = load_weights(&dir.path().join("w0.safetensors"), &device).unwrap();
        assert_eq!(back.name, "x");
        let header_len = u64::from_le_bytes(files[0][..8].try_into().unwrap()) as usize;
        assert_eq!(header_len % 8, 0);
    }

    #[test]
    fn format_1_files_load_without_a_reference_and_unknown_formats_are_refused() {
        let p = Path::new("old.safetensors");
        let old = meta_from_bytes(&header_only(&meta_json(1)), p).unwrap();
        assert_eq!(old.scale_reference, None);
        let mut new = meta_json(2);
        new["scale_reference"] = serde_json::json!({"fov-diameter": 540.0});
        let new = meta_from_bytes(&header_only(&new), p).unwrap();
        assert_eq!(
            new.scale_reference,
            Some(crate::infer::scale::ScaleReference::FovDiameter(540.0))
        );
        let e = meta_from_bytes(&header_only(&meta_json(3)), p).unwrap_err();
        assert!(e.to_string().contains("format 3"), "{e}");
    }
}
