//! The abstract syntax tree: what the source says, with a span on every node.
//!
//! The AST is syntax only: names are not resolved and nothing is typed (that is the compiler's
//! HIR). It keeps enough to print the program back ([`crate::print`]) so that printing and
//! parsing again gives the same tree, spans aside.
//!
//! Every [`Expr`] and [`Block`] records its nesting depth, computed when it is built. The parser
//! refuses trees deeper than [`crate::MAX_EXPR_DEPTH`], which is what lets every later pass walk
//! the tree recursively without any risk of overflowing the stack.

use crate::span::Span;

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

impl Ident {
    pub fn new(name: impl Into<String>, span: Span) -> Ident {
        Ident {
            name: name.into(),
            span,
        }
    }
}

/// A whole source file.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub items: Vec<Item>,
    pub span: Span,
}

/// A top-level declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Use(UseDecl),
    Party(PartyDecl),
    Secret(SecretDecl),
    Const(ConstDecl),
    Struct(StructDecl),
    Fn(FnDecl),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Use(d) => d.span,
            Item::Party(d) => d.span,
            Item::Secret(d) => d.span,
            Item::Const(d) => d.span,
            Item::Struct(d) => d.span,
            Item::Fn(d) => d.span,
        }
    }
}

/// `use std::nn::sigmoid;`, `use std::nn::{sigmoid, relu};` or `use std::nn::*;`
#[derive(Debug, Clone, PartialEq)]
pub struct UseDecl {
    /// The module path, at least one segment (`std::nn`).
    pub module: Vec<Ident>,
    pub names: UseNames,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UseNames {
    /// One or more names; a single name is written without braces.
    Names(Vec<Ident>),
    /// `*`: every public name of the module.
    Glob(Span),
}

/// `party alice, bob;`
#[derive(Debug, Clone, PartialEq)]
pub struct PartyDecl {
    pub names: Vec<Ident>,
    pub span: Span,
}

/// `secret rep = aby3(s0, s1, s2, ring = 128);`
#[derive(Debug, Clone, PartialEq)]
pub struct SecretDecl {
    pub name: Ident,
    pub protocol: Ident,
    pub args: Vec<ProtocolArg>,
    pub span: Span,
}

/// An argument of a protocol: a party, or an option `key = value`.
#[derive(Debug, Clone, PartialEq)]
pub enum ProtocolArg {
    Party(Ident),
    Option { key: Ident, value: Expr },
}

/// `const LR: fixed = 0.5;`
#[derive(Debug, Clone, PartialEq)]
pub struct ConstDecl {
    pub name: Ident,
    pub ty: Option<Type>,
    pub value: Expr,
    pub span: Span,
}

/// `struct Mlp { w: fixed[64, 10], b: fixed[10] }`: a record type, whose value lives at one
/// placement with all its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct StructDecl {
    pub name: Ident,
    pub fields: Vec<FieldDecl>,
    pub span: Span,
}

/// `w: fixed[64, 10]`: one field of a struct, with its type (no placement).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDecl {
    pub name: Ident,
    pub ty: Type,
    pub span: Span,
}

/// `fn name(params) -> TYPE @P reveals(q) grad(x: g) { body }`
#[derive(Debug, Clone, PartialEq)]
pub struct FnDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: Option<RetType>,
    /// `reveals(a, b)`: the parties a function may reveal to; `None` when absent.
    pub reveals: Option<Reveals>,
    /// `grad(x: sigmoid_grad)`: the function's own gradients, one function per parameter that
    /// has one; `None` when absent (the compiler derives the gradient from the body).
    pub grads: Option<GradClause>,
    pub body: Block,
    pub span: Span,
}

/// `grad(logits: softmax_cross_entropy_grad)`, or `grad()` for a function with no gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct GradClause {
    pub entries: Vec<GradEntry>,
    pub span: Span,
}

/// `x: sigmoid_grad`: the parameter, and the function that computes its gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct GradEntry {
    pub param: Ident,
    pub function: Ident,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// `const axis: int`: a compile-time constant, passed by value at each call (each distinct
    /// value checks its own instance), so it may size shapes and name axes.
    pub constant: bool,
    pub name: Ident,
    pub ty: Type,
    pub placement: Option<Placement>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetType {
    pub ty: Type,
    pub placement: Option<Placement>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reveals {
    pub targets: Vec<Placement>,
    pub span: Span,
}

/// Where a value lives: `@public`, `@alice`, `@rep`. In `reveals(…)` the same names are written
/// without `@`.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    Public(Span),
    Named(Ident),
}

impl Placement {
    pub fn span(&self) -> Span {
        match self {
            Placement::Public(span) => *span,
            Placement::Named(ident) => ident.span,
        }
    }
}

/// A written type: `fixed`, `int[3]`, `fixed[_, 30]`, `fixed[..]`, `Mlp`, `(fixed, Mlp)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Type {
    pub kind: TypeKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeKind {
    /// A scalar or a tensor: `fixed`, `fixed[_, 30]`.
    Tensor {
        scalar: ScalarType,
        /// `None` for a scalar; `Some` (possibly with a single `..`) for a tensor.
        dims: Option<Vec<Dim>>,
    },
    /// A struct's name: `Mlp`.
    Named(Ident),
    /// `(fixed, Mlp)`: two or more types.
    Tuple(Vec<Type>),
}

impl Type {
    /// The scalar and dimensions of a tensor type; `None` for a struct or a tuple.
    pub fn tensor(&self) -> Option<(ScalarType, Option<&[Dim]>)> {
        match &self.kind {
            TypeKind::Tensor { scalar, dims } => Some((*scalar, dims.as_deref())),
            TypeKind::Named(_) | TypeKind::Tuple(_) => None,
        }
    }

    /// Whether this is `fixed[..]` (any shape, in a signature).
    pub fn is_any_shape(&self) -> bool {
        matches!(self.tensor(), Some((_, Some([Dim::Any(_)]))))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarType {
    Fixed,
    Int,
    Bool,
    Float,
}

impl ScalarType {
    pub fn keyword(self) -> &'static str {
        match self {
            ScalarType::Fixed => "fixed",
            ScalarType::Int => "int",
            ScalarType::Bool => "bool",
            ScalarType::Float => "float",
        }
    }
}

/// One dimension of a tensor type.
#[derive(Debug, Clone, PartialEq)]
pub enum Dim {
    /// A number: `30`.
    Fixed(u64, Span),
    /// A constant's name: `FEATURES`.
    Named(Ident),
    /// `_`: known only at run time.
    Unknown(Span),
    /// `..`: any number of dimensions of any size (function signatures).
    Any(Span),
}

/// `{ stmts; tail }`: every block is an expression whose value is its tail.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub tail: Option<Box<Expr>>,
    pub span: Span,
    depth: u32,
}

impl Block {
    /// Builds a block, moving a trailing block-like expression statement without `;`
    /// (`{ …; if c { a } else { b } }`) into the tail, as Rust does.
    pub fn new(mut stmts: Vec<Stmt>, mut tail: Option<Box<Expr>>, span: Span) -> Block {
        if tail.is_none()
            && let Some(Stmt {
                kind: StmtKind::Expr { semi: false, .. },
                ..
            }) = stmts.last()
            && let Some(Stmt {
                kind: StmtKind::Expr { expr, .. },
                ..
            }) = stmts.pop()
        {
            tail = Some(Box::new(expr));
        }
        let depth = 1 + stmts
            .iter()
            .map(Stmt::depth)
            .chain(tail.iter().map(|e| e.depth))
            .max()
            .unwrap_or(0);
        Block {
            stmts,
            tail,
            span,
            depth,
        }
    }

    /// Nesting depth of the deepest expression or block inside, plus one.
    pub fn depth(&self) -> u32 {
        self.depth
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `let mut name: TYPE @P = value;`
    Let {
        mutable: bool,
        name: Ident,
        ty: Option<Type>,
        placement: Option<Placement>,
        value: Expr,
    },
    /// `let (a, mut b, _): TYPE @P = value;`: takes a tuple apart.
    LetTuple {
        bindings: Vec<Binding>,
        ty: Option<Type>,
        placement: Option<Placement>,
        value: Expr,
    },
    /// `name = value;`
    Assign { target: Ident, value: Expr },
    /// `for var in start..end { body }`
    For {
        var: Ident,
        start: Expr,
        end: Expr,
        body: Block,
    },
    /// `while cond { body }`
    While { cond: Expr, body: Block },
    /// `return value;`
    Return(Option<Expr>),
    /// An expression used as a statement: `print(x);`, or a block-like expression (`if`, `on`,
    /// a block) that may go without `;` (`semi` says whether it had one).
    Expr { expr: Expr, semi: bool },
}

impl Stmt {
    fn depth(&self) -> u32 {
        match &self.kind {
            StmtKind::Let { value, .. }
            | StmtKind::LetTuple { value, .. }
            | StmtKind::Assign { value, .. } => value.depth,
            StmtKind::For {
                start, end, body, ..
            } => start.depth.max(end.depth).max(body.depth),
            StmtKind::While { cond, body } => cond.depth.max(body.depth),
            StmtKind::Return(value) => value.as_ref().map_or(0, |v| v.depth),
            StmtKind::Expr { expr, .. } => expr.depth,
        }
    }
}

/// One name of `let (a, mut b, _) = …`: `None` for `_`, which ignores its element.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub mutable: bool,
    pub name: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    depth: u32,
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        let depth = 1 + kind.child_depth();
        Expr { kind, span, depth }
    }

    /// Nesting depth: 1 for a leaf, one more than the deepest child otherwise.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Whether this is an `if`, `on` or block expression: those end a statement without `;`
    /// and must be parenthesised to be used as an operand.
    pub fn is_block_like(&self) -> bool {
        matches!(
            self.kind,
            ExprKind::If { .. } | ExprKind::On { .. } | ExprKind::Block(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(u64),
    Fixed(f64),
    Bool(bool),
    Str(String),
    /// A local, a parameter or a constant.
    Var(Ident),
    /// `[a, b, c]`: a list (of tensors for `concat`, of sizes for `zeros`).
    Array(Vec<Expr>),
    /// `f(x, axis: 0)` or `std::nn::sigmoid(x)`.
    Call {
        callee: Path,
        args: Vec<Arg>,
    },
    /// `Mlp { w: w0, b: zeros([10]) }`: every field, once.
    StructLit {
        name: Ident,
        fields: Vec<FieldInit>,
    },
    /// `m.w`: a field of a struct.
    Field {
        base: Box<Expr>,
        field: Ident,
    },
    /// `(a, b)`: two or more values.
    Tuple(Vec<Expr>),
    /// `x[i]`, `x[a .. b]`, `x[a .. b, c .. d]`.
    Index {
        base: Box<Expr>,
        indices: Vec<IndexItem>,
    },
    Unary {
        op: UnOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `if cond { … } else { … }`; `else_branch` is a `Block` or another `If` expression.
    If {
        cond: Box<Expr>,
        then_branch: Block,
        else_branch: Option<Box<Expr>>,
    },
    /// `on alice { … }`: computed entirely at one party.
    On {
        party: Ident,
        body: Block,
    },
    Block(Block),
}

impl ExprKind {
    fn child_depth(&self) -> u32 {
        match self {
            ExprKind::Int(_)
            | ExprKind::Fixed(_)
            | ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Var(_) => 0,
            ExprKind::Array(items) | ExprKind::Tuple(items) => {
                items.iter().map(|e| e.depth).max().unwrap_or(0)
            }
            ExprKind::StructLit { fields, .. } => {
                fields.iter().map(|f| f.value.depth).max().unwrap_or(0)
            }
            ExprKind::Field { base, .. } => base.depth,
            ExprKind::Call { args, .. } => args.iter().map(|a| a.value.depth).max().unwrap_or(0),
            ExprKind::Index { base, indices } => indices
                .iter()
                .map(IndexItem::depth)
                .max()
                .unwrap_or(0)
                .max(base.depth),
            ExprKind::Unary { operand, .. } => operand.depth,
            ExprKind::Binary { lhs, rhs, .. } => lhs.depth.max(rhs.depth),
            ExprKind::If {
                cond,
                then_branch,
                else_branch,
            } => cond
                .depth
                .max(then_branch.depth)
                .max(else_branch.as_ref().map_or(0, |e| e.depth)),
            ExprKind::On { body, .. } | ExprKind::Block(body) => body.depth,
        }
    }
}

/// A possibly qualified name: `sigmoid`, `nn::sigmoid`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub span: Span,
}

impl Path {
    /// The path as written: `std::nn::sigmoid`.
    pub fn to_text(&self) -> String {
        let names: Vec<&str> = self.segments.iter().map(|s| s.name.as_str()).collect();
        names.join("::")
    }
}

/// `w: w0` in a struct literal.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldInit {
    pub name: Ident,
    pub value: Expr,
}

/// A call argument, positional or named (`axis: 0`).
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

/// One entry between the brackets of `x[…]`.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexItem {
    /// `x[i]`: one element along this axis (the axis disappears).
    Single(Expr),
    /// `x[a .. b]`: the half-open range along this axis.
    Range { start: Expr, end: Expr, span: Span },
}

impl IndexItem {
    fn depth(&self) -> u32 {
        match self {
            IndexItem::Single(e) => e.depth,
            IndexItem::Range { start, end, .. } => start.depth.max(end.depth),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnOp {
    Neg,
    Not,
}

impl UnOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnOp::Neg => "-",
            UnOp::Not => "!",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    pub const ALL: [BinOp; 13] = [
        BinOp::Or,
        BinOp::And,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::Rem,
    ];

    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }

    /// Binding strength, loosest first: `||` < `&&` < comparisons < `+ -` < `* / %`.
    /// All are left-associative except comparisons, which do not chain.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 5,
        }
    }

    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }
}
