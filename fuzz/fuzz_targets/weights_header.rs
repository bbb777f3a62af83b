//! Weights files: the safetensors header and medseg's metadata in it. Any bytes give metadata
//! or a typed error, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use medseg::models::weights::meta_from_bytes;

fuzz_target!(|data: &[u8]| {
    let _ = meta_from_bytes(data, Path::new("fuzz.safetensors"));
    // The tensor table that loading walks after the metadata.
    if let Ok(file) = safetensors::SafeTensors::deserialize(data) {
        for (_, view) in file.tensors() {
            let _ = (view.dtype(), view.shape(), view.data().len());
        }
    }
});
