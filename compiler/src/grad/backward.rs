//! The backward sweep: the tape of the forward sweep in reverse, each operation's gradient
//! rule turning the gradient of its result (its *adjoint*) into contributions to its operands'.
//!
//! Adjoints are variables of the derived function, each contribution added to the last (`let
//! dx#2 = dx#1 + c;`). A rule reads the forward values it needs from their variables: nothing
//! is computed twice. `relu`'s gradient, `select(c, d, 0.0)`, reads the comparison `c` of the
//! forward `select`; a function's own gradient gets its result as `y`. A contribution of a
//! broadcast operand (a bias added to every row) is summed back to the operand's shape.

use std::collections::HashMap;

use tfe_grammar::ast::{BinOp, UnOp};

use super::build::tensor;
use super::forward::{Entry, Forward, Tree};
use crate::diagnostics::{Diagnostic, Label};
use crate::hir::{Builtin, Expr, ExprKind, IndexItem, LocalId, Placement};
use crate::types::{Dim, Scalar, TensorType, Type};

pub(super) struct Backward<'a, 'p> {
    pub fw: &'a mut Forward<'p>,
    adj: HashMap<LocalId, Expr>,
}

impl<'a, 'p> Backward<'a, 'p> {
    pub fn new(fw: &'a mut Forward<'p>) -> Backward<'a, 'p> {
        Backward {
            fw,
            adj: HashMap::new(),
        }
    }

    pub fn seed(&mut self, id: LocalId, value: Expr) {
        let value = self.fw.body.atom(value);
        self.adj.insert(id, value);
    }

    /// The adjoint accumulated for a variable, if anything depends on it.
    pub fn adjoint(&self, id: LocalId) -> Option<Expr> {
        self.adj.get(&id).cloned()
    }

    fn active(&self, e: &Expr) -> bool {
        self.fw.activity(e).active
    }

    /// Adds a contribution to the adjoint of an operand (when it is an active variable), summed
    /// back to the operand's shape if it was broadcast.
    fn add(&mut self, x: &Expr, c: Expr) {
        let ExprKind::Local(id) = x.kind else {
            return;
        };
        if !self.active(x) {
            return;
        }
        let c = self.unbroadcast(c, x);
        let c = self.fw.body.atom(c);
        let total = match self.adj.get(&id) {
            Some(a) => {
                let sum = self.fw.body.binary(BinOp::Add, a.clone(), c);
                let name = format!(
                    "d{}",
                    self.fw.body.locals[id]
                        .name
                        .split('#')
                        .next()
                        .unwrap_or("t")
                );
                let id = self.fw.body.bind(&name, sum);
                self.fw.body.var(id)
            }
            None => c,
        };
        self.adj.insert(id, total);
    }

    /// A contribution of the shape of an operation's result, summed over the axes along which
    /// the operand `x` was broadcast (and broadcast up if it is smaller, as a public seed is).
    fn unbroadcast(&mut self, c: Expr, x: &Expr) -> Expr {
        let target = tensor(x).clone();
        let mut e = c;
        if tensor(&e).rank() < target.rank() {
            let zeros = self.fw.body.zeros_like(x.clone());
            e = self.fw.body.binary(BinOp::Add, zeros, e);
        }
        while tensor(&e).rank() > target.rank() {
            let a = self.fw.body.atom(e);
            e = self.fw.body.sum(a, Some(0));
        }
        for axis in 0..target.rank() {
            let here = tensor(&e).shape[axis];
            if target.shape[axis] == Dim::Known(1) && here != Dim::Known(1) {
                let a = self.fw.body.atom(e);
                let sizes: Vec<Expr> = (0..target.rank())
                    .map(|i| {
                        if i == axis {
                            self.fw.body.int(1)
                        } else {
                            self.fw.body.dim(&a, i)
                        }
                    })
                    .collect();
                let mut shape = tensor(&a).shape.clone();
                shape[axis] = Dim::Known(1);
                let summed = self.fw.body.sum(a, Some(axis));
                let summed = self.fw.body.atom(summed);
                e = self.fw.body.reshape(summed, sizes, shape);
            }
        }
        e
    }

    /// A value of the shape of an operation's operand `a` with an axis removed (a sum or a
    /// maximum along `axis`), laid out to broadcast against `a`.
    fn expand(&mut self, v: Expr, a: &Expr, axis: Option<usize>) -> Expr {
        match axis {
            None | Some(0) => v,
            Some(k) => {
                let v = self.fw.body.atom(v);
                let rank = tensor(a).rank();
                let sizes: Vec<Expr> = (0..rank)
                    .map(|i| {
                        if i == k {
                            self.fw.body.int(1)
                        } else {
                            self.fw.body.dim(a, i)
                        }
                    })
                    .collect();
                let mut shape = tensor(a).shape.clone();
                shape[k] = Dim::Known(1);
                self.fw.body.reshape(v, sizes, shape)
            }
        }
    }

    /// The gradient of `base[items]`: d put back where the items took it from, zeros elsewhere
    /// (a concatenation along each indexed axis, first to last; a single index's axis is put
    /// back as one of size 1 first).
    fn scatter(&mut self, base: &Expr, items: &[IndexItem], d: Expr) -> Expr {
        let full = tensor(base).clone();
        let mut cur = self.fw.body.atom(d);
        for (k, item) in items.iter().enumerate() {
            let (start, end) = match item {
                IndexItem::Single(i) => {
                    // Axis k is gone: put it back with size 1.
                    let rank = tensor(&cur).rank() + 1;
                    let mut shape = tensor(&cur).shape.clone();
                    shape.insert(k, Dim::Known(1));
                    let sizes: Vec<Expr> = (0..rank)
                        .map(|j| match j.cmp(&k) {
                            std::cmp::Ordering::Less => self.fw.body.dim(&cur, j),
                            std::cmp::Ordering::Equal => self.fw.body.int(1),
                            std::cmp::Ordering::Greater => self.fw.body.dim(&cur, j - 1),
                        })
                        .collect();
                    let r = self.fw.body.reshape(cur.clone(), sizes, shape);
                    cur = self.fw.body.atom(r);
                    let one = self.fw.body.int(1);
                    let next = self.fw.body.binary(BinOp::Add, i.clone(), one);
                    (i.clone(), self.fw.body.atom(next))
                }
                IndexItem::Range { start, end } => (start.clone(), end.clone()),
            };
            let n = self.fw.body.dim(base, k);
            let after = self.fw.body.binary(BinOp::Sub, n, end);
            let after = self.fw.body.atom(after);
            let mut parts = Vec::new();
            for len in [start, after] {
                let rank = tensor(&cur).rank();
                let sizes: Vec<Expr> = (0..rank)
                    .map(|j| {
                        if j == k {
                            len.clone()
                        } else {
                            self.fw.body.dim(&cur, j)
                        }
                    })
                    .collect();
                let mut shape = tensor(&cur).shape.clone();
                shape[k] = match len.kind {
                    ExprKind::Int(v) => Dim::Known(v as u64),
                    _ => Dim::Runtime,
                };
                let list_ty = Type::List(sizes.iter().map(|s| s.ty.clone()).collect());
                let list = self
                    .fw
                    .body
                    .expr(ExprKind::List(sizes), list_ty, Placement::Public);
                let zeros = self.fw.body.builtin(
                    Builtin::Zeros,
                    vec![list],
                    TensorType::new(tensor(&cur).scalar, shape),
                );
                parts.push(self.fw.body.atom(zeros));
            }
            let mut shape = tensor(&cur).shape.clone();
            shape[k] = full.shape[k];
            let joined = self.fw.body.builtin(
                Builtin::Concat { axis: k },
                vec![parts[0].clone(), cur, parts[1].clone()],
                TensorType::new(full.scalar, shape),
            );
            cur = self.fw.body.atom(joined);
        }
        cur
    }

    /// The gradient would have to move to a placement where it may not go.
    fn would_reveal(&mut self, to: Placement) {
        let span = self.fw.grad_span;
        let program = self.fw.body.program;
        let name = program.placement_name(to);
        self.fw.errors.push(
            Diagnostic::error(
                "E0501",
                format!("the gradient with respect to `{}` would have to be revealed to `{name}`", self.fw.wrt),
                Label::new(span, "differentiated here"),
            )
            .with_help("a value shared into a secret placement gets its gradient there: differentiate with respect to a secret value, or reveal the gradient explicitly"),
        );
    }

    /// Runs the tape backwards.
    pub fn run(&mut self) {
        let tape = std::mem::take(&mut self.fw.tape);
        for entry in tape.iter().rev() {
            match entry {
                Entry::Op { result, expr } => {
                    if let Some(d) = self.adjoint(*result) {
                        self.rule(*result, expr, d);
                    }
                }
                Entry::Custom {
                    result,
                    function,
                    args,
                } => self.custom(*result, *function, args),
            }
        }
        self.fw.tape = tape;
    }

    fn rule(&mut self, result: LocalId, e: &Expr, d: Expr) {
        match &e.kind {
            ExprKind::Unary {
                op: UnOp::Neg,
                operand,
            } => {
                let c = self.fw.body.neg(d);
                self.add(operand, c);
            }
            ExprKind::Binary { op, lhs, rhs } => match op {
                BinOp::Add => {
                    self.add(lhs, d.clone());
                    self.add(rhs, d);
                }
                BinOp::Sub => {
                    self.add(lhs, d.clone());
                    let c = self.fw.body.neg(d);
                    self.add(rhs, c);
                }
                BinOp::Mul => {
                    if self.active(lhs) {
                        let c = self.fw.body.binary(BinOp::Mul, d.clone(), (**rhs).clone());
                        self.add(lhs, c);
                    }
                    if self.active(rhs) {
                        let c = self.fw.body.binary(BinOp::Mul, d, (**lhs).clone());
                        self.add(rhs, c);
                    }
                }
                BinOp::Div => {
                    if self.active(lhs) {
                        let c = self.fw.body.binary(BinOp::Div, d.clone(), (**rhs).clone());
                        self.add(lhs, c);
                    }
                    if self.active(rhs) {
                        // d(a / b)/db = -a / b^2
                        let num = self.fw.body.binary(BinOp::Mul, d, (**lhs).clone());
                        let num = self.fw.body.atom(num);
                        let den = self
                            .fw
                            .body
                            .binary(BinOp::Mul, (**rhs).clone(), (**rhs).clone());
                        let den = self.fw.body.atom(den);
                        let q = self.fw.body.binary(BinOp::Div, num, den);
                        let c = self.fw.body.neg(q);
                        self.add(rhs, c);
                    }
                }
                _ => {}
            },
            ExprKind::Convert { value, .. } => {
                let to = tensor(value).scalar;
                let (ty, placement) = (Type::Tensor(tensor(&d).with_scalar(to)), d.placement);
                let c = if tensor(&d).scalar == to {
                    d
                } else {
                    self.fw.body.expr(
                        ExprKind::Convert {
                            value: Box::new(d),
                            to,
                        },
                        ty,
                        placement,
                    )
                };
                self.add(value, c);
            }
            ExprKind::Share { value, .. } => {
                if matches!(d.placement, Placement::Secret(_)) {
                    self.would_reveal(value.placement);
                    return;
                }
                self.add(value, d);
            }
            ExprKind::Reveal { value, .. } => match self.fw.body.store(d, value.placement) {
                Some(c) => self.add(value, c),
                None => self.would_reveal(value.placement),
            },
            ExprKind::Builtin { builtin, args } => self.builtin(result, builtin, args, d),
            ExprKind::Index { base, items } => {
                let c = self.scatter(base, items, d);
                self.add(base, c);
            }
            _ => {}
        }
    }

    fn builtin(&mut self, result: LocalId, builtin: &Builtin, args: &[Expr], d: Expr) {
        match builtin {
            Builtin::Matmul => {
                let (a, b) = (&args[0], &args[1]);
                if self.active(a) {
                    let c = if tensor(b).rank() == 2 {
                        let bt = self.fw.body.transpose(b.clone());
                        let bt = self.fw.body.atom(bt);
                        self.fw.body.matmul(d.clone(), bt)
                    } else {
                        // [m, k] · [k] → [m]: the outer product of d and b.
                        let m = self.fw.body.dim(a, 0);
                        let k = self.fw.body.dim(b, 0);
                        let (dm, bk) = (tensor(&d).shape[0], tensor(b).shape[0]);
                        let col = self.fw.body.reshape(
                            d.clone(),
                            vec![m, self.fw.body.int(1)],
                            vec![dm, Dim::Known(1)],
                        );
                        let col = self.fw.body.atom(col);
                        let row = self.fw.body.reshape(
                            b.clone(),
                            vec![self.fw.body.int(1), k],
                            vec![Dim::Known(1), bk],
                        );
                        let row = self.fw.body.atom(row);
                        self.fw.body.binary(BinOp::Mul, col, row)
                    };
                    self.add(a, c);
                }
                if self.active(b) {
                    let at = self.fw.body.transpose(a.clone());
                    let at = self.fw.body.atom(at);
                    let c = self.fw.body.matmul(at, d);
                    self.add(b, c);
                }
            }
            Builtin::Transpose => {
                let c = if tensor(&d).rank() == 2 {
                    self.fw.body.transpose(d)
                } else {
                    d
                };
                self.add(&args[0], c);
            }
            Builtin::Reshape => {
                let a = &args[0];
                let rank = tensor(a).rank();
                let sizes = (0..rank).map(|i| self.fw.body.dim(a, i)).collect();
                let c = self.fw.body.reshape(d, sizes, tensor(a).shape.clone());
                self.add(a, c);
            }
            Builtin::Sum { axis } => {
                let a = &args[0];
                let zeros = self.fw.body.zeros_like(a.clone());
                let zeros = self.fw.body.atom(zeros);
                let v = self.expand(d, a, *axis);
                let v = self.fw.body.atom(v);
                let c = self.fw.body.binary(BinOp::Add, zeros, v);
                self.add(a, c);
            }
            Builtin::Max { axis } if self.fw.choices.contains_key(&result) => {
                // The gradient goes to the entry the forward tournament chose.
                let a = &args[0];
                let choice = self.fw.choices[&result].clone();
                let bd = self.expand(d, a, *axis);
                let bd = self.fw.body.atom(bd);
                let c = self.fw.body.binary(BinOp::Mul, choice, bd);
                self.add(a, c);
            }
            Builtin::Max { axis } => {
                // A maximum with no tournament choice at hand (its length known only at run
                // time, or of a tensor of rank above 2): the entries equal to it share the
                // gradient.
                let a = &args[0];
                let m = self.fw.body.var(result);
                let bm = self.expand(m, a, *axis);
                let bm = self.fw.body.atom(bm);
                let at_max = self.fw.body.binary(BinOp::Ge, a.clone(), bm);
                let at_max = self.fw.body.atom(at_max);
                let bd = self.expand(d, a, *axis);
                let bd = self.fw.body.atom(bd);
                let zero = self.fw.body.fixed(0.0);
                let c = self.fw.body.select(at_max, bd, zero);
                self.add(a, c);
            }
            Builtin::Im2Col(w) => {
                let a = &args[0];
                let c = self
                    .fw
                    .body
                    .builtin(Builtin::Col2Im(*w), vec![d], tensor(a).clone());
                self.add(a, c);
            }
            Builtin::Col2Im(w) => {
                let a = &args[0];
                let c = self
                    .fw
                    .body
                    .builtin(Builtin::Im2Col(*w), vec![d], tensor(a).clone());
                self.add(a, c);
            }
            Builtin::Select => {
                let (c, a, b) = (&args[0], &args[1], &args[2]);
                if self.active(a) {
                    let zero = self.fw.body.fixed(0.0);
                    let g = self.fw.body.select(c.clone(), d.clone(), zero);
                    self.add(a, g);
                }
                if self.active(b) {
                    let zero = self.fw.body.fixed(0.0);
                    let g = self.fw.body.select(c.clone(), zero, d);
                    self.add(b, g);
                }
            }
            Builtin::Concat { axis } => {
                // Each part's gradient is its slice of d along the axis.
                let k = *axis;
                let d = self.fw.body.atom(d);
                let mut offset = self.fw.body.int(0);
                for part in args {
                    let len = self.fw.body.dim(part, k);
                    let end = self.fw.body.binary(BinOp::Add, offset.clone(), len);
                    let end = self.fw.body.atom(end);
                    if self.active(part) {
                        let mut items: Vec<IndexItem> = (0..k)
                            .map(|j| IndexItem::Range {
                                start: self.fw.body.int(0),
                                end: self.fw.body.dim(&d, j),
                            })
                            .collect();
                        items.push(IndexItem::Range {
                            start: offset.clone(),
                            end: end.clone(),
                        });
                        let ty = Type::Tensor(tensor(part).with_scalar(tensor(&d).scalar));
                        let placement = d.placement;
                        let slice = self.fw.body.expr(
                            ExprKind::Index {
                                base: Box::new(d.clone()),
                                items,
                            },
                            ty,
                            placement,
                        );
                        self.add(part, slice);
                    }
                    offset = end;
                }
            }
            Builtin::ReadCsv { .. }
            | Builtin::WriteCsv { .. }
            | Builtin::ReadNpy { .. }
            | Builtin::WriteNpy { .. }
            | Builtin::WriteShares { .. }
            | Builtin::ReadShares { .. }
            | Builtin::Print
            | Builtin::Zeros
            | Builtin::Ones
            | Builtin::Rows
            | Builtin::Shape
            | Builtin::Log2Lookup { .. }
            | Builtin::ArgMax { .. }
            | Builtin::MaxOneHot
            | Builtin::ZerosLike => {}
        }
    }

    /// The adjoint of a struct or tuple as one expression (its parts' adjoints, 0 for a part
    /// nothing depends on), at `placement`; `None` if nothing depends on any part.
    fn tree_adjoint(&mut self, tree: &Tree, placement: Placement) -> Option<Expr> {
        match tree {
            Tree::Unit => None,
            Tree::Leaf(e) if !e.ty.is_aggregate() => {
                let ExprKind::Local(id) = e.kind else {
                    return None;
                };
                let a = self.adjoint(id)?;
                self.fw.body.store(a, placement)
            }
            _ => {
                let parts = self.fw.parts(tree);
                let mut any = false;
                let mut items = Vec::new();
                for p in &parts {
                    match self.tree_adjoint(p, placement) {
                        Some(a) => {
                            any = true;
                            items.push(a);
                        }
                        None => {
                            let leaf = self.fw.tree_expr(p);
                            let z = self.zeros_of(&leaf);
                            let z = self.fw.body.store(z, placement)?;
                            items.push(z);
                        }
                    }
                }
                if !any {
                    return None;
                }
                let ty = match tree {
                    Tree::Leaf(e) => e.ty.clone(),
                    Tree::Parts(_, ty, _) => ty.clone(),
                    Tree::Unit => unreachable!("handled above"),
                };
                let kind = match ty {
                    Type::Struct(_) => ExprKind::StructLit { fields: items },
                    _ => ExprKind::Tuple(items),
                };
                Some(self.fw.body.expr(kind, ty, placement))
            }
        }
    }

    /// Zeros of a value's type (a struct's fields each), at its placement.
    fn zeros_of(&mut self, e: &Expr) -> Expr {
        let z = self.fw.body.zeros_like(e.clone());
        self.fw.body.atom(z)
    }

    /// A function with its own gradient: its gradient functions, called with the forward
    /// values (its arguments and result) and the result's adjoint.
    fn custom(&mut self, result: LocalId, function: usize, args: &[Tree]) {
        let program = self.fw.body.program;
        let f = &program.functions[function];
        let y = self.fw.body.var(result);
        let dy = if y.ty.is_aggregate() {
            match self.tree_adjoint(&Tree::Leaf(y.clone()), f.ret_placement) {
                Some(a) => self.fw.body.atom(a),
                None => return,
            }
        } else {
            match self.adjoint(result) {
                Some(a) => a,
                None => return,
            }
        };
        let grads = f.grads.clone().unwrap_or_default();
        for (i, tree) in args.iter().enumerate() {
            let Some(vjp) = grads.get(i).copied().flatten() else {
                continue;
            };
            let active = match tree {
                Tree::Leaf(e) if !e.ty.is_aggregate() => self.active(e),
                _ => true,
            };
            if !active {
                continue;
            }
            // A public adjoint (a loss's gradient starts as the public 1) goes to the variant
            // that multiplies by a public value; otherwise the adjoint is where the result is.
            let (instance, dy) = match (dy.placement, vjp.public_dy) {
                (Placement::Public, Some(p)) => (p, dy.clone()),
                _ => match self.fw.body.store(dy.clone(), f.ret_placement) {
                    Some(d) => (vjp.at_result, self.fw.body.atom(d)),
                    None => {
                        self.would_reveal(f.ret_placement);
                        return;
                    }
                },
            };
            let mut call_args: Vec<Expr> = args.iter().map(|t| self.fw.tree_expr(t)).collect();
            call_args.push(y.clone());
            call_args.push(dy);
            let g = &program.functions[instance];
            let call = self.fw.body.expr(
                ExprKind::Call {
                    function: instance,
                    args: call_args,
                },
                g.ret_type.clone(),
                g.ret_placement,
            );
            let id = self.fw.body.bind(&format!("d{}", f.name), call);
            let g = self.fw.body.var(id);
            self.add_tree(tree, g);
        }
    }

    /// Adds a struct's (or a tensor's) gradient to the adjoints of a value's parts.
    fn add_tree(&mut self, target: &Tree, g: Expr) {
        match target {
            Tree::Unit => {}
            Tree::Leaf(x) if !x.ty.is_aggregate() => self.add(x, g),
            _ => {
                let parts = self.fw.parts(target);
                let types = self.fw.body.program.parts(&g.ty);
                for (index, (part, ty)) in parts.iter().zip(types).enumerate() {
                    let placement = g.placement;
                    let field = self.fw.body.expr(
                        ExprKind::Field {
                            base: Box::new(g.clone()),
                            index,
                        },
                        ty,
                        placement,
                    );
                    let field = self.fw.body.atom(field);
                    self.add_tree(part, field);
                }
            }
        }
    }

    /// The gradient of the differentiated argument (`tree`, its value in the derived
    /// function), at `placement`: its parts' adjoints, 0 where nothing depends on a part.
    pub fn gradient(&mut self, tree: &Tree, placement: Placement) -> Option<Expr> {
        match tree {
            Tree::Leaf(e) if !e.ty.is_aggregate() => {
                let ExprKind::Local(id) = e.kind else {
                    return None;
                };
                let a = match self.adjoint(id) {
                    Some(a) => a,
                    None => self.zeros_of(e),
                };
                // A public adjoint of a tensor whose shape is the argument's.
                let a = if tensor(&a).shape.len() < tensor(e).shape.len() {
                    let z = self.fw.body.zeros_like(e.clone());
                    let sum = self.fw.body.binary(BinOp::Add, z, a);
                    self.fw.body.atom(sum)
                } else {
                    a
                };
                match self.fw.body.store(a, placement) {
                    Some(g) => Some(g),
                    None => {
                        self.would_reveal(placement);
                        None
                    }
                }
            }
            _ => {
                let parts = self.fw.parts(tree);
                let mut items = Vec::new();
                for p in &parts {
                    items.push(self.gradient(p, placement)?);
                }
                let ty = match tree {
                    Tree::Leaf(e) => e.ty.clone(),
                    Tree::Parts(_, ty, _) => ty.clone(),
                    Tree::Unit => return None,
                };
                let kind = match ty {
                    Type::Struct(_) => ExprKind::StructLit { fields: items },
                    _ => ExprKind::Tuple(items),
                };
                Some(self.fw.body.expr(kind, ty, placement))
            }
        }
    }
}

/// The type of the seed of a loss of type `t`: 1, of the loss's shape.
pub(super) fn seed_type(t: &TensorType) -> TensorType {
    TensorType::new(Scalar::Fixed, t.shape.clone())
}
