//! Our bilinear resize and 2x2 max-pooling on Flex against Flex's own `interpolate` and
//! `max_pool2d`: values and input gradients (to 1e-4) over a grid of shapes: up by 2, up and
//! down by odd factors, one-pixel sides, both `align_corners`, floor and ceil pooling on even and
//! odd sides, batches and channel counts above and below the thread count.
#![cfg(feature = "flex")]

mod common;

use burn::tensor::module::{interpolate, max_pool2d};
use burn::tensor::ops::{InterpolateMode, InterpolateOptions, MaxPoolOptions};
use burn::tensor::{Device, Distribution, Tensor};
use common::close;
use medseg::nn::fast_resize::{bilinear, max_pool2x2};

/// Runs `ours` and `reference` on the same input; compares outputs and the input gradients of a
/// randomly weighted sum (so that every gradient entry matters).
fn check(
    what: &str,
    shape: [usize; 4],
    ours: impl Fn(Tensor<4>) -> Tensor<4>,
    reference: impl Fn(Tensor<4>) -> Tensor<4>,
) {
    let device = Device::flex().autodiff();
    let x0 = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let run = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
        let x = x0.clone().detach().require_grad();
        let y = f(x.clone());
        (x, y)
    };
    let (xo, yo) = run(&ours);
    let (xr, yr) = run(&reference);
    let weight = Tensor::<4>::random(yr.dims(), Distribution::Normal(0.0, 1.0), &device);
    let go = (yo.clone() * weight.clone()).sum().backward();
    let gr = (yr.clone() * weight).sum().backward();
    close(&format!("{what} values"), yo, yr);
    close(
        &format!("{what} gradients"),
        xo.grad(&go).unwrap(),
        xr.grad(&gr).unwrap(),
    );
}

#[test]
fn bilinear_matches_flex_interpolate() {
    let cases = [
        ([2, 3, 4, 6], [8, 12]),
        ([1, 5, 5, 3], [11, 9]),
        ([3, 2, 9, 8], [4, 5]),
        ([2, 1, 1, 4], [3, 7]),
        ([1, 1, 16, 17], [33, 35]),
        ([4, 8, 32, 31], [64, 62]),
        ([1, 2, 3, 3], [3, 3]),
    ];
    for (shape, size) in cases {
        for align in [false, true] {
            check(
                &format!("bilinear {shape:?} -> {size:?} align {align}"),
                shape,
                |x| bilinear(x, size, align),
                |x| {
                    let mut o = InterpolateOptions::new(InterpolateMode::Bilinear);
                    o.align_corners = align;
                    o.output_size = Some(size);
                    interpolate(x, o)
                },
            );
        }
    }
}

#[test]
fn max_pool_matches_flex_max_pool2d() {
    let shapes = [
        [2, 3, 8, 8],
        [1, 4, 7, 5],
        [3, 1, 1, 1],
        [2, 2, 1, 6],
        [1, 16, 33, 64],
        [5, 2, 2, 3],
    ];
    for shape in shapes {
        for ceil in [false, true] {
            if !ceil && (shape[2] < 2 || shape[3] < 2) {
                continue; // floor mode has no output for a side of 1
            }
            check(
                &format!("max_pool {shape:?} ceil {ceil}"),
                shape,
                |x| max_pool2x2(x, ceil),
                |x| {
                    let mut o = MaxPoolOptions::new([2, 2]);
                    o.ceil_mode = ceil;
                    max_pool2d(x, o)
                },
            );
        }
    }
}

#[test]
fn max_pool_ties_go_to_the_first_maximum() {
    // A window of equal values sends its whole gradient to its top-left element (PyTorch's rule).
    let device = Device::flex().autodiff();
    let x = Tensor::<4>::ones([1, 1, 2, 2], &device).require_grad();
    let grads = max_pool2x2(x.clone(), false).sum().backward();
    let g: Vec<f32> = x.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
    assert_eq!(g, vec![1.0, 0.0, 0.0, 0.0]);
}

#[test]
fn inference_tensors_take_the_same_path() {
    // Without autodiff the ops return the same values.
    let device = Device::flex();
    let x = Tensor::<4>::random([2, 3, 9, 7], Distribution::Default, &device);
    let up = bilinear(x.clone(), [18, 14], false);
    let mut o = InterpolateOptions::new(InterpolateMode::Bilinear);
    o.align_corners = false;
    o.output_size = Some([18, 14]);
    close("bilinear inference", up, interpolate(x.clone(), o));
    let mut p = MaxPoolOptions::new([2, 2]);
    p.ceil_mode = true;
    close(
        "pool inference",
        max_pool2x2(x.clone(), true),
        max_pool2d(x, p),
    );
}
