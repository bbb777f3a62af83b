//! The taps of 1-D linear interpolation, shared by the separable resize ([`super::resize`]) and
//! the Flex bilinear kernel ([`super::fast_resize`]).

/// One output sample of 1-D linear interpolation: its two source indices and their weights.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tap {
    pub i0: usize,
    pub i1: usize,
    pub w0: f32,
    pub w1: f32,
}

/// The taps of 1-D linear interpolation from `input` to `output` samples, by PyTorch's rule for
/// `mode='bilinear'` with an explicit output size: half-pixel source coordinates clamped at 0
/// when `align_corners` is false, corner to corner when true.
pub(crate) fn linear_taps(input: usize, output: usize, align_corners: bool) -> Vec<Tap> {
    (0..output)
        .map(|o| {
            let src = if align_corners {
                if output > 1 {
                    o as f64 * (input - 1) as f64 / (output - 1) as f64
                } else {
                    0.0
                }
            } else {
                ((o as f64 + 0.5) * input as f64 / output as f64 - 0.5).max(0.0)
            };
            let i0 = (src.floor() as usize).min(input - 1);
            let i1 = (i0 + 1).min(input - 1);
            let frac = (src - i0 as f64).clamp(0.0, 1.0) as f32;
            Tap {
                i0,
                i1,
                w0: 1.0 - frac,
                w1: frac,
            }
        })
        .collect()
}
