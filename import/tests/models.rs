//! Models built here from ONNX's messages: what real exporters write is tolerated, and each
//! kind of refusal names the operator and the node. (The fixtures' end-to-end runs on shares
//! are in tfec/tests/import.rs.)

use prost::Message;
use tfe_import::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, tensor_shape_proto, type_proto,
};
use tfe_import::{ImportError, Options, import};

fn value(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    use tensor_shape_proto::dimension::Value as D;
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(1),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| tensor_shape_proto::Dimension {
                            value: Some(match d {
                                Some(n) => D::DimValue(*n),
                                None => D::DimParam("batch".into()),
                            }),
                        })
                        .collect(),
                }),
            })),
        }),
    }
}

fn floats(name: &str, dims: &[i64], data: Vec<f32>) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(1),
        float_data: data,
        ..Default::default()
    }
}

fn ints(name: &str, data: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: vec![data.len() as i64],
        data_type: Some(7),
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

enum A {
    I(i64),
    Is(&'static [i64]),
    F(f32),
}

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str], attrs: &[(&str, A)]) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| (*s).into()).collect(),
        output: outputs.iter().map(|s| (*s).into()).collect(),
        name: Some(name.into()),
        op_type: Some(op.into()),
        domain: None,
        attribute: attrs
            .iter()
            .map(|(k, v)| {
                let mut a = AttributeProto {
                    name: Some((*k).into()),
                    ..Default::default()
                };
                match v {
                    A::I(i) => {
                        a.r#type = Some(2);
                        a.i = Some(*i);
                    }
                    A::Is(v) => {
                        a.r#type = Some(7);
                        a.ints = v.to_vec();
                    }
                    A::F(f) => {
                        a.r#type = Some(1);
                        a.f = Some(*f);
                    }
                }
                a
            })
            .collect(),
    }
}

fn model(
    input: ValueInfoProto,
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    output: &str,
) -> Vec<u8> {
    model_with(input, nodes, inits, vec![value(output, &[None, Some(1)])])
}

fn model_with(
    input: ValueInfoProto,
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    outputs: Vec<ValueInfoProto>,
) -> Vec<u8> {
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        producer_name: Some("tests".into()),
        producer_version: None,
        graph: Some(GraphProto {
            node: nodes,
            name: Some("g".into()),
            initializer: inits,
            input: vec![input],
            output: outputs,
        }),
    }
    .encode_to_vec()
}

/// An image model: x [batch, 2, 6, 6] -> one node `op` with weights `w` -> y.
fn conv_model(attrs: &[(&str, A)], w_dims: &[i64]) -> Vec<u8> {
    let n: i64 = w_dims.iter().product();
    model(
        value("x", &[None, Some(2), Some(6), Some(6)]),
        vec![node("Conv", "/conv/Conv", &["x", "w"], &["y"], attrs)],
        vec![floats("w", w_dims, vec![0.5; n as usize])],
        "y",
    )
}

fn refused(bytes: &[u8]) -> Vec<(String, String, String)> {
    match import(bytes, &Options::default()) {
        Err(ImportError::Unsupported(list)) => {
            list.into_iter().map(|u| (u.op, u.node, u.reason)).collect()
        }
        Err(ImportError::Invalid(m)) => panic!("refused as invalid, not unsupported: {m}"),
        Ok(i) => panic!("imported:\n{}", i.program),
    }
}

fn invalid(bytes: &[u8]) -> String {
    match import(bytes, &Options::default()) {
        Err(ImportError::Invalid(m)) => m,
        Err(e) => panic!("refused as unsupported, not invalid: {e}"),
        Ok(i) => panic!("imported:\n{}", i.program),
    }
}

fn imports(bytes: &[u8]) -> String {
    let imported = import(bytes, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    if let Err(d) = tfe_compiler::check(&imported.program) {
        panic!(
            "{}\n{}",
            imported.program,
            tfe_compiler::render(
                &d,
                "model.tfe",
                &imported.program,
                tfe_compiler::RenderOptions { color: false }
            )
        );
    }
    imported.program
}

/// Every operator tfe lacks is named with its node, and nothing is translated.
#[test]
fn unsupported_operators_are_each_named_with_their_node() {
    let bytes = model(
        value("x", &[None, Some(4)]),
        vec![
            node("Erf", "/act/Erf", &["x"], &["a"], &[]),
            node("Relu", "/relu/Relu", &["a"], &["b"], &[]),
            node("LSTM", "", &["b"], &["c"], &[]),
            node("TopK", "/top/TopK", &["c"], &["y"], &[]),
        ],
        vec![],
        "y",
    );
    let list = refused(&bytes);
    let named: Vec<(&str, &str)> = list
        .iter()
        .map(|(o, n, _)| (o.as_str(), n.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            ("Erf", "/act/Erf"),
            ("LSTM", "(unnamed LSTM)"),
            ("TopK", "/top/TopK")
        ]
    );
    let message = import(&bytes, &Options::default()).unwrap_err().to_string();
    assert!(
        message.contains("3 operators that tfe does not support"),
        "{message}"
    );
    assert!(
        message.contains("LSTM (node `(unnamed LSTM)`): recurrent layers are not translated"),
        "{message}"
    );
    // An operator only a discarded output needs is not refused: the label branch of a
    // classifier is not computed. The label (int64) comes first; the first floating-point
    // output is the probabilities.
    let mut label = value("label", &[None]);
    if let Some(type_proto::Value::TensorType(t)) = label.r#type.as_mut().unwrap().value.as_mut() {
        t.elem_type = Some(7);
    }
    let bytes = model_with(
        value("x", &[None, Some(4)]),
        vec![
            node("Softmax", "sm", &["x"], &["p"], &[("axis", A::I(1))]),
            node("ArgMax", "am", &["p"], &["label"], &[]),
        ],
        vec![],
        vec![label, value("p", &[None, Some(4)])],
    );
    let program = imports(&bytes);
    assert!(program.contains("softmax(x, axis: 1)"), "{program}");
    assert!(!program.contains("argmax"), "{program}");
}

/// Uses of supported operators that tfe cannot translate are refused naming the node and why.
#[test]
fn unsupported_uses_of_operators_are_refused_with_the_reason() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            conv_model(&[("group", A::I(2))], &[4, 1, 3, 3]),
            "group 2 with 2 channels and 4 filters",
        ),
        (
            conv_model(&[("pads", A::Is(&[0, 0, 1, 1]))], &[3, 2, 3, 3]),
            "pads [0, 0, 1, 1]",
        ),
        (conv_model(&[], &[3, 2, 3, 1]), "3×1 window"),
        (
            conv_model(&[("strides", A::Is(&[1, 2]))], &[3, 2, 3, 3]),
            "strides [1, 2]",
        ),
        (
            conv_model(&[("dilations", A::Is(&[2, 2]))], &[3, 2, 3, 3]),
            "dilations",
        ),
        (
            model(
                value("x", &[None, Some(2), Some(3)]),
                vec![node(
                    "Transpose",
                    "t",
                    &["x"],
                    &["y"],
                    &[("perm", A::Is(&[1, 0, 2]))],
                )],
                vec![],
                "y",
            ),
            "moves the batch axis",
        ),
        (
            model(
                value("x", &[None, Some(2), Some(3)]),
                vec![node("Reshape", "r", &["x", "s"], &["y"], &[])],
                vec![ints("s", &[-1, 3])],
                "y",
            ),
            "does not keep the batch axis",
        ),
        (
            model(
                value("x", &[None, Some(2), Some(3)]),
                vec![node("Flatten", "f", &["x"], &["y"], &[("axis", A::I(2))])],
                vec![],
                "y",
            ),
            "axis 2",
        ),
        (
            model(
                value("x", &[None, Some(3)]),
                vec![node(
                    "Gemm",
                    "g",
                    &["x", "w"],
                    &["y"],
                    &[("transA", A::I(1))],
                )],
                vec![floats("w", &[3, 2], vec![1.0; 6])],
                "y",
            ),
            "transA",
        ),
        (
            model(
                value("x", &[None, Some(3)]),
                vec![node("MatMul", "m", &["x", "x"], &["y"], &[])],
                vec![],
                "y",
            ),
            "computed from the examples",
        ),
        (
            model(
                value("x", &[None, Some(1), Some(5), Some(5)]),
                vec![node(
                    "MaxPool",
                    "p",
                    &["x"],
                    &["y"],
                    &[
                        ("kernel_shape", A::Is(&[2, 2])),
                        ("strides", A::Is(&[2, 2])),
                        ("ceil_mode", A::I(1)),
                    ],
                )],
                vec![],
                "y",
            ),
            "ceil_mode",
        ),
        (
            model(
                value("x", &[None, Some(3)]),
                vec![node("Softmax", "s", &["x"], &["y"], &[("axis", A::I(0))])],
                vec![],
                "y",
            ),
            "the batch",
        ),
    ];
    for (i, (bytes, why)) in cases.iter().enumerate() {
        let list = refused(bytes);
        assert_eq!(list.len(), 1, "case {i}");
        assert!(list[0].2.contains(why), "case {i}: {:?}", list[0]);
    }
}

/// Models that are not models, or whose input or output tfe cannot take, are invalid with a
/// message that says what to change.
#[test]
fn invalid_models_say_why() {
    assert!(invalid(b"definitely not protobuf \xff\xff").contains("not an ONNX model"));
    assert!(invalid(&ModelProto::default().encode_to_vec()).contains("no graph"));
    let two_inputs = {
        let mut m = ModelProto::decode(
            &model(
                value("a", &[None, Some(2)]),
                vec![node("Add", "add", &["a", "b"], &["y"], &[])],
                vec![],
                "y",
            )[..],
        )
        .unwrap();
        m.graph
            .as_mut()
            .unwrap()
            .input
            .push(value("b", &[None, Some(2)]));
        m.encode_to_vec()
    };
    assert!(invalid(&two_inputs).contains("2 inputs (`a`, `b`)"));
    let symbolic = model(
        value("x", &[None, None]),
        vec![node("Relu", "r", &["x"], &["y"], &[])],
        vec![],
        "y",
    );
    assert!(invalid(&symbolic).contains("only the batch may vary"));
    let external = model(
        value("x", &[None, Some(2)]),
        vec![node("MatMul", "m", &["x", "w"], &["y"], &[])],
        vec![TensorProto {
            name: Some("w".into()),
            dims: vec![2, 2],
            data_type: Some(1),
            data_location: Some(1),
            external_data: vec![tfe_import::onnx::StringStringEntryProto {
                key: Some("location".into()),
                value: Some("weights.bin".into()),
            }],
            ..Default::default()
        }],
        "y",
    );
    let m = invalid(&external);
    assert!(
        m.contains("weights.bin") && m.contains("save_as_external_data=False"),
        "{m}"
    );
    let named = import(
        &model(
            value("x", &[None, Some(2)]),
            vec![node("Relu", "r", &["x"], &["y"], &[])],
            vec![],
            "y",
        ),
        &Options {
            output: Some("z".into()),
            ..Options::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        named.contains("no output `z`; its outputs are `y`"),
        "{named}"
    );
}

/// What exporters write: the default operator set listed twice (skl2onnx), initializers among
/// the graph's inputs (old exporters), weights as raw bytes or typed fields, a numeric batch
/// size, unnamed nodes, and the shape arithmetic of PyTorch's flatten.
#[test]
fn what_exporters_write_is_tolerated() {
    let raw: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut m = ModelProto::decode(
        &model(
            value("x", &[Some(1), Some(2), Some(1), Some(3)]),
            vec![
                node("Shape", "", &["x"], &["shape"], &[]),
                node(
                    "Gather",
                    "",
                    &["shape", "zero"],
                    &["n"],
                    &[("axis", A::I(0))],
                ),
                node("Unsqueeze", "", &["n", "axes"], &["n1"], &[]),
                node(
                    "Concat",
                    "",
                    &["n1", "minus1"],
                    &["target"],
                    &[("axis", A::I(0))],
                ),
                node("Reshape", "", &["x", "target"], &["flat"], &[]),
                node(
                    "Gemm",
                    "",
                    &["flat", "w", "b"],
                    &["g"],
                    &[("transB", A::I(1))],
                ),
                node("Relu", "", &["g"], &["y"], &[]),
            ],
            vec![
                TensorProto {
                    name: Some("w".into()),
                    dims: vec![1, 6],
                    data_type: Some(1),
                    raw_data: Some(raw),
                    ..Default::default()
                },
                floats("b", &[1], vec![0.5]),
                TensorProto {
                    name: Some("zero".into()),
                    dims: vec![],
                    data_type: Some(7),
                    int64_data: vec![0],
                    ..Default::default()
                },
                ints("axes", &[0]),
                ints("minus1", &[-1]),
            ],
            "y",
        )[..],
    )
    .unwrap();
    m.opset_import = vec![
        OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        },
        OperatorSetIdProto {
            domain: Some("ai.onnx.ml".into()),
            version: Some(1),
        },
        OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(15),
        },
    ];
    let g = m.graph.as_mut().unwrap();
    g.input.push(value("w", &[Some(1), Some(6)]));
    let program = imports(&m.encode_to_vec());
    assert!(program.contains("operator set 15"), "{program}");
    // The flatten of an image is free: the dense layer's rows follow the channel-last row.
    assert!(
        program.contains("dense(x, gemm_weight, gemm_bias)"),
        "{program}"
    );
    assert!(
        program.contains("from_nchw(input, channels: 2, height: 1, width: 3)"),
        "{program}"
    );
    let imported = import(&m.encode_to_vec(), &Options::default()).unwrap();
    let (_, w) = imported
        .files
        .iter()
        .find(|(n, _)| n == "gemm_weight.npy")
        .unwrap();
    // NCHW element (c, 0, x) = 1 + 3c + x sits at channel-last position x * 2 + c.
    let data: Vec<f32> = w[w.len() - 24..]
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(data, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
}

/// The program reads like one a person writes: each layer a `let` named after its node with
/// the operator in a comment, parameters read at the owner, one reveal to the client.
#[test]
fn programs_read_like_hand_written_ones() {
    let bytes = model(
        value("x", &[None, Some(4)]),
        vec![
            node("Gemm", "/encoder/fc1/Gemm", &["x", "w1", "b1"], &["h"], &[]),
            node(
                "LeakyRelu",
                "/encoder/act/LeakyRelu",
                &["h"],
                &["a"],
                &[("alpha", A::F(0.2))],
            ),
            node(
                "Clip",
                "/encoder/clip/Clip",
                &["a", "lo", "hi"],
                &["c"],
                &[],
            ),
            node("Gemm", "/head/Gemm", &["c", "w2"], &["z"], &[]),
            node("Tanh", "/head/Tanh", &["z"], &["y"], &[]),
        ],
        vec![
            floats("w1", &[4, 3], vec![0.1; 12]),
            floats("b1", &[3], vec![0.0, 1.0, 2.0]),
            floats("w2", &[3, 1], vec![0.5; 3]),
            floats("lo", &[], vec![0.0]),
            floats("hi", &[], vec![6.0]),
        ],
        "y",
    );
    let program = imports(&bytes);
    for line in [
        "party owner, client;",
        "secret rep = aby3(s0, s1, s2);",
        "let input: fixed[_, 4] @client = read_csv(\"input.csv\");",
        "let x: fixed[_, 4] @rep = input;",
        "let encoder_fc1_weight: fixed[4, 3] @owner = read_npy(\"encoder_fc1_weight.npy\");",
        "// /encoder/fc1/Gemm: Gemm 4 -> 3",
        "let encoder_fc1 = dense(x, encoder_fc1_weight, encoder_fc1_bias);",
        "// /encoder/act/LeakyRelu: LeakyRelu alpha 0.20000000298023224",
        "let encoder_act = leaky_relu(encoder_fc1, alpha: 0.20000000298023224);",
        "let encoder_clip = clip(encoder_act, low: 0.0, high: 6.0);",
        "let head = matmul(encoder_clip, head_weight);",
        "write_csv(reveal(head_2, to: client), \"output.csv\");",
    ] {
        assert!(program.contains(line), "no `{line}` in:\n{program}");
    }
    assert_eq!(program.matches("reveal(").count(), 1);
    // Other names and another protocol.
    let named = tfe_import::import(
        &bytes,
        &Options {
            owner: "hospital".into(),
            client: "patient".into(),
            servers: ["a".into(), "b".into(), "dealer".into()],
            protocol: tfe_import::Protocol::Pond,
            ..Options::default()
        },
    )
    .unwrap()
    .program;
    assert!(
        named.contains("secret rep = pond(a, b, dealer = dealer);"),
        "{named}"
    );
    assert!(named.contains("reveal(head_2, to: patient)"), "{named}");
    assert!(tfe_compiler::check(&named).is_ok());
}

/// Every fixture imports, and its program checks clean.
#[test]
fn every_fixture_imports_and_checks() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path.join("model.onnx")).unwrap();
        if name == "unsupported" {
            let list = refused(&bytes);
            let ops: Vec<&str> = list.iter().map(|(o, _, _)| o.as_str()).collect();
            assert_eq!(ops, ["Gelu", "LayerNormalization"], "{name}");
            continue;
        }
        let program = imports(&bytes);
        // The layout changes from NCHW once, at the client.
        let changes = program.matches("from_nchw(").count();
        assert!(changes <= 1, "{name}: {changes} layout changes");
        seen += 1;
    }
    assert_eq!(seen, 6);
}
