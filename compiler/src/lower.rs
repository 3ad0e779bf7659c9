//! Lowering: the checked program (HIR) to the protocol IR.
//!
//! Must run on a HIR without errors (the checker's guarantees, hir.rs). What it does:
//! - inlines every function call (instances are monomorphic and the call graph is a DAG), so
//!   each call site gets its own registers and op ids; loops stay loops;
//! - gives every variable and every intermediate value a register with its type and placement;
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

use tfe_ir as ir;
use tfe_ir::{Kernel, Literal, Node, Op, Reg};

use crate::diagnostics::{Diagnostic, Label};
use crate::hir::{self, Builtin, ExprKind, FunctionId, IndexItem, Placement, Stmt};
use crate::types::{Dim, Scalar, Type};

/// Lowers a checked program. Errors are constructs the runtime cannot run yet. (Optimisations
/// such as `cse` run after it, in the pipeline.)
pub fn lower(program: &hir::Program) -> Result<ir::Program, Vec<Diagnostic>> {
    let mut l = Lowerer {
        hir: program,
        regs: Vec::new(),
        next_op: 0,
        errors: Vec::new(),
        on_party: None,
    };
    for secret in &program.secrets {
        if secret.protocol == hir::Protocol::Pond {
            l.unsupported(
                secret.span,
                "the pond protocol",
                "use `aby3(p0, p1, p2)`: three parties holding replicated shares (honest majority)",
            );
        } else if secret.ring_bits != 64 {
            l.unsupported(
                secret.span,
                "a 128-bit ring",
                "drop `ring = 128`: shares live in the 64-bit ring (raise `frac` up to about 24 for precision)",
            );
        }
    }
    let mut body = Vec::new();
    l.inline(program.main, &[], &mut body);
    if !l.errors.is_empty() {
        return Err(l.errors);
    }
    Ok(ir::Program {
        parties: program.parties.iter().map(|p| p.name.clone()).collect(),
        secrets: program
            .secrets
            .iter()
            .map(|s| ir::SecretInfo {
                name: s.name.clone(),
                protocol: ir::Protocol::Aby3,
                parties: s.parties.clone(),
                ring_bits: s.ring_bits,
                frac_bits: s.frac_bits,
            })
            .collect(),
        regs: l.regs,
        body,
        n_ops: l.next_op,
    })
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

struct Lowerer<'h> {
    hir: &'h hir::Program,
    regs: Vec<ir::RegInfo>,
    next_op: u32,
    errors: Vec<Diagnostic>,
    /// Inside `on p`: public computations run at p alone (the block is p's local code).
    on_party: Option<usize>,
}

/// The registers of one inlined function instance.
struct Frame {
    function: FunctionId,
    locals: Vec<Option<Reg>>,
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

    fn temp(&mut self, ty: &Type, at: Placement) -> Reg {
        let name = format!("t{}", self.regs.len());
        self.reg(name, ty, at)
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

    /// Inlines a function instance with its arguments in `args`; returns its result register.
    fn inline(&mut self, function: FunctionId, args: &[Reg], out: &mut Vec<Node>) -> Option<Reg> {
        let f = &self.hir.functions[function];
        let mut frame = Frame {
            function,
            locals: vec![None; f.locals.len()],
        };
        for (param, arg) in f.params.iter().zip(args) {
            frame.locals[*param] = Some(*arg);
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

    fn local_reg(&mut self, frame: &mut Frame, id: hir::LocalId) -> Reg {
        if let Some(r) = frame.locals[id] {
            return r;
        }
        let local = &self.hir.functions[frame.function].locals[id];
        let (name, ty, at) = (local.name.clone(), local.ty.clone(), local.placement);
        let r = self.reg(name, &ty, at);
        frame.locals[id] = Some(r);
        r
    }

    fn block(&mut self, frame: &mut Frame, block: &hir::Block, out: &mut Vec<Node>) -> Option<Reg> {
        for stmt in &block.stmts {
            self.stmt(frame, stmt, out);
        }
        block.tail.as_ref().and_then(|t| self.expr(frame, t, out))
    }

    fn stmt(&mut self, frame: &mut Frame, stmt: &Stmt, out: &mut Vec<Node>) {
        match stmt {
            Stmt::Let { local, value, .. } => {
                let fresh = !matches!(value.kind, ExprKind::Local(_));
                let Some(v) = self.expr(frame, value, out) else {
                    return;
                };
                if fresh && frame.locals[*local].is_none() {
                    // The value's temporary becomes the variable's register.
                    let name = self.hir.functions[frame.function].locals[*local]
                        .name
                        .clone();
                    self.regs[v as usize].name = name;
                    frame.locals[*local] = Some(v);
                } else {
                    let dst = self.local_reg(frame, *local);
                    let at = placement(self.hir.functions[frame.function].locals[*local].placement);
                    self.emit(
                        out,
                        Op::Compute {
                            dst,
                            at,
                            kernel: Kernel::Copy,
                            args: vec![v],
                        },
                    );
                }
            }
            Stmt::Assign { local, value, .. } => {
                let Some(v) = self.expr(frame, value, out) else {
                    return;
                };
                let dst = self.local_reg(frame, *local);
                let at = placement(self.hir.functions[frame.function].locals[*local].placement);
                self.emit(
                    out,
                    Op::Compute {
                        dst,
                        at,
                        kernel: Kernel::Copy,
                        args: vec![v],
                    },
                );
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
                let v = self.local_reg(frame, *var);
                let mut inner = Vec::new();
                self.block(frame, body, &mut inner);
                self.emit(
                    out,
                    Op::For {
                        var: v,
                        start: s,
                        end: e,
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
                        cond: c,
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
        let dst = self.temp(&e.ty, e.placement);
        let at = self.local_to_on_block(e.placement);
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

    fn expr(&mut self, frame: &mut Frame, e: &hir::Expr, out: &mut Vec<Node>) -> Option<Reg> {
        let args =
            |l: &mut Self,
             frame: &mut Frame,
             out: &mut Vec<Node>,
             es: &[hir::Expr]|
             -> Option<Vec<Reg>> { es.iter().map(|a| l.expr(frame, a, out)).collect() };
        Some(match &e.kind {
            ExprKind::Int(v) => self.compute(out, e, Kernel::Const(Literal::Int(*v)), Vec::new()),
            ExprKind::Fixed(v) => {
                self.compute(out, e, Kernel::Const(Literal::Fixed(*v)), Vec::new())
            }
            ExprKind::Bool(b) => self.compute(out, e, Kernel::Const(Literal::Bool(*b)), Vec::new()),
            ExprKind::Str(_) => return None,
            ExprKind::Local(id) => self.local_reg(frame, *id),
            ExprKind::List(_) => return None,
            ExprKind::Unary { op, operand } => {
                let a = self.expr(frame, operand, out)?;
                let kernel = match op {
                    tfe_grammar::ast::UnOp::Neg => Kernel::Neg,
                    tfe_grammar::ast::UnOp::Not => Kernel::Not,
                };
                self.compute(out, e, kernel, vec![a])
            }
            ExprKind::Binary { op, lhs, rhs } => {
                use tfe_grammar::ast::BinOp as B;
                let a = self.expr(frame, lhs, out)?;
                let b = self.expr(frame, rhs, out)?;
                let fixed = e.ty.tensor().is_some_and(|t| t.scalar == Scalar::Fixed);
                let secret = matches!(e.placement, Placement::Secret(_));
                let trunc = if fixed && secret {
                    self.frac_bits(e.placement)
                } else {
                    0
                };
                match op {
                    B::Div if secret => {
                        if !fixed {
                            self.unsupported(
                                e.span,
                                "dividing a secret integer",
                                "divide fixed-point values, or multiply instead",
                            );
                            return None;
                        }
                        // x / c = x * (1 / c), with c public: the reciprocal is computed in the clear.
                        let one = self.temp(&rhs.ty, Placement::Public);
                        self.emit(
                            out,
                            Op::Compute {
                                dst: one,
                                at: ir::Placement::Public,
                                kernel: Kernel::Const(Literal::Fixed(1.0)),
                                args: Vec::new(),
                            },
                        );
                        let inv = self.temp(&rhs.ty, Placement::Public);
                        self.emit(
                            out,
                            Op::Compute {
                                dst: inv,
                                at: ir::Placement::Public,
                                kernel: Kernel::Div,
                                args: vec![one, b],
                            },
                        );
                        self.compute(out, e, Kernel::Mul { trunc }, vec![a, inv])
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
                        self.compute(out, e, kernel, vec![a, b])
                    }
                }
            }
            ExprKind::Builtin {
                builtin,
                args: hargs,
            } => match builtin {
                Builtin::ReadCsv { path } => {
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
                        },
                    );
                    dst
                }
                Builtin::WriteCsv { path } => {
                    let src = self.expr(frame, &hargs[0], out)?;
                    self.emit(
                        out,
                        Op::WriteCsv {
                            src,
                            at: placement(e.placement),
                            path: path.clone(),
                        },
                    );
                    return None;
                }
                Builtin::Print => {
                    let src = self.expr(frame, &hargs[0], out)?;
                    self.emit(
                        out,
                        Op::Print {
                            src,
                            at: placement(e.placement),
                        },
                    );
                    return None;
                }
                Builtin::Rows | Builtin::Shape => {
                    let x = self.expr(frame, &hargs[0], out)?;
                    let kernel = if *builtin == Builtin::Rows {
                        Kernel::Rows
                    } else {
                        Kernel::Shape
                    };
                    // The shape of shares is known to every member: the first member computes it.
                    let held_at = match hargs[0].placement {
                        Placement::Secret(s) => Placement::Party(self.hir.secrets[s].parties[0]),
                        other => other,
                    };
                    if held_at == Placement::Public {
                        self.compute(out, e, kernel, vec![x])
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
                        dst
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
                        | Builtin::Print
                        | Builtin::Rows
                        | Builtin::Shape => unreachable!("handled above"),
                    };
                    let regs = self.flatten_args(frame, hargs, out)?;
                    self.compute(out, e, kernel, regs)
                }
            },
            ExprKind::Call {
                function,
                args: hargs,
            } => {
                let regs = args(self, frame, out, hargs)?;
                self.inline(*function, &regs, out)?
            }
            ExprKind::Index { base, items } => {
                let b = self.expr(frame, base, out)?;
                let mut regs = vec![b];
                let mut kinds = Vec::new();
                for item in items {
                    match item {
                        IndexItem::Single(i) => {
                            regs.push(self.expr(frame, i, out)?);
                            kinds.push(ir::IndexKind::Single);
                        }
                        IndexItem::Range { start, end } => {
                            regs.push(self.expr(frame, start, out)?);
                            regs.push(self.expr(frame, end, out)?);
                            kinds.push(ir::IndexKind::Range);
                        }
                    }
                }
                self.compute(out, e, Kernel::Index { items: kinds }, regs)
            }
            ExprKind::Convert { value, to } => {
                let v = self.expr(frame, value, out)?;
                self.compute(out, e, Kernel::Convert { to: scalar(*to) }, vec![v])
            }
            ExprKind::Share { value, to } => {
                let src = self.expr(frame, value, out)?;
                let dst = self.temp(&e.ty, e.placement);
                self.emit(
                    out,
                    Op::Share {
                        dst,
                        src,
                        from: placement(value.placement),
                        to: *to,
                    },
                );
                dst
            }
            ExprKind::Reveal { value, to } => {
                let src = self.expr(frame, value, out)?;
                let dst = self.temp(&e.ty, e.placement);
                self.emit(
                    out,
                    Op::Reveal {
                        dst,
                        src,
                        from: placement(value.placement),
                        to: *to,
                    },
                );
                dst
            }
            ExprKind::If {
                cond,
                then_block,
                else_block,
            } => {
                let c = self.expr(frame, cond, out)?;
                let result = (e.ty != Type::Unit).then(|| self.temp(&e.ty, e.placement));
                let mut then_body = Vec::new();
                let mut else_body = Vec::new();
                let t = self.block(frame, then_block, &mut then_body);
                let f = else_block
                    .as_ref()
                    .and_then(|b| self.block(frame, b, &mut else_body));
                if let Some(dst) = result {
                    let at = placement(self.local_to_on_block(e.placement));
                    for (v, body) in [(t, &mut then_body), (f, &mut else_body)] {
                        if let Some(v) = v {
                            let node = self.node(Op::Compute {
                                dst,
                                at,
                                kernel: Kernel::Copy,
                                args: vec![v],
                            });
                            body.push(node);
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
                result?
            }
            ExprKind::On { party, body } => {
                let saved = self.on_party.replace(*party);
                let value = self.block(frame, body, out);
                self.on_party = saved;
                value?
            }
            ExprKind::Block(body) => self.block(frame, body, out)?,
        })
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
                        regs.push(self.expr(frame, i, out)?);
                    }
                }
                ExprKind::Builtin {
                    builtin: Builtin::Shape,
                    ..
                } => {
                    // `zeros(shape(x))`: the shape's entries become size registers.
                    let s = self.expr(frame, h, out)?;
                    regs.push(s);
                }
                _ => regs.push(self.expr(frame, h, out)?),
            }
        }
        Some(regs)
    }
}
