//! The fused training BatchNorm (+ ReLU) on Flex against burn's own ops: outputs, batch
//! statistics, gradients of input, gamma and beta (to 1e-4), and the running statistics a
//! `ConvBn` keeps, over a grid of shapes (planes smaller and larger than the kernels' blocks,
//! odd sizes, one-pixel planes, a large mean).
#![cfg(feature = "flex")]

mod common;

use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};
use common::close;
use medseg::nn::ConvBnConfig;
use medseg::nn::fast_bn::{bn_act_train, supported};

fn as4(t: Tensor<1>) -> Tensor<4> {
    let n = t.dims()[0];
    t.reshape([1, n, 1, 1])
}

/// Runs fused and reference on the same input; compares output, statistics and gradients of a
/// weighted sum (random weights, so every gradient entry matters).
fn check(shape: [usize; 4], offset: f32, act: bool) {
    let device = Device::flex().autodiff();
    let name = format!("{shape:?} offset {offset} relu {act}");
    let c = shape[1];
    let x0 = Tensor::<4>::random(shape, Distribution::Normal(0.0, 2.0), &device).add_scalar(offset);
    let w = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let gamma0 = Tensor::<1>::random([c], Distribution::Uniform(0.5, 1.5), &device);
    let beta0 = Tensor::<1>::random([c], Distribution::Uniform(-0.5, 0.5), &device);

    let run = |fused: bool| {
        let x = x0.clone().detach().require_grad();
        let gamma = gamma0.clone().detach().require_grad();
        let beta = beta0.clone().detach().require_grad();
        let (y, mean, var) = if fused {
            bn_act_train(x.clone(), gamma.clone(), beta.clone(), 1e-5, act)
        } else {
            let r = burn::tensor::module::batch_norm_train(
                x.clone(),
                gamma.clone(),
                beta.clone(),
                1e-5,
            );
            let y = if act { relu(r.output) } else { r.output };
            (y, r.mean, r.variance)
        };
        let grads = (y.clone() * w.clone()).sum().backward();
        let gx = x.grad(&grads).expect("x gradient");
        let gg = gamma.grad(&grads).expect("gamma gradient");
        let gb = beta.grad(&grads).expect("beta gradient");
        (
            y.inner(),
            as4(mean.inner()),
            as4(var.inner()),
            gx,
            as4(gg),
            as4(gb),
        )
    };
    let f = run(true);
    let r = run(false);
    close(&format!("{name} output"), f.0, r.0);
    close(&format!("{name} mean"), f.1, r.1);
    close(&format!("{name} variance"), f.2, r.2);
    close(&format!("{name} x grad"), f.3, r.3);
    close(&format!("{name} gamma grad"), f.4, r.4);
    close(&format!("{name} beta grad"), f.5, r.5);
}

#[test]
fn fused_batch_norm_matches_burn_over_a_grid_of_shapes() {
    assert!(supported(&Device::flex()));
    assert!(supported(&Device::flex().autodiff()));
    for shape in [
        [1, 1, 1, 2],
        [2, 3, 1, 1],
        [2, 3, 5, 7],
        [3, 5, 33, 31],
        [4, 16, 32, 32],
        [2, 4, 64, 48],
    ] {
        for act in [false, true] {
            check(shape, 0.0, act);
        }
    }
    // A mean far from zero must not cancel the variance.
    check([2, 4, 40, 40], 50.0, true);
}

#[test]
fn conv_bn_training_updates_running_statistics_like_burn() {
    let device = Device::flex().autodiff();
    let layer = ConvBnConfig::new(2, 3).init(&device);
    let x = Tensor::<4>::random([2, 2, 9, 11], Distribution::Default, &device);
    let bn = layer.bn.as_ref().expect("BatchNorm");
    let (m, v0, mean0) = (bn.momentum, bn.running_var.value(), bn.running_mean.value());
    let conv = layer.conv.forward(x.clone());
    let reference =
        burn::tensor::module::batch_norm_train(conv, bn.gamma.val(), bn.beta.val(), bn.epsilon);
    let y = layer.forward(x);
    close("ConvBn output", y.inner(), relu(reference.output).inner());
    let bn = layer.bn.as_ref().unwrap();
    let expect_mean = mean0.inner().mul_scalar(1.0 - m) + reference.mean.inner().mul_scalar(m);
    let expect_var = v0.inner().mul_scalar(1.0 - m) + reference.variance.inner().mul_scalar(m);
    close(
        "running mean",
        as4(bn.running_mean.value_sync().inner()),
        as4(expect_mean),
    );
    close(
        "running var",
        as4(bn.running_var.value_sync().inner()),
        as4(expect_var),
    );
    // Parameters still receive gradients through the fused path.
    let layer = layer.clone();
    let x = Tensor::<4>::random([2, 2, 9, 11], Distribution::Default, &device);
    let grads = layer.forward(x).sum().backward();
    let bn = layer.bn.as_ref().unwrap();
    assert!(bn.gamma.grad(&grads).is_some() && bn.beta.grad(&grads).is_some());
    assert!(layer.conv.weight.grad(&grads).is_some());
    let _ = layer.num_params();
}
