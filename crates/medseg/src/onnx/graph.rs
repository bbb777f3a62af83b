//! A small builder for ONNX graphs: each method appends one operator (or a few) and returns the
//! name of its output; weights become initializers named after their module path.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use super::proto::{
    AttributeProto, Dimension, NodeProto, TensorProto, TensorShapeProto, TensorTypeProto,
    TypeProto, ValueInfoProto, attribute_type, data_type,
};
use crate::{Error, Result};

/// A graph under construction.
#[derive(Default)]
pub struct Graph {
    /// Nodes, in the order they were added (a topological order).
    pub nodes: Vec<NodeProto>,
    /// Constant tensors.
    pub initializers: Vec<TensorProto>,
    next: usize,
}

/// An attribute value.
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    Str(&'static str),
}

impl Graph {
    /// A fresh value name for the output of `op`.
    fn fresh(&mut self, op: &str) -> String {
        self.next += 1;
        format!("{}_{}", op.to_lowercase(), self.next)
    }

    /// Appends `op(inputs)` with `attributes` and returns its output name.
    pub fn op(&mut self, op: &str, inputs: &[&str], attributes: Vec<(&str, Attr)>) -> String {
        let out = self.fresh(op);
        self.op_named(op, inputs, attributes, &out);
        out
    }

    /// Appends `op(inputs)` writing to the value `out`.
    pub fn op_named(
        &mut self,
        op: &str,
        inputs: &[&str],
        attributes: Vec<(&str, Attr)>,
        out: &str,
    ) {
        let attribute = attributes
            .into_iter()
            .map(|(name, value)| {
                let mut a = AttributeProto {
                    name: name.to_string(),
                    ..Default::default()
                };
                match value {
                    Attr::Int(i) => (a.r#type, a.i) = (attribute_type::INT, i),
                    Attr::Ints(v) => (a.r#type, a.ints) = (attribute_type::INTS, v),
                    Attr::Float(f) => (a.r#type, a.f) = (attribute_type::FLOAT, f),
                    Attr::Str(s) => {
                        (a.r#type, a.s) = (attribute_type::STRING, s.as_bytes().to_vec())
                    }
                }
                a
            })
            .collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.to_string()],
            name: format!("{op}_{}", self.nodes.len()),
            op_type: op.to_string(),
            attribute,
            domain: String::new(),
        });
    }

    /// Adds a float initializer and returns its name.
    pub fn float_tensor(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: data_type::FLOAT,
            name: name.to_string(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name.to_string()
    }

    /// Adds an int64 initializer and returns its name.
    pub fn int_tensor(&mut self, name: &str, values: &[i64]) -> String {
        self.initializers.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: data_type::INT64,
            name: name.to_string(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name.to_string()
    }

    /// Adds a weight tensor of any rank, named `name`.
    pub fn weight<const D: usize>(&mut self, name: &str, t: Tensor<D>) -> Result<String> {
        let dims = t.dims();
        let values = t
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| Error::InvalidInput(format!("weight {name}: {e:?}")))?;
        Ok(self.float_tensor(name, &dims, &values))
    }

    /// A stride-1 (or any-stride) convolution with its bias, "same" or explicit padding.
    pub fn conv(&mut self, x: &str, conv: &Conv2d, path: &str) -> Result<String> {
        let [_, _, kh, kw] = conv.weight.dims();
        let [dh, dw] = conv.dilation;
        let pads = match &conv.padding {
            PaddingConfig2d::Valid => [0, 0, 0, 0],
            PaddingConfig2d::Explicit(t, l, b, r) => [*t, *l, *b, *r],
            PaddingConfig2d::Same if kh % 2 == 1 && kw % 2 == 1 => {
                let (ph, pw) = (dh * (kh - 1) / 2, dw * (kw - 1) / 2);
                [ph, pw, ph, pw]
            }
            other => {
                return Err(Error::InvalidInput(format!(
                    "{path}: padding {other:?} cannot be exported"
                )));
            }
        };
        let weight = self.weight(&format!("{path}.weight"), conv.weight.val())?;
        let mut inputs = vec![x.to_string(), weight];
        if let Some(bias) = &conv.bias {
            inputs.push(self.weight(&format!("{path}.bias"), bias.val())?);
        }
        let ints = |v: &[usize]| Attr::Ints(v.iter().map(|&u| u as i64).collect());
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        Ok(self.op(
            "Conv",
            &refs,
            vec![
                ("kernel_shape", ints(&[kh, kw])),
                ("dilations", ints(&conv.dilation)),
                ("strides", ints(&conv.stride)),
                ("pads", ints(&pads)),
                ("group", Attr::Int(conv.groups as i64)),
            ],
        ))
    }

    /// `Relu(x)`.
    pub fn relu(&mut self, x: &str) -> String {
        self.op("Relu", &[x], vec![])
    }

    /// `a + b`.
    pub fn add(&mut self, a: &str, b: &str) -> String {
        self.op("Add", &[a, b], vec![])
    }

    /// Concatenation along channels.
    pub fn concat(&mut self, xs: &[String]) -> String {
        let refs: Vec<&str> = xs.iter().map(String::as_str).collect();
        self.op("Concat", &refs, vec![("axis", Attr::Int(1))])
    }

    /// 2x2 max-pooling with stride 2; `ceil` keeps an odd side's last row/column.
    pub fn max_pool2x2(&mut self, x: &str, ceil: bool) -> String {
        self.op(
            "MaxPool",
            &[x],
            vec![
                ("kernel_shape", Attr::Ints(vec![2, 2])),
                ("strides", Attr::Ints(vec![2, 2])),
                ("pads", Attr::Ints(vec![0, 0, 0, 0])),
                ("ceil_mode", Attr::Int(ceil as i64)),
            ],
        )
    }

    /// Bilinear resize of `x` to the spatial size of `like`: PyTorch's `F.interpolate(mode=
    /// 'bilinear')` with `align_corners` false (ONNX `half_pixel`) or true (`align_corners`).
    /// The size is read at run time (`Shape` of both), so any input size works.
    pub fn resize_like(&mut self, x: &str, like: &str, align_corners: bool) -> String {
        let (first_two, last_two) = self.shape_slices();
        let shape_x = self.op("Shape", &[x], vec![]);
        let shape_like = self.op("Shape", &[like], vec![]);
        let head = self.op("Slice", &[&shape_x, &first_two.0, &first_two.1], vec![]);
        let tail = self.op("Slice", &[&shape_like, &last_two.0, &last_two.1], vec![]);
        let sizes = self.op("Concat", &[&head, &tail], vec![("axis", Attr::Int(0))]);
        let mode = if align_corners {
            "align_corners"
        } else {
            "half_pixel"
        };
        self.op(
            "Resize",
            &[x, "", "", &sizes],
            vec![
                ("mode", Attr::Str("linear")),
                ("coordinate_transformation_mode", Attr::Str(mode)),
            ],
        )
    }

    /// The `Slice` bounds `[0, 2)` and `[2, 4)` of a shape vector, created once.
    fn shape_slices(&mut self) -> ((String, String), (String, String)) {
        let names = ["slice_0", "slice_2", "slice_4"];
        if !self.initializers.iter().any(|t| t.name == names[0]) {
            for (name, v) in names.iter().zip([0, 2, 4]) {
                self.int_tensor(name, &[v]);
            }
        }
        let s = |i: usize| names[i].to_string();
        ((s(0), s(1)), (s(1), s(2)))
    }

    /// `x / n` for a scalar `n`.
    pub fn div_scalar(&mut self, x: &str, n: f32, name: &str) -> String {
        let divisor = self.float_tensor(name, &[], &[n]);
        self.op("Div", &[x, &divisor], vec![])
    }
}

/// A float32 `[batch, channels, height, width]` value with symbolic batch and spatial sizes.
pub fn image_value(name: &str, channels: usize, doc: &str) -> ValueInfoProto {
    let symbolic = |s: &str| Dimension {
        dim_value: None,
        dim_param: Some(s.to_string()),
    };
    let fixed = |v: usize| Dimension {
        dim_value: Some(v as i64),
        dim_param: None,
    };
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto {
                    dim: vec![
                        symbolic("batch"),
                        fixed(channels),
                        symbolic("height"),
                        symbolic("width"),
                    ],
                }),
            }),
        }),
        doc_string: doc.to_string(),
    }
}
