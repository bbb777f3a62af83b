//! Model zoo: parameter counts of the references, output shapes, gradients, budgets.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use medseg::models::{ModelConfig, ModelName, SegNet};
use medseg::nn::Form;

fn build(name: ModelName, device: &Device) -> SegNet {
    name.config().init(device).expect("presets are valid")
}

/// Trainable-parameter counts of the PyTorch references (BatchNorm running stats excluded):
/// U2-Net and U2-NetP from xuebinqin/U-2-Net `model/u2net.py`; UNet++ and U-Net from the common
/// `NestedUNet`/`UNet` definitions (VGG blocks, widths 32..512, 3 in, 1 out).
#[test]
fn reference_parameter_counts() {
    let device = Device::flex();
    for (name, expected) in [
        (ModelName::U2net, 44_009_869),
        (ModelName::U2netp, 1_131_181),
        (ModelName::UnetPp, 9_163_329),
        (ModelName::Unet, 7_852_545),
        // four 1x1 heads (32 -> 1) instead of one: 3 more 33-parameter convs
        (ModelName::UnetPpDs, 9_163_329 + 3 * 33),
    ] {
        assert_eq!(
            build(name, &device).trainable_params(),
            expected,
            "{}",
            name.as_str()
        );
    }
}

/// Our nested presets' counts, as `medseg info` reports them: `nested-u2net` on RGB, and
/// `nested-u2net-wide` on one (green) channel, the shipped DRIVE network. `msa-u2net-plain`, the
/// former name of `nested-u2net`, still parses.
#[test]
fn nested_preset_parameter_counts() {
    let device = Device::flex();
    assert_eq!(
        build(ModelName::NestedU2net, &device).trainable_params(),
        222_985
    );
    let wide = ModelName::NestedU2netWide.config().with_in_channels(1);
    assert_eq!(wide.init(&device).unwrap().trainable_params(), 467_389);
    assert_eq!(
        ModelName::parse("msa-u2net-plain").unwrap(),
        ModelName::NestedU2net
    );
    let name: ModelName = serde_json::from_str("\"msa-u2net-plain\"").unwrap();
    assert_eq!(name, ModelName::NestedU2net);
}

#[test]
fn msa_u2net_within_budget() {
    let device = Device::flex();
    let net = build(ModelName::MsaU2net, &device);
    let params = net.trainable_params();
    let gflops = 2.0 * net.macs([256, 256], Form::Deploy) as f64 / 1e9;
    assert!(params <= 1_000_000, "msa-u2net has {params} parameters");
    assert!(gflops <= 4.0, "msa-u2net needs {gflops} GFLOPs at 256x256");
    let tiny = build(ModelName::MsaU2netTiny, &device).trainable_params();
    assert!(tiny <= 150_000, "msa-u2net-tiny has {tiny} parameters");
}

/// U2-NetP is "about 25 GFLOPs" at 256x256 (thop-style conv-only count, 2 x MACs).
#[test]
fn u2netp_flops_match_the_usual_figure() {
    let net = build(ModelName::U2netp, &Device::flex());
    assert_eq!(net.macs([256, 256], Form::Train), 12_643_897_344);
    assert_eq!(net.macs([256, 256], Form::Deploy), 12_643_897_344);
}

#[test]
fn output_shapes_match_input_including_odd_sizes() {
    let device = Device::flex();
    for name in ModelName::ALL {
        if name == ModelName::U2net {
            continue; // covered by the ignored heavy test
        }
        let net = build(name, &device);
        for [h, w] in [[64, 64], [61, 47]] {
            let out = net.forward(Tensor::<4>::random(
                [2, 3, h, w],
                burn::tensor::Distribution::Default,
                &device,
            ));
            assert_eq!(out.fused.dims(), [2, 1, h, w], "{} fused", name.as_str());
            for side in &out.sides {
                assert_eq!(side.dims(), [2, 1, h, w], "{} side", name.as_str());
            }
        }
    }
}

/// Every preset takes K output channels: fused and side outputs are `[B, K, H, W]`, and the
/// binary build (K = 1) is the plain `init`, parameter for parameter.
#[test]
fn every_preset_builds_with_k_output_channels() {
    let device = Device::flex();
    for name in ModelName::ALL {
        if name == ModelName::U2net {
            continue; // 44 M parameters: too slow for a unit test
        }
        let cfg = name.config();
        let net = cfg.init_with_outputs(&device, 3).unwrap();
        assert_eq!(net.out_channels(), 3, "{}", name.as_str());
        let out = net.forward(Tensor::<4>::random(
            [1, 3, 33, 21],
            burn::tensor::Distribution::Default,
            &device,
        ));
        assert_eq!(out.fused.dims(), [1, 3, 33, 21], "{} fused", name.as_str());
        assert_eq!(
            out.sides.len(),
            cfg.side_outputs(),
            "{} side count",
            name.as_str()
        );
        for side in &out.sides {
            assert_eq!(side.dims(), [1, 3, 33, 21], "{} side", name.as_str());
        }
        let binary = cfg.init(&device).unwrap();
        assert_eq!(binary.out_channels(), 1);
        assert_eq!(
            cfg.init_with_outputs(&device, 1)
                .unwrap()
                .trainable_params(),
            binary.trainable_params(),
            "{}",
            name.as_str()
        );
    }
    let err = ModelName::Unet
        .config()
        .init_with_outputs(&device, 0)
        .unwrap_err();
    assert!(err.to_string().contains("output channel"), "{err}");
}

/// K output channels add exactly the head and fusion weights: U-Net's 1x1 head grows from
/// `32 + 1` to `32 K + K` parameters; U2-NetP's six 3x3 side heads from `64*9 + 1` to
/// `K (64*9 + 1)` each and its fuse from `6 + 1` to `6K*K + K`.
#[test]
fn k_channel_parameter_counts() {
    let device = Device::flex();
    let k = 5;
    let unet = ModelName::Unet
        .config()
        .init_with_outputs(&device, k)
        .unwrap();
    assert_eq!(unet.trainable_params(), 7_852_545 - 33 + 33 * k);
    let u2netp = ModelName::U2netp
        .config()
        .init_with_outputs(&device, k)
        .unwrap();
    let sides = 6 * (64 * 9 + 1);
    let fuse = 6 + 1;
    assert_eq!(
        u2netp.trainable_params(),
        1_131_181 - sides - fuse + k * sides + (6 * k * k + k)
    );
}

struct GradCheck<'a> {
    grads: &'a burn::tensor::Gradients,
    missing: usize,
    non_finite: usize,
    total: usize,
    path: Vec<String>,
}

impl ModuleVisitor for GradCheck<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if matches!(
            self.path.last().map(String::as_str),
            Some("running_mean" | "running_var")
        ) {
            return;
        }
        self.total += 1;
        match param.val().grad(self.grads) {
            None => self.missing += 1,
            Some(g) => {
                let v = g.into_data().try_to_vec::<f32>().expect("f32 grads");
                if v.iter().any(|x| !x.is_finite()) {
                    self.non_finite += 1;
                }
            }
        }
    }
}

fn check_gradients(name: ModelName, size: [usize; 2]) {
    let device = Device::flex().autodiff();
    let net = build(name, &device);
    let x = Tensor::<4>::random(
        [2, 3, size[0], size[1]],
        burn::tensor::Distribution::Default,
        &device,
    );
    let out = net.forward(x);
    let loss = out
        .sides
        .into_iter()
        .fold(out.fused.powi_scalar(2).mean(), |acc, s| {
            acc + s.powi_scalar(2).mean()
        });
    let grads = loss.backward();
    let mut check = GradCheck {
        grads: &grads,
        missing: 0,
        non_finite: 0,
        total: 0,
        path: vec![],
    };
    net.visit(&mut check);
    assert!(check.total > 0);
    assert_eq!(
        check.missing,
        0,
        "{}: {} of {} params without gradient",
        name.as_str(),
        check.missing,
        check.total
    );
    assert_eq!(
        check.non_finite,
        0,
        "{}: non-finite gradients",
        name.as_str()
    );
}

#[test]
fn gradients_are_finite_for_every_parameter() {
    for name in [
        ModelName::MsaU2net,
        ModelName::MsaU2netTiny,
        ModelName::U2netp,
        ModelName::Unet,
        ModelName::UnetPp,
        ModelName::UnetPpDs,
    ] {
        check_gradients(name, [32, 32]);
    }
}

#[test]
#[ignore = "U2-Net is heavy (44 M parameters): run with --ignored"]
fn u2net_full_shapes_and_gradients() {
    let device = Device::flex();
    let net = build(ModelName::U2net, &device);
    let out = net.forward(Tensor::<4>::random(
        [1, 3, 61, 47],
        burn::tensor::Distribution::Default,
        &device,
    ));
    assert_eq!(out.fused.dims(), [1, 1, 61, 47]);
    assert_eq!(out.sides.len(), 6);
    check_gradients(ModelName::U2net, [64, 64]);
}

#[test]
fn configs_round_trip_through_json() {
    for name in ModelName::ALL {
        let cfg = name.config();
        let json = serde_json::to_string(&cfg).unwrap();
        let back: ModelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }
}

#[test]
fn invalid_configs_name_the_field() {
    let mut cfg = medseg::models::U2NetConfig::msa();
    cfg.heads = vec![[3, 3]];
    let err = ModelConfig::U2net(cfg).validate().unwrap_err().to_string();
    assert!(err.contains("model.heads"), "{err}");
    assert!(
        ModelName::parse("unet3")
            .unwrap_err()
            .to_string()
            .contains("msa-u2net")
    );
}

/// Test-time mirroring makes tiled prediction equivariant to flips: the prediction of a
/// left-right flipped image is the flipped prediction (one tile covers the image, so the tile
/// grid is symmetric too). Without mirroring a trained-from-scratch network is not.
#[test]
fn mirrored_prediction_is_flip_equivariant() {
    use medseg::data::Planes;
    use medseg::infer::predict_planes;
    use medseg::infer::tiling::{Blend, TileConfig};
    let device = Device::flex();
    let net = build(ModelName::MsaU2netTiny, &device).valid();
    let (w, h, c) = (24usize, 16usize, 3usize);
    let data: Vec<f32> = (0..c * w * h)
        .map(|i| (((i * 7919) % 1000) as f32 / 500.0 - 1.0) + (i % w) as f32 * 0.05)
        .collect();
    // Left-right flip of every channel plane.
    let flip = |v: &[f32]| -> Vec<f32> {
        (0..v.len())
            .map(|i| v[i - i % w + (w - 1 - i % w)])
            .collect()
    };
    let flipped = flip(&data);
    let image = |data: Vec<f32>| Planes {
        channels: c,
        width: w as u32,
        height: h as u32,
        data,
    };
    let worst = |mirror: bool| {
        let tiling = TileConfig {
            tile: [w as u32, h as u32],
            overlap: 0.0,
            batch: 1,
            blend: Blend::Constant,
            mirror,
        };
        let a = predict_planes(&net, &image(data.clone()), &tiling, &device).unwrap();
        let b = predict_planes(&net, &image(flipped.clone()), &tiling, &device).unwrap();
        a.iter()
            .zip(flip(&b))
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    let with = worst(true);
    let without = worst(false);
    assert!(
        with < 1e-5,
        "mirrored predictions differ by {with} under a flip"
    );
    assert!(
        without > 1e-4,
        "the unmirrored net is already equivariant ({without})"
    );
}
