//! Re-parameterised (deploy) networks compute the same logits as the trained form.

mod common;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use common::Perturb;
use medseg::models::{ModelConfig, ModelName, SegNet};
use medseg::nn::{ConvUnitKind, Form};

fn max_abs(t: Tensor<4>) -> f32 {
    t.abs().max().into_scalar()
}

/// Asserts that `fuse()` keeps every output map within 1e-4 of the unfused network's (relative
/// to the logits' magnitude when it exceeds 1), and that it removes work when it should.
fn check(name: &str, config: ModelConfig, size: [usize; 2]) {
    check_k(name, config, size, 1)
}

/// [`check`] for a network with `k` output channels.
fn check_k(name: &str, config: ModelConfig, size: [usize; 2], k: usize) {
    let device = Device::flex();
    device.seed(7);
    let net: SegNet = config
        .init_with_outputs(&device, k)
        .unwrap()
        .map(&mut Perturb)
        .valid();
    let x = Tensor::<4>::random(
        [2, config.in_channels(), size[0], size[1]],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let before = net.forward(x.clone());
    assert_eq!(before.fused.dims()[1], k, "{name}: K");
    let train_macs = net.macs(size, Form::Train);
    let deploy_macs = net.macs(size, Form::Deploy);
    let fused = net.fuse();
    // The fused network has the deploy form's cost.
    assert_eq!(fused.macs(size, Form::Train), deploy_macs, "{name}");
    assert!(deploy_macs <= train_macs, "{name}");
    let after = fused.forward(x);
    let maps = |o: medseg::models::SegOutput| [vec![o.fused], o.sides].concat();
    for (k, (a, b)) in maps(before).into_iter().zip(maps(after)).enumerate() {
        let scale = max_abs(a.clone()).max(1.0);
        let diff = max_abs(a - b);
        assert!(
            diff <= 1e-4 * scale,
            "{name}: map {k} differs by {diff} (logit scale {scale})"
        );
    }
}

#[test]
fn fused_presets_match_unfused() {
    for name in ModelName::ALL {
        // U2-Net's seven levels need at least 64 px; the others run at 32 px to stay fast.
        let size = if name == ModelName::U2net {
            [64, 64]
        } else {
            [32, 48]
        };
        check(name.as_str(), name.config(), size);
    }
}

/// `export --fuse` of a K-channel model: the deploy form keeps all K maps of every output.
#[test]
fn fused_k_channel_models_match_unfused() {
    for name in [ModelName::MsaU2netTiny, ModelName::UnetPpDs] {
        check_k(name.as_str(), name.config(), [32, 48], 3);
    }
}

#[test]
fn fused_variants_match_unfused() {
    // Three MSAC scales, and factorised units (two folded convs in series, not merged).
    let mut msa = ModelName::MsaU2netTiny.config();
    let ModelConfig::U2net(c) = &mut msa else {
        panic!("msa-u2net-tiny is a U2-Net-family config")
    };
    c.unit = ConvUnitKind::Msac {
        dilations: vec![1, 2, 3],
    };
    check("msa-u2net-tiny d123", msa, [40, 40]);

    let mut fact = ModelName::UnetPpDs.config();
    let ModelConfig::Unet(c) = &mut fact else {
        panic!("unet-pp-ds is a U-Net config")
    };
    c.widths = vec![4, 8, 8];
    c.unit = ConvUnitKind::Factorised {
        kernels: vec![3, 5],
    };
    check("unet-pp-ds factorised", fact, [24, 24]);
}

#[test]
fn fused_msac_unit_has_one_conv_per_dilation_and_no_batchnorm() {
    let device = Device::flex();
    let unit = medseg::nn::ConvUnitConfig::new(3, 5)
        .with_kind(ConvUnitKind::Msac {
            dilations: vec![1, 2],
        })
        .init(&device)
        .fuse();
    assert_eq!(unit.branches.len(), 2);
    for b in &unit.branches {
        assert_eq!(b.convs.len(), 1);
        assert!(b.convs[0].bn.is_none());
        assert_eq!(b.convs[0].conv.weight.dims(), [5, 3, 3, 3]);
    }
}
