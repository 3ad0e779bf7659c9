//! The decoded model in a form the translation can use: constant tensors as numbers, nodes
//! with their attributes by name, the graph's inputs and outputs with their shapes.
//!
//! What real exporters write is tolerated here: scikit-learn's converters list the default
//! operator set twice in `opset_import`; older exporters list every initializer among the
//! graph's inputs; initializers come as `raw_data` or in the typed field of their data type;
//! the batch dimension is a symbol (`batch_size`, `N`), a number, or missing.

use std::collections::HashMap;

use crate::ImportError;
use crate::onnx;

/// A constant tensor: the model's parameters, and values computed from them at import time.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub dims: Vec<usize>,
    pub data: Data,
}

/// A constant's elements, in C order.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// Floating-point values (ONNX float, double, float16, bfloat16), widened to f64.
    Float(Vec<f64>),
    /// Integers and booleans. Sizes read from an input's shape (`Shape`) may be the batch size,
    /// which is not known when the model is imported.
    Int(Vec<Int>),
}

/// An integer of a constant: known, or the batch size of the examples (known at run time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int {
    Known(i64),
    Batch,
}

impl Tensor {
    pub fn elements(&self) -> usize {
        self.dims.iter().product()
    }

    pub fn floats(dims: Vec<usize>, values: Vec<f64>) -> Tensor {
        Tensor {
            dims,
            data: Data::Float(values),
        }
    }

    pub fn ints(dims: Vec<usize>, values: Vec<i64>) -> Tensor {
        Tensor {
            dims,
            data: Data::Int(values.into_iter().map(Int::Known).collect()),
        }
    }

    /// The elements as f64, when every one is known.
    pub fn as_f64(&self) -> Option<Vec<f64>> {
        match &self.data {
            Data::Float(v) => Some(v.clone()),
            Data::Int(v) => v
                .iter()
                .map(|i| match i {
                    Int::Known(k) => Some(*k as f64),
                    Int::Batch => None,
                })
                .collect(),
        }
    }

    /// The elements as integers (known or the batch size); `None` for floating-point data.
    pub fn as_ints(&self) -> Option<&[Int]> {
        match &self.data {
            Data::Int(v) => Some(v),
            Data::Float(_) => None,
        }
    }

    /// The elements as known integers.
    pub fn as_known_ints(&self) -> Option<Vec<i64>> {
        self.as_ints()?
            .iter()
            .map(|i| match i {
                Int::Known(k) => Some(*k),
                Int::Batch => None,
            })
            .collect()
    }
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Float(f64),
    Int(i64),
    Str(String),
    Tensor(Tensor),
    Floats(Vec<f64>),
    Ints(Vec<i64>),
    Strings(Vec<String>),
    /// A graph, a sparse tensor, a type, or a list of these: nothing here reads them.
    Other,
}

/// One node of the graph.
#[derive(Debug, Clone)]
pub struct Node {
    /// The node's name; the translation names one when the exporter left it empty.
    pub name: String,
    pub op: String,
    /// `""` for the default operator set, `ai.onnx.ml` for the classical ML operators.
    pub domain: String,
    /// Input value names; `""` marks an optional input left out.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: HashMap<String, Attr>,
}

impl Node {
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.attrs.get(name) {
            Some(Attr::Int(i)) => Some(*i),
            _ => None,
        }
    }

    pub fn float(&self, name: &str) -> Option<f64> {
        match self.attrs.get(name) {
            Some(Attr::Float(f)) => Some(*f),
            Some(Attr::Int(i)) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn ints(&self, name: &str) -> Option<&[i64]> {
        match self.attrs.get(name) {
            Some(Attr::Ints(v)) => Some(v),
            _ => None,
        }
    }

    pub fn floats(&self, name: &str) -> Option<&[f64]> {
        match self.attrs.get(name) {
            Some(Attr::Floats(v)) => Some(v),
            _ => None,
        }
    }

    pub fn string(&self, name: &str) -> Option<&str> {
        match self.attrs.get(name) {
            Some(Attr::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The `i`-th input's name, if present and not left out.
    pub fn input(&self, i: usize) -> Option<&str> {
        self.inputs
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// A dimension of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Known(usize),
    /// A symbol such as `batch_size`, or a dimension the exporter left unknown.
    Symbol(String),
}

/// What a graph input or output holds.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueType {
    /// A tensor: its ONNX element type and its shape, if the model states one.
    Tensor {
        elem: i32,
        shape: Option<Vec<Dim>>,
    },
    /// A sequence of maps whose values are of this element type (scikit-learn's `ZipMap`).
    MapSequence {
        value_elem: i32,
    },
    Other,
}

impl ValueType {
    /// Whether the value holds floating-point numbers (float, double, float16, bfloat16).
    pub fn is_float(&self) -> bool {
        match self {
            ValueType::Tensor { elem, .. } | ValueType::MapSequence { value_elem: elem } => {
                is_float_type(*elem)
            }
            ValueType::Other => false,
        }
    }
}

pub fn is_float_type(elem: i32) -> bool {
    matches!(elem, 1 | 10 | 11 | 16)
}

/// The name of an ONNX element type, for messages.
pub fn elem_type_name(elem: i32) -> &'static str {
    match elem {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => "an unsupported element type",
    }
}

#[derive(Debug, Clone)]
pub struct Value {
    pub name: String,
    pub ty: ValueType,
}

/// The decoded model.
#[derive(Debug, Clone)]
pub struct Graph {
    pub producer: String,
    /// The version of the default operator set (`ai.onnx`).
    pub opset: i64,
    pub nodes: Vec<Node>,
    pub initializers: HashMap<String, Tensor>,
    /// The inputs that are not initializers: what the client provides.
    pub inputs: Vec<Value>,
    pub outputs: Vec<Value>,
}

impl Graph {
    pub fn from_bytes(bytes: &[u8]) -> Result<Graph, ImportError> {
        let model = onnx::decode(bytes).map_err(|e| {
            ImportError::Invalid(format!(
                "this is not an ONNX model (a protobuf `ModelProto`): {e}"
            ))
        })?;
        Graph::from_model(model)
    }

    pub fn from_model(model: onnx::ModelProto) -> Result<Graph, ImportError> {
        let Some(graph) = model.graph else {
            return Err(ImportError::Invalid(
                "the model has no graph (an empty or truncated file?)".into(),
            ));
        };
        // The default operator set may be listed more than once (scikit-learn's converters
        // do); the highest version is the one the nodes were written for.
        let opset = model
            .opset_import
            .iter()
            .filter(|o| matches!(o.domain.as_deref(), None | Some("") | Some("ai.onnx")))
            .filter_map(|o| o.version)
            .max()
            .unwrap_or(1);
        let mut initializers = HashMap::new();
        for t in &graph.initializer {
            let name = t.name.clone().unwrap_or_default();
            let tensor = tensor(t)
                .map_err(|e| ImportError::Invalid(format!("initializer `{name}`: {e}")))?;
            initializers.insert(name, tensor);
        }
        let inputs = graph
            .input
            .iter()
            .filter(|v| !initializers.contains_key(v.name.as_deref().unwrap_or("")))
            .map(value)
            .collect();
        let outputs = graph.output.iter().map(value).collect();
        let mut nodes = Vec::with_capacity(graph.node.len());
        for n in &graph.node {
            let mut attrs = HashMap::new();
            for a in &n.attribute {
                let name = a.name.clone().unwrap_or_default();
                let v = attr(a).map_err(|e| {
                    ImportError::Invalid(format!(
                        "node `{}`: attribute `{name}`: {e}",
                        n.name.as_deref().unwrap_or("")
                    ))
                })?;
                attrs.insert(name, v);
            }
            nodes.push(Node {
                name: n.name.clone().unwrap_or_default(),
                op: n.op_type.clone().unwrap_or_default(),
                domain: match n.domain.as_deref() {
                    None | Some("ai.onnx") => String::new(),
                    Some(d) => d.to_string(),
                },
                inputs: n.input.clone(),
                outputs: n.output.clone(),
                attrs,
            });
        }
        let producer = match (&model.producer_name, &model.producer_version) {
            (Some(n), Some(v)) if !n.is_empty() => format!("{n} {v}"),
            (Some(n), _) if !n.is_empty() => n.clone(),
            _ => "an unnamed exporter".into(),
        };
        Ok(Graph {
            producer,
            opset,
            nodes,
            initializers,
            inputs,
            outputs,
        })
    }
}

fn value(v: &onnx::ValueInfoProto) -> Value {
    use onnx::type_proto::Value as T;
    let ty = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(T::TensorType(t)) => ValueType::Tensor {
            elem: t.elem_type.unwrap_or(0),
            shape: t.shape.as_ref().map(|s| {
                s.dim
                    .iter()
                    .map(|d| {
                        use onnx::tensor_shape_proto::dimension::Value as D;
                        match &d.value {
                            Some(D::DimValue(n)) if *n >= 0 => Dim::Known(*n as usize),
                            Some(D::DimParam(p)) => Dim::Symbol(p.clone()),
                            _ => Dim::Symbol("?".into()),
                        }
                    })
                    .collect()
            }),
        },
        Some(T::SequenceType(s)) => match s.elem_type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(T::MapType(m)) => match m.value_type.as_ref().and_then(|t| t.value.as_ref()) {
                Some(T::TensorType(t)) => ValueType::MapSequence {
                    value_elem: t.elem_type.unwrap_or(0),
                },
                _ => ValueType::Other,
            },
            _ => ValueType::Other,
        },
        _ => ValueType::Other,
    };
    Value {
        name: v.name.clone().unwrap_or_default(),
        ty,
    }
}

fn attr(a: &onnx::AttributeProto) -> Result<Attr, String> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    // Old exporters leave `type` unset; the field that is present says it then.
    let ty = match a.r#type {
        Some(t) if t != 0 => t,
        _ => {
            if a.f.is_some() {
                1
            } else if a.i.is_some() {
                2
            } else if a.s.is_some() {
                3
            } else if a.t.is_some() {
                4
            } else if !a.floats.is_empty() {
                6
            } else if !a.ints.is_empty() {
                7
            } else if !a.strings.is_empty() {
                8
            } else {
                0
            }
        }
    };
    Ok(match ty {
        1 => Attr::Float(f64::from(a.f.unwrap_or(0.0))),
        2 => Attr::Int(a.i.unwrap_or(0)),
        3 => Attr::Str(text(a.s.as_deref().unwrap_or(&[]))),
        4 => Attr::Tensor(tensor(
            a.t.as_ref()
                .ok_or("a tensor attribute without its tensor")?,
        )?),
        6 => Attr::Floats(a.floats.iter().map(|f| f64::from(*f)).collect()),
        7 => Attr::Ints(a.ints.clone()),
        8 => Attr::Strings(a.strings.iter().map(|s| text(s)).collect()),
        _ => Attr::Other,
    })
}

/// A `TensorProto`'s elements, from `raw_data` or from the typed field of its data type.
pub fn tensor(t: &onnx::TensorProto) -> Result<Tensor, String> {
    let mut dims = Vec::with_capacity(t.dims.len());
    for d in &t.dims {
        if *d < 0 {
            return Err(format!("a negative dimension {d}"));
        }
        dims.push(*d as usize);
    }
    if t.data_location == Some(1) || !t.external_data.is_empty() {
        let location = t
            .external_data
            .iter()
            .find(|e| e.key.as_deref() == Some("location"))
            .and_then(|e| e.value.clone())
            .unwrap_or_default();
        return Err(format!(
            "its data is in another file (`{location}`); save the model with its weights inside \
             (`onnx.save_model(model, path, save_as_external_data=False)`)"
        ));
    }
    let n = dims
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d))
        .ok_or("too many elements")?;
    let elem = t.data_type.unwrap_or(0);
    let raw = t.raw_data.as_deref().filter(|r| !r.is_empty());
    let width = match elem {
        1 | 6 | 12 => 4,
        2 | 3 | 9 => 1,
        4 | 5 | 10 | 16 => 2,
        7 | 11 | 13 => 8,
        _ => 0,
    };
    if let Some(raw) = raw {
        if width == 0 {
            return Err(format!("elements of type {}", elem_type_name(elem)));
        }
        if raw.len() != n * width {
            return Err(format!(
                "{} bytes of data for {n} elements of {width} bytes",
                raw.len()
            ));
        }
        let words = raw.chunks_exact(width);
        let le = |c: &[u8]| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(b)
        };
        return Ok(match elem {
            1 => Tensor::floats(
                dims,
                words
                    .map(|c| f64::from(f32::from_bits(le(c) as u32)))
                    .collect(),
            ),
            11 => Tensor::floats(dims, words.map(|c| f64::from_bits(le(c))).collect()),
            10 => Tensor::floats(dims, words.map(|c| half(le(c) as u16)).collect()),
            16 => Tensor::floats(
                dims,
                words
                    .map(|c| f64::from(f32::from_bits((le(c) as u32) << 16)))
                    .collect(),
            ),
            3 => Tensor::ints(dims, words.map(|c| i64::from(c[0] as i8)).collect()),
            5 => Tensor::ints(
                dims,
                words.map(|c| i64::from(le(c) as u16 as i16)).collect(),
            ),
            6 => Tensor::ints(
                dims,
                words.map(|c| i64::from(le(c) as u32 as i32)).collect(),
            ),
            7 => Tensor::ints(dims, words.map(|c| le(c) as i64).collect()),
            13 => Tensor::ints(dims, words.map(|c| le(c) as i64).collect()),
            // uint8, bool, uint16, uint32
            _ => Tensor::ints(dims, words.map(|c| le(c) as i64).collect()),
        });
    }
    let out = match elem {
        1 => Tensor::floats(dims, t.float_data.iter().map(|v| f64::from(*v)).collect()),
        11 => Tensor::floats(dims, t.double_data.clone()),
        10 => Tensor::floats(dims, t.int32_data.iter().map(|v| half(*v as u16)).collect()),
        16 => Tensor::floats(
            dims,
            t.int32_data
                .iter()
                .map(|v| f64::from(f32::from_bits((*v as u32) << 16)))
                .collect(),
        ),
        2..=6 | 9 => Tensor::ints(dims, t.int32_data.iter().map(|v| i64::from(*v)).collect()),
        7 => Tensor::ints(dims, t.int64_data.clone()),
        12 | 13 => Tensor::ints(dims, t.uint64_data.iter().map(|v| *v as i64).collect()),
        _ => return Err(format!("elements of type {}", elem_type_name(elem))),
    };
    let present = match &out.data {
        Data::Float(v) => v.len(),
        Data::Int(v) => v.len(),
    };
    if present != n {
        return Err(format!("{n} elements stated, {present} present"));
    }
    Ok(out)
}

/// An IEEE half-precision number from its bits.
fn half(bits: u16) -> f64 {
    let sign = if bits >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_typed_data_read_alike() {
        let raw = onnx::TensorProto {
            dims: vec![2],
            data_type: Some(1),
            raw_data: Some([1.5f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat()),
            ..Default::default()
        };
        let typed = onnx::TensorProto {
            dims: vec![2],
            data_type: Some(1),
            float_data: vec![1.5, -2.0],
            ..Default::default()
        };
        assert_eq!(tensor(&raw).unwrap(), tensor(&typed).unwrap());
        let ints = onnx::TensorProto {
            dims: vec![2],
            data_type: Some(7),
            raw_data: Some([(-1i64).to_le_bytes(), 7i64.to_le_bytes()].concat()),
            ..Default::default()
        };
        assert_eq!(tensor(&ints).unwrap().as_known_ints(), Some(vec![-1, 7]));
        let short = onnx::TensorProto {
            dims: vec![3],
            data_type: Some(1),
            float_data: vec![1.0],
            ..Default::default()
        };
        assert!(
            tensor(&short)
                .unwrap_err()
                .contains("3 elements stated, 1 present")
        );
        assert_eq!(half(0x3c00), 1.0);
        assert_eq!(half(0xc000), -2.0);
    }
}
