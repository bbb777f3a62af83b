//! Loading weights saved by PyTorch (the reference definitions in `tools/reference/`).

use std::path::Path;

use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};

use super::SegNet;

/// Loads a PyTorch `state_dict` saved as safetensors (module names as in
/// `tools/reference/medseg_ref.py`, `num_batches_tracked` absent or ignored) into `net`.
///
/// Every parameter of `net` must be present with the right shape; extra tensors are an error too.
pub fn load_pytorch_safetensors(net: &mut SegNet, path: &Path) -> crate::Result<()> {
    if !path.is_file() {
        return Err(crate::Error::MissingFile {
            path: path.to_path_buf(),
        });
    }
    let mut store = SafetensorsStore::from_file(path)
        .with_from_adapter(PyTorchToBurnAdapter)
        .skip_enum_variants(true)
        .allow_partial(true);
    let result = net
        .load_from(&mut store)
        .map_err(|e| crate::Error::Decode {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let unused: Vec<&String> = result
        .unused
        .iter()
        .filter(|k| !k.ends_with("num_batches_tracked"))
        .collect();
    if !result.missing.is_empty() || !unused.is_empty() || !result.errors.is_empty() {
        return Err(crate::Error::Decode {
            path: path.to_path_buf(),
            reason: format!(
                "weights do not match the model: missing {:?}, unexpected {:?}, errors {:?}",
                result.missing.iter().map(|(p, _)| p).collect::<Vec<_>>(),
                unused,
                result.errors
            ),
        });
    }
    Ok(())
}
