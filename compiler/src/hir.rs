//! The checked program (HIR): names resolved, every expression typed and placed, every movement
//! of data between placements explicit.
//!
//! The checker produces a HIR only for a program with no errors, so every invariant below holds
//! for the passes after it (lowering relies on them):
//! - every expression has a type and a placement; data changes placement only through
//!   [`ExprKind::Share`] (a party's or a public value entering a secret placement) and
//!   [`ExprKind::Reveal`] (the program's declassifications);
//! - branch conditions, loop bounds and indices are public, or held by the party whose `on` block
//!   they are in;
//! - functions are instantiated per call signature (argument types and placements), and none is
//!   recursive: the call graph is a DAG and `main` is its root;
//! - constants are folded into literals; `int` operands of `fixed` arithmetic are wrapped in
//!   [`ExprKind::Convert`].

use std::collections::BTreeSet;

use tfe_grammar::Span;
use tfe_grammar::ast::{BinOp, UnOp};

use crate::types::{Scalar, StructType, TensorType, Type};

pub type PartyId = usize;
pub type SecretId = usize;
pub type FunctionId = usize;
pub type LocalId = usize;

/// Where a value lives, and so who can see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placement {
    /// Known to every party.
    Public,
    /// Plaintext at one party.
    Party(PartyId),
    /// Secret-shared among the compute parties of a secret placement.
    Secret(SecretId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Replicated secret sharing among three parties (honest majority).
    Aby3,
    /// Additive two-party sharing with a dealer of correlated randomness.
    Pond,
    /// pond's sharing, with the third party also helping in exact comparisons (SecureNN).
    SecureNn,
}

/// How a `secret` line names a protocol and its parties: the checker's table of protocols.
#[derive(Debug, Clone, Copy)]
pub struct ProtocolForm {
    pub protocol: Protocol,
    pub name: &'static str,
    /// Parties that hold shares.
    pub holders: usize,
    /// Whether a third party deals randomness (`dealer = p`).
    pub dealer: bool,
    /// The line as written.
    pub form: &'static str,
    /// Why no party may play two roles.
    pub distinct: &'static str,
}

/// Every protocol a program may name.
pub const PROTOCOLS: &[ProtocolForm] = &[
    ProtocolForm {
        protocol: Protocol::Aby3,
        name: "aby3",
        holders: 3,
        dealer: false,
        form: "aby3(p0, p1, p2)",
        distinct: "aby3's security needs three distinct parties: no party may hold two sets of shares",
    },
    ProtocolForm {
        protocol: Protocol::Pond,
        name: "pond",
        holders: 2,
        dealer: true,
        form: "pond(p0, p1, dealer = p2)",
        distinct: "pond's dealer must not be one of the two share holders, or it would learn the secrets",
    },
    ProtocolForm {
        protocol: Protocol::SecureNn,
        name: "securenn",
        holders: 2,
        dealer: true,
        form: "securenn(p0, p1, dealer = p2)",
        distinct: "securenn's helper must not be one of the two share holders, or it would learn the secrets",
    },
];

impl Protocol {
    /// The protocol's entry in [`PROTOCOLS`].
    pub fn form(self) -> &'static ProtocolForm {
        PROTOCOLS
            .iter()
            .find(|f| f.protocol == self)
            .expect("every protocol has a form")
    }

    pub fn name(self) -> &'static str {
        self.form().name
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Party {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecretPlacement {
    pub name: String,
    pub protocol: Protocol,
    /// The compute parties in protocol order; for pond and securenn, the two holders then the
    /// dealer.
    pub parties: Vec<PartyId>,
    /// Bits of the ring the shares live in (64 or 128).
    pub ring_bits: u32,
    /// Fractional bits of the fixed-point encoding.
    pub frac_bits: u32,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub parties: Vec<Party>,
    pub secrets: Vec<SecretPlacement>,
    /// Every struct declaration of the program and the library; `Type::Struct` indexes it.
    pub structs: Vec<StructDef>,
    /// Every function instance; callees come before their callers (the gradient pass appends
    /// the functions it derives, after every function they call).
    pub functions: Vec<Function>,
    pub main: FunctionId,
}

/// A `struct` declaration: its fields in declaration order, each a tensor type.
#[derive(Debug, Clone, PartialEq)]
pub struct StructDef {
    pub name: String,
    pub fields: Vec<(String, TensorType)>,
    pub span: Span,
}

impl Program {
    /// The types of the parts of a struct or a tuple, in order.
    pub fn parts(&self, ty: &Type) -> Vec<Type> {
        match ty {
            Type::Struct(StructType { id, .. }) => self.structs[*id]
                .fields
                .iter()
                .map(|(_, t)| Type::Tensor(t.clone()))
                .collect(),
            Type::Tuple(items) => items.clone(),
            _ => Vec::new(),
        }
    }
}

impl Program {
    pub fn placement_name(&self, placement: Placement) -> String {
        match placement {
            Placement::Public => "public".to_string(),
            Placement::Party(p) => self.parties[p].name.clone(),
            Placement::Secret(s) => self.secrets[s].name.clone(),
        }
    }
}

/// One instance of a function: a source function checked for one call signature.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// The name as written (`sigmoid`), and the module it comes from (`std::nn`, or `main`).
    pub name: String,
    pub module: String,
    pub params: Vec<LocalId>,
    pub locals: Vec<Local>,
    pub ret_type: Type,
    pub ret_placement: Placement,
    pub body: Block,
    /// Where this function's reveals (its own and its callees') may go: `Public` for `reveal(x)`.
    pub reveals: BTreeSet<Placement>,
    /// The function's own gradients (a `grad(…)` clause), one entry per parameter: the
    /// instances that compute that parameter's gradient from (parameters…, result, result's
    /// gradient), or `None` for a parameter without one. `None` when the function has no clause:
    /// the gradient pass then derives its gradient from the body.
    pub grads: Option<Vec<Option<Vjp>>>,
    pub span: Span,
}

/// The instances of a function's own gradient for one parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vjp {
    /// For the result's gradient at the result's placement.
    pub at_result: FunctionId,
    /// For a public gradient of a secret result (a loss's gradient starts as the public 1), so
    /// that multiplying by it stays a product with a public value; `None` when the result is
    /// not secret.
    pub public_dy: Option<FunctionId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Local {
    pub name: String,
    pub ty: Type,
    pub placement: Placement,
    pub mutable: bool,
    /// The declaration: a `let`, a parameter, a loop variable.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub tail: Option<Box<Expr>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Let {
        local: LocalId,
        value: Expr,
        span: Span,
    },
    /// `let (a, _, b) = value;`: one local per element of the tuple, `None` for `_`.
    LetTuple {
        locals: Vec<Option<LocalId>>,
        value: Expr,
        span: Span,
    },
    Assign {
        local: LocalId,
        value: Expr,
        span: Span,
    },
    /// `for var in start..end`: bounds are public (or at the party of the enclosing `on`).
    For {
        var: LocalId,
        start: Expr,
        end: Expr,
        body: Block,
        span: Span,
    },
    While {
        cond: Expr,
        body: Block,
        span: Span,
    },
    Return {
        value: Option<Expr>,
        span: Span,
    },
    Expr(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
    pub placement: Placement,
    pub span: Span,
}

/// The builtin operations. Static parameters (axes, paths) are part of the operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Builtin {
    ReadCsv {
        path: String,
    },
    WriteCsv {
        path: String,
    },
    ReadNpy {
        path: String,
    },
    WriteNpy {
        path: String,
    },
    /// `write_shares(x, name)`: each member of x's secret placement stores its share.
    WriteShares {
        name: String,
    },
    /// `read_shares(name)`: each member loads the share it stored under `name`.
    ReadShares {
        name: String,
    },
    Print,
    Zeros,
    Ones,
    Rows,
    Shape,
    Concat {
        axis: usize,
    },
    Transpose,
    Im2Col(tfe_ir::Window),
    Col2Im(tfe_ir::Window),
    Log2Lookup {
        from: i64,
        table: Vec<f64>,
    },
    Reshape,
    Sum {
        axis: Option<usize>,
    },
    Max {
        axis: Option<usize>,
    },
    ArgMax {
        axis: Option<usize>,
    },
    Matmul,
    Select,
    /// `zeros_like(v)`: a value of v's type and placement with every element 0.
    ZerosLike,
    /// The maximum of each row of a matrix and the one-hot of its first maximal entry
    /// (`Kernel::MaxOneHot`); made by the gradient pass only, where a maximum is differentiated.
    MaxOneHot,
}

impl Builtin {
    pub fn name(&self) -> &'static str {
        match self {
            Builtin::ReadCsv { .. } => "read_csv",
            Builtin::WriteCsv { .. } => "write_csv",
            Builtin::ReadNpy { .. } => "read_npy",
            Builtin::WriteNpy { .. } => "write_npy",
            Builtin::WriteShares { .. } => "write_shares",
            Builtin::ReadShares { .. } => "read_shares",
            Builtin::Print => "print",
            Builtin::Zeros => "zeros",
            Builtin::Ones => "ones",
            Builtin::Rows => "rows",
            Builtin::Shape => "shape",
            Builtin::Concat { .. } => "concat",
            Builtin::Transpose => "transpose",
            Builtin::Im2Col(_) => "im2col",
            Builtin::Col2Im(_) => "col2im",
            Builtin::Log2Lookup { .. } => "log2_lookup",
            Builtin::Reshape => "reshape",
            Builtin::Sum { .. } => "sum",
            Builtin::Max { .. } => "max",
            Builtin::ArgMax { .. } => "argmax",
            Builtin::Matmul => "matmul",
            Builtin::Select => "select",
            Builtin::ZerosLike => "zeros_like",
            Builtin::MaxOneHot => "max_onehot",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum IndexItem {
    Single(Expr),
    Range { start: Expr, end: Expr },
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Fixed(f64),
    Bool(bool),
    Str(String),
    Local(LocalId),
    List(Vec<Expr>),
    Unary {
        op: UnOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Builtin {
        builtin: Builtin,
        args: Vec<Expr>,
    },
    Call {
        function: FunctionId,
        args: Vec<Expr>,
    },
    /// `Name { … }`: the fields' values in declaration order.
    StructLit {
        fields: Vec<Expr>,
    },
    /// `(a, b)`.
    Tuple(Vec<Expr>),
    /// Part `index` of a struct (its field in declaration order) or of a tuple.
    Field {
        base: Box<Expr>,
        index: usize,
    },
    /// `grad(f, a, …)` (`with_value: false`: the gradient of `f(a, …)` with respect to `a`) or
    /// `value_and_grad(f, a, …)` (the tuple of the value and the gradient). Only in the
    /// checker's output: the gradient pass replaces every one by a call of a derived function.
    Grad {
        function: FunctionId,
        args: Vec<Expr>,
        with_value: bool,
    },
    Index {
        base: Box<Expr>,
        items: Vec<IndexItem>,
    },
    /// Widening of `int` to `fixed` or `float`, or between `fixed` and `float` at a party.
    Convert {
        value: Box<Expr>,
        to: Scalar,
    },
    /// A party's (or a public) value entering a secret placement: secret-shared.
    Share {
        value: Box<Expr>,
        to: SecretId,
    },
    /// Declassification: to one party, or to everyone (`to: None`).
    Reveal {
        value: Box<Expr>,
        to: Option<PartyId>,
    },
    If {
        cond: Box<Expr>,
        then_block: Block,
        else_block: Option<Block>,
    },
    On {
        party: PartyId,
        body: Block,
    },
    Block(Block),
}

impl Expr {
    pub fn tensor_type(&self) -> Option<&TensorType> {
        self.ty.tensor()
    }
}
