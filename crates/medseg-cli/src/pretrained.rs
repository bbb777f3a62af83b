//! The pretrained models, embedded in the binary at build time from the repository's
//! `weights/` folder, so `--pretrained NAME` works wherever the binary is copied or installed.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use medseg::infer::Predictor;

/// Name and safetensors bytes of each shipped model.
const MODELS: [(&str, &[u8]); 5] = [
    (
        "drive",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../weights/drive.safetensors"
        )),
    ),
    (
        "stare",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../weights/stare.safetensors"
        )),
    ),
    (
        "ph2",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../weights/ph2.safetensors"
        )),
    ),
    (
        "kvasir",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../weights/kvasir.safetensors"
        )),
    ),
    (
        "jsrt",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../weights/jsrt.safetensors"
        )),
    ),
];

/// The names `--pretrained` accepts.
pub fn names() -> impl Iterator<Item = &'static str> {
    MODELS.iter().map(|(n, _)| *n)
}

/// The embedded weights of `name`, or an error listing the valid names.
pub fn bytes(name: &str) -> anyhow::Result<&'static [u8]> {
    MODELS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "unknown pretrained model '{name}' (valid: {})",
                names().collect::<Vec<_>>().join(", ")
            )
        })
}

/// How a pretrained model is named in messages: `pretrained:NAME`.
pub fn origin(name: &str) -> PathBuf {
    Path::new("pretrained").join(name)
}

/// Loads the pretrained model `name` for inference on `device`.
pub fn load(name: &str, device: &Device, fuse: bool) -> anyhow::Result<Predictor> {
    Ok(Predictor::from_bytes(
        bytes(name)?,
        &origin(name),
        device,
        fuse,
    )?)
}
