//! Building the derived function's HIR: its locals, its statements, and typed expressions for
//! the adjoint rules (each with the type and placement the checker would give it).
//!
//! Every expression built here carries the span of the `grad` call (or, inside an inlined
//! library function, of the user's call into it), so that a diagnostic of a later pass points
//! into the user's program.

use tfe_grammar::Span;
use tfe_grammar::ast::BinOp;

use crate::check::flow_join;
use crate::hir::{Block, Builtin, Expr, ExprKind, Local, LocalId, Placement, Program, Stmt};
use crate::types::{self, Dim, Scalar, TensorType, Type};

/// The body of a derived function under construction.
pub(super) struct Body<'p> {
    pub program: &'p Program,
    pub locals: Vec<Local>,
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

impl<'p> Body<'p> {
    pub fn new(program: &'p Program, span: Span) -> Body<'p> {
        Body {
            program,
            locals: Vec::new(),
            stmts: Vec::new(),
            span,
        }
    }

    pub fn local(
        &mut self,
        name: String,
        ty: Type,
        placement: Placement,
        mutable: bool,
    ) -> LocalId {
        self.locals.push(Local {
            name,
            ty,
            placement,
            mutable,
            span: self.span,
        });
        self.locals.len() - 1
    }

    /// `let name = value;`, returning the variable.
    pub fn bind(&mut self, name: &str, value: Expr) -> LocalId {
        let id = self.local(
            format!("{name}#{}", self.locals.len()),
            value.ty.clone(),
            value.placement,
            false,
        );
        self.stmts.push(Stmt::Let {
            local: id,
            value,
            span: self.span,
        });
        id
    }

    /// `let t = value;` unless the value is already a variable or a literal; an expression
    /// that can be read again.
    pub fn atom(&mut self, value: Expr) -> Expr {
        if is_atom(&value) {
            return value;
        }
        let id = self.bind("t", value);
        self.var(id)
    }

    pub fn var(&self, id: LocalId) -> Expr {
        let l = &self.locals[id];
        Expr {
            kind: ExprKind::Local(id),
            ty: l.ty.clone(),
            placement: l.placement,
            span: self.span,
        }
    }

    pub fn expr(&self, kind: ExprKind, ty: Type, placement: Placement) -> Expr {
        Expr {
            kind,
            ty,
            placement,
            span: self.span,
        }
    }

    pub fn fixed(&self, v: f64) -> Expr {
        self.expr(
            ExprKind::Fixed(v),
            Type::Tensor(TensorType::scalar(Scalar::Fixed)),
            Placement::Public,
        )
    }

    pub fn int(&self, v: i64) -> Expr {
        self.expr(
            ExprKind::Int(v),
            Type::Tensor(TensorType::scalar(Scalar::Int)),
            Placement::Public,
        )
    }

    /// Where an operation on these operands is computed (the checker's join).
    pub fn join(&self, operands: &[&Expr]) -> Placement {
        operands.iter().fold(Placement::Public, |p, e| {
            flow_join(p, e.placement).unwrap_or(p)
        })
    }

    /// An operand moved to where its operation is computed: a party's value is shared into a
    /// secret placement; a public value is used as it is.
    pub fn at(&self, e: Expr, placement: Placement) -> Expr {
        match (e.placement, placement) {
            (from, to) if from == to => e,
            (Placement::Public, _) => e,
            (Placement::Party(_), Placement::Secret(s)) => {
                let ty = e.ty.clone();
                self.expr(
                    ExprKind::Share {
                        value: Box::new(e),
                        to: s,
                    },
                    ty,
                    placement,
                )
            }
            (from, to) => panic!("the gradient pass moved a value from {from:?} to {to:?}"),
        }
    }

    /// `a op b`, elementwise with broadcasting.
    pub fn binary(&self, op: BinOp, a: Expr, b: Expr) -> Expr {
        let (ta, tb) = (tensor(&a).clone(), tensor(&b).clone());
        let scalar = if op.is_comparison() {
            Scalar::Bool
        } else {
            Scalar::arithmetic_join(ta.scalar, tb.scalar).unwrap_or(ta.scalar)
        };
        let shape = types::broadcast(&ta.shape, &tb.shape)
            .expect("the gradient's operands broadcast as the forward's did");
        let placement = self.join(&[&a, &b]);
        let (a, b) = (self.at(a, placement), self.at(b, placement));
        self.expr(
            ExprKind::Binary {
                op,
                lhs: Box::new(a),
                rhs: Box::new(b),
            },
            Type::Tensor(TensorType::new(scalar, shape)),
            placement,
        )
    }

    pub fn neg(&self, a: Expr) -> Expr {
        let (ty, placement) = (a.ty.clone(), a.placement);
        self.expr(
            ExprKind::Unary {
                op: tfe_grammar::ast::UnOp::Neg,
                operand: Box::new(a),
            },
            ty,
            placement,
        )
    }

    /// A builtin on these arguments, of type `ty`, computed at the arguments' join.
    pub fn builtin(&self, builtin: Builtin, args: Vec<Expr>, ty: TensorType) -> Expr {
        let refs: Vec<&Expr> = args.iter().collect();
        let placement = self.join(&refs);
        let args = args.into_iter().map(|a| self.at(a, placement)).collect();
        self.expr(
            ExprKind::Builtin { builtin, args },
            Type::Tensor(ty),
            placement,
        )
    }

    pub fn matmul(&self, a: Expr, b: Expr) -> Expr {
        let (ta, tb) = (tensor(&a).clone(), tensor(&b).clone());
        let shape = types::matmul_shape(&ta.shape, &tb.shape)
            .expect("the gradient's products have fitting shapes");
        self.builtin(
            Builtin::Matmul,
            vec![a, b],
            TensorType::new(ta.scalar, shape),
        )
    }

    pub fn transpose(&self, a: Expr) -> Expr {
        let t = tensor(&a).clone();
        let shape = match t.shape.as_slice() {
            [x, y] => vec![*y, *x],
            other => other.to_vec(),
        };
        self.builtin(
            Builtin::Transpose,
            vec![a],
            TensorType::new(t.scalar, shape),
        )
    }

    /// `sum(a, axis: k)`, or of every element.
    pub fn sum(&self, a: Expr, axis: Option<usize>) -> Expr {
        let t = tensor(&a).clone();
        let shape = match axis {
            Some(k) => t
                .shape
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != k)
                .map(|(_, d)| *d)
                .collect(),
            None => Vec::new(),
        };
        self.builtin(
            Builtin::Sum { axis },
            vec![a],
            TensorType::new(t.scalar, shape),
        )
    }

    pub fn select(&self, c: Expr, a: Expr, b: Expr) -> Expr {
        let (tc, ta, tb) = (tensor(&c).clone(), tensor(&a).clone(), tensor(&b).clone());
        let shape = types::broadcast(&tc.shape, &ta.shape)
            .and_then(|s| types::broadcast(&s, &tb.shape))
            .expect("a select's parts broadcast as the forward's did");
        let scalar = Scalar::arithmetic_join(ta.scalar, tb.scalar).unwrap_or(ta.scalar);
        self.builtin(
            Builtin::Select,
            vec![c, a, b],
            TensorType::new(scalar, shape),
        )
    }

    /// `reshape(a, [sizes])` to `shape`, the sizes given by expressions.
    pub fn reshape(&self, a: Expr, sizes: Vec<Expr>, shape: Vec<Dim>) -> Expr {
        let t = tensor(&a).clone();
        let list_ty = Type::List(sizes.iter().map(|s| s.ty.clone()).collect());
        let list = self.expr(ExprKind::List(sizes), list_ty, Placement::Public);
        let placement = a.placement;
        self.expr(
            ExprKind::Builtin {
                builtin: Builtin::Reshape,
                args: vec![a, list],
            },
            Type::Tensor(TensorType::new(t.scalar, shape)),
            placement,
        )
    }

    /// A value of `a`'s type and placement with every element 0.
    pub fn zeros_like(&self, a: Expr) -> Expr {
        let (ty, placement) = (a.ty.clone(), a.placement);
        self.expr(
            ExprKind::Builtin {
                builtin: Builtin::ZerosLike,
                args: vec![a],
            },
            ty,
            placement,
        )
    }

    /// The size of axis `axis` of a value that can be read again: a literal when known, else
    /// `rows(a)` or `shape(a)[axis]` (public).
    pub fn dim(&self, a: &Expr, axis: usize) -> Expr {
        let t = tensor(a);
        if let Dim::Known(n) = t.shape[axis] {
            return self.int(n as i64);
        }
        let int = Type::Tensor(TensorType::scalar(Scalar::Int));
        if axis == 0 {
            return self.expr(
                ExprKind::Builtin {
                    builtin: Builtin::Rows,
                    args: vec![a.clone()],
                },
                int,
                Placement::Public,
            );
        }
        let shape = self.expr(
            ExprKind::Builtin {
                builtin: Builtin::Shape,
                args: vec![a.clone()],
            },
            Type::Tensor(TensorType::new(
                Scalar::Int,
                vec![Dim::Known(t.rank() as u64)],
            )),
            Placement::Public,
        );
        self.expr(
            ExprKind::Index {
                base: Box::new(shape),
                items: vec![crate::hir::IndexItem::Single(self.int(axis as i64))],
            },
            int,
            Placement::Public,
        )
    }

    /// A value stored at `placement` (the checker's `store`): public values are held there,
    /// a party's are shared into a secret placement. `None` where that would need a reveal.
    pub fn store(&self, e: Expr, placement: Placement) -> Option<Expr> {
        match (e.placement, placement) {
            (from, to) if from == to => Some(e),
            (Placement::Public, Placement::Party(_)) => Some(Expr { placement, ..e }),
            (Placement::Public | Placement::Party(_), Placement::Secret(s)) => {
                let ty = e.ty.clone();
                Some(self.expr(
                    ExprKind::Share {
                        value: Box::new(e),
                        to: s,
                    },
                    ty,
                    placement,
                ))
            }
            _ => None,
        }
    }

    pub fn block(&self, stmts: Vec<Stmt>, tail: Expr) -> Block {
        Block {
            stmts,
            tail: Some(Box::new(tail)),
            span: self.span,
        }
    }
}

/// Whether an expression can be read twice without computing anything: a variable or a literal.
pub(super) fn is_atom(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Local(_) | ExprKind::Int(_) | ExprKind::Fixed(_) | ExprKind::Bool(_)
    )
}

/// The tensor type of an expression the gradient pass works on.
pub(super) fn tensor(e: &Expr) -> &TensorType {
    e.ty.tensor()
        .expect("the gradient pass computes on tensors, parts of structs taken apart")
}
