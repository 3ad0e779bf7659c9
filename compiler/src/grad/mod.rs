//! The gradient pass: every `grad(f, a, …)` and `value_and_grad(f, a, …)` of the checked
//! program becomes a call of a function derived from `f` in reverse mode.
//!
//! ```text
//! HIR with Grad nodes -[for each differentiated f: forward sweep (inline, one operation per
//!   statement, a compile-time tape) -> backward sweep (adjoint rules, tape reversed)]->
//!   HIR with one derived function per f, `grad(f, …)` a call of it
//! ```
//!
//! Runs after the checker and before the lowering, on a HIR without errors; its own errors
//! (E0501: an operation without a gradient on the way from the argument to the result) are
//! reported by `tfec check` too. The derived function of `f(a, b, …)` takes the same
//! parameters and returns the tuple `(f(a, b, …), gradient with respect to a)`: `grad` takes
//! its second element, `value_and_grad` the tuple; an unused value is dropped by the lowering's
//! dead-code pass. Functions with their own gradient (a `grad(…)` clause) are called as they
//! are in the forward sweep and their gradient functions in the backward one.
//!
//! Afterwards the functions are put back in an order where callees come before callers (the
//! derived functions are created last but called by earlier ones), as the HIR promises.

mod backward;
mod build;
mod forward;

use std::collections::{HashMap, HashSet};

use tfe_grammar::Span;

use crate::check::flow_join;
use crate::diagnostics::{Diagnostic, Label};
use crate::hir::{
    Block, Builtin, Expr, ExprKind, Function, FunctionId, IndexItem, Placement, Program, Stmt,
};
use crate::types::{Dim, Type};
use backward::{Backward, seed_type};
use build::{Body, tensor};
use forward::{Forward, Tree};

/// Replaces every `grad` and `value_and_grad` by a call of a derived function.
pub fn gradients(mut program: Program) -> Result<Program, Vec<Diagnostic>> {
    let mut derived: HashMap<FunctionId, FunctionId> = HashMap::new();
    let mut failed: HashSet<FunctionId> = HashSet::new();
    let mut errors = Vec::new();
    let mut pending: Vec<(FunctionId, Span)> = Vec::new();
    for f in &program.functions {
        collect_grads(&f.body, &mut pending);
    }
    if pending.is_empty() {
        return Ok(program);
    }
    pending.reverse();
    while let Some((function, span)) = pending.pop() {
        if derived.contains_key(&function) || failed.contains(&function) {
            continue;
        }
        match derive(&program, function, span) {
            Ok(g) => {
                let mut inner = Vec::new();
                collect_grads(&g.body, &mut inner);
                inner.reverse();
                pending.extend(inner);
                derived.insert(function, program.functions.len());
                program.functions.push(g);
            }
            Err(e) => {
                failed.insert(function);
                errors.extend(e);
            }
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|d| d.primary.span.start);
        errors.dedup();
        return Err(errors);
    }
    let results: HashMap<FunctionId, (FunctionId, Type, Placement)> = derived
        .iter()
        .map(|(f, g)| {
            let d = &program.functions[*g];
            (*f, (*g, d.ret_type.clone(), d.ret_placement))
        })
        .collect();
    for f in &mut program.functions {
        replace_grads(&mut f.body, &results);
    }
    reorder(&mut program);
    Ok(program)
}

/// Derives the function returning `(f(args), gradient of f with respect to its first
/// argument)`. `span` is a `grad` call of `f`, where errors are reported.
fn derive(
    program: &Program,
    function: FunctionId,
    span: Span,
) -> Result<Function, Vec<Diagnostic>> {
    let f = &program.functions[function];
    let mut body = Body::new(program, span);
    let params: Vec<usize> = f
        .params
        .iter()
        .map(|p| {
            let l = &f.locals[*p];
            body.local(l.name.clone(), l.ty.clone(), l.placement, false)
        })
        .collect();
    let wrt = f.locals[f.params[0]].name.clone();
    let mut fw = Forward::new(body, wrt.clone(), span);
    fw.root(params[0], wrt.clone());
    let trees: Vec<Tree> = params.iter().map(|p| Tree::Leaf(fw.body.var(*p))).collect();
    let result = if f.grads.is_some() {
        let call = Expr {
            kind: ExprKind::Int(0),
            ty: f.ret_type.clone(),
            placement: f.ret_placement,
            span,
        };
        fw.custom(function, trees.clone(), &call, span)
    } else {
        fw.inline(function, trees.clone(), span)
    };
    if !fw.errors.is_empty() {
        return Err(fw.errors);
    }
    let Some(Tree::Leaf(value)) = result else {
        return Err(vec![Diagnostic::error(
            "E0502",
            format!("`{}` does not return a single number", f.name),
            Label::new(span, "differentiated here"),
        )]);
    };
    let activity = fw.activity(&value);
    if let Some(taint) = &activity.taint {
        let mut primary = Label::new(taint.span, format!("{} has no gradient", taint.what));
        if let Some(used) = taint.used {
            primary = Label::new(used, format!("{} is used as a number here", taint.what));
        }
        let mut d = Diagnostic::error(
            "E0501",
            format!(
                "no gradient of `{}` with respect to `{wrt}`: it depends on `{wrt}` through an operation without a gradient",
                f.name
            ),
            primary,
        );
        if taint.used.is_some() {
            d = d.with_secondary(Label::new(
                taint.span,
                format!("{} of a value that depends on `{wrt}`", taint.what),
            ));
        }
        for label in fw.path(taint.from) {
            d = d.with_secondary(label);
        }
        d = d.with_secondary(Label::new(
            span,
            format!("differentiated with respect to `{wrt}` here"),
        ));
        let help = if taint.used.is_some() {
            "a comparison's result is 0 or 1, whose derivative is 0 wherever it exists: choose values with `select(c, a, b)` (differentiable in a and b), as `relu` does, or compute this part outside the differentiated function"
        } else {
            "compute this part outside the differentiated function, or, in a library function, declare its gradient with a `grad(…)` clause"
        };
        return Err(vec![d.with_help(help)]);
    }
    let value_ty = value.ty.clone();
    let grad_placement = f.locals[f.params[0]].placement;
    let mut bw = Backward::new(&mut fw);
    if activity.active
        && let ExprKind::Local(id) = value.kind
    {
        let t = tensor(&value).clone();
        let seed = if t.rank() == 0 {
            bw.fw.body.fixed(1.0)
        } else {
            let sizes: Vec<Expr> = t.shape.iter().map(|_| bw.fw.body.int(1)).collect();
            let list_ty = Type::List(sizes.iter().map(|s| s.ty.clone()).collect());
            let list = bw
                .fw
                .body
                .expr(ExprKind::List(sizes), list_ty, Placement::Public);
            bw.fw.body.builtin(
                Builtin::Ones,
                vec![list],
                seed_type(&t).clone_with_known_ones(),
            )
        };
        bw.seed(id, seed);
        bw.run();
    }
    let gradient = bw.gradient(&trees[0], grad_placement);
    let errors = std::mem::take(&mut bw.fw.errors);
    let Some(gradient) = gradient.filter(|_| errors.is_empty()) else {
        return Err(errors);
    };
    let ret_placement = f.ret_placement;
    let tuple_placement = flow_join(ret_placement, grad_placement).unwrap_or(grad_placement);
    let value = fw.body.store(value, tuple_placement).unwrap_or_else(|| {
        unreachable!("the checker joined the value's and the gradient's placements")
    });
    let gradient = fw.body.store(gradient, tuple_placement).unwrap_or_else(|| {
        unreachable!("the checker joined the value's and the gradient's placements")
    });
    let grad_ty = gradient.ty.clone();
    let tuple_ty = Type::Tuple(vec![value_ty, grad_ty]);
    let tail = fw.body.expr(
        ExprKind::Tuple(vec![value, gradient]),
        tuple_ty.clone(),
        tuple_placement,
    );
    let body = std::mem::replace(&mut fw.body, Body::new(program, span));
    let block = body.block(body.stmts.clone(), tail);
    Ok(Function {
        name: format!("grad({})", f.name),
        module: f.module.clone(),
        params,
        locals: body.locals,
        ret_type: tuple_ty,
        ret_placement: tuple_placement,
        body: block,
        reveals: f.reveals.clone(),
        grads: None,
        span: f.span,
    })
}

trait KnownOnes {
    fn clone_with_known_ones(&self) -> Self;
}

impl KnownOnes for crate::types::TensorType {
    /// The shape of a one-element tensor, every dimension 1.
    fn clone_with_known_ones(&self) -> Self {
        crate::types::TensorType::new(
            self.scalar,
            self.shape.iter().map(|_| Dim::Known(1)).collect(),
        )
    }
}

/// Every `grad` of a block: the function differentiated and the call.
fn collect_grads(block: &Block, out: &mut Vec<(FunctionId, Span)>) {
    each_expr(block, &mut |e| {
        if let ExprKind::Grad { function, .. } = &e.kind {
            out.push((*function, e.span));
        }
    });
}

/// Replaces every `grad` by a call of the derived function (given with its result's type and
/// placement, by the function differentiated).
fn replace_grads(block: &mut Block, derived: &HashMap<FunctionId, (FunctionId, Type, Placement)>) {
    each_expr_mut(block, &mut |e| {
        let ExprKind::Grad {
            function,
            args,
            with_value,
        } = &mut e.kind
        else {
            return;
        };
        let (g, ty, placement) = derived[function].clone();
        let call = Expr {
            kind: ExprKind::Call {
                function: g,
                args: std::mem::take(args),
            },
            ty,
            placement,
            span: e.span,
        };
        if *with_value {
            *e = call;
        } else {
            e.kind = ExprKind::Field {
                base: Box::new(call),
                index: 1,
            };
        }
    });
}

/// Puts the functions in an order where every callee comes before its callers.
fn reorder(program: &mut Program) {
    let n = program.functions.len();
    let callees: Vec<Vec<FunctionId>> = program
        .functions
        .iter()
        .map(|f| {
            let mut out = Vec::new();
            each_expr(&f.body, &mut |e| {
                if let ExprKind::Call { function, .. } = &e.kind {
                    out.push(*function);
                }
            });
            for vjp in f.grads.iter().flatten().flatten() {
                out.push(vjp.at_result);
                out.extend(vjp.public_dy);
            }
            out
        })
        .collect();
    let mut order = Vec::with_capacity(n);
    let mut state = vec![0u8; n];
    fn visit(f: usize, callees: &[Vec<FunctionId>], state: &mut [u8], order: &mut Vec<usize>) {
        if state[f] != 0 {
            return;
        }
        state[f] = 1;
        for &c in &callees[f] {
            visit(c, callees, state, order);
        }
        state[f] = 2;
        order.push(f);
    }
    for f in 0..n {
        visit(f, &callees, &mut state, &mut order);
    }
    let mut new_id = vec![0; n];
    for (new, old) in order.iter().enumerate() {
        new_id[*old] = new;
    }
    let mut functions: Vec<Option<Function>> = std::mem::take(&mut program.functions)
        .into_iter()
        .map(Some)
        .collect();
    program.functions = order
        .iter()
        .map(|old| functions[*old].take().expect("each function once"))
        .collect();
    for f in &mut program.functions {
        each_expr_mut(&mut f.body, &mut |e| {
            if let ExprKind::Call { function, .. } = &mut e.kind {
                *function = new_id[*function];
            }
        });
        if let Some(grads) = &mut f.grads {
            for vjp in grads.iter_mut().flatten() {
                vjp.at_result = new_id[vjp.at_result];
                if let Some(p) = &mut vjp.public_dy {
                    *p = new_id[*p];
                }
            }
        }
    }
    program.main = new_id[program.main];
}

/// Calls `f` on every expression of a block, outermost first.
pub(crate) fn each_expr(block: &Block, f: &mut impl FnMut(&Expr)) {
    for stmt in &block.stmts {
        match stmt {
            Stmt::Let { value, .. } | Stmt::LetTuple { value, .. } | Stmt::Assign { value, .. } => {
                expr(value, f)
            }
            Stmt::For {
                start, end, body, ..
            } => {
                expr(start, f);
                expr(end, f);
                each_expr(body, f);
            }
            Stmt::While { cond, body, .. } => {
                expr(cond, f);
                each_expr(body, f);
            }
            Stmt::Return { value, .. } => {
                if let Some(v) = value {
                    expr(v, f);
                }
            }
            Stmt::Expr(e) => expr(e, f),
        }
    }
    if let Some(t) = &block.tail {
        expr(t, f);
    }
    fn expr(e: &Expr, f: &mut impl FnMut(&Expr)) {
        f(e);
        match &e.kind {
            ExprKind::Int(_)
            | ExprKind::Fixed(_)
            | ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Local(_) => {}
            ExprKind::List(items)
            | ExprKind::Tuple(items)
            | ExprKind::StructLit { fields: items }
            | ExprKind::Builtin { args: items, .. }
            | ExprKind::Call { args: items, .. }
            | ExprKind::Grad { args: items, .. } => items.iter().for_each(|i| expr(i, f)),
            ExprKind::Unary { operand: v, .. }
            | ExprKind::Field { base: v, .. }
            | ExprKind::Convert { value: v, .. }
            | ExprKind::Share { value: v, .. }
            | ExprKind::Reveal { value: v, .. } => expr(v, f),
            ExprKind::Binary { lhs, rhs, .. } => {
                expr(lhs, f);
                expr(rhs, f);
            }
            ExprKind::Index { base, items } => {
                expr(base, f);
                for item in items {
                    match item {
                        IndexItem::Single(i) => expr(i, f),
                        IndexItem::Range { start, end } => {
                            expr(start, f);
                            expr(end, f);
                        }
                    }
                }
            }
            ExprKind::If {
                cond,
                then_block,
                else_block,
            } => {
                expr(cond, f);
                each_expr(then_block, f);
                if let Some(b) = else_block {
                    each_expr(b, f);
                }
            }
            ExprKind::On { body, .. } | ExprKind::Block(body) => each_expr(body, f),
        }
    }
}

/// Calls `f` on every expression of a block, innermost first (so that `f` may replace one).
fn each_expr_mut(block: &mut Block, f: &mut impl FnMut(&mut Expr)) {
    for stmt in &mut block.stmts {
        match stmt {
            Stmt::Let { value, .. } | Stmt::LetTuple { value, .. } | Stmt::Assign { value, .. } => {
                expr(value, f)
            }
            Stmt::For {
                start, end, body, ..
            } => {
                expr(start, f);
                expr(end, f);
                each_expr_mut(body, f);
            }
            Stmt::While { cond, body, .. } => {
                expr(cond, f);
                each_expr_mut(body, f);
            }
            Stmt::Return { value, .. } => {
                if let Some(v) = value {
                    expr(v, f);
                }
            }
            Stmt::Expr(e) => expr(e, f),
        }
    }
    if let Some(t) = &mut block.tail {
        expr(t, f);
    }
    fn expr(e: &mut Expr, f: &mut impl FnMut(&mut Expr)) {
        match &mut e.kind {
            ExprKind::Int(_)
            | ExprKind::Fixed(_)
            | ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Local(_) => {}
            ExprKind::List(items)
            | ExprKind::Tuple(items)
            | ExprKind::StructLit { fields: items }
            | ExprKind::Builtin { args: items, .. }
            | ExprKind::Call { args: items, .. }
            | ExprKind::Grad { args: items, .. } => items.iter_mut().for_each(|i| expr(i, f)),
            ExprKind::Unary { operand: v, .. }
            | ExprKind::Field { base: v, .. }
            | ExprKind::Convert { value: v, .. }
            | ExprKind::Share { value: v, .. }
            | ExprKind::Reveal { value: v, .. } => expr(v, f),
            ExprKind::Binary { lhs, rhs, .. } => {
                expr(lhs, f);
                expr(rhs, f);
            }
            ExprKind::Index { base, items } => {
                expr(base, f);
                for item in items {
                    match item {
                        IndexItem::Single(i) => expr(i, f),
                        IndexItem::Range { start, end } => {
                            expr(start, f);
                            expr(end, f);
                        }
                    }
                }
            }
            ExprKind::If {
                cond,
                then_block,
                else_block,
            } => {
                expr(cond, f);
                each_expr_mut(then_block, f);
                if let Some(b) = else_block {
                    each_expr_mut(b, f);
                }
            }
            ExprKind::On { body, .. } | ExprKind::Block(body) => each_expr_mut(body, f),
        }
        f(e);
    }
}
