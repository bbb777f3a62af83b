//! ONNX export of a network in its deploy form, for ONNX Runtime, TensorRT, OpenCV's DNN module
//! or onnxruntime-web.
//!
//! The graph takes `image` (float32 `[batch, C, height, width]`, any batch and size, already
//! preprocessed as the weights' metadata says) and returns `logits` (`[batch, K, height,
//! width]`, K = 1 for binary segmentation), plus `probabilities` (the sigmoid of the logits; the
//! softmax over classes for multi-class models) when asked. Operators: `Conv`, `Relu`, `Add`, `Concat`, `MaxPool` (`ceil_mode` as the model
//! pools), `Resize` (linear; `half_pixel`, which is PyTorch's `align_corners=False`, or
//! `align_corners`), `Shape`, `Slice`, `Div`, `Sigmoid` or `Softmax`; opsets 13 to 21. The weights file's
//! metadata goes into the model's metadata properties ([`metadata`]). The protobuf is written
//! with [`prost`] ([`proto`]).

pub mod emit;
pub mod graph;
pub mod proto;

use prost::Message;

use crate::models::weights::WeightsMeta;
use crate::models::{ModelName, SegNet};
use crate::{Error, Result};
use graph::{Graph, image_value};
use proto::{GraphProto, ModelProto, OperatorSetIdProto, StringStringEntryProto};

/// The opsets an export can target.
pub const OPSETS: std::ops::RangeInclusive<i64> = 13..=21;
/// The default opset (widely supported: ONNX Runtime >= 1.12, TensorRT 8.5, OpenCV 4.8).
pub const DEFAULT_OPSET: i64 = 17;

/// Export options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnnxOptions {
    /// The default-domain opset version, in [`OPSETS`].
    pub opset: i64,
    /// Add a `probabilities` output (sigmoid of the logits).
    pub probabilities: bool,
}

impl Default for OnnxOptions {
    fn default() -> Self {
        OnnxOptions {
            opset: DEFAULT_OPSET,
            probabilities: false,
        }
    }
}

/// The ONNX IR version that goes with an opset (the one the ONNX release introducing the
/// opset wrote), so older runtimes accept files of older opsets.
fn ir_version(opset: i64) -> i64 {
    match opset {
        ..=14 => 7,
        15..=18 => 8,
        19..=20 => 9,
        _ => 10,
    }
}

/// The model's ONNX file: `net` written as operators (deploy form; a network that is not fused
/// has each BatchNorm folded on the way), `meta` in the metadata properties.
pub fn to_onnx(net: &SegNet, meta: &WeightsMeta, options: OnnxOptions) -> Result<Vec<u8>> {
    if !OPSETS.contains(&options.opset) {
        return Err(Error::InvalidConfig(format!(
            "opset {} is not supported (choose {} to {})",
            options.opset,
            OPSETS.start(),
            OPSETS.end()
        )));
    }
    let channels = meta.model.in_channels();
    let classes = net.out_channels();
    let multi_class = meta.labels.mode == crate::data::labels::LabelMode::MultiClass;
    let mut g = Graph::default();
    let logits = emit::seg_net(&mut g, net, "image")?;
    // Rename the last node's output to `logits` (an Identity would cost a copy in some runtimes).
    let last = g.nodes.last_mut().expect("a network has nodes");
    debug_assert_eq!(last.output, vec![logits]);
    last.output = vec!["logits".to_string()];
    let mut outputs = vec![image_value(
        "logits",
        classes,
        if multi_class {
            "logits [batch, classes, height, width]; probabilities = softmax over classes"
        } else {
            "logits [batch, classes, height, width]; probability = sigmoid(logits)"
        },
    )];
    if options.probabilities {
        if multi_class {
            let axis = vec![("axis", graph::Attr::Int(1))];
            g.op_named("Softmax", &["logits"], axis, "probabilities");
        } else {
            g.op_named("Sigmoid", &["logits"], vec![], "probabilities");
        }
        outputs.push(image_value(
            "probabilities",
            classes,
            if multi_class {
                "softmax(logits) over classes; the class of a pixel is the arg max"
            } else {
                "sigmoid(logits); threshold with metadata `threshold`"
            },
        ));
    }
    let graph = GraphProto {
        node: g.nodes,
        name: meta.name.clone(),
        initializer: g.initializers,
        doc_string: String::new(),
        input: vec![image_value(
            "image",
            channels,
            "preprocessed image [batch, channels, height, width] (metadata `preprocess`)",
        )],
        output: outputs,
    };
    let model = ModelProto {
        ir_version: ir_version(options.opset),
        producer_name: "medseg".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        domain: String::new(),
        model_version: 1,
        doc_string: format!(
            "medseg {} ({}), deploy form",
            meta.name,
            preset_name(meta).unwrap_or("custom network")
        ),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: options.opset,
        }],
        metadata_props: metadata(meta)?
            .into_iter()
            .map(|(key, value)| StringStringEntryProto { key, value })
            .collect(),
    };
    Ok(model.encode_to_vec())
}

/// The preset whose configuration `meta.model` is, if any.
fn preset_name(meta: &WeightsMeta) -> Option<&'static str> {
    let model = serde_json::to_value(&meta.model).ok()?;
    ModelName::ALL
        .into_iter()
        .find(|m| {
            serde_json::to_value(m.config().with_in_channels(meta.model.in_channels())).ok()
                == Some(model.clone())
        })
        .map(|m| m.as_str())
}

/// The metadata properties: `preset`, `model` (the network's configuration, JSON),
/// `preprocess` (JSON: channel, CLAHE, gamma, normalisation, resize), `threshold`,
/// `scale_reference` (JSON or `null`), `tiling` (JSON), `dataset`, `classes` (JSON list),
/// `input`, `output`, and `medseg` (the whole weights metadata, JSON).
pub fn metadata(meta: &WeightsMeta) -> Result<Vec<(String, String)>> {
    let mut props = vec![
        ("preset", preset_name(meta).unwrap_or("custom").to_string()),
        ("name", meta.name.clone()),
        ("model", json(&meta.model)?),
        ("preprocess", json(&meta.preprocess)?),
        ("threshold", meta.threshold.to_string()),
        ("scale_reference", json(&meta.scale_reference)?),
        ("tiling", json(&meta.tiling)?),
        ("dataset", json(&meta.dataset)?),
        ("classes", json(&meta.labels.names())?),
        ("labels", meta.labels.mode.as_str().to_string()),
        (
            "input",
            "image: float32 [batch, channels, height, width], preprocessed as `preprocess` says"
                .to_string(),
        ),
        (
            "output",
            "logits: float32 [batch, classes, height, width]; binary and multi-label: class c where sigmoid(logits[c]) >= threshold; multi-class: the arg max over classes"
                .to_string(),
        ),
    ];
    props.push(("medseg", json(meta)?));
    Ok(props.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// JSON text of a metadata value.
fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::InvalidInput(format!("ONNX metadata: {e}")))
}
