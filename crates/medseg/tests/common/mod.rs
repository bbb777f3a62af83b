//! Shared by the kernel tests (`fast_conv`, `fast_bn`, `fast_resize`): our CPU kernels against
//! burn's own ops.

use burn::tensor::Tensor;

/// Asserts `ours` equals `reference` elementwise to 1e-4 of the reference's largest magnitude
/// (or of 1, if that is smaller).
pub fn close<const D: usize>(name: &str, ours: Tensor<D>, reference: Tensor<D>) {
    const TOL: f32 = 1e-4;
    assert_eq!(ours.dims(), reference.dims(), "{name}: shapes");
    let a: Vec<f32> = ours.into_data().try_to_vec::<f32>().unwrap();
    let b: Vec<f32> = reference.into_data().try_to_vec::<f32>().unwrap();
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= TOL * scale,
            "{name}[{i}]: ours {x} vs burn {y} (scale {scale})"
        );
    }
}
