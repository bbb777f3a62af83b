//! The gemm-based stride-1 conv2d on Flex against burn's own conv2d: output and the gradients
//! of input, weight and bias (to 1e-4 of the largest magnitude), over kernel shapes (1x1, 3x3,
//! 1x3, 3x1, 5x1), dilations 1-3, "same" and smaller paddings, odd sizes, batches of 1 and 3.
#![cfg(feature = "flex")]

mod common;

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};
use common::close;
use medseg::nn::fast_conv::conv2d_s1;

type Outcome = (Tensor<4>, Tensor<4>, Tensor<4>, Tensor<1>);

/// Output and gradients of `Σ conv(x) · weights` by our conv or burn's.
fn run(
    ours: bool,
    x0: &Tensor<4>,
    w0: &Tensor<4>,
    b0: &Tensor<1>,
    weights: &Tensor<4>,
    geometry: [usize; 4],
) -> Outcome {
    let [ph, pw, dh, dw] = geometry;
    let x = x0.clone().detach().require_grad();
    let w = w0.clone().detach().require_grad();
    let b = b0.clone().detach().require_grad();
    let y = if ours {
        conv2d_s1(x.clone(), w.clone(), b.clone(), geometry)
    } else {
        let options = ConvOptions::new([1, 1], [ph, pw], [dh, dw], 1);
        conv2d(x.clone(), w.clone(), Some(b.clone()), options)
    };
    let grads = (y.clone() * weights.clone()).sum().backward();
    (
        y.inner(),
        x.grad(&grads).expect("x gradient"),
        w.grad(&grads).expect("weight gradient"),
        b.grad(&grads).expect("bias gradient"),
    )
}

fn check(
    n: usize,
    i: usize,
    o: usize,
    [h, w]: [usize; 2],
    [kh, kw]: [usize; 2],
    [dh, dw]: [usize; 2],
    pad: [usize; 2],
) {
    let device = Device::flex().autodiff();
    let name = format!("n{n} i{i} o{o} {h}x{w} k{kh}x{kw} d{dh}x{dw} p{pad:?}");
    let geometry = [pad[0], pad[1], dh, dw];
    let x = Tensor::<4>::random([n, i, h, w], Distribution::Normal(0.0, 1.0), &device);
    let wt = Tensor::<4>::random([o, i, kh, kw], Distribution::Normal(0.0, 0.5), &device);
    let b = Tensor::<1>::random([o], Distribution::Normal(0.0, 0.5), &device);
    let [ho, wo] = [
        h + 2 * pad[0] - dh * (kh - 1),
        w + 2 * pad[1] - dw * (kw - 1),
    ];
    // Random weights, so that every output position carries a distinct gradient.
    let weights = Tensor::<4>::random([n, o, ho, wo], Distribution::Normal(0.0, 1.0), &device);
    let ours = run(true, &x, &wt, &b, &weights, geometry);
    let theirs = run(false, &x, &wt, &b, &weights, geometry);
    close(&format!("{name} output"), ours.0, theirs.0);
    close(&format!("{name} x grad"), ours.1, theirs.1);
    close(&format!("{name} weight grad"), ours.2, theirs.2);
    close(&format!("{name} bias grad"), ours.3, theirs.3);
}

#[test]
fn gemm_conv_matches_burn_values_and_gradients() {
    for (k, d) in [
        ([1, 1], [1, 1]),
        ([3, 3], [1, 1]),
        ([3, 3], [2, 2]),
        ([1, 3], [1, 1]),
        ([3, 1], [1, 3]),
        ([5, 1], [2, 1]),
    ] {
        let same = [d[0] * (k[0] - 1) / 2, d[1] * (k[1] - 1) / 2];
        for (n, i, o, hw) in [(1, 1, 2, [7, 5]), (3, 5, 4, [9, 11]), (2, 16, 8, [20, 17])] {
            check(n, i, o, hw, k, d, same);
        }
        // Less padding than "same": the output shrinks.
        check(2, 3, 2, [12, 10], k, d, [same[0] / 2, same[1] / 2]);
    }
    // A 1-pixel image with a 3x3 kernel (all taps but the centre read padding).
    check(2, 4, 3, [1, 1], [3, 3], [1, 1], [1, 1]);
}
