//! `medseg score`'s inputs: a probability map, a truth mask and an optional FOV mask (any
//! format), paired by case ID and scored. The first bytes say how to split the rest.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use medseg::data::case_id;
use medseg::data::io::{read_mask_bytes, read_plane_bytes};
use medseg::metrics::MetricAccumulator;

const MAX_PIXELS: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let name_len = usize::from(data[0] % 32);
    let pred_len = usize::from(u16::from_le_bytes([data[1], data[2]]));
    let truth_len = usize::from(u16::from_le_bytes([data[3], data[4]]));
    let rest = &data[5..];
    let (name, rest) = rest.split_at(name_len.min(rest.len()));
    let (pred, rest) = rest.split_at(pred_len.min(rest.len()));
    let (truth, fov) = rest.split_at(truth_len.min(rest.len()));
    let id = case_id(&String::from_utf8_lossy(name));
    let origin = Path::new("fuzz");
    let (Ok(pred), Ok(truth)) = (
        read_plane_bytes(pred, origin, MAX_PIXELS),
        read_mask_bytes(truth, origin, MAX_PIXELS),
    ) else {
        return;
    };
    let fov = read_mask_bytes(fov, origin, MAX_PIXELS).ok();
    let Ok(mut acc) = MetricAccumulator::new(0.5) else {
        return;
    };
    // Mismatched sizes are an error, not a panic.
    if acc
        .add_image(id, &pred.data, &truth.data, fov.as_ref().map(|f| f.data.as_slice()))
        .is_ok()
    {
        let report = acc.finish().expect("one scored image makes a report");
        assert!(report.pooled.f1.is_nan() || (0.0..=1.0).contains(&report.pooled.f1));
    }
});
