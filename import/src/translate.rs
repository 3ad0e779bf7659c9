//! The graph to the statements of a program: state, names, parameters, layouts and the driver.
//! Each operator's translation is in `ops.rs`; the program text is written by `emit.rs`.
//!
//! The translation follows the graph in its (topological) order, restricted to the nodes the
//! chosen output depends on. Each ONNX value is a constant (known when importing: the model's
//! parameters and what is computed from them and from shapes) or an activation (a variable of
//! the program, one example per row, in some [`Layout`]). Constants that a layer needs become
//! the owner's parameter files; sizes, strides and other attributes become the program's
//! public constants.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::graph::{Data, Dim, Graph, Int, Node, Tensor, ValueType};
use crate::layout::Layout;
use crate::{ImportError, Options, Unsupported};

/// A value of the graph during translation.
#[derive(Debug, Clone)]
pub enum Val {
    Const(Tensor),
    Act(Act),
}

/// An activation: a variable of the program holding one example per row.
#[derive(Debug, Clone)]
pub struct Act {
    /// The program's variable.
    pub var: String,
    /// The ONNX value it holds.
    pub value: String,
    /// ONNX's dims of one example (without the batch axis).
    pub dims: Vec<usize>,
    pub layout: Layout,
    /// The statement that computed it, when that is a layer whose output channels can absorb
    /// a following per-channel scale and shift (a dense layer or a convolution).
    pub affine: Option<usize>,
}

impl Act {
    pub fn size(&self) -> usize {
        self.dims.iter().product()
    }
}

/// A parameter file of the owner.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub dims: Vec<usize>,
    pub data: Vec<f64>,
}

/// A layer whose output channels are the columns of its weight matrix, so that a per-channel
/// `y * scale + shift` after it folds into its weights and bias exactly.
#[derive(Debug, Clone)]
pub struct Affine {
    pub kind: AffineKind,
    pub input: String,
    pub weight: usize,
    pub bias: Option<usize>,
    pub channels: usize,
}

#[derive(Debug, Clone)]
pub enum AffineKind {
    /// `dense(x, w, b)`, or `matmul(x, w)` without a bias.
    Dense,
    /// `conv2d` (or `depthwise_conv2d`) with this geometry.
    Conv {
        depthwise: bool,
        height: usize,
        width: usize,
        channels: usize,
        size: usize,
        stride: usize,
        pad: usize,
    },
}

/// One `let` of the program.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub var: String,
    /// The `let`'s written type and placement (`fixed[_, 784] @client`), where it has one.
    pub ty: Option<String>,
    /// Comment lines above it (without `// `).
    pub comment: Vec<String>,
    pub kind: StmtKind,
}

#[derive(Debug, Clone)]
pub enum StmtKind {
    /// The right-hand side, written out.
    Expr(String),
    Affine(Affine),
}

pub struct Translation<'g> {
    pub graph: &'g Graph,
    pub options: &'g Options,
    values: HashMap<String, Val>,
    /// How many times each value is read by the nodes translated (and by the output).
    uses: HashMap<String, usize>,
    pub stmts: Vec<Stmt>,
    pub params: Vec<Param>,
    taken: HashSet<String>,
    pub nn: BTreeSet<&'static str>,
    pub math: BTreeSet<&'static str>,
    /// The input's batch size, when the model states a number.
    pub batch: Option<usize>,
    /// How many layers absorbed a following scale or shift.
    pub folded: usize,
    /// How many nodes were translated into layers (constants and no-ops not counted).
    pub layers: usize,
    /// For each `relu` layer's variable: its statement and its input (a max-pooling right
    /// after it pools first).
    pub relu_of: HashMap<String, (usize, Act)>,
}

/// The client's input after reading: its variable, ONNX dims and name.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub dims: Vec<usize>,
}

/// What the driver found and made.
pub struct Translated {
    pub input: Input,
    pub output_name: String,
    pub output_var: String,
    pub output_dims: Vec<usize>,
}

/// Names the generated program must not take for a variable: keywords, builtins, the library
/// functions it may import, and the names it declares.
const RESERVED: &[&str] = &[
    "use",
    "party",
    "secret",
    "const",
    "fn",
    "let",
    "mut",
    "reveals",
    "for",
    "in",
    "while",
    "if",
    "else",
    "on",
    "return",
    "true",
    "false",
    "public",
    "fixed",
    "int",
    "bool",
    "float",
    "struct",
    "main",
    "read_csv",
    "write_csv",
    "read_npy",
    "write_npy",
    "read_shares",
    "write_shares",
    "print",
    "reveal",
    "zeros",
    "ones",
    "zeros_like",
    "rows",
    "shape",
    "concat",
    "transpose",
    "im2col",
    "col2im",
    "log2_lookup",
    "reshape",
    "sum",
    "max",
    "argmax",
    "matmul",
    "select",
    "grad",
    "value_and_grad",
    "std",
    "nn",
    "math",
    "rep",
    "sigmoid",
    "sigmoid_precise",
    "relu",
    "tanh",
    "leaky_relu",
    "clip",
    "dense",
    "softmax",
    "conv2d",
    "depthwise_conv2d",
    "max_pool2d",
    "max_pool2d_strided",
    "avg_pool2d",
    "avg_pool2d_strided",
    "global_avg_pool2d",
    "global_max_pool2d",
    "scale_channels",
    "swap_blocks",
    "from_nchw",
    "to_nchw",
    "normalize_l1",
    "normalize_l2",
    "normalize_max",
    "batch_norm",
    "flatten",
    "exp",
    "log",
    "sqrt",
    "inv_sqrt",
    "reciprocal",
    "abs",
];

/// Operators translated to layers or folded into constants, by domain.
pub fn supported(domain: &str, op: &str) -> bool {
    match domain {
        "" => matches!(
            op,
            "Gemm"
                | "MatMul"
                | "Add"
                | "Sub"
                | "Mul"
                | "Div"
                | "Neg"
                | "Relu"
                | "LeakyRelu"
                | "Sigmoid"
                | "Tanh"
                | "Softmax"
                | "Clip"
                | "Conv"
                | "MaxPool"
                | "AveragePool"
                | "GlobalAveragePool"
                | "GlobalMaxPool"
                | "BatchNormalization"
                | "Flatten"
                | "Reshape"
                | "Transpose"
                | "Concat"
                | "Identity"
                | "Dropout"
                | "Constant"
                | "Shape"
                | "Gather"
                | "Unsqueeze"
                | "Squeeze"
                | "Cast"
        ),
        "ai.onnx.ml" => matches!(
            op,
            "LinearClassifier" | "LinearRegressor" | "Normalizer" | "Scaler" | "ZipMap"
        ),
        _ => false,
    }
}

/// Why an op is refused, where the operator set has it but tfe does not.
fn refusal(domain: &str, op: &str) -> String {
    let known = match (domain, op) {
        ("", "ArgMax" | "ArgMin" | "TopK") => {
            "its result is an index; tfec import reveals the floating-point output"
        }
        ("", "LSTM" | "GRU" | "RNN") => "recurrent layers are not translated",
        ("", "Pow" | "Exp" | "Log" | "Sqrt" | "Reciprocal" | "Erf") => {
            "elementwise functions other than the activations listed are not translated"
        }
        ("ai.onnx.ml", "TreeEnsembleClassifier" | "TreeEnsembleRegressor") => {
            "tree ensembles are not translated"
        }
        ("ai.onnx.ml", "SVMClassifier" | "SVMRegressor") => "kernel machines are not translated",
        _ => "",
    };
    if known.is_empty() {
        "tfe has no translation for it".to_string()
    } else {
        known.to_string()
    }
}

impl<'g> Translation<'g> {
    pub fn new(graph: &'g Graph, options: &'g Options) -> Translation<'g> {
        let mut taken: HashSet<String> = RESERVED.iter().map(|s| (*s).to_string()).collect();
        for p in [&options.owner, &options.client]
            .into_iter()
            .chain(options.servers.iter())
        {
            taken.insert(p.clone());
        }
        let values = graph
            .initializers
            .iter()
            .map(|(k, v)| (k.clone(), Val::Const(v.clone())))
            .collect();
        Translation {
            graph,
            options,
            values,
            uses: HashMap::new(),
            stmts: Vec::new(),
            params: Vec::new(),
            taken,
            nn: BTreeSet::new(),
            math: BTreeSet::new(),
            batch: None,
            folded: 0,
            layers: 0,
            relu_of: HashMap::new(),
        }
    }

    /// Translates the nodes the output depends on.
    pub fn run(&mut self) -> Result<Translated, ImportError> {
        let graph = self.graph;
        let output = self.choose_output()?;
        let needed = self.needed_nodes(&output);
        // Refuse first, naming every operator tfe lacks, before any work.
        let refused: Vec<Unsupported> = needed
            .iter()
            .map(|&i| &graph.nodes[i])
            .filter(|n| !supported(&n.domain, &n.op))
            .map(|n| Unsupported {
                node: display_name(n),
                op: if n.domain.is_empty() {
                    n.op.clone()
                } else {
                    format!("{}:{}", n.domain, n.op)
                },
                reason: refusal(&n.domain, &n.op),
            })
            .collect();
        if !refused.is_empty() {
            return Err(ImportError::Unsupported(refused));
        }
        for &i in &needed {
            for input in graph.nodes[i].inputs.iter().filter(|s| !s.is_empty()) {
                *self.uses.entry(input.clone()).or_default() += 1;
            }
        }
        *self.uses.entry(output.clone()).or_default() += 1;
        let input = self.client_input(&needed)?;
        for &i in &needed {
            let node = &graph.nodes[i];
            self.node(node)?;
        }
        let out = match self.values.get(&output) {
            Some(Val::Act(a)) => a.clone(),
            Some(Val::Const(_)) => {
                return Err(ImportError::Invalid(format!(
                    "the output `{output}` does not depend on the input: it is a constant"
                )));
            }
            None => {
                return Err(ImportError::Invalid(format!(
                    "no node computes the output `{output}`"
                )));
            }
        };
        let plain = self.plain_order(&out, "the output in ONNX's layout");
        Ok(Translated {
            input,
            output_name: output,
            output_var: plain.var.clone(),
            output_dims: plain.dims.clone(),
        })
    }

    /// The output to reveal: the one named in the options, or the first floating-point one.
    fn choose_output(&self) -> Result<String, ImportError> {
        let outputs = &self.graph.outputs;
        if let Some(name) = &self.options.output {
            return match outputs.iter().find(|o| &o.name == name) {
                Some(o) if o.ty.is_float() => Ok(name.clone()),
                Some(_) => Err(ImportError::Invalid(format!(
                    "the output `{name}` is not of floating-point numbers"
                ))),
                None => Err(ImportError::Invalid(format!(
                    "the model has no output `{name}`; its outputs are {}",
                    names(outputs.iter().map(|o| o.name.as_str()))
                ))),
            };
        }
        outputs
            .iter()
            .find(|o| o.ty.is_float())
            .map(|o| o.name.clone())
            .ok_or_else(|| {
                ImportError::Invalid(format!(
                    "the model has no floating-point output (its outputs are {})",
                    names(outputs.iter().map(|o| o.name.as_str()))
                ))
            })
    }

    /// The indices of the nodes the value depends on, in graph order.
    fn needed_nodes(&self, output: &str) -> Vec<usize> {
        let nodes = &self.graph.nodes;
        let mut producer: HashMap<&str, usize> = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            for o in &n.outputs {
                producer.insert(o.as_str(), i);
            }
        }
        let mut needed = vec![false; nodes.len()];
        let mut stack = vec![output];
        while let Some(v) = stack.pop() {
            if let Some(&i) = producer.get(v)
                && !needed[i]
            {
                needed[i] = true;
                stack.extend(nodes[i].inputs.iter().map(String::as_str));
            }
        }
        (0..nodes.len()).filter(|&i| needed[i]).collect()
    }

    /// Declares the client's input: the one graph input the needed nodes read.
    fn client_input(&mut self, needed: &[usize]) -> Result<Input, ImportError> {
        let graph = self.graph;
        let read: HashSet<&str> = needed
            .iter()
            .flat_map(|&i| graph.nodes[i].inputs.iter().map(String::as_str))
            .collect();
        let used: Vec<_> = graph
            .inputs
            .iter()
            .filter(|v| read.contains(v.name.as_str()))
            .collect();
        let value = match used.as_slice() {
            [v] => *v,
            [] => {
                return Err(ImportError::Invalid(
                    "the output does not depend on any input of the model".into(),
                ));
            }
            many => {
                return Err(ImportError::Invalid(format!(
                    "the model has {} inputs ({}); tfec import takes models with one",
                    many.len(),
                    names(many.iter().map(|v| v.name.as_str()))
                )));
            }
        };
        let ValueType::Tensor { elem, shape } = &value.ty else {
            return Err(ImportError::Invalid(format!(
                "the input `{}` is not a tensor",
                value.name
            )));
        };
        if !crate::graph::is_float_type(*elem) {
            return Err(ImportError::Invalid(format!(
                "the input `{}` holds {} values; tfec import takes floating-point inputs",
                value.name,
                crate::graph::elem_type_name(*elem)
            )));
        }
        let Some(shape) = shape else {
            return Err(ImportError::Invalid(format!(
                "the input `{}` has no stated shape; export the model with its input's shape",
                value.name
            )));
        };
        if shape.len() < 2 {
            return Err(ImportError::Invalid(format!(
                "the input `{}` has rank {}; tfec import takes inputs whose first axis is the batch",
                value.name,
                shape.len()
            )));
        }
        self.batch = match &shape[0] {
            Dim::Known(n) => Some(*n),
            Dim::Symbol(_) => None,
        };
        let mut dims = Vec::new();
        for (k, d) in shape[1..].iter().enumerate() {
            match d {
                Dim::Known(n) => dims.push(*n),
                Dim::Symbol(s) => {
                    return Err(ImportError::Invalid(format!(
                        "axis {} of the input `{}` has no fixed size (`{s}`); only the batch may vary",
                        k + 1,
                        value.name
                    )));
                }
            }
        }
        let size: usize = dims.iter().product();
        let read = self.fresh("input");
        let shape_text = dims_text(&dims);
        self.stmts.push(Stmt {
            var: read.clone(),
            ty: Some(format!("fixed[_, {size}] @{}", self.options.client)),
            comment: vec![format!(
                "The client's examples, one per row: `{}`, {shape_text} in C order.",
                value.name
            )],
            kind: StmtKind::Expr("read_csv(\"input.csv\")".into()),
        });
        let image = match dims.as_slice() {
            [c, h, w] => Some((*c, *h, *w)),
            _ => None,
        };
        let (client_var, layout) = if let Some((c, h, w)) = image {
            self.nn.insert("from_nchw");
            let var = self.fresh("image");
            self.stmts.push(Stmt {
                var: var.clone(),
                ty: Some(format!("fixed[_, {size}] @{}", self.options.client)),
                comment: vec![
                    "Images from NCHW to the channel-last rows of tfe's image layers, once, at the client."
                        .into(),
                ],
                kind: StmtKind::Expr(format!(
                    "from_nchw({read}, channels: {c}, height: {h}, width: {w})"
                )),
            });
            (var, Layout::image(c, h, w))
        } else {
            (read.clone(), Layout::Plain)
        };
        let shared = self.fresh("x");
        self.stmts.push(Stmt {
            var: shared.clone(),
            ty: Some(format!("fixed[_, {size}] @rep")),
            comment: vec!["Secret-shared: from here on, nobody sees the examples.".into()],
            kind: StmtKind::Expr(client_var.clone()),
        });
        self.values.insert(
            value.name.clone(),
            Val::Act(Act {
                var: shared,
                value: value.name.clone(),
                dims: dims.clone(),
                layout,
                affine: None,
            }),
        );
        Ok(Input {
            name: value.name.clone(),
            dims,
        })
    }

    // ---- Values ---------------------------------------------------------------------------

    /// The value of that name, if known yet.
    pub fn lookup(&self, name: &str) -> Option<&Val> {
        self.values.get(name)
    }

    pub fn value(&self, node: &Node, i: usize) -> Result<&Val, ImportError> {
        let name = node
            .input(i)
            .ok_or_else(|| self.bad(node, format!("input {} is missing", i + 1)))?;
        self.values
            .get(name)
            .ok_or_else(|| self.bad(node, format!("its input `{name}` is computed by no node")))
    }

    pub fn optional(&self, node: &Node, i: usize) -> Result<Option<&Val>, ImportError> {
        match node.input(i) {
            None => Ok(None),
            Some(_) => self.value(node, i).map(Some),
        }
    }

    pub fn act(&self, node: &Node, i: usize) -> Result<Act, ImportError> {
        match self.value(node, i)? {
            Val::Act(a) => Ok(a.clone()),
            Val::Const(_) => Err(self.unsupported(
                node,
                format!(
                    "input {} is a constant where tfe expects a computed value",
                    i + 1
                ),
            )),
        }
    }

    pub fn constant(&self, node: &Node, i: usize) -> Result<Tensor, ImportError> {
        match self.value(node, i)? {
            Val::Const(t) => Ok(t.clone()),
            Val::Act(_) => Err(self.unsupported(
                node,
                format!(
                    "input {} is computed from the examples; tfe needs it to be a parameter",
                    i + 1
                ),
            )),
        }
    }

    pub fn set(&mut self, node: &Node, k: usize, v: Val) {
        if let Some(name) = node.outputs.get(k).filter(|s| !s.is_empty()) {
            let v = match v {
                Val::Act(mut a) => {
                    a.value = name.clone();
                    Val::Act(a)
                }
                c => c,
            };
            self.values.insert(name.clone(), v);
        }
    }

    /// How many nodes (and the output) read the value.
    pub fn uses(&self, value: &str) -> usize {
        self.uses.get(value).copied().unwrap_or(0)
    }

    /// Refuses a node whose outputs past the first are read (masks, indices, statistics).
    pub fn only_first_output(&self, node: &Node) -> Result<(), ImportError> {
        for (k, o) in node.outputs.iter().enumerate().skip(1) {
            if !o.is_empty() && self.uses(o) > 0 {
                return Err(self.unsupported(
                    node,
                    format!(
                        "its output {} (`{o}`) is used; tfe computes the first only",
                        k + 1
                    ),
                ));
            }
        }
        Ok(())
    }

    // ---- Errors ---------------------------------------------------------------------------

    /// A node tfe cannot translate as it is (an attribute or a combination of inputs).
    pub fn unsupported(&self, node: &Node, reason: String) -> ImportError {
        ImportError::Unsupported(vec![Unsupported {
            node: display_name(node),
            op: node.op.clone(),
            reason,
        }])
    }

    /// A node that breaks ONNX's own rules.
    pub fn bad(&self, node: &Node, reason: String) -> ImportError {
        ImportError::Invalid(format!(
            "node `{}` ({}): {reason}",
            display_name(node),
            node.op
        ))
    }

    // ---- Names ----------------------------------------------------------------------------

    /// A variable name not yet taken, from `base`.
    pub fn fresh(&mut self, base: &str) -> String {
        let mut base = identifier(base);
        if RESERVED.contains(&base.as_str()) {
            base.push_str("_out");
        }
        let mut name = base.clone();
        let mut k = 2;
        while self.taken.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.taken.insert(name.clone());
        name
    }

    /// Gives a name back (one taken to derive parameter names from).
    pub fn release(&mut self, name: &str) {
        self.taken.remove(name);
    }

    /// The variable name of a node's layer: its ONNX name made an identifier.
    pub fn layer_name(&mut self, node: &Node) -> String {
        let base = layer_base(node);
        self.fresh(&base)
    }

    // ---- Statements and parameters --------------------------------------------------------

    /// A parameter file of the owner; returns its index.
    pub fn param(&mut self, base: &str, dims: Vec<usize>, data: Vec<f64>) -> usize {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len());
        let name = self.fresh(base);
        self.params.push(Param { name, dims, data });
        self.params.len() - 1
    }

    pub fn param_name(&self, id: usize) -> &str {
        &self.params[id].name
    }

    /// Adds `let var = expr;` for a node, with the node named in the comment.
    pub fn layer(
        &mut self,
        node: &Node,
        detail: &str,
        expr: String,
        dims: Vec<usize>,
        layout: Layout,
    ) -> Act {
        let var = self.layer_name(node);
        self.layers += 1;
        self.stmts.push(Stmt {
            var: var.clone(),
            ty: None,
            comment: vec![describe(node, detail)],
            kind: StmtKind::Expr(expr),
        });
        Act {
            var,
            value: String::new(),
            dims,
            layout,
            affine: None,
        }
    }

    /// Adds a dense or convolution layer whose channels can absorb a later scale and shift.
    pub fn affine_layer(
        &mut self,
        node: &Node,
        detail: &str,
        affine: Affine,
        dims: Vec<usize>,
        layout: Layout,
    ) -> Act {
        let var = self.layer_name(node);
        self.layers += 1;
        self.stmts.push(Stmt {
            var: var.clone(),
            ty: None,
            comment: vec![describe(node, detail)],
            kind: StmtKind::Affine(affine),
        });
        Act {
            var,
            value: String::new(),
            dims,
            layout,
            affine: Some(self.stmts.len() - 1),
        }
    }

    /// Folds `y * scale + shift` per output channel into the layer that computed `act`, when
    /// that is exact: the layer is a dense layer or a convolution whose result nothing else
    /// reads. Returns whether it did.
    pub fn fold(
        &mut self,
        act: &Act,
        scale: Option<&[f64]>,
        shift: Option<&[f64]>,
        note: String,
    ) -> bool {
        let Some(index) = act.affine else {
            return false;
        };
        if self.uses(&act.value) != 1 {
            return false;
        }
        let StmtKind::Affine(affine) = &self.stmts[index].kind else {
            return false;
        };
        let channels = affine.channels;
        if scale.is_some_and(|s| s.len() != channels) || shift.is_some_and(|s| s.len() != channels)
        {
            return false;
        }
        let (weight, bias) = (affine.weight, affine.bias);
        if let Some(scale) = scale {
            for row in self.params[weight].data.chunks_mut(channels) {
                for (w, s) in row.iter_mut().zip(scale) {
                    *w *= s;
                }
            }
        }
        let bias = match bias {
            Some(b) => {
                if let Some(scale) = scale {
                    for (v, s) in self.params[b].data.iter_mut().zip(scale) {
                        *v *= s;
                    }
                }
                b
            }
            None => {
                let base = format!("{}_bias", self.stmts[index].var);
                self.param(&base, vec![channels], vec![0.0; channels])
            }
        };
        if let Some(shift) = shift {
            for (v, t) in self.params[bias].data.iter_mut().zip(shift) {
                *v += t;
            }
        }
        if let StmtKind::Affine(a) = &mut self.stmts[index].kind {
            a.bias = Some(bias);
        }
        self.stmts[index].comment.push(note);
        self.folded += 1;
        true
    }

    // ---- Layouts --------------------------------------------------------------------------

    /// The activation in plain C order (ONNX's layout), moving data if it is in another.
    pub fn plain_order(&mut self, act: &Act, why: &str) -> Act {
        if act.layout == Layout::Plain {
            return act.clone();
        }
        let swaps = act.layout.swaps_to_plain();
        let var = self.fresh(&format!("{}_nchw", act.var));
        self.nn.insert("swap_blocks");
        let expr = swaps.iter().fold(act.var.clone(), |x, [o, a, b, i]| {
            if *o == 1
                && *i == 1
                && let Layout::Perm { logical, perm } = &act.layout
                && logical.len() == 3
                && *perm == [1, 2, 0]
            {
                self.nn.insert("to_nchw");
                return format!(
                    "to_nchw({x}, channels: {}, height: {}, width: {})",
                    logical[0], logical[1], logical[2]
                );
            }
            format!("swap_blocks({x}, {o}, {a}, {b}, {i})")
        });
        if !expr.contains("swap_blocks") {
            self.nn.remove("swap_blocks");
        }
        self.stmts.push(Stmt {
            var: var.clone(),
            ty: None,
            comment: vec![format!(
                "Layout: `{}` back to ONNX's order ({why}).",
                act.var
            )],
            kind: StmtKind::Expr(expr),
        });
        Act {
            var,
            value: act.value.clone(),
            dims: act.dims.clone(),
            layout: Layout::Plain,
            affine: None,
        }
    }

    /// The activation as channel-last images, for a convolution or a pooling layer.
    pub fn images(&mut self, node: &Node, act: &Act) -> Result<Act, ImportError> {
        let [c, h, w] = act.dims[..] else {
            return Err(self.unsupported(
                node,
                format!(
                    "its input is {} per example; tfe's image layers take [channels, height, width]",
                    dims_text(&act.dims)
                ),
            ));
        };
        if act.layout.is_image(&act.dims) {
            return Ok(act.clone());
        }
        let plain = self.plain_order(act, "before a change to channel-last");
        let var = self.fresh(&format!("{}_image", act.var));
        self.nn.insert("from_nchw");
        self.stmts.push(Stmt {
            var: var.clone(),
            ty: None,
            comment: vec![format!(
                "Layout: `{}` to channel-last images for `{}`.",
                plain.var,
                display_name(node)
            )],
            kind: StmtKind::Expr(format!(
                "from_nchw({}, channels: {c}, height: {h}, width: {w})",
                plain.var
            )),
        });
        Ok(Act {
            var,
            value: act.value.clone(),
            dims: act.dims.clone(),
            layout: Layout::image(c, h, w),
            affine: None,
        })
    }

    /// `b` in the layout of `a` (they have the same dims).
    pub fn like(&mut self, a: &Act, b: &Act) -> Act {
        if a.layout == b.layout {
            return b.clone();
        }
        let plain = self.plain_order(b, "to match another operand");
        if a.layout == Layout::Plain {
            return plain;
        }
        let var = self.fresh(&format!("{}_relaid", b.var));
        self.nn.insert("swap_blocks");
        let expr = a
            .layout
            .swaps_from_plain()
            .iter()
            .fold(plain.var.clone(), |x, [o, p, q, i]| {
                format!("swap_blocks({x}, {o}, {p}, {q}, {i})")
            });
        self.stmts.push(Stmt {
            var: var.clone(),
            ty: None,
            comment: vec![format!("Layout: `{}` as `{}` is laid out.", b.var, a.var)],
            kind: StmtKind::Expr(expr),
        });
        Act {
            var,
            value: b.value.clone(),
            dims: b.dims.clone(),
            layout: a.layout.clone(),
            affine: None,
        }
    }

    /// A constant broadcast (as NumPy does) against an example of `dims`, in ONNX's order; its
    /// batch axis, if it has one, must be 1.
    pub fn broadcast(
        &self,
        node: &Node,
        c: &Tensor,
        dims: &[usize],
    ) -> Result<Vec<f64>, ImportError> {
        let values = c.as_f64().ok_or_else(|| {
            self.unsupported(node, "a constant that depends on the batch size".into())
        })?;
        let full_rank = dims.len() + 1;
        if c.dims.len() > full_rank {
            return Err(self.unsupported(
                node,
                format!(
                    "a constant of rank {} against examples of rank {}",
                    c.dims.len(),
                    dims.len()
                ),
            ));
        }
        // The constant's dims aligned to the right of [batch, dims...].
        let mut cd = vec![1usize; full_rank - c.dims.len()];
        cd.extend(&c.dims);
        if cd[0] != 1 {
            return Err(self.unsupported(
                node,
                "a constant with one value per example of the batch".into(),
            ));
        }
        let cd = &cd[1..];
        for (k, (&a, &b)) in cd.iter().zip(dims).enumerate() {
            if a != 1 && a != b {
                return Err(self.bad(
                    node,
                    format!(
                        "a constant of shape {} does not broadcast to {} (axis {})",
                        dims_text(&c.dims),
                        dims_text(dims),
                        k + 1
                    ),
                ));
            }
        }
        let size: usize = dims.iter().product();
        let mut strides = vec![0usize; cd.len()];
        let mut s = 1;
        for k in (0..cd.len()).rev() {
            strides[k] = if cd[k] == 1 { 0 } else { s };
            s *= cd[k];
        }
        let mut out = Vec::with_capacity(size);
        let mut index = vec![0usize; dims.len()];
        for _ in 0..size {
            out.push(
                values[index
                    .iter()
                    .zip(&strides)
                    .map(|(i, s)| i * s)
                    .sum::<usize>()],
            );
            for a in (0..dims.len()).rev() {
                index[a] += 1;
                if index[a] < dims[a] {
                    break;
                }
                index[a] = 0;
            }
        }
        Ok(out)
    }

    /// A constant as the owner's parameter laid out like `act`'s row: one value if it is the
    /// same everywhere, else one per element of an example.
    pub fn operand_param(&mut self, node: &Node, base: &str, values: Vec<f64>, act: &Act) -> usize {
        let _ = node;
        if values.iter().all(|v| *v == values[0]) {
            return self.param(base, vec![1], vec![values[0]]);
        }
        let pos = act.layout.positions(values.len());
        let mut row = vec![0.0; values.len()];
        for (i, v) in values.into_iter().enumerate() {
            row[pos[i]] = v;
        }
        let n = row.len();
        self.param(base, vec![n], row)
    }

    /// The input's batch size as the model states it (for reshapes that name it).
    pub fn stated_batch(&self) -> Option<usize> {
        self.batch
    }

    pub fn opset(&self) -> i64 {
        self.graph.opset
    }
}

/// A node's name for messages: its ONNX name, or its operator and position.
pub fn display_name(node: &Node) -> String {
    if node.name.is_empty() {
        format!("(unnamed {})", node.op)
    } else {
        node.name.clone()
    }
}

/// The comment line of a layer: its node, operator and what it does.
fn describe(node: &Node, detail: &str) -> String {
    let op = if node.domain.is_empty() {
        node.op.clone()
    } else {
        format!("{}:{}", node.domain, node.op)
    };
    let name = if node.name.is_empty() {
        String::new()
    } else {
        format!("{}: ", node.name)
    };
    if detail.is_empty() {
        format!("{name}{op}")
    } else {
        format!("{name}{op} {detail}")
    }
}

/// The base of a layer's variable name from its node's name. PyTorch names nodes by module
/// path and operator (`/layer1/layer1.0/conv1/Conv`): the operator goes, and a path element
/// repeated as the next one's prefix (`layer1`, `layer1.0`) is said once.
fn layer_base(node: &Node) -> String {
    let parts: Vec<&str> = node.name.split('/').filter(|p| !p.is_empty()).collect();
    let mut parts: Vec<&str> = if parts.len() >= 2 && *parts.last().expect("two parts") == node.op {
        parts[..parts.len() - 1].to_vec()
    } else {
        parts
    };
    let mut k = 0;
    while k + 1 < parts.len() {
        if parts[k + 1].starts_with(&format!("{}.", parts[k])) {
            parts.remove(k);
        } else {
            k += 1;
        }
    }
    let joined = parts.join("_");
    if identifier(&joined).is_empty() {
        snake(&node.op)
    } else {
        joined
    }
}

/// `LinearClassifier` -> `linear_classifier`.
fn snake(s: &str) -> String {
    let mut out = String::new();
    for (i, ch) in s.char_indices() {
        if ch.is_ascii_uppercase() && i > 0 && !s[..i].ends_with(|c: char| c.is_ascii_uppercase()) {
            out.push('_');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

/// A tfe identifier from any text: ASCII letters, digits and single underscores, lower case,
/// starting with a letter.
pub fn identifier(s: &str) -> String {
    let s = if s.chars().any(|c| c.is_ascii_lowercase()) {
        snake(s)
    } else {
        s.to_ascii_lowercase()
    };
    let mut out = String::new();
    for ch in s.chars() {
        let ch = if ch.is_ascii_alphanumeric() { ch } else { '_' };
        if ch == '_' && (out.is_empty() || out.ends_with('_')) {
            continue;
        }
        out.push(ch);
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'v');
    }
    out
}

pub fn dims_text(dims: &[usize]) -> String {
    format!(
        "[{}]",
        dims.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// A number as a tfe `fixed` literal.
pub fn literal(v: f64) -> String {
    let s = format!("{v:?}");
    if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

/// Integers of a constant, every one known.
pub fn known_ints(t: &Tensor) -> Option<Vec<i64>> {
    t.as_known_ints()
}

/// A constant's integers, the batch size allowed.
pub fn int_values(t: &Tensor) -> Option<Vec<Int>> {
    match &t.data {
        Data::Int(v) => Some(v.clone()),
        Data::Float(v) => v
            .iter()
            .map(|f| (f.fract() == 0.0).then_some(Int::Known(*f as i64)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, op: &str) -> Node {
        Node {
            name: name.into(),
            op: op.into(),
            domain: String::new(),
            inputs: vec![],
            outputs: vec![],
            attrs: HashMap::new(),
        }
    }

    #[test]
    fn names_read_like_the_model() {
        assert_eq!(
            layer_base(&node("/layer1/layer1.0/conv1/Conv", "Conv")),
            "layer1.0_conv1"
        );
        assert_eq!(identifier("layer1.0_conv1"), "layer1_0_conv1");
        assert_eq!(identifier(&layer_base(&node("/fc/Gemm", "Gemm"))), "fc");
        assert_eq!(
            identifier(&layer_base(&node("", "LinearClassifier"))),
            "linear_classifier"
        );
        assert_eq!(identifier(&layer_base(&node("Conv_12", "Conv"))), "conv_12");
        assert_eq!(identifier(&layer_base(&node("/Add", "Add"))), "add");
        assert_eq!(identifier("12abc"), "v12abc");
        assert_eq!(literal(6.0), "6.0");
        assert_eq!(literal(-0.5), "-0.5");
        assert_eq!(literal(1e-5), "1e-5");
    }
}
