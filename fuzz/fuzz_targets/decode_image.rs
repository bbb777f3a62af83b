//! Image decoding (every format, from magic bytes) plus mask binarisation and the RGB planes
//! predict reads: any bytes give an image or a typed error, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use medseg::data::io::{read_mask_bytes, read_plane_bytes, read_rgb_bytes};

/// Far below the real limit (`MAX_DECODE_PIXELS`), so that a valid large header does not
/// spend the run's memory budget; the limit check itself is the same code.
const MAX_PIXELS: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let origin = Path::new("fuzz");
    if let Ok(rgb) = read_rgb_bytes(data, origin, MAX_PIXELS) {
        let n = rgb.width as usize * rgb.height as usize;
        assert!(rgb.planes.iter().all(|p| p.len() == n));
    }
    if let Ok(mask) = read_mask_bytes(data, origin, MAX_PIXELS) {
        assert_eq!(mask.data.len(), mask.width as usize * mask.height as usize);
    }
    if let Ok(plane) = read_plane_bytes(data, origin, MAX_PIXELS) {
        assert!(plane.data.iter().all(|v| (0.0..=1.0).contains(v)));
    }
});
