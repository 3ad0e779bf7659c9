//! Lowering: the checked program (HIR) to the protocol IR.
//!
//! Must run on a HIR without errors (the checker's guarantees, hir.rs). What it does:
//! - inlines every function call (instances are monomorphic and the call graph is a DAG), so
//!   each call site gets its own registers and op ids; loops stay loops;
//! - gives every variable and every intermediate value a register with its type and placement;
//!   a struct or tuple is one register per field (a [`Value`] tree), and what applies to it
//!   (arithmetic, sharing, revealing, copying) applies field by field;
//! - makes fixed-point arithmetic at secret placements explicit: a product of two fixed-point
//!   values truncates by the placement's fractional bits (`mul.trunc16`), a division by a public
//!   value becomes a product with its reciprocal;
//! - turns the HIR's `Share` and `Reveal` into the IR's, and `rows(x)` / `shape(x)` of a value held
//!   by some parties into a computation at those parties followed by a `publish` (shapes are
//!   public, so every party may learn them).
//!
//! Fixed-point format: each secret placement records `ring` and `frac` (default 64 and 16: see
//! docs/language.md for the choice and its error bounds). Plaintext `fixed` values at a party or
//! in public are f64 until they enter a secret placement, where the runtime encodes them.

use std::collections::HashMap;

use tfe_ir as ir;
use tfe_ir::{Kernel, Literal, Node, Op, Reg};

use crate::diagnostics::{Diagnostic, Label};
use crate::hir::{self, Builtin, ExprKind, FunctionId, IndexItem, Placement, Stmt};
use crate::types::{Dim, Scalar, Type};

/// A lowered value: a tensor's register, or a struct's or tuple's parts.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Reg(Reg),
    Parts(Vec<Value>),
}

impl Value {
    /// The register of a tensor value.
    fn reg(&self) -> Reg {
        match self {
            Value::Reg(r) => *r,
            Value::Parts(_) => {
                panic!("a struct where a tensor was expected: the checker let it through")
            }
        }
    }

    fn part(&self, index: usize) -> &Value {
        match self {
            Value::Parts(parts) => &parts[index],
            Value::Reg(_) => {
                panic!("a tensor where a struct was expected: the checker let it through")
            }
        }
    }

    /// Every register, parts in order.
    fn leaves(&self) -> Vec<Reg> {
        match self {
            Value::Reg(r) => vec![*r],
            Value::Parts(parts) => parts.iter().flat_map(Value::leaves).collect(),
        }
    }
}

/// Lowers a checked program. Errors are constructs the runtime cannot run yet. (Optimisations
/// such as `cse` run after it, in the pipeline.)
pub fn lower(program: &hir::Program) -> Result<ir::Program, Vec<Diagnostic>> {
    let mut l = Lowerer {
        hir: program,
        regs: Vec::new(),
        named: HashMap::new(),
        next_op: 0,
        errors: Vec::new(),
        user_call: None,
        too_large: false,
        on_party: None,
        here: None,
        sources: Vec::new(),
    };
    let mut body = Vec::new();
    l.inline(program.main, &[], &mut body);
    if !l.errors.is_empty() {
        return Err(l.errors);
    }
    // Loads of stored shares run first, so that a missing or mismatched file ends the run
    // before anything is computed (they read nothing but their files; the refresh of what they
    // load stays where the program has it). A load inside a loop or a branch stays there, and so
    // does a load of a name the program also stores: it must read what the store wrote.
    let mut stored = std::collections::HashSet::new();
    collect_stores(&body, &mut stored);
    let (loads, rest): (Vec<ir::Node>, Vec<ir::Node>) = body
        .into_iter()
        .partition(|n| matches!(&n.op, Op::LoadShares { name, .. } if !stored.contains(name)));
    let body: Vec<ir::Node> = loads.into_iter().chain(rest).collect();
    Ok(ir::Program {
        parties: program.parties.iter().map(|p| p.name.clone()).collect(),
        secrets: program
            .secrets
            .iter()
            .map(|s| ir::SecretInfo {
                name: s.name.clone(),
                protocol: protocol(s.protocol),
                parties: s.parties.clone(),
                ring_bits: s.ring_bits,
                frac_bits: s.frac_bits,
            })
            .collect(),
        regs: l.regs,
        body,
        n_ops: l.next_op,
        sources: l.sources,
    })
}

/// The names every `write_shares` of `body` stores under, loops and branches included.
fn collect_stores(body: &[ir::Node], out: &mut std::collections::HashSet<String>) {
    for n in body {
        if let Op::StoreShares { name, .. } = &n.op {
            out.insert(name.clone());
        }
        for block in n.op.blocks() {
            collect_stores(block, out);
        }
    }
}

/// The runtime's protocol of a secret placement: one line per protocol.
fn protocol(p: hir::Protocol) -> ir::Protocol {
    match p {
        hir::Protocol::Aby3 => ir::Protocol::Aby3,
        hir::Protocol::Pond => ir::Protocol::Pond,
        hir::Protocol::SecureNn => ir::Protocol::SecureNn,
    }
}

fn placement(p: Placement) -> ir::Placement {
    match p {
        Placement::Public => ir::Placement::Public,
        Placement::Party(p) => ir::Placement::Party(p),
        Placement::Secret(s) => ir::Placement::Secret(s),
    }
}

fn scalar(s: Scalar) -> ir::Scalar {
    match s {
        Scalar::Fixed => ir::Scalar::Fixed,
        Scalar::Int => ir::Scalar::Int,
        Scalar::Bool => ir::Scalar::Bool,
        Scalar::Float => ir::Scalar::Float,
    }
}

/// The most operations a program may lower to. Calls are inlined, so a short program can ask
/// for a huge one (each of 30 functions calling the one before twice is 2^30 calls); past this
/// bound the lowering stops with an error instead of filling memory. The largest example lowers to
/// a few thousand operations, a generated program of 100,000 lines to about 100,000.
pub const MAX_OPS: usize = 1_000_000;

struct Lowerer<'h> {
    hir: &'h hir::Program,
    regs: Vec<ir::RegInfo>,
    /// Registers that hold a variable, and whether that variable is mutable. A `let` of an
    /// immutable variable may share the registers of another immutable one; anything else is
    /// copied, so that assigning a variable never changes another.
    named: HashMap<Reg, bool>,
    next_op: u32,
    errors: Vec<Diagnostic>,
    /// The call in the program's own code that is being inlined (what an error points at).
    user_call: Option<tfe_grammar::Span>,
    /// [`MAX_OPS`] was passed (reported once).
    too_large: bool,
    /// Inside `on p`: public computations run at p alone (the block is p's local code).
    on_party: Option<usize>,
    /// The innermost expression of the user's code being lowered: each op's source.
    here: Option<tfe_grammar::Span>,
    /// The source of each op, by id.
    sources: Vec<Option<(u32, u32)>>,
}

/// The registers of one inlined function instance.
struct Frame {
    function: FunctionId,
    locals: Vec<Option<Value>>,
    /// The registers of its arguments: the caller's, which cannot change while the instance
    /// runs, so an immutable variable of the instance may share them.
    arguments: std::collections::HashSet<Reg>,
}

impl Lowerer<'_> {
    fn reg(&mut self, name: String, ty: &Type, at: Placement) -> Reg {
        let at = self.local_to_on_block(at);
        let (s, shape) = match ty {
            Type::Tensor(t) => (
                scalar(t.scalar),
                t.shape
                    .iter()
                    .map(|d| match d {
                        Dim::Known(n) => ir::Dim::Known(*n),
                        Dim::Runtime => ir::Dim::Runtime,
                    })
                    .collect(),
            ),
            _ => (ir::Scalar::Int, Vec::new()),
        };
        self.regs.push(ir::RegInfo {
            name,
            scalar: s,
            shape,
            placement: placement(at),
        });
        (self.regs.len() - 1) as Reg
    }

    /// Registers for a value of type `ty`: one, or one per field of a struct (`m.w`) or element
    /// of a tuple (`t.0`).
    fn alloc(&mut self, name: String, ty: &Type, at: Placement) -> Value {
        match ty {
            Type::Struct(st) => {
                let fields = self.hir.structs[st.id].fields.clone();
                Value::Parts(
                    fields
                        .iter()
                        .map(|(f, t)| {
                            self.alloc(format!("{name}.{f}"), &Type::Tensor(t.clone()), at)
                        })
                        .collect(),
                )
            }
            Type::Tuple(items) => Value::Parts(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, t)| self.alloc(format!("{name}.{i}"), t, at))
                    .collect(),
            ),
            _ => Value::Reg(self.reg(name, ty, at)),
        }
    }

    /// How a stored value is laid out: a tensor, or a struct's fields.
    fn stored_type(&self, ty: &Type) -> ir::StoredType {
        match ty {
            Type::Struct(st) => {
                let def = &self.hir.structs[st.id];
                ir::StoredType {
                    name: Some(def.name.clone()),
                    fields: def.fields.iter().map(|(f, _)| f.clone()).collect(),
                }
            }
            _ => ir::StoredType {
                name: None,
                fields: vec![String::new()],
            },
        }
    }

    fn temp(&mut self, ty: &Type, at: Placement) -> Reg {
        let name = format!("t{}", self.regs.len());
        self.reg(name, ty, at)
    }

    fn temp_value(&mut self, ty: &Type, at: Placement) -> Value {
        let name = format!("t{}", self.regs.len());
        self.alloc(name, ty, at)
    }

    /// The types of the parts of a struct or tuple type.
    fn parts(&self, ty: &Type) -> Vec<Type> {
        self.hir.parts(ty)
    }

    /// Public values computed inside `on p` are p's.
    fn local_to_on_block(&self, at: Placement) -> Placement {
        match (at, self.on_party) {
            (Placement::Public, Some(p)) => Placement::Party(p),
            _ => at,
        }
    }

    fn node(&mut self, op: Op) -> Node {
        let id = self.next_op;
        self.next_op += 1;
        self.sources
            .push(self.here.map(|s| (s.start as u32, s.end as u32)));
        Node { id, op }
    }

    fn emit(&mut self, out: &mut Vec<Node>, op: Op) {
        let node = self.node(op);
        out.push(node);
    }

    fn unsupported(&mut self, span: tfe_grammar::Span, what: &str, help: &str) {
        self.errors.push(
            Diagnostic::error(
                "E0401",
                format!("{what} is not supported by the runtime yet"),
                Label::new(span, "here"),
            )
            .with_help(help.to_string()),
        );
    }

    /// Reports, once, that the program lowers to more than [`MAX_OPS`] operations.
    fn too_large(&mut self) {
        if std::mem::replace(&mut self.too_large, true) {
            return;
        }
        let main = &self.hir.functions[self.hir.main];
        let span = self.user_call.unwrap_or(main.span);
        self.errors.push(
            Diagnostic::error(
                "E0402",
                format!("the program lowers to more than {MAX_OPS} operations"),
                Label::new(span, "the limit is passed in this call"),
            )
            .with_help("every call is inlined, so a function that calls another twice doubles its size: call a function once and keep its result, or loop with `for`"),
        );
    }

    /// Inlines a function instance with its arguments in `args`; returns its result.
    fn inline(
        &mut self,
        function: FunctionId,
        args: &[Value],
        out: &mut Vec<Node>,
    ) -> Option<Value> {
        let f = &self.hir.functions[function];
        let mut frame = Frame {
            function,
            locals: vec![None; f.locals.len()],
            arguments: args.iter().flat_map(Value::leaves).collect(),
        };
        for (param, arg) in f.params.iter().zip(args) {
            // A parameter is immutable: a `let mut` of it copies.
            for r in arg.leaves() {
                self.named.entry(r).or_insert(false);
            }
            frame.locals[*param] = Some(arg.clone());
        }
        // A `return` is supported as the last statement only (no early exits yet).
        let body = &f.body;
        for (i, stmt) in body.stmts.iter().enumerate() {
            if let Stmt::Return { value, span } = stmt {
                if i + 1 != body.stmts.len() || body.tail.is_some() {
                    self.unsupported(
                        *span,
                        "a `return` before the end of a function",
                        "end the function with the value instead, or restructure with `if`/`else`",
                    );
                    return None;
                }
                return value.as_ref().and_then(|v| self.expr(&mut frame, v, out));
            }
            self.stmt(&mut frame, stmt, out);
        }
        body.tail
            .as_ref()
            .and_then(|t| self.expr(&mut frame, t, out))
    }

    fn local_value(&mut self, frame: &mut Frame, id: hir::LocalId) -> Value {
        if let Some(v) = &frame.locals[id] {
            return v.clone();
        }
        let local = &self.hir.functions[frame.function].locals[id];
        let (name, ty, at, mutable) = (
            local.name.clone(),
            local.ty.clone(),
            local.placement,
            local.mutable,
        );
        let v = self.alloc(name, &ty, at);
        for r in v.leaves() {
            self.named.insert(r, mutable);
        }
        frame.locals[id] = Some(v.clone());
        v
    }

    fn block(
        &mut self,
        frame: &mut Frame,
        block: &hir::Block,
        out: &mut Vec<Node>,
    ) -> Option<Value> {
        for stmt in &block.stmts {
            self.stmt(frame, stmt, out);
        }
        block.tail.as_ref().and_then(|t| self.expr(frame, t, out))
    }

    /// Binds a local to a value: the value's registers when no variable holds them, or when
    /// both the local and the variable holding them are immutable; a copy otherwise.
    fn bind(&mut self, frame: &mut Frame, local: hir::LocalId, value: Value, out: &mut Vec<Node>) {
        let info = &self.hir.functions[frame.function].locals[local];
        let (name, mutable, at) = (info.name.clone(), info.mutable, info.placement);
        if frame.locals[local].is_none() {
            let shareable = value.leaves().iter().all(|r| match self.named.get(r) {
                None => true,
                Some(held_mutable) => !mutable && (!held_mutable || frame.arguments.contains(r)),
            });
            if shareable {
                self.rename(&value, &name);
                for r in value.leaves() {
                    self.named.entry(r).or_insert(mutable);
                }
                frame.locals[local] = Some(value);
                return;
            }
        }
        let dst = self.local_value(frame, local);
        self.copy_into(&dst, &value, at, out);
    }

    /// Names the fresh registers of a value after the variable that takes them.
    fn rename(&mut self, value: &Value, name: &str) {
        match value {
            Value::Reg(r) => {
                if !self.named.contains_key(r) {
                    self.regs[*r as usize].name = name.to_string();
                }
            }
            Value::Parts(parts) => {
                for (i, p) in parts.iter().enumerate() {
                    self.rename(p, &format!("{name}.{i}"));
                }
            }
        }
    }

    /// Copies a value into registers of the same shape, part by part. A part that reads a
    /// register the copy writes is read first (`m = M { a: m.b, b: m.a }`).
    fn copy_into(&mut self, dst: &Value, src: &Value, at: Placement, out: &mut Vec<Node>) {
        let (dst, mut src) = (dst.leaves(), src.leaves());
        for i in 0..src.len() {
            if src[i] != dst[i] && dst.contains(&src[i]) {
                let info = self.regs[src[i] as usize].clone();
                let t = (self.regs.len()) as Reg;
                self.regs.push(ir::RegInfo {
                    name: format!("t{t}"),
                    ..info
                });
                self.emit(out, self.copy_op(t, src[i], at));
                src[i] = t;
            }
        }
        for (d, s) in dst.iter().zip(src) {
            if *d != s {
                let op = self.copy_op(*d, s, at);
                self.emit(out, op);
            }
        }
    }

    fn copy_op(&self, dst: Reg, src: Reg, at: Placement) -> Op {
        let at = match self.regs[dst as usize].placement {
            ir::Placement::Public => placement(self.local_to_on_block(at)),
            p => p,
        };
        Op::Compute {
            dst,
            at,
            kernel: Kernel::Copy,
            args: vec![src],
        }
    }

    /// Lowers a statement; ops of its own (an assignment's copy, a loop) have the statement as
    /// their source in the user's code.
    fn stmt(&mut self, frame: &mut Frame, stmt: &Stmt, out: &mut Vec<Node>) {
        let saved = self.here;
        if self.hir.functions[frame.function].module == "main" {
            let span = match stmt {
                Stmt::Let { span, .. }
                | Stmt::LetTuple { span, .. }
                | Stmt::Assign { span, .. }
                | Stmt::For { span, .. }
                | Stmt::While { span, .. }
                | Stmt::Return { span, .. } => *span,
                Stmt::Expr(e) => e.span,
            };
            self.here = Some(span);
        }
        self.stmt_here(frame, stmt, out);
        self.here = saved;
    }

    fn stmt_here(&mut self, frame: &mut Frame, stmt: &Stmt, out: &mut Vec<Node>) {
        match stmt {
            Stmt::Let { local, value, .. } => {
                let Some(v) = self.expr(frame, value, out) else {
                    return;
                };
                self.bind(frame, *local, v, out);
            }
            Stmt::LetTuple { locals, value, .. } => {
                let Some(v) = self.expr(frame, value, out) else {
                    return;
                };
                for (i, local) in locals.iter().enumerate() {
                    if let Some(local) = local {
                        self.bind(frame, *local, v.part(i).clone(), out);
                    }
                }
            }
            Stmt::Assign { local, value, .. } => {
                let Some(v) = self.expr(frame, value, out) else {
                    return;
                };
                let dst = self.local_value(frame, *local);
                let at = self.hir.functions[frame.function].locals[*local].placement;
                self.copy_into(&dst, &v, at, out);
            }
            Stmt::For {
                var,
                start,
                end,
                body,
                ..
            } => {
                let (Some(s), Some(e)) = (self.expr(frame, start, out), self.expr(frame, end, out))
                else {
                    return;
                };
                let v = self.local_value(frame, *var).reg();
                let mut inner = Vec::new();
                self.block(frame, body, &mut inner);
                self.emit(
                    out,
                    Op::For {
                        var: v,
                        start: s.reg(),
                        end: e.reg(),
                        body: inner,
                    },
                );
            }
            Stmt::While { cond, body, .. } => {
                let mut cond_body = Vec::new();
                let Some(c) = self.expr(frame, cond, &mut cond_body) else {
                    return;
                };
                let mut inner = Vec::new();
                self.block(frame, body, &mut inner);
                self.emit(
                    out,
                    Op::While {
                        cond_body,
                        cond: c.reg(),
                        body: inner,
                    },
                );
            }
            Stmt::Return { span, .. } => {
                self.unsupported(
                    *span,
                    "a `return` inside a block",
                    "end the function with the value instead",
                );
            }
            Stmt::Expr(e) => {
                self.expr(frame, e, out);
            }
        }
    }

    fn compute(
        &mut self,
        out: &mut Vec<Node>,
        e: &hir::Expr,
        kernel: Kernel,
        args: Vec<Reg>,
    ) -> Reg {
        self.compute_at(out, &e.ty, e.placement, kernel, args)
    }

    fn compute_at(
        &mut self,
        out: &mut Vec<Node>,
        ty: &Type,
        at: Placement,
        kernel: Kernel,
        args: Vec<Reg>,
    ) -> Reg {
        let dst = self.temp(ty, at);
        let at = self.local_to_on_block(at);
        self.emit(
            out,
            Op::Compute {
                dst,
                at: placement(at),
                kernel,
                args,
            },
        );
        dst
    }

    fn frac_bits(&self, at: Placement) -> u32 {
        match at {
            Placement::Secret(s) => self.hir.secrets[s].frac_bits,
            _ => 0,
        }
    }

    /// `a op b` on tensors, the result of type `ty` at `at`.
    #[allow(clippy::too_many_arguments)]
    fn binary(
        &mut self,
        out: &mut Vec<Node>,
        op: tfe_grammar::ast::BinOp,
        a: Reg,
        b: Reg,
        b_ty: &Type,
        ty: &Type,
        at: Placement,
        span: tfe_grammar::Span,
    ) -> Option<Reg> {
        use tfe_grammar::ast::BinOp as B;
        let fixed = ty.tensor().is_some_and(|t| t.scalar == Scalar::Fixed);
        let secret = matches!(at, Placement::Secret(_));
        let trunc = if fixed && secret {
            self.frac_bits(at)
        } else {
            0
        };
        Some(match op {
            B::Div if secret => {
                if !fixed {
                    self.unsupported(
                        span,
                        "dividing a secret integer",
                        "divide fixed-point values, or multiply instead",
                    );
                    return None;
                }
                // x / c = x * (1 / c), with c public: the reciprocal is computed in the clear.
                let one = self.temp(b_ty, Placement::Public);
                self.emit(
                    out,
                    Op::Compute {
                        dst: one,
                        at: ir::Placement::Public,
                        kernel: Kernel::Const(Literal::Fixed(1.0)),
                        args: Vec::new(),
                    },
                );
                let inv = self.temp(b_ty, Placement::Public);
                self.emit(
                    out,
                    Op::Compute {
                        dst: inv,
                        at: ir::Placement::Public,
                        kernel: Kernel::Div,
                        args: vec![one, b],
                    },
                );
                self.compute_at(out, ty, at, Kernel::Mul { trunc }, vec![a, inv])
            }
            _ => {
                let kernel = match op {
                    B::Add => Kernel::Add,
                    B::Sub => Kernel::Sub,
                    B::Mul => Kernel::Mul { trunc },
                    B::Div => Kernel::Div,
                    B::Rem => Kernel::Rem,
                    B::And => Kernel::And,
                    B::Or => Kernel::Or,
                    B::Lt => Kernel::Lt,
                    B::Le => Kernel::Le,
                    B::Gt => Kernel::Gt,
                    B::Ge => Kernel::Ge,
                    B::Eq => Kernel::Eq,
                    B::Ne => Kernel::Ne,
                };
                self.compute_at(out, ty, at, kernel, vec![a, b])
            }
        })
    }

    /// A unary or binary operation on values that may be structs: field by field, a scalar
    /// operand applying to every field.
    #[allow(clippy::too_many_arguments)]
    fn fieldwise(
        &mut self,
        out: &mut Vec<Node>,
        op: FieldOp,
        a: &Value,
        a_ty: &Type,
        b: Option<(&Value, &Type)>,
        ty: &Type,
        at: Placement,
        span: tfe_grammar::Span,
    ) -> Option<Value> {
        if let Type::Tensor(_) = ty {
            return Some(Value::Reg(match op {
                FieldOp::Neg => self.compute_at(out, ty, at, Kernel::Neg, vec![a.reg()]),
                FieldOp::Not => self.compute_at(out, ty, at, Kernel::Not, vec![a.reg()]),
                FieldOp::Binary(op) => {
                    let (b, b_ty) = b.expect("a binary operation has two operands");
                    self.binary(out, op, a.reg(), b.reg(), b_ty, ty, at, span)?
                }
            }));
        }
        let parts = self.parts(ty);
        let mut values = Vec::new();
        for (i, part_ty) in parts.iter().enumerate() {
            // A tensor operand (a scalar) applies to every field.
            let (ai, ai_ty) = match a {
                Value::Parts(p) => (p[i].clone(), part_ty.clone()),
                Value::Reg(_) => (a.clone(), a_ty.clone()),
            };
            let bi = b.map(|(b, b_ty)| match b {
                Value::Parts(p) => (p[i].clone(), part_ty.clone()),
                Value::Reg(_) => (b.clone(), b_ty.clone()),
            });
            values.push(self.fieldwise(
                out,
                op,
                &ai,
                &ai_ty,
                bi.as_ref().map(|(v, t)| (v, t)),
                part_ty,
                at,
                span,
            )?);
        }
        Some(Value::Parts(values))
    }

    /// Moves a value between placements (`share` or `reveal`), part by part.
    fn transfer(
        &mut self,
        out: &mut Vec<Node>,
        src: &Value,
        ty: &Type,
        from: Placement,
        to: Placement,
        reveal_to: Option<Option<usize>>,
    ) -> Value {
        match src {
            Value::Reg(r) => {
                let dst = self.temp(ty, to);
                let op = match (reveal_to, to) {
                    (Some(target), _) => Op::Reveal {
                        dst,
                        src: *r,
                        from: placement(from),
                        to: target,
                    },
                    (None, Placement::Secret(s)) => Op::Share {
                        dst,
                        src: *r,
                        from: placement(from),
                        to: s,
                    },
                    (None, _) => unreachable!("sharing goes to a secret placement"),
                };
                self.emit(out, op);
                Value::Reg(dst)
            }
            Value::Parts(parts) => {
                let types = self.parts(ty);
                Value::Parts(
                    parts
                        .iter()
                        .zip(&types)
                        .map(|(p, t)| self.transfer(out, p, t, from, to, reveal_to))
                        .collect(),
                )
            }
        }
    }

    /// A value of type `ty` at `at` with every element 0, shaped like `like`.
    fn zeros_like(&mut self, out: &mut Vec<Node>, like: &Value, ty: &Type, at: Placement) -> Value {
        match like {
            Value::Parts(parts) => {
                let types = self.parts(ty);
                Value::Parts(
                    parts
                        .iter()
                        .zip(&types)
                        .map(|(p, t)| self.zeros_like(out, p, t, at))
                        .collect(),
                )
            }
            Value::Reg(r) => {
                let t = ty.tensor().expect("a tensor part").clone();
                let known: Option<Vec<u64>> = t
                    .shape
                    .iter()
                    .map(|d| match d {
                        Dim::Known(n) => Some(*n),
                        Dim::Runtime => None,
                    })
                    .collect();
                let Some(known) = known else {
                    // A size known only at run time: x - x, local at every placement.
                    return Value::Reg(self.compute_at(out, ty, at, Kernel::Sub, vec![*r, *r]));
                };
                let int = Type::Tensor(crate::types::TensorType::scalar(Scalar::Int));
                let sizes: Vec<Reg> = known
                    .iter()
                    .map(|n| {
                        self.compute_at(
                            out,
                            &int,
                            Placement::Public,
                            Kernel::Const(Literal::Int(*n as i64)),
                            Vec::new(),
                        )
                    })
                    .collect();
                match at {
                    Placement::Secret(_) => {
                        let zeros =
                            self.compute_at(out, ty, Placement::Public, Kernel::Zeros, sizes);
                        self.transfer(out, &Value::Reg(zeros), ty, Placement::Public, at, None)
                    }
                    _ => Value::Reg(self.compute_at(out, ty, at, Kernel::Zeros, sizes)),
                }
            }
        }
    }

    /// A struct literal or a tuple: its parts' values, as they are (a part may be some
    /// variable's registers; `bind` and `copy_into` copy where sharing them would alias a
    /// mutable variable).
    fn parts_value(
        &mut self,
        frame: &mut Frame,
        parts: &[hir::Expr],
        out: &mut Vec<Node>,
    ) -> Option<Value> {
        let mut values = Vec::new();
        for p in parts {
            values.push(self.expr(frame, p, out)?);
        }
        Some(Value::Parts(values))
    }

    /// Lowers an expression; its ops' source is the expression itself in the user's code, or,
    /// inside a library function, the user's call being inlined.
    fn expr(&mut self, frame: &mut Frame, e: &hir::Expr, out: &mut Vec<Node>) -> Option<Value> {
        let saved = self.here;
        if self.hir.functions[frame.function].module == "main" {
            self.here = Some(e.span);
        }
        let value = self.expr_here(frame, e, out);
        self.here = saved;
        value
    }

    fn expr_here(
        &mut self,
        frame: &mut Frame,
        e: &hir::Expr,
        out: &mut Vec<Node>,
    ) -> Option<Value> {
        let args = |l: &mut Self,
                    frame: &mut Frame,
                    out: &mut Vec<Node>,
                    es: &[hir::Expr]|
         -> Option<Vec<Value>> {
            es.iter().map(|a| l.expr(frame, a, out)).collect()
        };
        let reg = |r: Reg| Some(Value::Reg(r));
        match &e.kind {
            ExprKind::Int(v) => {
                reg(self.compute(out, e, Kernel::Const(Literal::Int(*v)), Vec::new()))
            }
            ExprKind::Fixed(v) => {
                reg(self.compute(out, e, Kernel::Const(Literal::Fixed(*v)), Vec::new()))
            }
            ExprKind::Bool(b) => {
                reg(self.compute(out, e, Kernel::Const(Literal::Bool(*b)), Vec::new()))
            }
            ExprKind::Str(_) => None,
            ExprKind::Local(id) => Some(self.local_value(frame, *id)),
            ExprKind::List(_) => None,
            ExprKind::StructLit { fields: parts } | ExprKind::Tuple(parts) => {
                self.parts_value(frame, parts, out)
            }
            ExprKind::Field { base, index } => {
                let b = self.expr(frame, base, out)?;
                Some(b.part(*index).clone())
            }
            ExprKind::Grad { .. } => {
                panic!("a `grad` reached the lowering: the gradient pass runs before it")
            }
            ExprKind::Unary { op, operand } => {
                let a = self.expr(frame, operand, out)?;
                let op = match op {
                    tfe_grammar::ast::UnOp::Neg => FieldOp::Neg,
                    tfe_grammar::ast::UnOp::Not => FieldOp::Not,
                };
                self.fieldwise(out, op, &a, &operand.ty, None, &e.ty, e.placement, e.span)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.expr(frame, lhs, out)?;
                let b = self.expr(frame, rhs, out)?;
                self.fieldwise(
                    out,
                    FieldOp::Binary(*op),
                    &a,
                    &lhs.ty,
                    Some((&b, &rhs.ty)),
                    &e.ty,
                    e.placement,
                    e.span,
                )
            }
            ExprKind::Builtin {
                builtin,
                args: hargs,
            } => match builtin {
                Builtin::ReadCsv { path } | Builtin::ReadNpy { path } => {
                    let Placement::Party(p) = e.placement else {
                        return None;
                    };
                    let dst = self.temp(&e.ty, e.placement);
                    self.emit(
                        out,
                        Op::ReadCsv {
                            dst,
                            party: p,
                            path: path.clone(),
                            format: file_format(builtin),
                        },
                    );
                    reg(dst)
                }
                Builtin::WriteCsv { path } | Builtin::WriteNpy { path } => {
                    let src = self.expr(frame, &hargs[0], out)?;
                    let files: Vec<(Reg, String)> = match (&src, &hargs[0].ty) {
                        (Value::Parts(parts), Type::Struct(st)) => self.hir.structs[st.id]
                            .fields
                            .iter()
                            .zip(parts)
                            .map(|((field, _), part)| (part.reg(), field_path(path, field)))
                            .collect(),
                        _ => vec![(src.reg(), path.clone())],
                    };
                    for (src, path) in files {
                        self.emit(
                            out,
                            Op::WriteCsv {
                                src,
                                at: placement(e.placement),
                                path,
                                format: file_format(builtin),
                            },
                        );
                    }
                    None
                }
                Builtin::WriteShares { name } => {
                    let value = self.expr(frame, &hargs[0], out)?;
                    let Placement::Secret(secret) = e.placement else {
                        return None;
                    };
                    let ty = self.stored_type(&hargs[0].ty);
                    self.emit(
                        out,
                        Op::StoreShares {
                            srcs: value.leaves(),
                            secret,
                            name: name.clone(),
                            ty,
                        },
                    );
                    None
                }
                Builtin::ReadShares { name } => {
                    let Placement::Secret(secret) = e.placement else {
                        return None;
                    };
                    // Loaded, then refreshed: the shares computed with are not the stored ones.
                    let loaded = self.temp_value(&e.ty, e.placement);
                    let fresh = self.temp_value(&e.ty, e.placement);
                    self.emit(
                        out,
                        Op::LoadShares {
                            dsts: loaded.leaves(),
                            secret,
                            name: name.clone(),
                            ty: self.stored_type(&e.ty),
                        },
                    );
                    for (src, dst) in loaded.leaves().into_iter().zip(fresh.leaves()) {
                        self.emit(
                            out,
                            Op::Compute {
                                dst,
                                at: placement(e.placement),
                                kernel: Kernel::Refresh,
                                args: vec![src],
                            },
                        );
                    }
                    Some(fresh)
                }
                Builtin::Print => {
                    let src = self.expr(frame, &hargs[0], out)?.reg();
                    self.emit(
                        out,
                        Op::Print {
                            src,
                            at: placement(e.placement),
                        },
                    );
                    None
                }
                Builtin::ZerosLike => {
                    let like = self.expr(frame, &hargs[0], out)?;
                    Some(self.zeros_like(out, &like, &e.ty, e.placement))
                }
                Builtin::Rows | Builtin::Shape => {
                    let x = self.expr(frame, &hargs[0], out)?.reg();
                    let kernel = if *builtin == Builtin::Rows {
                        Kernel::Rows
                    } else {
                        Kernel::Shape
                    };
                    // The shape of shares is known to every member: the last member computes it
                    // and sends it to the others (the last: pond's dealer, which so receives no
                    // message from the servers for it).
                    let held_at = match hargs[0].placement {
                        Placement::Secret(s) => {
                            let members = &self.hir.secrets[s].parties;
                            Placement::Party(members[members.len() - 1])
                        }
                        other => other,
                    };
                    if held_at == Placement::Public {
                        reg(self.compute(out, e, kernel, vec![x]))
                    } else {
                        // Computed where the value is held, then sent to every party: shapes are public.
                        let held = self.temp(&e.ty, held_at);
                        self.emit(
                            out,
                            Op::Compute {
                                dst: held,
                                at: placement(held_at),
                                kernel,
                                args: vec![x],
                            },
                        );
                        let dst = self.temp(&e.ty, Placement::Public);
                        self.emit(
                            out,
                            Op::Reveal {
                                dst,
                                src: held,
                                from: placement(held_at),
                                to: None,
                            },
                        );
                        reg(dst)
                    }
                }
                _ => {
                    let kernel = match builtin {
                        Builtin::Zeros => Kernel::Zeros,
                        Builtin::Ones => Kernel::Ones,
                        Builtin::Concat { axis } => Kernel::Concat { axis: *axis },
                        Builtin::Transpose => Kernel::Transpose,
                        Builtin::Im2Col(w) => Kernel::Im2Col(*w),
                        Builtin::Col2Im(w) => Kernel::Col2Im(*w),
                        Builtin::Log2Lookup { from, table } => Kernel::Log2Lookup {
                            from: *from,
                            table: table.clone(),
                        },
                        Builtin::Reshape => Kernel::Reshape,
                        Builtin::Sum { axis } => Kernel::Sum { axis: *axis },
                        Builtin::Max { axis } => Kernel::Max { axis: *axis },
                        Builtin::ArgMax { axis } => Kernel::ArgMax { axis: *axis },
                        Builtin::MaxOneHot => Kernel::MaxOneHot,
                        Builtin::Matmul => {
                            let fixed = e.ty.tensor().is_some_and(|t| t.scalar == Scalar::Fixed);
                            Kernel::MatMul {
                                trunc: if fixed {
                                    self.frac_bits(e.placement)
                                } else {
                                    0
                                },
                            }
                        }
                        Builtin::Select => Kernel::Select,
                        Builtin::ReadCsv { .. }
                        | Builtin::WriteCsv { .. }
                        | Builtin::ReadNpy { .. }
                        | Builtin::WriteNpy { .. }
                        | Builtin::WriteShares { .. }
                        | Builtin::ReadShares { .. }
                        | Builtin::Print
                        | Builtin::ZerosLike
                        | Builtin::Rows
                        | Builtin::Shape => unreachable!("handled above"),
                    };
                    let regs = self.flatten_args(frame, hargs, out)?;
                    reg(self.compute(out, e, kernel, regs))
                }
            },
            ExprKind::Call {
                function,
                args: hargs,
            } => {
                let values = args(self, frame, out, hargs)?;
                let saved = self.user_call;
                if self.hir.functions[frame.function].module == "main" {
                    self.user_call = Some(e.span);
                }
                let result = if self.next_op as usize > MAX_OPS {
                    self.too_large();
                    None
                } else {
                    self.inline(*function, &values, out)
                };
                self.user_call = saved;
                result
            }
            ExprKind::Index { base, items } => {
                let b = self.expr(frame, base, out)?.reg();
                let mut regs = vec![b];
                let mut kinds = Vec::new();
                for item in items {
                    match item {
                        IndexItem::Single(i) => {
                            regs.push(self.expr(frame, i, out)?.reg());
                            kinds.push(ir::IndexKind::Single);
                        }
                        IndexItem::Range { start, end } => {
                            regs.push(self.expr(frame, start, out)?.reg());
                            regs.push(self.expr(frame, end, out)?.reg());
                            kinds.push(ir::IndexKind::Range);
                        }
                    }
                }
                reg(self.compute(out, e, Kernel::Index { items: kinds }, regs))
            }
            ExprKind::Convert { value, to } => {
                let v = self.expr(frame, value, out)?.reg();
                reg(self.compute(out, e, Kernel::Convert { to: scalar(*to) }, vec![v]))
            }
            ExprKind::Share { value, .. } => {
                let src = self.expr(frame, value, out)?;
                Some(self.transfer(out, &src, &e.ty, value.placement, e.placement, None))
            }
            ExprKind::Reveal { value, to } => {
                let src = self.expr(frame, value, out)?;
                Some(self.transfer(out, &src, &e.ty, value.placement, e.placement, Some(*to)))
            }
            ExprKind::If {
                cond,
                then_block,
                else_block,
            } => {
                let c = self.expr(frame, cond, out)?.reg();
                let result = (e.ty != Type::Unit).then(|| self.temp_value(&e.ty, e.placement));
                let mut then_body = Vec::new();
                let mut else_body = Vec::new();
                let t = self.block(frame, then_block, &mut then_body);
                let f = else_block
                    .as_ref()
                    .and_then(|b| self.block(frame, b, &mut else_body));
                if let Some(dst) = &result {
                    for (v, body) in [(t, &mut then_body), (f, &mut else_body)] {
                        if let Some(v) = v {
                            self.copy_into(dst, &v, e.placement, body);
                        }
                    }
                }
                self.emit(
                    out,
                    Op::If {
                        cond: c,
                        then_body,
                        else_body,
                    },
                );
                result
            }
            ExprKind::On { party, body } => {
                let saved = self.on_party.replace(*party);
                let value = self.block(frame, body, out);
                self.on_party = saved;
                value
            }
            ExprKind::Block(body) => self.block(frame, body, out),
        }
    }

    /// The registers of builtin arguments, with lists flattened.
    fn flatten_args(
        &mut self,
        frame: &mut Frame,
        hargs: &[hir::Expr],
        out: &mut Vec<Node>,
    ) -> Option<Vec<Reg>> {
        let mut regs = Vec::new();
        for h in hargs {
            match &h.kind {
                ExprKind::List(items) => {
                    for i in items {
                        regs.push(self.expr(frame, i, out)?.reg());
                    }
                }
                _ => regs.push(self.expr(frame, h, out)?.reg()),
            }
        }
        Some(regs)
    }
}

/// The file of one field when a struct is written to `path`: `_field` before the name's
/// extension (`model.csv` → `model_w.csv`, `out/m.csv.gz` → `out/m_w.csv.gz`), or at its end.
pub fn field_path(path: &str, field: &str) -> String {
    let name_start = path.rfind('/').map_or(0, |i| i + 1);
    match path[name_start..].find('.') {
        Some(dot) if dot > 0 => {
            let at = name_start + dot;
            format!("{}_{field}{}", &path[..at], &path[at..])
        }
        _ => format!("{path}_{field}"),
    }
}

/// An operation applied field by field.
#[derive(Debug, Clone, Copy)]
enum FieldOp {
    Neg,
    Not,
    Binary(tfe_grammar::ast::BinOp),
}

/// The file format of a reading or writing builtin.
fn file_format(builtin: &Builtin) -> ir::FileFormat {
    match builtin {
        Builtin::ReadNpy { .. } | Builtin::WriteNpy { .. } => ir::FileFormat::Npy,
        _ => ir::FileFormat::Csv,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_struct_field_is_written_beside_its_name() {
        use super::field_path;
        assert_eq!(field_path("model.csv", "w1"), "model_w1.csv");
        assert_eq!(field_path("out/m.csv.gz", "b"), "out/m_b.csv.gz");
        assert_eq!(field_path("dir.v2/model", "w"), "dir.v2/model_w");
    }
}
