//! The forward sweep: the differentiated function inlined into the derived function, one
//! operation per statement (`let t = a * b;`), with what each value depends on.
//!
//! Calls are inlined, except calls of functions with their own gradient (a `grad(…)` clause),
//! which stay calls and are recorded whole, and calls that depend on nothing being
//! differentiated. Structs and tuples are taken apart: every value the backward sweep sees is a
//! tensor. A value is *active* if it depends, through operations that have a gradient, on the
//! argument being differentiated; the active operations are recorded on the *tape*, in order,
//! for the backward sweep. A value that depends on that argument through an operation without a
//! gradient (a comparison used as a value, `argmax`, …) carries a *taint*: if the result does,
//! the gradient does not exist and the pass reports it, with the path of the dependency.
//!
//! The tape is the compiler's: nothing of it exists at run time. The forward values are the
//! derived function's variables, computed once and read by the backward sweep.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use tfe_grammar::Span;
use tfe_grammar::ast::BinOp;

use super::build::Body;
use crate::diagnostics::{Diagnostic, Label};
use crate::hir::{Block, Builtin, Expr, ExprKind, FunctionId, IndexItem, LocalId, Placement, Stmt};
use crate::types::Type;

/// A value of the forward sweep: a tensor (a variable or a literal), or the parts of a struct
/// or tuple.
#[derive(Debug, Clone)]
pub(super) enum Tree {
    Unit,
    Leaf(Expr),
    Parts(Vec<Tree>, Type, Placement),
}

/// What a variable of the derived function depends on.
#[derive(Debug, Clone, Default)]
pub(super) struct Activity {
    /// It depends on the differentiated argument through operations with a gradient.
    pub active: bool,
    /// It depends on the differentiated argument through an operation without one.
    pub taint: Option<Rc<Taint>>,
    /// The active variable it was computed from (the path back to the argument, for messages).
    pub origin: Option<LocalId>,
    /// The program's name for it, and its `let` (for messages).
    pub named: Option<(String, Span)>,
}

/// An operation without a gradient that a value depends on.
#[derive(Debug, Clone)]
pub(super) struct Taint {
    pub span: Span,
    /// What it is: "this comparison", "`argmax`".
    pub what: String,
    /// Where a comparison's result is used as a number (a `select` of constants).
    pub used: Option<Span>,
    /// The active variable it takes.
    pub from: Option<LocalId>,
}

/// An operation of the tape.
#[derive(Debug, Clone)]
pub(super) enum Entry {
    /// `let result = expr;` with the operands of `expr` variables or literals.
    Op { result: LocalId, expr: Expr },
    /// `let result = function(args…);` of a function with its own gradient.
    Custom {
        result: LocalId,
        function: FunctionId,
        args: Vec<Tree>,
    },
}

/// The variables of one inlined function instance: what each of its locals holds now.
struct Frame {
    function: FunctionId,
    map: Vec<Option<Tree>>,
}

pub(super) struct Forward<'p> {
    pub body: Body<'p>,
    pub info: HashMap<LocalId, Activity>,
    pub tape: Vec<Entry>,
    pub errors: Vec<Diagnostic>,
    /// Struct- and tuple-typed variables taken apart: their parts.
    pub split: HashMap<LocalId, Vec<Tree>>,
    /// Differentiated maxima: the one-hot of the entry each one's tournament chose.
    pub choices: HashMap<LocalId, Expr>,
    /// Inside an inlined library function: the user's call that led there.
    user_span: Option<Span>,
    /// The differentiated parameter's name and the `grad` call, for messages.
    pub wrt: String,
    pub grad_span: Span,
}

impl<'p> Forward<'p> {
    pub fn new(body: Body<'p>, wrt: String, grad_span: Span) -> Forward<'p> {
        Forward {
            body,
            info: HashMap::new(),
            tape: Vec::new(),
            errors: Vec::new(),
            split: HashMap::new(),
            choices: HashMap::new(),
            user_span: None,
            wrt,
            grad_span,
        }
    }

    fn span_of(&self, e: &Expr) -> Span {
        self.user_span.unwrap_or(e.span)
    }

    /// What an atom (a variable or a literal) depends on.
    pub fn activity(&self, e: &Expr) -> Activity {
        match e.kind {
            ExprKind::Local(id) => self.info.get(&id).cloned().unwrap_or_default(),
            _ => Activity::default(),
        }
    }

    /// What any leaf of a value depends on: active, the first taint found, and an active leaf.
    fn tree_activity(&self, tree: &Tree) -> (bool, Option<Rc<Taint>>, Option<LocalId>) {
        match tree {
            Tree::Unit => (false, None, None),
            Tree::Leaf(e) => {
                let a = self.activity(e);
                let local = match e.kind {
                    ExprKind::Local(id) if a.active => Some(id),
                    _ => None,
                };
                (a.active, a.taint, local)
            }
            Tree::Parts(parts, ..) => {
                parts
                    .iter()
                    .fold((false, None, None), |(act, taint, origin), p| {
                        let (a, t, o) = self.tree_activity(p);
                        (act || a, taint.or(t), origin.or(o))
                    })
            }
        }
    }

    /// Marks a variable as a root of differentiation (a leaf of the argument).
    pub fn root(&mut self, id: LocalId, name: String) {
        self.info.insert(
            id,
            Activity {
                active: true,
                taint: None,
                origin: None,
                named: Some((name, self.grad_span)),
            },
        );
    }

    fn internal(&mut self, what: &str) {
        self.errors.push(Diagnostic::error(
            "E0501",
            format!("internal error in the gradient pass: {what}; this is a bug in tfec"),
            Label::new(self.grad_span, "in this `grad`"),
        ));
    }

    // ---- Values --------------------------------------------------------------------------

    /// The parts of a struct or tuple value, taking a variable apart (once) if need be.
    pub fn parts(&mut self, tree: &Tree) -> Vec<Tree> {
        match tree {
            Tree::Parts(parts, ..) => parts.clone(),
            Tree::Leaf(e) => {
                if let ExprKind::Local(id) = e.kind
                    && let Some(parts) = self.split.get(&id)
                {
                    return parts.clone();
                }
                let types = self.body.program.parts(&e.ty);
                let activity = self.activity(e);
                let mut parts = Vec::new();
                for (index, ty) in types.into_iter().enumerate() {
                    let field = self.body.expr(
                        ExprKind::Field {
                            base: Box::new(e.clone()),
                            index,
                        },
                        ty,
                        e.placement,
                    );
                    let id = self.body.bind("part", field);
                    if activity.active || activity.taint.is_some() {
                        self.info.insert(
                            id,
                            Activity {
                                active: activity.active,
                                taint: activity.taint.clone(),
                                origin: match e.kind {
                                    ExprKind::Local(l) => Some(l),
                                    _ => None,
                                },
                                named: None,
                            },
                        );
                    }
                    parts.push(Tree::Leaf(self.body.var(id)));
                }
                if let ExprKind::Local(id) = e.kind {
                    self.split.insert(id, parts.clone());
                }
                parts
            }
            Tree::Unit => Vec::new(),
        }
    }

    /// An expression for a value: its variable or literal, or a struct or tuple of its parts.
    pub fn tree_expr(&self, tree: &Tree) -> Expr {
        match tree {
            Tree::Leaf(e) => e.clone(),
            Tree::Parts(parts, ty, placement) => {
                let items: Vec<Expr> = parts.iter().map(|p| self.tree_expr(p)).collect();
                let kind = match ty {
                    Type::Struct(_) => ExprKind::StructLit { fields: items },
                    _ => ExprKind::Tuple(items),
                };
                self.body.expr(kind, ty.clone(), *placement)
            }
            Tree::Unit => panic!("no value"),
        }
    }

    // ---- Functions and statements ----------------------------------------------------------

    /// Inlines a function instance with these arguments; returns its result.
    pub fn inline(
        &mut self,
        function: FunctionId,
        args: Vec<Tree>,
        call_span: Span,
    ) -> Option<Tree> {
        let program = self.body.program;
        let f = &program.functions[function];
        let saved = self.user_span;
        if f.module != "main" && self.user_span.is_none() {
            self.user_span = Some(call_span);
        }
        let mut frame = Frame {
            function,
            map: vec![None; f.locals.len()],
        };
        for (param, arg) in f.params.iter().zip(args) {
            frame.map[*param] = Some(arg);
        }
        let mut result = None;
        let n = f.body.stmts.len();
        for (i, stmt) in f.body.stmts.iter().enumerate() {
            if let Stmt::Return { value, .. } = stmt
                && i + 1 == n
                && f.body.tail.is_none()
            {
                result = Some(match value {
                    Some(v) => self.value(&mut frame, v)?,
                    None => Tree::Unit,
                });
                break;
            }
            self.stmt(&mut frame, stmt)?;
        }
        let result = match result {
            Some(r) => r,
            None => match &f.body.tail {
                Some(tail) => self.value(&mut frame, tail)?,
                None => Tree::Unit,
            },
        };
        self.user_span = saved;
        Some(result)
    }

    fn block(&mut self, frame: &mut Frame, block: &Block) -> Option<Tree> {
        for stmt in &block.stmts {
            self.stmt(frame, stmt)?;
        }
        match &block.tail {
            Some(tail) => self.value(frame, tail),
            None => Some(Tree::Unit),
        }
    }

    /// Gives a variable of the program its value, and its name to a fresh temporary.
    fn bind_local(&mut self, frame: &mut Frame, local: LocalId, tree: Tree, span: Span) {
        let program = self.body.program;
        let f = &program.functions[frame.function];
        if self.user_span.is_none()
            && let Tree::Leaf(Expr {
                kind: ExprKind::Local(id),
                ..
            }) = &tree
        {
            let name = f.locals[local].name.clone();
            let entry = self.info.entry(*id).or_default();
            if entry.named.is_none() {
                entry.named = Some((name.clone(), span));
                if self.body.locals[*id].name.starts_with("t#") {
                    self.body.locals[*id].name = format!("{name}#{id}");
                }
            }
        }
        frame.map[local] = Some(tree);
    }

    fn stmt(&mut self, frame: &mut Frame, stmt: &Stmt) -> Option<()> {
        match stmt {
            Stmt::Let { local, value, span } | Stmt::Assign { local, value, span } => {
                let tree = self.value(frame, value)?;
                let span = self.user_span.unwrap_or(*span);
                self.bind_local(frame, *local, tree, span);
            }
            Stmt::LetTuple {
                locals,
                value,
                span,
            } => {
                let tree = self.value(frame, value)?;
                let parts = self.parts(&tree);
                let span = self.user_span.unwrap_or(*span);
                for (local, part) in locals.iter().zip(parts) {
                    if let Some(local) = local {
                        self.bind_local(frame, *local, part, span);
                    }
                }
            }
            Stmt::For { span, .. } | Stmt::While { span, .. } => {
                let span = self.user_span.unwrap_or(*span);
                self.kept_stmt(frame, stmt, span)?;
            }
            Stmt::Return { span, .. } => {
                let span = self.user_span.unwrap_or(*span);
                self.errors.push(
                    Diagnostic::error(
                        "E0501",
                        "a `return` before the end of a differentiated function",
                        Label::new(span, "returns early"),
                    )
                    .with_help("end the function with its value instead"),
                );
                return None;
            }
            Stmt::Expr(e) => {
                self.value(frame, e)?;
            }
        }
        Some(())
    }

    fn value(&mut self, frame: &mut Frame, e: &Expr) -> Option<Tree> {
        let span = self.span_of(e);
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Fixed(_) | ExprKind::Bool(_) | ExprKind::Str(_) => {
                Some(Tree::Leaf(Expr { span, ..e.clone() }))
            }
            ExprKind::Local(id) => match frame.map[*id].clone() {
                Some(tree) => Some(tree),
                None => {
                    self.internal("a variable read before it has a value");
                    None
                }
            },
            ExprKind::List(items) => {
                let mut atoms = Vec::new();
                for item in items {
                    atoms.push(self.atom(frame, item)?);
                }
                Some(Tree::Leaf(Expr {
                    kind: ExprKind::List(atoms),
                    span,
                    ..e.clone()
                }))
            }
            ExprKind::StructLit { fields: items } | ExprKind::Tuple(items) => {
                let mut parts = Vec::new();
                for item in items {
                    parts.push(self.value(frame, item)?);
                }
                Some(Tree::Parts(parts, e.ty.clone(), e.placement))
            }
            ExprKind::Field { base, index } => {
                let base = self.value(frame, base)?;
                Some(self.parts(&base)[*index].clone())
            }
            ExprKind::Block(block) => self.block(frame, block),
            ExprKind::If { .. } | ExprKind::On { .. } => self.kept_expr(frame, e, span),
            ExprKind::Grad { args, .. } => {
                for arg in args {
                    let tree = self.value(frame, arg)?;
                    let (active, taint, _) = self.tree_activity(&tree);
                    if active || taint.is_some() {
                        self.errors.push(
                            Diagnostic::error(
                                "E0503",
                                "a gradient of a gradient",
                                Label::new(span, "differentiated inside a differentiated function"),
                            )
                            .with_help("`grad` derives first derivatives: its argument may not depend on an outer `grad`'s"),
                        );
                        return None;
                    }
                }
                self.kept_expr(frame, e, span)
            }
            ExprKind::Call { function, args } => {
                let mut trees = Vec::new();
                for arg in args {
                    trees.push(self.value(frame, arg)?);
                }
                let any = trees.iter().any(|t| {
                    let (active, taint, _) = self.tree_activity(t);
                    active || taint.is_some()
                });
                let f = &self.body.program.functions[*function];
                if !any {
                    let args = trees.iter().map(|t| self.tree_expr(t)).collect();
                    let call = self.body.expr(
                        ExprKind::Call {
                            function: *function,
                            args,
                        },
                        e.ty.clone(),
                        e.placement,
                    );
                    if e.ty == Type::Unit {
                        self.body.stmts.push(Stmt::Expr(call));
                        return Some(Tree::Unit);
                    }
                    let id = self.body.bind("t", call);
                    return Some(Tree::Leaf(self.body.var(id)));
                }
                if f.grads.is_some() {
                    return self.custom(*function, trees, e, span);
                }
                self.inline(*function, trees, span)
            }
            ExprKind::Builtin {
                builtin:
                    Builtin::ReadCsv { .. }
                    | Builtin::WriteCsv { .. }
                    | Builtin::ReadNpy { .. }
                    | Builtin::WriteNpy { .. }
                    | Builtin::WriteShares { .. }
                    | Builtin::ReadShares { .. }
                    | Builtin::Print,
                ..
            } => {
                self.errors.push(
                    Diagnostic::error(
                        "E0501",
                        "file input and output in a differentiated function",
                        Label::new(span, "reads, writes or prints"),
                    )
                    .with_secondary(Label::new(self.grad_span, "differentiated here"))
                    .with_help("`grad` computes the function's value again, as part of the gradient: read and write files outside it, and pass the values in"),
                );
                None
            }
            ExprKind::Builtin {
                builtin: Builtin::ZerosLike,
                args,
            } => {
                let like = self.value(frame, &args[0])?;
                Some(self.zeros_tree(&like))
            }
            ExprKind::Unary { .. } | ExprKind::Binary { .. } if e.ty.is_aggregate() => {
                self.fieldwise(frame, e, span)
            }
            ExprKind::Share { value, .. } | ExprKind::Reveal { value, .. }
                if e.ty.is_aggregate() =>
            {
                let tree = self.value(frame, value)?;
                let parts = self.parts(&tree);
                let types = self.body.program.parts(&e.ty);
                let mut out = Vec::new();
                for (part, ty) in parts.iter().zip(types) {
                    let leaf = match part {
                        Tree::Leaf(x) => x.clone(),
                        other => self.tree_expr(other),
                    };
                    let kind = match &e.kind {
                        ExprKind::Share { to, .. } => ExprKind::Share {
                            value: Box::new(leaf),
                            to: *to,
                        },
                        ExprKind::Reveal { to, .. } => ExprKind::Reveal {
                            value: Box::new(leaf),
                            to: *to,
                        },
                        _ => unreachable!("matched above"),
                    };
                    let part_expr = Expr {
                        kind,
                        ty: ty.clone(),
                        placement: e.placement,
                        span,
                    };
                    out.push(if ty.is_aggregate() {
                        let id = self.body.bind("t", part_expr);
                        Tree::Leaf(self.body.var(id))
                    } else {
                        self.op(part_expr, span)
                    });
                }
                Some(Tree::Parts(out, e.ty.clone(), e.placement))
            }
            _ => {
                let kind = self.atomize(frame, &e.kind)?;
                Some(self.op(
                    Expr {
                        kind,
                        ty: e.ty.clone(),
                        placement: e.placement,
                        span,
                    },
                    span,
                ))
            }
        }
    }

    /// A value that is a tensor, as a variable or a literal (a list of them for `[a, b]`).
    fn atom(&mut self, frame: &mut Frame, e: &Expr) -> Option<Expr> {
        match self.value(frame, e)? {
            Tree::Leaf(x) => Some(x),
            Tree::Parts(..) | Tree::Unit => {
                self.internal("a struct where a tensor was expected");
                None
            }
        }
    }

    /// An operation's kind with its operands replaced by atoms.
    fn atomize(&mut self, frame: &mut Frame, kind: &ExprKind) -> Option<ExprKind> {
        Some(match kind {
            ExprKind::Unary { op, operand } => ExprKind::Unary {
                op: *op,
                operand: Box::new(self.atom(frame, operand)?),
            },
            ExprKind::Binary { op, lhs, rhs } => ExprKind::Binary {
                op: *op,
                lhs: Box::new(self.atom(frame, lhs)?),
                rhs: Box::new(self.atom(frame, rhs)?),
            },
            ExprKind::Builtin { builtin, args } => {
                let mut atoms = Vec::new();
                for a in args {
                    atoms.push(self.atom(frame, a)?);
                }
                ExprKind::Builtin {
                    builtin: builtin.clone(),
                    args: atoms,
                }
            }
            ExprKind::Index { base, items } => {
                let base = self.atom(frame, base)?;
                let mut out = Vec::new();
                for item in items {
                    out.push(match item {
                        IndexItem::Single(i) => IndexItem::Single(self.atom(frame, i)?),
                        IndexItem::Range { start, end } => IndexItem::Range {
                            start: self.atom(frame, start)?,
                            end: self.atom(frame, end)?,
                        },
                    });
                }
                ExprKind::Index {
                    base: Box::new(base),
                    items: out,
                }
            }
            ExprKind::Convert { value, to } => ExprKind::Convert {
                value: Box::new(self.atom(frame, value)?),
                to: *to,
            },
            ExprKind::Share { value, to } => ExprKind::Share {
                value: Box::new(self.atom(frame, value)?),
                to: *to,
            },
            ExprKind::Reveal { value, to } => ExprKind::Reveal {
                value: Box::new(self.atom(frame, value)?),
                to: *to,
            },
            other => {
                self.internal(&format!("an unexpected operation {other:?}"));
                return None;
            }
        })
    }

    /// `+ - *` (and `/` by a scalar, and `-`) of structs: one operation per field.
    fn fieldwise(&mut self, frame: &mut Frame, e: &Expr, span: Span) -> Option<Tree> {
        let types = self.body.program.parts(&e.ty);
        let (lhs, rhs, op) = match &e.kind {
            ExprKind::Binary { op, lhs, rhs } => (&**lhs, Some(&**rhs), Some(*op)),
            ExprKind::Unary { operand, .. } => (&**operand, None, None),
            _ => unreachable!("called for operators"),
        };
        let l = self.value(frame, lhs)?;
        let r = match rhs {
            Some(r) => Some(self.value(frame, r)?),
            None => None,
        };
        let l_parts = lhs.ty.is_aggregate().then(|| self.parts(&l));
        let r_parts = match (&r, rhs) {
            (Some(r), Some(rhs)) if rhs.ty.is_aggregate() => Some(self.parts(r)),
            _ => None,
        };
        let leaf = |this: &Self, tree: &Tree| match tree {
            Tree::Leaf(x) => x.clone(),
            other => this.tree_expr(other),
        };
        let mut out = Vec::new();
        for (i, ty) in types.into_iter().enumerate() {
            let a = match &l_parts {
                Some(p) => leaf(self, &p[i]),
                None => leaf(self, &l),
            };
            let kind = match (op, &r) {
                (Some(op), Some(r)) => {
                    let b = match &r_parts {
                        Some(p) => leaf(self, &p[i]),
                        None => leaf(self, r),
                    };
                    ExprKind::Binary {
                        op,
                        lhs: Box::new(a),
                        rhs: Box::new(b),
                    }
                }
                _ => {
                    let ExprKind::Unary { op, .. } = &e.kind else {
                        unreachable!("a unary operator")
                    };
                    ExprKind::Unary {
                        op: *op,
                        operand: Box::new(a),
                    }
                }
            };
            out.push(self.op(
                Expr {
                    kind,
                    ty,
                    placement: e.placement,
                    span,
                },
                span,
            ));
        }
        Some(Tree::Parts(out, e.ty.clone(), e.placement))
    }

    /// `zeros_like` of a value: no dependence on anything.
    fn zeros_tree(&mut self, like: &Tree) -> Tree {
        match like {
            Tree::Unit => Tree::Unit,
            Tree::Parts(parts, ty, placement) => Tree::Parts(
                parts.iter().map(|p| self.zeros_tree(p)).collect(),
                ty.clone(),
                *placement,
            ),
            Tree::Leaf(e) => {
                let z = self.body.zeros_like(e.clone());
                let id = self.body.bind("zeros", z);
                Tree::Leaf(self.body.var(id))
            }
        }
    }

    /// `let t = e;` for an operation whose operands are atoms, with what `t` depends on; an
    /// active operation goes on the tape.
    fn op(&mut self, e: Expr, span: Span) -> Tree {
        let activity = self.classify(&e, span);
        if activity.active
            && let ExprKind::Builtin {
                builtin: Builtin::Max { axis },
                args,
            } = &e.kind
            && let Some(tree) = self.max_with_choice(&e, &args[0], *axis, activity.clone())
        {
            return tree;
        }
        let id = self.body.bind("t", e.clone());
        if activity.active {
            self.tape.push(Entry::Op {
                result: id,
                expr: e,
            });
        }
        if activity.active || activity.taint.is_some() {
            self.info.insert(id, activity);
        }
        Tree::Leaf(self.body.var(id))
    }

    /// A differentiated maximum, from the tournament that also gives the one-hot of the entry it
    /// chose (`max_onehot` over rows): the backward pass sends the gradient there, without
    /// comparing again. For a matrix along either axis and for a vector; `None` (compare again)
    /// for other ranks or a length known only at run time.
    fn max_with_choice(
        &mut self,
        e: &Expr,
        a: &Expr,
        axis: Option<usize>,
        activity: Activity,
    ) -> Option<Tree> {
        use crate::types::{Dim, Scalar, TensorType};
        let t = a.ty.tensor()?.clone();
        let known = |d: Dim| match d {
            Dim::Known(n) => Some(n),
            Dim::Runtime => None,
        };
        // The rows the tournament runs over, and the way back to a's layout.
        enum Layout {
            Rows,
            Columns,
            Flat,
        }
        let (rows, layout) = match (t.rank(), axis) {
            (2, Some(1)) => (a.clone(), Layout::Rows),
            (2, Some(0)) => (self.body.transpose(a.clone()), Layout::Columns),
            (1, _) | (2, None) => {
                let n: u64 = t.shape.iter().map(|d| known(*d)).product::<Option<u64>>()?;
                let sizes = vec![self.body.int(1), self.body.int(n as i64)];
                (
                    self.body
                        .reshape(a.clone(), sizes, vec![Dim::Known(1), Dim::Known(n)]),
                    Layout::Flat,
                )
            }
            _ => return None,
        };
        let rt = rows.ty.tensor()?.clone();
        let (r, n) = (rt.shape[0], known(rt.shape[1])?);
        let rows = self.body.atom(rows);
        let packed = self.body.builtin(
            Builtin::MaxOneHot,
            vec![rows],
            TensorType::new(Scalar::Fixed, vec![r, Dim::Known(n + 1)]),
        );
        let packed = self.body.atom(packed);
        let slice = |this: &Self, from: u64, to: u64| {
            let items = vec![
                IndexItem::Range {
                    start: this.body.int(0),
                    end: this.body.dim(&packed, 0),
                },
                IndexItem::Range {
                    start: this.body.int(from as i64),
                    end: this.body.int(to as i64),
                },
            ];
            this.body.expr(
                ExprKind::Index {
                    base: Box::new(packed.clone()),
                    items,
                },
                crate::types::Type::Tensor(TensorType::new(
                    Scalar::Fixed,
                    vec![r, Dim::Known(to - from)],
                )),
                packed.placement,
            )
        };
        let onehot = slice(self, 0, n);
        let onehot = self.body.atom(onehot);
        let onehot = match layout {
            Layout::Rows => onehot,
            Layout::Columns => {
                let back = self.body.transpose(onehot);
                self.body.atom(back)
            }
            Layout::Flat => {
                let sizes = t
                    .shape
                    .iter()
                    .map(|d| self.body.int(known(*d).unwrap_or(0) as i64))
                    .collect();
                let back = self.body.reshape(onehot, sizes, t.shape.clone());
                self.body.atom(back)
            }
        };
        // The maximum, in the shape `max` gives.
        let column = slice(self, n, n + 1);
        let column = self.body.atom(column);
        let out = e.ty.tensor()?.clone();
        let sizes: Vec<Expr> = (0..out.rank())
            .map(|k| match out.shape[k] {
                Dim::Known(v) => self.body.int(v as i64),
                Dim::Runtime => self.body.dim(&column, 0),
            })
            .collect();
        let value = self.body.reshape(column, sizes, out.shape.clone());
        let id = self.body.bind("max", value);
        self.tape.push(Entry::Op {
            result: id,
            expr: e.clone(),
        });
        self.info.insert(id, activity);
        self.choices.insert(id, onehot);
        Some(Tree::Leaf(self.body.var(id)))
    }

    /// What the result of an operation depends on.
    fn classify(&self, e: &Expr, span: Span) -> Activity {
        let operands: Vec<&Expr> = match &e.kind {
            ExprKind::Unary { operand, .. } => vec![operand],
            ExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
            ExprKind::Builtin { args, .. } => args.iter().collect(),
            ExprKind::Index { base, .. } => vec![base],
            ExprKind::Convert { value, .. }
            | ExprKind::Share { value, .. }
            | ExprKind::Reveal { value, .. } => vec![value],
            _ => Vec::new(),
        };
        let acts: Vec<(Activity, Option<LocalId>)> = operands
            .iter()
            .map(|o| {
                let local = match o.kind {
                    ExprKind::Local(id) => Some(id),
                    _ => None,
                };
                (self.activity(o), local)
            })
            .collect();
        let first_active = acts.iter().find(|(a, _)| a.active).and_then(|(_, l)| *l);
        let any_active = first_active.is_some();
        let first_taint = acts.iter().find_map(|(a, _)| a.taint.clone());
        let new_taint = |what: &str| {
            Some(Rc::new(Taint {
                span,
                what: what.to_string(),
                used: None,
                from: first_active,
            }))
        };
        let (active, taint) = match &e.kind {
            ExprKind::Binary { op, .. } if op.is_comparison() => (
                false,
                if any_active {
                    new_taint("this comparison")
                } else {
                    first_taint
                },
            ),
            ExprKind::Binary {
                op: BinOp::And | BinOp::Or | BinOp::Rem,
                ..
            }
            | ExprKind::Unary {
                op: tfe_grammar::ast::UnOp::Not,
                ..
            } => (false, first_taint),
            ExprKind::Builtin {
                builtin: Builtin::Select,
                ..
            } => {
                let (c, a, b) = (&acts[0].0, &acts[1].0, &acts[2].0);
                let active = a.active || b.active;
                let taint = a.taint.clone().or(b.taint.clone()).or_else(|| {
                    // A comparison's result chosen into constants: used as a number.
                    c.taint.as_ref().filter(|_| !active).map(|t| {
                        Rc::new(Taint {
                            used: Some(span),
                            ..(**t).clone()
                        })
                    })
                });
                (active, taint)
            }
            ExprKind::Builtin {
                builtin: Builtin::ArgMax { .. },
                ..
            } => (
                false,
                if any_active {
                    new_taint("`argmax`")
                } else {
                    first_taint
                },
            ),
            ExprKind::Builtin {
                builtin: Builtin::Log2Lookup { .. },
                ..
            } => (
                false,
                if any_active {
                    new_taint("a table lookup (`log2_lookup`)")
                } else {
                    first_taint
                },
            ),
            ExprKind::Builtin {
                builtin: Builtin::Rows | Builtin::Shape | Builtin::Zeros | Builtin::Ones,
                ..
            } => (false, None),
            _ => (any_active, first_taint),
        };
        Activity {
            active,
            taint,
            origin: first_active,
            named: None,
        }
    }

    /// A call of a function with its own gradient: recorded whole.
    pub fn custom(
        &mut self,
        function: FunctionId,
        trees: Vec<Tree>,
        e: &Expr,
        span: Span,
    ) -> Option<Tree> {
        let program = self.body.program;
        let f = &program.functions[function];
        let grads = f.grads.clone().unwrap_or_default();
        let mut active = false;
        let mut taint = None;
        let mut origin = None;
        for (i, tree) in trees.iter().enumerate() {
            let (a, t, o) = self.tree_activity(tree);
            taint = taint.or(t);
            if !a {
                continue;
            }
            if grads.get(i).copied().flatten().is_some() {
                active = true;
                origin = origin.or(o);
            } else {
                let param = &f.locals[f.params[i]].name;
                let what = if grads.iter().all(Option::is_none) {
                    format!("`{}`, which has no gradient", f.name)
                } else {
                    format!(
                        "`{}`, which has no gradient with respect to `{param}`",
                        f.name
                    )
                };
                taint = taint.or(Some(Rc::new(Taint {
                    span,
                    what,
                    used: None,
                    from: o,
                })));
            }
        }
        let args = trees.iter().map(|t| self.tree_expr(t)).collect();
        let call = Expr {
            kind: ExprKind::Call { function, args },
            ty: e.ty.clone(),
            placement: e.placement,
            span,
        };
        let id = self.body.bind(&f.name, call);
        if active {
            self.tape.push(Entry::Custom {
                result: id,
                function,
                args: trees,
            });
        }
        if active || taint.is_some() {
            self.info.insert(
                id,
                Activity {
                    active,
                    taint,
                    origin,
                    named: None,
                },
            );
        }
        Some(Tree::Leaf(self.body.var(id)))
    }

    // ---- Code kept as it is ---------------------------------------------------------------

    /// A loop kept as it is: it may not read anything being differentiated.
    fn kept_stmt(&mut self, frame: &mut Frame, stmt: &Stmt, span: Span) -> Option<()> {
        let mut refs = LocalRefs::default();
        refs.stmt(stmt);
        let mut remap = self.prepare_kept(frame, &refs, span)?;
        let stmt = remap.stmt(self, frame, stmt);
        self.body.stmts.push(stmt);
        self.after_kept(frame, &refs, &remap);
        Some(())
    }

    /// A branch or an `on` block kept as it is, its value bound to a variable.
    fn kept_expr(&mut self, frame: &mut Frame, e: &Expr, span: Span) -> Option<Tree> {
        let mut refs = LocalRefs::default();
        refs.expr(e);
        let mut remap = self.prepare_kept(frame, &refs, span)?;
        let e = remap.expr(self, frame, e);
        self.after_kept(frame, &refs, &remap);
        if e.ty == Type::Unit {
            self.body.stmts.push(Stmt::Expr(e));
            return Some(Tree::Unit);
        }
        let id = self.body.bind("t", e);
        Some(Tree::Leaf(self.body.var(id)))
    }

    /// The variables a kept statement reads from outside, each in one variable of the derived
    /// function (mutable where the statement assigns it). Refused when one of them depends on
    /// what is being differentiated.
    fn prepare_kept(&mut self, frame: &mut Frame, refs: &LocalRefs, span: Span) -> Option<Remap> {
        let mut remap = Remap::default();
        let mut outer: Vec<LocalId> = refs
            .used
            .iter()
            .filter(|l| !refs.declared.contains(l))
            .copied()
            .collect();
        outer.sort();
        for l in outer {
            let Some(tree) = frame.map[l].clone() else {
                self.internal("a loop reads a variable without a value");
                return None;
            };
            let (active, taint, origin) = self.tree_activity(&tree);
            if active || taint.is_some() {
                let origin = origin.or(taint.as_ref().and_then(|t| t.from));
                let mut d = Diagnostic::error(
                    "E0501",
                    format!(
                        "no gradient through a loop, a branch or an `on` block: it reads a value that depends on `{}`",
                        self.wrt
                    ),
                    Label::new(span, "computed here"),
                );
                for label in self.path(origin) {
                    d = d.with_secondary(label);
                }
                self.errors.push(
                    d.with_secondary(Label::new(
                        self.grad_span,
                        format!("differentiated with respect to `{}` here", self.wrt),
                    ))
                    .with_help("write the computation without the loop or branch (`select(c, a, b)` chooses elementwise), or give the function inside it a `grad(…)` clause"),
                );
                return None;
            }
            let assigned = refs.assigned.contains(&l);
            let existing = match &tree {
                Tree::Leaf(Expr {
                    kind: ExprKind::Local(id),
                    ..
                }) if !assigned || self.body.locals[*id].mutable => Some(*id),
                _ => None,
            };
            let id = match existing {
                Some(id) => id,
                None => {
                    let value = self.tree_expr(&tree);
                    let f = &self.body.program.functions[frame.function];
                    let name = f.locals[l].name.clone();
                    let id = self.body.local(
                        format!("{name}#{}", self.body.locals.len()),
                        value.ty.clone(),
                        value.placement,
                        assigned,
                    );
                    self.body.stmts.push(Stmt::Let {
                        local: id,
                        value,
                        span: self.body.span,
                    });
                    id
                }
            };
            remap.map.insert(l, id);
        }
        Some(remap)
    }

    fn after_kept(&mut self, frame: &mut Frame, refs: &LocalRefs, remap: &Remap) {
        for l in &refs.assigned {
            if let Some(id) = remap.map.get(l)
                && !refs.declared.contains(l)
            {
                frame.map[*l] = Some(Tree::Leaf(self.body.var(*id)));
            }
        }
    }

    /// Labels for the path from the differentiated argument to `from`: the program's named
    /// variables on the way, first to last.
    pub fn path(&self, from: Option<LocalId>) -> Vec<Label> {
        let mut labels: Vec<Label> = Vec::new();
        let mut seen = HashSet::new();
        let mut at = from;
        let mut names: Vec<(String, Span)> = Vec::new();
        while let Some(id) = at {
            if !seen.insert(id) {
                break;
            }
            let info = self.info.get(&id).cloned().unwrap_or_default();
            if let Some(named) = info.named
                && names.last().is_none_or(|(n, _)| *n != named.0)
            {
                names.push(named);
            }
            at = info.origin;
        }
        names.reverse();
        // The argument itself is the `grad` call's label; the path is the variables after it.
        for (name, span) in names.into_iter().filter(|(n, _)| *n != self.wrt).take(4) {
            labels.push(Label::new(
                span,
                format!("`{name}` depends on `{}`", self.wrt),
            ));
        }
        labels
    }
}

/// The variables a statement or expression declares, reads or writes, and assigns.
#[derive(Default)]
struct LocalRefs {
    declared: HashSet<LocalId>,
    used: HashSet<LocalId>,
    assigned: HashSet<LocalId>,
}

impl LocalRefs {
    fn block(&mut self, b: &Block) {
        for s in &b.stmts {
            self.stmt(s);
        }
        if let Some(t) = &b.tail {
            self.expr(t);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Let { local, value, .. } => {
                self.declared.insert(*local);
                self.expr(value);
            }
            Stmt::LetTuple { locals, value, .. } => {
                self.declared.extend(locals.iter().flatten());
                self.expr(value);
            }
            Stmt::Assign { local, value, .. } => {
                self.used.insert(*local);
                self.assigned.insert(*local);
                self.expr(value);
            }
            Stmt::For {
                var,
                start,
                end,
                body,
                ..
            } => {
                self.declared.insert(*var);
                self.expr(start);
                self.expr(end);
                self.block(body);
            }
            Stmt::While { cond, body, .. } => {
                self.expr(cond);
                self.block(body);
            }
            Stmt::Return { value, .. } => {
                if let Some(v) = value {
                    self.expr(v);
                }
            }
            Stmt::Expr(e) => self.expr(e),
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Local(id) => {
                self.used.insert(*id);
            }
            ExprKind::Int(_) | ExprKind::Fixed(_) | ExprKind::Bool(_) | ExprKind::Str(_) => {}
            ExprKind::List(items)
            | ExprKind::Tuple(items)
            | ExprKind::StructLit { fields: items }
            | ExprKind::Builtin { args: items, .. }
            | ExprKind::Call { args: items, .. }
            | ExprKind::Grad { args: items, .. } => items.iter().for_each(|i| self.expr(i)),
            ExprKind::Unary { operand: v, .. }
            | ExprKind::Field { base: v, .. }
            | ExprKind::Convert { value: v, .. }
            | ExprKind::Share { value: v, .. }
            | ExprKind::Reveal { value: v, .. } => self.expr(v),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            ExprKind::Index { base, items } => {
                self.expr(base);
                for item in items {
                    match item {
                        IndexItem::Single(i) => self.expr(i),
                        IndexItem::Range { start, end } => {
                            self.expr(start);
                            self.expr(end);
                        }
                    }
                }
            }
            ExprKind::If {
                cond,
                then_block,
                else_block,
            } => {
                self.expr(cond);
                self.block(then_block);
                if let Some(b) = else_block {
                    self.block(b);
                }
            }
            ExprKind::On { body, .. } | ExprKind::Block(body) => self.block(body),
        }
    }
}

/// The program's variables, in code kept as it is, renamed to the derived function's.
#[derive(Default)]
struct Remap {
    map: HashMap<LocalId, LocalId>,
}

impl Remap {
    fn local(&mut self, fw: &mut Forward<'_>, frame: &Frame, l: LocalId) -> LocalId {
        if let Some(id) = self.map.get(&l) {
            return *id;
        }
        // Declared inside the kept code: a variable of its own.
        let local = fw.body.program.functions[frame.function].locals[l].clone();
        let id = fw.body.local(
            format!("{}#{}", local.name, fw.body.locals.len()),
            local.ty,
            local.placement,
            local.mutable,
        );
        self.map.insert(l, id);
        id
    }

    fn block(&mut self, fw: &mut Forward<'_>, frame: &Frame, b: &Block) -> Block {
        Block {
            stmts: b.stmts.iter().map(|s| self.stmt(fw, frame, s)).collect(),
            tail: b.tail.as_ref().map(|t| Box::new(self.expr(fw, frame, t))),
            span: fw.user_span.unwrap_or(b.span),
        }
    }

    fn stmt(&mut self, fw: &mut Forward<'_>, frame: &Frame, s: &Stmt) -> Stmt {
        let span = |fw: &Forward<'_>, s: Span| fw.user_span.unwrap_or(s);
        match s {
            Stmt::Let {
                local,
                value,
                span: sp,
            } => {
                let value = self.expr(fw, frame, value);
                Stmt::Let {
                    local: self.local(fw, frame, *local),
                    value,
                    span: span(fw, *sp),
                }
            }
            Stmt::LetTuple {
                locals,
                value,
                span: sp,
            } => {
                let value = self.expr(fw, frame, value);
                Stmt::LetTuple {
                    locals: locals
                        .iter()
                        .map(|l| l.map(|l| self.local(fw, frame, l)))
                        .collect(),
                    value,
                    span: span(fw, *sp),
                }
            }
            Stmt::Assign {
                local,
                value,
                span: sp,
            } => {
                let value = self.expr(fw, frame, value);
                Stmt::Assign {
                    local: self.local(fw, frame, *local),
                    value,
                    span: span(fw, *sp),
                }
            }
            Stmt::For {
                var,
                start,
                end,
                body,
                span: sp,
            } => Stmt::For {
                var: self.local(fw, frame, *var),
                start: self.expr(fw, frame, start),
                end: self.expr(fw, frame, end),
                body: self.block(fw, frame, body),
                span: span(fw, *sp),
            },
            Stmt::While {
                cond,
                body,
                span: sp,
            } => Stmt::While {
                cond: self.expr(fw, frame, cond),
                body: self.block(fw, frame, body),
                span: span(fw, *sp),
            },
            Stmt::Return { value, span: sp } => Stmt::Return {
                value: value.as_ref().map(|v| self.expr(fw, frame, v)),
                span: span(fw, *sp),
            },
            Stmt::Expr(e) => Stmt::Expr(self.expr(fw, frame, e)),
        }
    }

    fn expr(&mut self, fw: &mut Forward<'_>, frame: &Frame, e: &Expr) -> Expr {
        let mut out = e.clone();
        out.span = fw.user_span.unwrap_or(e.span);
        out.kind = match &e.kind {
            ExprKind::Local(id) => ExprKind::Local(self.local(fw, frame, *id)),
            ExprKind::Int(_) | ExprKind::Fixed(_) | ExprKind::Bool(_) | ExprKind::Str(_) => {
                e.kind.clone()
            }
            ExprKind::List(items) => ExprKind::List(self.exprs(fw, frame, items)),
            ExprKind::Tuple(items) => ExprKind::Tuple(self.exprs(fw, frame, items)),
            ExprKind::StructLit { fields } => ExprKind::StructLit {
                fields: self.exprs(fw, frame, fields),
            },
            ExprKind::Builtin { builtin, args } => ExprKind::Builtin {
                builtin: builtin.clone(),
                args: self.exprs(fw, frame, args),
            },
            ExprKind::Call { function, args } => ExprKind::Call {
                function: *function,
                args: self.exprs(fw, frame, args),
            },
            ExprKind::Grad {
                function,
                args,
                with_value,
            } => ExprKind::Grad {
                function: *function,
                args: self.exprs(fw, frame, args),
                with_value: *with_value,
            },
            ExprKind::Unary { op, operand } => ExprKind::Unary {
                op: *op,
                operand: Box::new(self.expr(fw, frame, operand)),
            },
            ExprKind::Field { base, index } => ExprKind::Field {
                base: Box::new(self.expr(fw, frame, base)),
                index: *index,
            },
            ExprKind::Convert { value, to } => ExprKind::Convert {
                value: Box::new(self.expr(fw, frame, value)),
                to: *to,
            },
            ExprKind::Share { value, to } => ExprKind::Share {
                value: Box::new(self.expr(fw, frame, value)),
                to: *to,
            },
            ExprKind::Reveal { value, to } => ExprKind::Reveal {
                value: Box::new(self.expr(fw, frame, value)),
                to: *to,
            },
            ExprKind::Binary { op, lhs, rhs } => ExprKind::Binary {
                op: *op,
                lhs: Box::new(self.expr(fw, frame, lhs)),
                rhs: Box::new(self.expr(fw, frame, rhs)),
            },
            ExprKind::Index { base, items } => ExprKind::Index {
                base: Box::new(self.expr(fw, frame, base)),
                items: items
                    .iter()
                    .map(|i| match i {
                        IndexItem::Single(x) => IndexItem::Single(self.expr(fw, frame, x)),
                        IndexItem::Range { start, end } => IndexItem::Range {
                            start: self.expr(fw, frame, start),
                            end: self.expr(fw, frame, end),
                        },
                    })
                    .collect(),
            },
            ExprKind::If {
                cond,
                then_block,
                else_block,
            } => ExprKind::If {
                cond: Box::new(self.expr(fw, frame, cond)),
                then_block: self.block(fw, frame, then_block),
                else_block: else_block.as_ref().map(|b| self.block(fw, frame, b)),
            },
            ExprKind::On { party, body } => ExprKind::On {
                party: *party,
                body: self.block(fw, frame, body),
            },
            ExprKind::Block(b) => ExprKind::Block(self.block(fw, frame, b)),
        };
        out
    }

    fn exprs(&mut self, fw: &mut Forward<'_>, frame: &Frame, es: &[Expr]) -> Vec<Expr> {
        es.iter().map(|e| self.expr(fw, frame, e)).collect()
    }
}
