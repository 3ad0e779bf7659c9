//! Statements and blocks: `let`, assignment, loops, `return`, and the tail value of a block.

use std::collections::HashMap;

use tfe_grammar::Span;
use tfe_grammar::ast;

use super::expr::{Expected, poison};
use super::flow::Control;
use super::{Checker, FnContext};
use crate::diagnostics::{Diagnostic, Label};
use crate::hir::{self, Expr, Placement, Stmt};
use crate::types::{Scalar, TensorType, Type};

impl<'a> Checker<'a> {
    pub(super) fn block(
        &mut self,
        cx: &mut FnContext,
        block: &'a ast::Block,
        expected: &Expected,
    ) -> hir::Block {
        cx.scopes.push(HashMap::new());
        let mut stmts = Vec::new();
        for stmt in &block.stmts {
            if let Some(s) = self.stmt(cx, stmt) {
                stmts.push(s);
            }
        }
        let tail = block.tail.as_deref().map(|tail| {
            let value = self.expr(cx, tail, expected);
            Box::new(self.deliver(cx, value, expected))
        });
        cx.scopes.pop();
        hir::Block {
            stmts,
            tail,
            span: block.span,
        }
    }

    /// Fits a value to what its context expects: the declared type and placement of a function's
    /// result, of an `on` block's value.
    fn deliver(&mut self, cx: &FnContext, value: Expr, expected: &Expected) -> Expr {
        if value.ty == Type::Error || value.ty == Type::Unit {
            return value;
        }
        let value = match &expected.ty {
            Some((declared, any_shape)) => {
                let span = value.span;
                match self.fit_value(value, declared, *any_shape, "the expected value") {
                    Some(v) => v,
                    None => return poison(span),
                }
            }
            None => value,
        };
        match expected.placement {
            Some(p) => self.store(cx, value, p),
            None => value,
        }
    }

    /// The value of a `let` (or `let (a, b)`), checked against its annotations, computed where
    /// the annotation (or the enclosing `on` block) says, and stored there. `what` names the
    /// variable in messages. Returns the value and the variable's type (`Error` after an error,
    /// so that later uses report nothing more).
    fn let_value(
        &mut self,
        cx: &mut FnContext,
        what: &str,
        ty: Option<&'a ast::Type>,
        placement: Option<&'a ast::Placement>,
        value: &'a ast::Expr,
        span: Span,
    ) -> (Expr, Type) {
        let annotated = ty.map(|t| self.written_type(cx.module, t));
        let annotated_placement = placement.map(|p| self.placement(p));
        let declared_ty = annotated.clone().flatten();
        let declared_at = annotated_placement.flatten();
        if let (Some(Type::Tensor(t)), Some(p)) = (&declared_ty, declared_at)
            && t.scalar == Scalar::Float
            && !matches!(p, Placement::Party(_))
        {
            self.error(
                Diagnostic::error("E0204", "`float` values live only at a party", Label::new(ty.map_or(span, |t| t.span), "a `float` here"))
                    .with_help("use `fixed` for public and secret values; `float` is for a party's own plaintext work"),
            );
        }
        let mut declared_at = declared_at;
        let mut left_on_block = false;
        if let (Some(p), Some(declared)) = (cx.on_party, declared_at)
            && declared != Placement::Party(p)
        {
            left_on_block = true;
            declared_at = None;
            let party = self.parties[p].name.clone();
            self.error(
                Diagnostic::error(
                    "E0306",
                    format!("{what} would be {} inside `on {party}`", super::flow::describe(self, declared)),
                    Label::new(placement.map_or(span, |p| p.span()), "this placement"),
                )
                .with_help(format!("values computed in `on {party}` stay at {party}: drop the annotation or write `@{party}`")),
            );
        }
        let at = declared_at.or(cx.on_party.map(Placement::Party));
        let expected = Expected {
            ty: declared_ty.clone().map(|t| (t, false)),
            placement: at,
        };
        let mut value = self.expr(cx, value, &expected);
        let failed = value.ty == Type::Error
            || left_on_block
            || matches!(annotated, Some(None))
            || matches!(annotated_placement, Some(None));
        let mut ty = value.ty.clone();
        if failed {
            // The variable still exists: later uses of it report nothing more.
            ty = Type::Error;
        } else if !value.ty.is_value() {
            self.value_of(&value, &format!("the value of {what}"));
            ty = Type::Error;
        } else if let Some(declared) = &declared_ty {
            let span = value.span;
            match self.fit_value(value, declared, false, what) {
                Some(fitted) => {
                    ty = fitted.ty.clone();
                    value = fitted;
                }
                None => {
                    value = poison(span);
                    ty = Type::Error;
                }
            }
        }
        if let Some(p) = at
            && ty != Type::Error
        {
            value = self.store(cx, value, p);
            if value.ty == Type::Error {
                ty = Type::Error;
            }
        }
        if let Type::Tensor(t) = &ty
            && t.scalar == Scalar::Float
            && placement.is_none()
            && !matches!(value.placement, Placement::Party(_))
        {
            self.error(
                Diagnostic::error("E0204", format!("{what} would be a `float` outside a party"), Label::new(span, format!("{what} is {}", super::flow::describe(self, value.placement))))
                    .with_help("`float` values live only at a party: annotate the `let` with the party (`@alice`), or use `fixed`"),
            );
            ty = Type::Error;
        }
        (value, ty)
    }

    fn stmt(&mut self, cx: &mut FnContext, stmt: &'a ast::Stmt) -> Option<Stmt> {
        let span = stmt.span;
        match &stmt.kind {
            ast::StmtKind::Let {
                mutable,
                name,
                ty,
                placement,
                value,
            } => {
                let what = format!("`{}`", name.name);
                let (value, ty) =
                    self.let_value(cx, &what, ty.as_ref(), placement.as_ref(), value, span);
                let local = cx.declare(hir::Local {
                    name: name.name.clone(),
                    ty,
                    placement: value.placement,
                    mutable: *mutable,
                    span,
                });
                Some(Stmt::Let { local, value, span })
            }
            ast::StmtKind::LetTuple {
                bindings,
                ty,
                placement,
                value,
            } => {
                let (value, ty) = self.let_value(
                    cx,
                    "the tuple",
                    ty.as_ref(),
                    placement.as_ref(),
                    value,
                    span,
                );
                self.let_tuple(cx, bindings, value, ty, span)
            }
            ast::StmtKind::Assign { target, value } => {
                let Some(local) = cx.lookup(&target.name) else {
                    let is_const = self.modules[cx.module].constants.contains_key(&target.name);
                    self.error(
                        Diagnostic::error(
                            if is_const { "E0110" } else { "E0101" },
                            if is_const {
                                format!("cannot assign to the constant `{}`", target.name)
                            } else {
                                format!("unknown name `{}`", target.name)
                            },
                            Label::new(
                                target.span,
                                if is_const {
                                    "a constant"
                                } else {
                                    "not found in this scope"
                                },
                            ),
                        )
                        .with_help(if is_const {
                            "constants never change; declare a variable with `let mut`"
                        } else {
                            "declare it first with `let mut`"
                        }),
                    );
                    return None;
                };
                let (local_ty, local_placement, mutable, decl_span) = {
                    let l = &cx.locals[local];
                    (l.ty.clone(), l.placement, l.mutable, l.span)
                };
                if !mutable {
                    self.error(
                        Diagnostic::error(
                            "E0110",
                            format!("cannot assign twice to `{}`", target.name),
                            Label::new(span, "assigned here"),
                        )
                        .with_secondary(Label::new(decl_span, "declared without `mut` here"))
                        .with_help(format!(
                            "declare it with `let mut {}` to change it",
                            target.name
                        )),
                    );
                    return None;
                }
                if let Some(p) = cx.on_party
                    && local_placement != Placement::Party(p)
                {
                    let party = self.parties[p].name.clone();
                    self.error(
                        Diagnostic::error(
                            "E0306",
                            format!("assignment inside `on {party}` to `{}`, which is {}", target.name, super::flow::describe(self, local_placement)),
                            Label::new(span, format!("assigned at `{party}`")),
                        )
                        .with_secondary(Label::new(decl_span, format!("`{}` is declared here", target.name)))
                        .with_help(format!(
                            "code in `on {party}` runs at {party} alone; what it assigns, and whether it assigns at all, would leak {party}'s data. \
                             Give the block a value instead: `{} = on {party} {{ … }};`",
                            target.name
                        )),
                    );
                    return None;
                }
                if local_ty == Type::Error {
                    return None;
                }
                let expected = Expected {
                    ty: Some((local_ty.clone(), false)),
                    placement: Some(local_placement),
                };
                let value = self.expr(cx, value, &expected);
                let value = self.deliver(cx, value, &expected);
                (value.ty != Type::Error).then_some(Stmt::Assign { local, value, span })
            }
            ast::StmtKind::For {
                var,
                start,
                end,
                body,
            } => {
                let at = cx.on_party.map(Placement::Party);
                let s = self.expr(cx, start, &Expected::at(at));
                let e = self.expr(cx, end, &Expected::at(at));
                let ok = self.int_control(cx, &s, Control::LoopBound)
                    & self.int_control(cx, &e, Control::LoopBound);
                cx.scopes.push(HashMap::new());
                let placement =
                    super::flow::join_quiet(s.placement, e.placement).unwrap_or(Placement::Public);
                let var_id = cx.declare(hir::Local {
                    name: var.name.clone(),
                    // After a bad bound, the variable reports nothing more.
                    ty: if ok {
                        Type::Tensor(TensorType::scalar(Scalar::Int))
                    } else {
                        Type::Error
                    },
                    placement,
                    mutable: false,
                    span: var.span,
                });
                cx.loop_vars.insert(var_id);
                let body = self.block(cx, body, &Expected::default());
                cx.scopes.pop();
                ok.then_some(Stmt::For {
                    var: var_id,
                    start: s,
                    end: e,
                    body,
                    span,
                })
            }
            ast::StmtKind::While { cond, body } => {
                let c = self.expr(cx, cond, &Expected::at(cx.on_party.map(Placement::Party)));
                let ok = self.condition(cx, &c, Control::WhileCondition);
                let body = self.block(cx, body, &Expected::default());
                ok.then_some(Stmt::While {
                    cond: c,
                    body,
                    span,
                })
            }
            ast::StmtKind::Return(value) => {
                if cx.on_depth > 0 {
                    self.error(
                        Diagnostic::error("E0306", "`return` inside an `on` block", Label::new(span, "returns from the function"))
                            .with_help("whether the function returns here would depend on one party's data; give the `on` block a value instead"),
                    );
                    return None;
                }
                let expected = Expected {
                    ty: cx.ret_type.clone().map(|t| (t, cx.ret_any_shape)),
                    placement: cx.ret_placement,
                };
                let value = value.as_ref().map(|v| {
                    let value = self.expr(cx, v, &expected);
                    self.deliver(cx, value, &expected)
                });
                match &value {
                    Some(v) => cx.returns.push((v.ty.clone(), v.placement, v.span)),
                    None if cx.ret_type.is_some() => {
                        self.error(Diagnostic::error(
                            "E0209",
                            format!("`{}` must return a value", cx.name),
                            Label::new(span, "returns nothing"),
                        ));
                    }
                    None => cx.returns.push((Type::Unit, Placement::Public, span)),
                }
                Some(Stmt::Return { value, span })
            }
            ast::StmtKind::Expr { expr, .. } => {
                let value = self.expr(cx, expr, &Expected::at(cx.on_party.map(Placement::Party)));
                Some(Stmt::Expr(value))
            }
        }
    }
}
