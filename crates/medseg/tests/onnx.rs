//! ONNX export, checked by a runtime we did not write (tract): every preset's deploy network,
//! with its BatchNorms perturbed so that folding them matters, at input sizes that are not
//! multiples of 16, gives medseg's logits within 1e-4. The same files are checked against ONNX
//! Runtime by `scripts/onnx-check.sh`.

mod common;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use common::Perturb;
use medseg::models::weights::WeightsMeta;
use medseg::models::{ModelConfig, ModelName, SegNet};
use medseg::onnx::proto::ModelProto;
use medseg::onnx::{OnnxOptions, to_onnx};
use prost::Message;

/// Runs an ONNX file in tract on one `[n, c, h, w]` input; returns every output, flattened.
fn tract_run(bytes: &[u8], shape: [usize; 4], input: &[f32]) -> Vec<Vec<f32>> {
    use tract_onnx::prelude::*;
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .expect("tract reads the file")
        .with_input_fact(0, f32::fact(shape).into())
        .expect("input fact")
        .into_optimized()
        .expect("tract optimises the graph")
        .into_runnable()
        .expect("runnable");
    let x = Tensor::from_shape(&shape, input).expect("input tensor");
    let outputs = model
        .run(tvec!(x.into_tvalue()))
        .expect("tract runs the graph");
    outputs
        .iter()
        .map(|o| {
            o.to_plain_array_view::<f32>()
                .expect("f32 output")
                .iter()
                .copied()
                .collect()
        })
        .collect()
}

fn meta(config: ModelConfig) -> WeightsMeta {
    WeightsMeta {
        format: medseg::models::weights::WEIGHTS_FORMAT,
        name: "test".into(),
        model: config,
        dataset: None,
        fov: medseg::data::fov::FovSource::Full,
        preprocess: medseg::data::preprocess::PreprocessConfig::vessels(),
        tiling: medseg::infer::tiling::TileConfig::default(),
        threshold: 0.5,
        epochs: 1,
        labels: Default::default(),
        fused: true,
        scale_reference: None,
    }
}

/// A perturbed, fused network of `config` and an input of `shape`.
fn network(config: &ModelConfig, seed: u64) -> SegNet {
    let device = Device::flex();
    device.seed(seed);
    config
        .init(&device)
        .unwrap()
        .map(&mut Perturb)
        .valid()
        .fuse()
}

fn assert_close(name: &str, ours: &[f32], theirs: &[f32]) {
    assert_eq!(ours.len(), theirs.len(), "{name}: output length");
    let scale = ours.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let worst = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-4 * scale,
        "{name}: tract differs from medseg by {worst} (logit scale {scale})"
    );
}

/// Exports `config` and compares tract's logits with medseg's at each of `sizes`.
fn check(name: &str, config: ModelConfig, sizes: &[[usize; 3]]) {
    let net = network(&config, 11);
    let bytes = to_onnx(&net, &meta(config.clone()), OnnxOptions::default()).unwrap();
    let device = Device::flex();
    for &[n, h, w] in sizes {
        let shape = [n, config.in_channels(), h, w];
        let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let input: Vec<f32> = x.to_data().try_to_vec().unwrap();
        let ours: Vec<f32> = net.forward(x).fused.into_data().try_to_vec().unwrap();
        let theirs = tract_run(&bytes, shape, &input);
        assert_close(&format!("{name} {n}x{h}x{w}"), &ours, &theirs[0]);
    }
}

/// Sizes that are not multiples of 16 (odd sides exercise ceil and floor pooling), one with a
/// batch of 2.
const SIZES: [[usize; 3]; 2] = [[1, 37, 45], [2, 50, 27]];

#[test]
fn every_preset_matches_tract() {
    for name in ModelName::ALL {
        if name == ModelName::U2net {
            continue; // 44 M parameters: `u2net_matches_tract`, ignored by default
        }
        check(name.as_str(), name.config(), &SIZES);
    }
}

#[test]
#[ignore = "U2-Net's 44 M parameters take a while; run with --ignored"]
fn u2net_matches_tract() {
    check("u2net", ModelName::U2net.config(), &SIZES);
}

#[test]
fn variants_match_tract() {
    // One input channel (the vessel presets), three MSAC scales, factorised units.
    let gray = ModelName::NestedU2net.config().with_in_channels(1);
    check("nested-u2net 1 channel", gray, &SIZES[..1]);
    let mut msa = ModelName::MsaU2netTiny.config();
    let ModelConfig::U2net(c) = &mut msa else {
        panic!("a U2-Net-family config")
    };
    c.unit = medseg::nn::ConvUnitKind::Msac {
        dilations: vec![1, 2, 3],
    };
    check("msa-u2net-tiny d123", msa, &SIZES[..1]);
    let mut fact = ModelName::UnetPp.config();
    let ModelConfig::Unet(c) = &mut fact else {
        panic!("a U-Net config")
    };
    c.widths = vec![4, 8, 8];
    c.unit = medseg::nn::ConvUnitKind::Factorised {
        kernels: vec![3, 5],
    };
    check("unet-pp factorised", fact, &SIZES[..1]);
}

#[test]
fn unfused_network_exports_the_same_function() {
    // A network that was not fused has its BatchNorms folded on the way out.
    let config = ModelName::MsaU2netTiny.config();
    let device = Device::flex();
    device.seed(3);
    let net = config.init(&device).unwrap().map(&mut Perturb).valid();
    let shape = [1, 3, 33, 40];
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let input: Vec<f32> = x.to_data().try_to_vec().unwrap();
    let ours: Vec<f32> = net.forward(x).fused.into_data().try_to_vec().unwrap();
    let bytes = to_onnx(&net, &meta(config), OnnxOptions::default()).unwrap();
    assert_close("unfused", &ours, &tract_run(&bytes, shape, &input)[0]);
}

#[test]
fn probabilities_head_is_the_sigmoid_and_metadata_is_written() {
    let config = ModelName::MsaU2netTiny.config();
    let net = network(&config, 5);
    let options = OnnxOptions {
        opset: 13,
        probabilities: true,
    };
    let bytes = to_onnx(&net, &meta(config), options).unwrap();
    let shape = [1, 3, 21, 30];
    let input: Vec<f32> = (0..3 * 21 * 30).map(|i| (i as f32 * 0.37).sin()).collect();
    let outputs = tract_run(&bytes, shape, &input);
    assert_eq!(outputs.len(), 2, "logits and probabilities");
    for (l, p) in outputs[0].iter().zip(&outputs[1]) {
        assert!((1.0 / (1.0 + (-l).exp()) - p).abs() < 1e-6);
    }

    let model = ModelProto::decode(&bytes[..]).unwrap();
    assert_eq!(model.opset_import[0].version, 13);
    assert_eq!(model.ir_version, 7);
    let props: std::collections::HashMap<_, _> = model
        .metadata_props
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(props["preset"], "msa-u2net-tiny");
    assert_eq!(props["threshold"], "0.5");
    assert_eq!(props["classes"], r#"["foreground"]"#);
    let preprocess: serde_json::Value = serde_json::from_str(props["preprocess"]).unwrap();
    assert_eq!(preprocess["channel"], "green");
    let graph = model.graph.unwrap();
    let dims = |v: &medseg::onnx::proto::ValueInfoProto| -> Vec<String> {
        let t = v.r#type.as_ref().unwrap().tensor_type.as_ref().unwrap();
        t.shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .map(|d| match (&d.dim_param, d.dim_value) {
                (Some(p), _) => p.clone(),
                (None, Some(v)) => v.to_string(),
                (None, None) => "?".into(),
            })
            .collect()
    };
    assert_eq!(dims(&graph.input[0]), ["batch", "3", "height", "width"]);
    assert_eq!(dims(&graph.output[0]), ["batch", "1", "height", "width"]);
}

#[test]
fn multi_class_networks_export_k_channels_with_a_softmax_head() {
    use medseg::data::labels::{ClassSpec, LabelsConfig};
    let config = ModelName::MsaU2netTiny.config();
    let device = Device::flex();
    device.seed(9);
    let net = config
        .init_with_outputs(&device, 3)
        .unwrap()
        .map(&mut Perturb)
        .valid()
        .fuse();
    let mut meta = meta(config);
    meta.labels = LabelsConfig::multi_class(
        ["background", "lungs", "heart"]
            .map(ClassSpec::new)
            .to_vec(),
    );
    let options = OnnxOptions {
        opset: 17,
        probabilities: true,
    };
    let bytes = to_onnx(&net, &meta, options).unwrap();
    let shape = [1, 3, 26, 31];
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let input: Vec<f32> = x.to_data().try_to_vec().unwrap();
    let ours: Vec<f32> = net.forward(x).fused.into_data().try_to_vec().unwrap();
    let outputs = tract_run(&bytes, shape, &input);
    assert_close("K=3 logits", &ours, &outputs[0]);
    // The softmax over the 3 channels sums to 1 at every pixel.
    let plane = 26 * 31;
    for i in 0..plane {
        let sum: f32 = (0..3).map(|c| outputs[1][c * plane + i]).sum();
        assert!((sum - 1.0).abs() < 1e-5, "pixel {i}: {sum}");
    }
    let model = ModelProto::decode(&bytes[..]).unwrap();
    let classes = model
        .metadata_props
        .iter()
        .find(|p| p.key == "classes")
        .unwrap();
    assert_eq!(classes.value, r#"["background","lungs","heart"]"#);
}

#[test]
fn unsupported_opset_is_an_error() {
    let config = ModelName::MsaU2netTiny.config();
    let net = network(&config, 1);
    for opset in [12, 22] {
        let options = OnnxOptions {
            opset,
            probabilities: false,
        };
        let err = to_onnx(&net, &meta(config.clone()), options).unwrap_err();
        assert!(err.to_string().contains("opset"), "{err}");
    }
}

/// Writes ONNX files, inputs and medseg's logits for ONNX Runtime (`scripts/onnx-check.sh`,
/// `tools/onnx/check_ort.py`) to `$MEDSEG_ONNX_OUT`: every preset (perturbed BatchNorms) on
/// random inputs at two sizes that are not multiples of 16, and, when `$MEDSEG_DATA_ROOT` holds
/// DRIVE, the shipped DRIVE and STARE weights on a real DRIVE test image (medseg's network
/// input: scaled, cropped and preprocessed). Files: `NAME.onnx`, `NAME.CASE.input.f32`,
/// `NAME.CASE.logits.f32` (float32 little-endian) and `index.json`.
#[test]
#[ignore = "writes fixtures for scripts/onnx-check.sh; set MEDSEG_ONNX_OUT"]
fn write_ort_fixtures() {
    use medseg::infer::Predictor;
    use medseg::infer::scale::ScaleMode;
    let out = std::path::PathBuf::from(std::env::var("MEDSEG_ONNX_OUT").expect("MEDSEG_ONNX_OUT"));
    std::fs::create_dir_all(&out).unwrap();
    let device = Device::flex();
    let write = |name: &str, data: &[f32]| {
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(out.join(name), bytes).unwrap();
    };
    let mut index = Vec::new();
    let mut case = |model: &str, case: &str, net: &SegNet, x: Tensor<4>, real: bool| {
        let shape = x.dims();
        let input: Vec<f32> = x.to_data().try_to_vec().unwrap();
        let logits: Vec<f32> = net.forward(x).fused.into_data().try_to_vec().unwrap();
        write(&format!("{model}.{case}.input.f32"), &input);
        write(&format!("{model}.{case}.logits.f32"), &logits);
        index.push(serde_json::json!({
            "model": model, "case": case, "shape": shape, "real": real,
        }));
    };
    for name in ModelName::ALL {
        let config = name.config();
        let net = network(&config, 11);
        let bytes = to_onnx(&net, &meta(config.clone()), OnnxOptions::default()).unwrap();
        std::fs::write(out.join(format!("{}.onnx", name.as_str())), bytes).unwrap();
        for (k, [n, h, w]) in SIZES.into_iter().enumerate() {
            device.seed(100 + k as u64);
            let shape = [n, config.in_channels(), h, w];
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            case(
                name.as_str(),
                &format!("random-{n}x{h}x{w}"),
                &net,
                x,
                false,
            );
        }
    }
    if let Ok(root) = std::env::var("MEDSEG_DATA_ROOT") {
        let image_path = std::path::Path::new(&root).join("DRIVE/test/images/01_test.tif");
        let weights = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../weights");
        if image_path.is_file() {
            let image = medseg::data::io::read_rgb(&image_path).unwrap();
            for model in ["drive", "stare"] {
                let predictor =
                    Predictor::load(&weights.join(format!("{model}.safetensors")), &device)
                        .unwrap();
                let fov = predictor.fov_for(&image);
                let input = predictor
                    .network_input(&image, &fov, ScaleMode::None)
                    .unwrap();
                let p = input.planes;
                let shape = [1, p.channels, p.height as usize, p.width as usize];
                let x = Tensor::<4>::from_data(TensorData::new(p.data, shape), &device);
                let bytes =
                    to_onnx(&predictor.net, &predictor.meta, OnnxOptions::default()).unwrap();
                let name = format!("pretrained-{model}");
                std::fs::write(out.join(format!("{name}.onnx")), bytes).unwrap();
                case(&name, "drive-01_test", &predictor.net, x, true);
            }
        } else {
            eprintln!("{} not found: no real-image cases", image_path.display());
        }
    }
    let text = serde_json::to_string_pretty(&index).unwrap();
    std::fs::write(out.join("index.json"), text).unwrap();
}
