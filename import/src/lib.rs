//! `tfe-import`: an ONNX model in, a `.tfe` program for private prediction out.
//!
//! ```text
//! model.onnx bytes -[onnx: prost messages of onnx.proto]-> ModelProto
//!   -[graph: constants as numbers, attributes by name]-> Graph
//!   -[translate + ops + consts: the nodes the output needs, each a layer, a folded constant
//!     or a new layout]-> statements and the owner's parameters
//!   -[emit]-> program text;  -[npy]-> parameter files (NumPy .npy)
//! ```
//!
//! The crate is pure: bytes in, text and bytes out. `tfec import` reads the model and writes
//! the files. The program it makes is the contract of the design's section 8: parties `owner`
//! (the parameters), `client` (the examples and the results) and three servers; the client's
//! `input.csv` holds one example per row in C order; the run writes `output.csv`, the model's
//! first floating-point output, revealed to the client alone.

mod consts;
mod emit;
pub mod graph;
mod layout;
pub mod npy;
pub mod onnx;
mod ops;
mod translate;

use std::fmt;

pub use translate::supported;

/// The secret placement's protocol in the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `aby3(s0, s1, s2)`: replicated sharing, honest majority.
    Aby3,
    /// `pond(s0, s1, dealer = s2)`: two servers and a dealer of correlated randomness.
    Pond,
    /// `securenn(s0, s1, dealer = s2)`: pond, with the dealer helping in comparisons.
    SecureNn,
}

/// What the program is called and who its parties are.
#[derive(Debug, Clone)]
pub struct Options {
    /// The model's file name, for the program's header.
    pub model_name: String,
    pub owner: String,
    pub client: String,
    pub servers: [String; 3],
    pub protocol: Protocol,
    /// The output to reveal; by default the model's first floating-point output.
    pub output: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            model_name: "model.onnx".into(),
            owner: "owner".into(),
            client: "client".into(),
            servers: ["s0".into(), "s1".into(), "s2".into()],
            protocol: Protocol::Aby3,
            output: None,
        }
    }
}

/// An imported model.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The program's text.
    pub program: String,
    /// The owner's parameter files: (file name, `.npy` bytes).
    pub files: Vec<(String, Vec<u8>)>,
    pub summary: Summary,
}

/// What the import found, for the command's report.
#[derive(Debug, Clone)]
pub struct Summary {
    pub producer: String,
    pub opset: i64,
    pub layers: usize,
    pub parameters: usize,
    pub folded: usize,
    pub input: String,
    pub input_dims: Vec<usize>,
    pub output: String,
    pub output_dims: Vec<usize>,
}

/// A node the import refuses: its name, its operator, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub node: String,
    pub op: String,
    pub reason: String,
}

/// Why a model was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// The bytes are not a model, or the model breaks ONNX's rules or this importer's
    /// conditions on its input and output.
    Invalid(String),
    /// Operators (or uses of them) that tfe does not translate, each with its node.
    Unsupported(Vec<Unsupported>),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Invalid(m) => write!(f, "{m}"),
            ImportError::Unsupported(list) => {
                writeln!(
                    f,
                    "the model uses {} that tfe does not support:",
                    if list.len() == 1 {
                        "an operator".to_string()
                    } else {
                        format!("{} operators", list.len())
                    }
                )?;
                for u in list {
                    writeln!(f, "  {} (node `{}`): {}", u.op, u.node, u.reason)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ImportError {}

/// Imports a model from the bytes of its `.onnx` file.
pub fn import(bytes: &[u8], options: &Options) -> Result<Imported, ImportError> {
    let graph = graph::Graph::from_bytes(bytes)?;
    import_graph(&graph, options)
}

/// Imports a decoded graph.
pub fn import_graph(graph: &graph::Graph, options: &Options) -> Result<Imported, ImportError> {
    let mut t = translate::Translation::new(graph, options);
    let done = t.run()?;
    let program = emit::program(&t, &done, options);
    let files = t
        .params
        .iter()
        .map(|p| (format!("{}.npy", p.name), npy::write_f32(&p.dims, &p.data)))
        .collect();
    Ok(Imported {
        program,
        files,
        summary: Summary {
            producer: graph.producer.clone(),
            opset: graph.opset,
            layers: t.layers,
            parameters: t.params.iter().map(|p| p.data.len()).sum(),
            folded: t.folded,
            input: done.input.name.clone(),
            input_dims: done.input.dims.clone(),
            output: done.output_name.clone(),
            output_dims: done.output_dims.clone(),
        },
    })
}
