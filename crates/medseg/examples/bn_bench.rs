//! Times one training BatchNorm + ReLU (forward and backward) on Flex: the fused op against
//! burn's composed one. `cargo run --release -p medseg --example bn_bench -- [N C H W]`
use std::time::Instant;

use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};
use medseg::nn::fast_bn::bn_act_train;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let shape: [usize; 4] = if args.len() == 4 {
        [args[0], args[1], args[2], args[3]]
    } else {
        [8, 16, 64, 64]
    };
    let device = Device::flex().autodiff();
    let x0 = Tensor::<4>::random(shape, Distribution::Default, &device);
    let gamma = Tensor::<1>::ones([shape[1]], &device).require_grad();
    let beta = Tensor::<1>::zeros([shape[1]], &device).require_grad();
    for fused in [false, true, false, true] {
        let reps = 20;
        let t = Instant::now();
        for _ in 0..reps {
            let x = x0.clone().detach().require_grad();
            let y = if fused {
                bn_act_train(x.clone(), gamma.clone(), beta.clone(), 1e-5, true).0
            } else {
                relu(
                    burn::tensor::module::batch_norm_train(
                        x.clone(),
                        gamma.clone(),
                        beta.clone(),
                        1e-5,
                    )
                    .output,
                )
            };
            let grads = y.sum().backward();
            let _ = x.grad(&grads).unwrap().into_data();
        }
        println!(
            "{shape:?} {}: {:.2} ms per forward+backward",
            if fused { "fused" } else { "burn " },
            t.elapsed().as_secs_f64() * 1e3 / reps as f64
        );
    }
}
