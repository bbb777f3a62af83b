//! Shared by the tests: [`close`] for the kernel tests (`fast_conv`, `fast_bn`, `fast_resize`:
//! our CPU kernels against burn's own ops), [`Perturb`] for the deploy-form tests (`fuse`, `onnx`),
//! [`save_grey`] for the fixture trees of the multi-structure tests.

use burn::tensor::Tensor;

/// Asserts `ours` equals `reference` elementwise to 1e-4 of the reference's largest magnitude
/// (or of 1, if that is smaller).
#[allow(dead_code)] // not every test that includes this module compares kernels
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

/// Moves every 1-D tensor (BatchNorm gamma, beta, running mean and variance; conv biases) away
/// from its initial value, so that folding the BatchNorm is not a no-op (a fresh BatchNorm is the
/// identity). Running variances stay positive: `v * U(0.5, 1.5) + U(-0.2, 0.2)` with `v = 1`.
#[allow(dead_code)] // not every test that includes this module perturbs networks
pub struct Perturb;

impl burn::module::ModuleMapper for Perturb {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        use burn::tensor::Distribution;
        if D != 1 {
            return param;
        }
        let (id, t, mapper) = param.consume();
        let (shape, device) = (t.shape(), t.device());
        let scale = Tensor::random(shape.clone(), Distribution::Uniform(0.5, 1.5), &device);
        let shift = Tensor::random(shape, Distribution::Uniform(-0.2, 0.2), &device);
        burn::module::Param::from_mapped_value(id, t * scale + shift, mapper)
    }
}

/// Saves a grey fixture image, creating its folder; `.gif` through RGB (the GIF encoder takes
/// RGB(A); the file decodes back to the same grey levels).
#[allow(dead_code)] // not every test that includes this module writes fixtures
pub fn save_grey(img: image::GrayImage, path: &std::path::Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::DynamicImage::ImageLuma8(img);
    if path.extension().is_some_and(|e| e == "gif") {
        image::DynamicImage::ImageRgb8(img.to_rgb8())
            .save(path)
            .unwrap();
    } else {
        img.save(path).unwrap();
    }
}
