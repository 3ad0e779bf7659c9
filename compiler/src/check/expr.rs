//! Expressions: literals, names, operators, indexing, calls of functions and builtins.
//!
//! Every expression is checked against what its context expects: a type (for literals and
//! `read_csv`) and a placement (an annotated `let` computes its expression there: a party's
//! operands are shared into a secret placement; inside `on p`, everything is computed at `p`).

use std::collections::HashMap;

use tfe_grammar::Span;
use tfe_grammar::ast::{self, BinOp, UnOp};

use super::flow::Control;
use super::{Checker, FnContext, MAIN_MODULE};
use crate::diagnostics::{Diagnostic, Label};
use crate::hir::{Builtin, Expr, ExprKind, IndexItem, Placement};
use crate::types::{self, Dim, Scalar, TensorType, Type};

/// What the context of an expression expects of it.
#[derive(Debug, Clone, Default)]
pub(super) struct Expected {
    /// The type, and whether its shape is free (`fixed[..]` in a signature).
    pub ty: Option<(Type, bool)>,
    pub placement: Option<Placement>,
}

impl Expected {
    pub fn at(placement: Option<Placement>) -> Expected {
        Expected {
            ty: None,
            placement,
        }
    }

    /// The expected tensor type, if a tensor is expected (literals adapt their scalar to it).
    pub fn tensor(&self) -> Option<&TensorType> {
        match &self.ty {
            Some((Type::Tensor(t), _)) => Some(t),
            _ => None,
        }
    }
}

/// A public integer known at compile time up to loop variables: `constant + Σ coeff·var`.
/// Enough to see that `x[i * B .. (i + 1) * B]` has length `B`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Affine {
    constant: i64,
    terms: Vec<(usize, i64)>,
}

impl Affine {
    fn constant(c: i64) -> Affine {
        Affine {
            constant: c,
            terms: Vec::new(),
        }
    }

    fn combine(&self, other: &Affine, sign: i64) -> Option<Affine> {
        let mut terms = self.terms.clone();
        for (var, coeff) in &other.terms {
            match terms.iter_mut().find(|(v, _)| v == var) {
                Some((_, c)) => *c = c.checked_add(coeff.checked_mul(sign)?)?,
                None => terms.push((*var, coeff.checked_mul(sign)?)),
            }
        }
        terms.retain(|(_, c)| *c != 0);
        terms.sort();
        Some(Affine {
            constant: self
                .constant
                .checked_add(other.constant.checked_mul(sign)?)?,
            terms,
        })
    }

    fn scale(&self, k: i64) -> Option<Affine> {
        let terms = self
            .terms
            .iter()
            .map(|(v, c)| Some((*v, c.checked_mul(k)?)))
            .collect::<Option<Vec<_>>>()?;
        let mut a = Affine {
            constant: self.constant.checked_mul(k)?,
            terms,
        };
        a.terms.retain(|(_, c)| *c != 0);
        Some(a)
    }

    pub fn as_constant(&self) -> Option<i64> {
        self.terms.is_empty().then_some(self.constant)
    }
}

pub(super) fn poison(span: Span) -> Expr {
    Expr {
        kind: ExprKind::List(Vec::new()),
        ty: Type::Error,
        placement: Placement::Public,
        span,
    }
}

fn tensor(scalar: Scalar, shape: Vec<Dim>) -> Type {
    Type::Tensor(TensorType::new(scalar, shape))
}

/// The names of the builtins: they cannot be redefined.
pub(super) const BUILTINS: &[&str] = &[
    "read_csv",
    "write_csv",
    "read_npy",
    "write_npy",
    "write_shares",
    "read_shares",
    "print",
    "reveal",
    "zeros",
    "ones",
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
    "zeros_like",
    "grad",
    "value_and_grad",
];

/// Library paths that name a builtin: the design fixes `std::nn::max(x, axis: k)`, which is the
/// builtin `max` (a tournament of comparisons run by the runtime in one go per level).
const BUILTIN_ALIASES: &[(&str, &str)] = &[("std::nn", "max"), ("std::nn", "argmax")];

/// Whether `module::name` is another name of a builtin.
pub(super) fn is_builtin_alias(module: &str, name: &str) -> bool {
    BUILTIN_ALIASES.contains(&(module, name))
}

impl<'a> Checker<'a> {
    /// Where an expression is computed: the context's placement, or the `on` block's party.
    pub(super) fn target(&self, cx: &FnContext, expected: &Expected) -> Option<Placement> {
        expected.placement.or(cx.on_party.map(Placement::Party))
    }

    pub(super) fn expr(
        &mut self,
        cx: &mut FnContext,
        e: &'a ast::Expr,
        expected: &Expected,
    ) -> Expr {
        let span = e.span;
        match &e.kind {
            ast::ExprKind::Int(v) => match i64::try_from(*v) {
                Ok(v) => match expected.tensor() {
                    Some(t) if matches!(t.scalar, Scalar::Fixed | Scalar::Float) => Expr {
                        kind: ExprKind::Fixed(v as f64),
                        ty: tensor(t.scalar, Vec::new()),
                        placement: Placement::Public,
                        span,
                    },
                    _ => Expr {
                        kind: ExprKind::Int(v),
                        ty: tensor(Scalar::Int, Vec::new()),
                        placement: Placement::Public,
                        span,
                    },
                },
                Err(_) => {
                    self.error(
                        Diagnostic::error(
                            "E0201",
                            "integer literal too large for `int`",
                            Label::new(span, "above 2^63 - 1"),
                        )
                        .with_help("`int` values are 64-bit signed integers"),
                    );
                    poison(span)
                }
            },
            ast::ExprKind::Fixed(v) => Expr {
                kind: ExprKind::Fixed(*v),
                ty: tensor(Scalar::Fixed, Vec::new()),
                placement: Placement::Public,
                span,
            },
            ast::ExprKind::Bool(b) => Expr {
                kind: ExprKind::Bool(*b),
                ty: tensor(Scalar::Bool, Vec::new()),
                placement: Placement::Public,
                span,
            },
            ast::ExprKind::Str(s) => Expr {
                kind: ExprKind::Str(s.clone()),
                ty: Type::Str,
                placement: Placement::Public,
                span,
            },
            ast::ExprKind::Var(name) => self.var(cx, name, expected),
            ast::ExprKind::Array(items) => {
                let sub = Expected::at(self.target(cx, expected));
                let items: Vec<Expr> = items.iter().map(|i| self.expr(cx, i, &sub)).collect();
                if items.iter().any(|i| i.ty == Type::Error) {
                    return poison(span);
                }
                let refs: Vec<&Expr> = items.iter().collect();
                let Some(placement) = self.join(cx, &refs, span) else {
                    return poison(span);
                };
                let ty = Type::List(items.iter().map(|i| i.ty.clone()).collect());
                Expr {
                    kind: ExprKind::List(items),
                    ty,
                    placement,
                    span,
                }
            }
            ast::ExprKind::Call { callee, args } => self.call(cx, callee, args, span, expected),
            ast::ExprKind::StructLit { name, fields } => {
                self.struct_literal(cx, name, fields, span, expected)
            }
            ast::ExprKind::Field { base, field } => self.field(cx, base, field, span, expected),
            ast::ExprKind::Tuple(items) => self.tuple(cx, items, span, expected),
            ast::ExprKind::Index { base, indices } => self.index(cx, base, indices, span, expected),
            ast::ExprKind::Unary { op, operand } => self.unary(cx, *op, operand, span, expected),
            ast::ExprKind::Binary { op, lhs, rhs } => {
                self.binary(cx, *op, lhs, rhs, span, expected)
            }
            ast::ExprKind::If {
                cond,
                then_branch,
                else_branch,
            } => self.if_expr(
                cx,
                cond,
                then_branch,
                else_branch.as_deref(),
                span,
                expected,
            ),
            ast::ExprKind::On { party, body } => {
                let Some(p) = self.party(party) else {
                    return poison(span);
                };
                if let Some(outer) = cx.on_party
                    && outer != p
                {
                    self.error(
                        Diagnostic::error(
                            "E0306",
                            format!("`on {}` inside `on {}`", party.name, self.parties[outer].name),
                            Label::new(span, "this block would run at another party"),
                        )
                        .with_help("an `on` block runs entirely at its party; close it before starting another party's block"),
                    );
                    return poison(span);
                }
                let saved = cx.on_party.replace(p);
                cx.on_depth += 1;
                let inner = Expected {
                    ty: expected.ty.clone(),
                    placement: Some(Placement::Party(p)),
                };
                let body = self.block(cx, body, &inner);
                cx.on_depth -= 1;
                cx.on_party = saved;
                let ty = body.tail.as_ref().map_or(Type::Unit, |t| t.ty.clone());
                if ty == Type::Error {
                    return poison(span);
                }
                Expr {
                    kind: ExprKind::On { party: p, body },
                    ty,
                    placement: Placement::Party(p),
                    span,
                }
            }
            ast::ExprKind::Block(block) => {
                let block = self.block(cx, block, expected);
                let (ty, placement) = block
                    .tail
                    .as_ref()
                    .map_or((Type::Unit, Placement::Public), |t| {
                        (t.ty.clone(), t.placement)
                    });
                Expr {
                    kind: ExprKind::Block(block),
                    ty,
                    placement,
                    span,
                }
            }
        }
    }

    fn var(&mut self, cx: &mut FnContext, name: &ast::Ident, expected: &Expected) -> Expr {
        let span = name.span;
        if let Some(id) = cx.lookup(&name.name) {
            let local = &cx.locals[id];
            return Expr {
                kind: ExprKind::Local(id),
                ty: local.ty.clone(),
                placement: local.placement,
                span,
            };
        }
        match self.named_constant(cx.module, &name.name) {
            Some(Some(value)) => {
                let kind = match (value, expected.tensor()) {
                    (super::ConstValue::Int(v), Some(t))
                        if matches!(t.scalar, Scalar::Fixed | Scalar::Float) =>
                    {
                        return Expr {
                            kind: ExprKind::Fixed(v as f64),
                            ty: tensor(t.scalar, Vec::new()),
                            placement: Placement::Public,
                            span,
                        };
                    }
                    (super::ConstValue::Int(v), _) => ExprKind::Int(v),
                    (super::ConstValue::Fixed(v), _) => ExprKind::Fixed(v),
                    (super::ConstValue::Bool(b), _) => ExprKind::Bool(b),
                };
                return Expr {
                    kind,
                    ty: tensor(value.scalar(), Vec::new()),
                    placement: Placement::Public,
                    span,
                };
            }
            Some(None) => return poison(span),
            None => {}
        }
        let (message, help) = if self.party_ids.contains_key(&name.name) {
            (
                format!("`{}` is a party, not a value", name.name),
                "parties hold values; they are not values themselves".to_string(),
            )
        } else if self.secret_ids.contains_key(&name.name) {
            (
                format!("`{}` is a secret placement, not a value", name.name),
                "write it after `@` in an annotation: `let x: fixed @rep = …;`".to_string(),
            )
        } else {
            let mut candidates: Vec<&str> = cx
                .scopes
                .iter()
                .flat_map(|s| s.keys().map(String::as_str))
                .collect();
            candidates.sort();
            candidates.dedup();
            let close: Vec<&str> = candidates
                .into_iter()
                .filter(|c| similar(c, &name.name))
                .collect();
            (
                format!("unknown name `{}`", name.name),
                match close.first() {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => "declare it with `let` before this use, or as a `const`".to_string(),
                },
            )
        };
        self.error(
            Diagnostic::error(
                "E0101",
                message,
                Label::new(span, "not found in this scope"),
            )
            .with_help(help),
        );
        poison(span)
    }

    /// Widens a value to a scalar kind (`int` to `fixed`): literals directly, others by a
    /// conversion node.
    pub(super) fn widen(&mut self, value: Expr, to: Scalar) -> Expr {
        let Some(t) = value.ty.tensor() else {
            return value;
        };
        if t.scalar == to {
            return value;
        }
        let ty = Type::Tensor(t.with_scalar(to));
        match value.kind {
            ExprKind::Int(v) if matches!(to, Scalar::Fixed | Scalar::Float) => Expr {
                kind: ExprKind::Fixed(v as f64),
                ty,
                ..value
            },
            _ => Expr {
                ty,
                placement: value.placement,
                span: value.span,
                kind: ExprKind::Convert {
                    value: Box::new(value),
                    to,
                },
            },
        }
    }

    /// A value that must be a tensor (not a list, string or `()`).
    pub(super) fn tensor_of<'e>(&mut self, value: &'e Expr, what: &str) -> Option<&'e TensorType> {
        match &value.ty {
            Type::Tensor(t) => Some(t),
            Type::Error => None,
            other => {
                let other = other.clone();
                self.error(
                    Diagnostic::error("E0210", format!("{what} must be a tensor or a number, not {}", describe_type(&other)), Label::new(value.span, format!("this is {}", describe_type(&other))))
                        .with_help("lists (`[a, b]`) are arguments of `concat`, `zeros`, `ones` and `reshape`; strings are file paths"),
                );
                None
            }
        }
    }

    /// A value a variable can hold: a tensor, a struct or a tuple (not a list, string or `()`).
    pub(super) fn value_of(&mut self, value: &Expr, what: &str) -> bool {
        match &value.ty {
            t if t.is_value() => true,
            Type::Error => false,
            other => {
                let other = other.clone();
                self.error(
                    Diagnostic::error("E0210", format!("{what} must be a tensor, a number, a struct or a tuple, not {}", describe_type(&other)), Label::new(value.span, format!("this is {}", describe_type(&other))))
                        .with_help("lists (`[a, b]`) are arguments of `concat`, `zeros`, `ones` and `reshape`; strings are file paths"),
                );
                false
            }
        }
    }

    /// Fits a value to a declared type (of a variable, a parameter, a result): a tensor widens
    /// to the declared scalar and takes the more precise shape; a struct must be of the
    /// declared struct; a tuple literal fits element by element. `what` names the declaration.
    pub(super) fn fit_value(
        &mut self,
        value: Expr,
        declared: &Type,
        any_shape: bool,
        what: &str,
    ) -> Option<Expr> {
        match (&value.ty, declared) {
            (Type::Error, _) => None,
            (Type::Tensor(t), Type::Tensor(d)) => {
                let t = t.clone();
                let ty = self.conform(&value, &t, d, any_shape, what)?;
                let widened = self.widen(value, ty.scalar);
                Some(Expr {
                    ty: Type::Tensor(ty),
                    ..widened
                })
            }
            (Type::Struct(a), Type::Struct(d)) if a.id == d.id => Some(value),
            (Type::Tuple(a), Type::Tuple(d)) if a.len() == d.len() => {
                if let ExprKind::Tuple(items) = value.kind {
                    let mut fitted = Vec::new();
                    for (i, (item, d)) in items.into_iter().zip(d).enumerate() {
                        fitted.push(self.fit_value(
                            item,
                            d,
                            false,
                            &format!("element {i} of {what}"),
                        )?);
                    }
                    let ty = Type::Tuple(fitted.iter().map(|e| e.ty.clone()).collect());
                    return Some(Expr {
                        kind: ExprKind::Tuple(fitted),
                        ty,
                        ..value
                    });
                }
                if super::types_compatible(&value.ty, declared) {
                    return Some(value);
                }
                self.type_mismatch(&value, declared, what);
                None
            }
            (actual, _) if !actual.is_value() => {
                self.value_of(&value, what);
                None
            }
            _ => {
                self.type_mismatch(&value, declared, what);
                None
            }
        }
    }

    fn type_mismatch(&mut self, value: &Expr, declared: &Type, what: &str) {
        let actual = value.ty.clone();
        self.error(
            Diagnostic::error(
                "E0201",
                format!("{what} is `{declared}`, but this is `{actual}`"),
                Label::new(value.span, format!("this is `{actual}`")),
            )
            .with_help(match (declared, &actual) {
                (Type::Struct(_), Type::Struct(_)) => {
                    "structs of different names are different types, even with the same fields"
                }
                (Type::Struct(_), _) | (_, Type::Struct(_)) => {
                    "a struct is not a tensor: build one with `Name { field: value, … }`, read a field with `v.field`"
                }
                _ => "tuples fit element by element: the same number of elements, of fitting types",
            }),
        );
    }

    fn unary(
        &mut self,
        cx: &mut FnContext,
        op: UnOp,
        operand: &'a ast::Expr,
        span: Span,
        expected: &Expected,
    ) -> Expr {
        let sub = Expected {
            ty: expected.ty.clone(),
            placement: self.target(cx, expected),
        };
        let value = self.expr(cx, operand, &sub);
        if value.ty.is_aggregate() {
            return self.aggregate_unary(op, value, span);
        }
        let Some(t) = self.tensor_of(&value, "an operand").cloned() else {
            return poison(span);
        };
        let ok = match op {
            UnOp::Neg => t.scalar.is_numeric(),
            UnOp::Not => t.scalar == Scalar::Bool,
        };
        if !ok {
            self.error(
                Diagnostic::error(
                    "E0201",
                    format!("`{}` does not apply to `{}`", op.symbol(), t.scalar.name()),
                    Label::new(value.span, format!("this is {t}")),
                )
                .with_help(match op {
                    UnOp::Neg => "`-` negates numbers; for a `bool`, use `!`",
                    UnOp::Not => "`!` negates a `bool`; for a number, use `-`",
                }),
            );
            return poison(span);
        }
        let placement = value.placement;
        Expr {
            kind: ExprKind::Unary {
                op,
                operand: Box::new(value),
            },
            ty: Type::Tensor(t),
            placement,
            span,
        }
    }

    fn binary(
        &mut self,
        cx: &mut FnContext,
        op: BinOp,
        lhs: &'a ast::Expr,
        rhs: &'a ast::Expr,
        span: Span,
        expected: &Expected,
    ) -> Expr {
        let target = self.target(cx, expected);
        // Literals adapt to the expected scalar only for arithmetic (not comparisons).
        let sub_ty = if op.precedence() >= 4 {
            expected.ty.clone()
        } else {
            None
        };
        let sub = Expected {
            ty: sub_ty,
            placement: target,
        };
        let mut l = self.expr(cx, lhs, &sub);
        let mut r = self.expr(cx, rhs, &sub);
        if l.ty == Type::Error || r.ty == Type::Error {
            return poison(span);
        }
        if l.ty.is_aggregate() || r.ty.is_aggregate() {
            return self.aggregate_binary(cx, op, l, r, target, span);
        }
        let (Some(lt), Some(rt)) = (
            self.tensor_of(&l, "an operand").cloned(),
            self.tensor_of(&r, "an operand").cloned(),
        ) else {
            return poison(span);
        };
        if let Some(t) = target {
            l = self.operand(cx, l, t);
            r = self.operand(cx, r, t);
        }
        let Some(placement) = self.join(cx, &[&l, &r], span) else {
            return poison(span);
        };
        let l = self.operand(cx, l, placement);
        let r = self.operand(cx, r, placement);
        if l.ty == Type::Error || r.ty == Type::Error {
            return poison(span);
        }
        let Some(shape) = types::broadcast(&lt.shape, &rt.shape) else {
            self.error(
                Diagnostic::error(
                    "E0202",
                    format!("shapes {} and {} do not broadcast", shape_text(&lt.shape), shape_text(&rt.shape)),
                    Label::new(span, format!("`{}` of these shapes", op.symbol())),
                )
                .with_secondary(Label::new(l.span, format!("this is {lt}")))
                .with_secondary(Label::new(r.span, format!("this is {rt}")))
                .with_help("elementwise operations need equal dimensions, or 1 where one side repeats (NumPy broadcasting)"),
            );
            return poison(span);
        };
        let scalar_error = |this: &mut Self, what: &str, help: &str| {
            this.error(
                Diagnostic::error(
                    "E0201",
                    format!(
                        "`{}` {what}, not `{}` and `{}`",
                        op.symbol(),
                        lt.scalar.name(),
                        rt.scalar.name()
                    ),
                    Label::new(span, "here"),
                )
                .with_secondary(Label::new(l.span, format!("this is {lt}")))
                .with_secondary(Label::new(r.span, format!("this is {rt}")))
                .with_help(help.to_string()),
            );
        };
        let (operand_scalar, result_scalar) = match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                let Some(s) = Scalar::arithmetic_join(lt.scalar, rt.scalar) else {
                    scalar_error(
                        self,
                        "takes numbers",
                        "arithmetic works on `fixed`, `int` and `float`; use `select` to turn a `bool` into a number",
                    );
                    return poison(span);
                };
                (s, s)
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let Some(s) = Scalar::arithmetic_join(lt.scalar, rt.scalar) else {
                    scalar_error(
                        self,
                        "compares numbers",
                        "order comparisons work on numbers",
                    );
                    return poison(span);
                };
                (s, Scalar::Bool)
            }
            BinOp::Eq | BinOp::Ne => match Scalar::arithmetic_join(lt.scalar, rt.scalar) {
                Some(s) => (s, Scalar::Bool),
                None if lt.scalar == Scalar::Bool && rt.scalar == Scalar::Bool => {
                    (Scalar::Bool, Scalar::Bool)
                }
                None => {
                    scalar_error(
                        self,
                        "compares values of one kind",
                        "compare numbers with numbers and `bool`s with `bool`s",
                    );
                    return poison(span);
                }
            },
            BinOp::And | BinOp::Or => {
                if lt.scalar != Scalar::Bool || rt.scalar != Scalar::Bool {
                    scalar_error(
                        self,
                        "takes `bool`s",
                        "`&&` and `||` combine conditions; compare numbers first (`x > 0`)",
                    );
                    return poison(span);
                }
                (Scalar::Bool, Scalar::Bool)
            }
        };
        if op == BinOp::Div
            && matches!(placement, Placement::Secret(_))
            && r.placement != Placement::Public
        {
            let mut d = Diagnostic::error(
                "E0207",
                "division by a secret value",
                Label::new(
                    r.span,
                    format!(
                        "this divisor is {}",
                        super::flow::describe(self, r.placement)
                    ),
                ),
            );
            if let Some(origin) = self.origin(cx, &r) {
                d = d.with_secondary(origin);
            }
            self.error(d.with_help("secret values may be divided only by public ones (a secret reciprocal, `std::math::reciprocal`, is planned)"));
            return poison(span);
        }
        if op == BinOp::Rem
            && (operand_scalar != Scalar::Int || matches!(placement, Placement::Secret(_)))
        {
            self.error(
                Diagnostic::error(
                    "E0212",
                    "`%` takes integers that are not secret",
                    Label::new(span, "here"),
                )
                .with_help("the remainder is defined on public or party-held `int` values"),
            );
            return poison(span);
        }
        let l = self.widen(l, operand_scalar);
        let r = self.widen(r, operand_scalar);
        Expr {
            kind: ExprKind::Binary {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
            },
            ty: tensor(result_scalar, shape),
            placement,
            span,
        }
    }

    fn if_expr(
        &mut self,
        cx: &mut FnContext,
        cond: &'a ast::Expr,
        then_branch: &'a ast::Block,
        else_branch: Option<&'a ast::Expr>,
        span: Span,
        expected: &Expected,
    ) -> Expr {
        if let Some(taken) = self.static_condition(cx, cond) {
            return self.static_if(cx, taken, then_branch, else_branch, span, expected);
        }
        let cond = self.expr(cx, cond, &Expected::at(cx.on_party.map(Placement::Party)));
        let cond_ok = self.condition(cx, &cond, Control::IfCondition);
        let mut then_block = self.block(cx, then_branch, expected);
        let mut else_block = else_branch.map(|e| match &e.kind {
            ast::ExprKind::Block(b) => self.block(cx, b, expected),
            _ => {
                let value = self.expr(cx, e, expected);
                crate::hir::Block {
                    stmts: Vec::new(),
                    span: value.span,
                    tail: Some(Box::new(value)),
                }
            }
        });
        if !cond_ok {
            return poison(span);
        }
        let then_value = then_block.tail.as_deref();
        let else_value = else_block.as_ref().and_then(|b| b.tail.as_deref());
        let (ty, placement) = match (then_value, else_value, &else_block) {
            (Some(a), Some(b), _) => {
                if a.ty == Type::Error || b.ty == Type::Error {
                    return poison(span);
                }
                let ty = match (&a.ty, &b.ty) {
                    (Type::Tensor(x), Type::Tensor(y))
                        if x.scalar == y.scalar
                            || Scalar::arithmetic_join(x.scalar, y.scalar).is_some() =>
                    {
                        let scalar =
                            Scalar::arithmetic_join(x.scalar, y.scalar).unwrap_or(x.scalar);
                        let shape: Option<Vec<Dim>> = (x.rank() == y.rank())
                            .then(|| {
                                x.shape
                                    .iter()
                                    .zip(&y.shape)
                                    .map(|(a, b)| types::unify_dim(*a, *b))
                                    .collect()
                            })
                            .flatten();
                        shape.map(|shape| tensor(scalar, shape))
                    }
                    (x, y) if x == y => Some(x.clone()),
                    _ => None,
                };
                let Some(ty) = ty else {
                    self.error(
                        Diagnostic::error(
                            "E0208",
                            format!(
                                "the branches of this `if` have different types: {} and {}",
                                a.ty, b.ty
                            ),
                            Label::new(span, "in this `if`"),
                        )
                        .with_secondary(Label::new(a.span, format!("this is {}", a.ty)))
                        .with_secondary(Label::new(b.span, format!("this is {}", b.ty))),
                    );
                    return poison(span);
                };
                let Some(placement) = self.join(cx, &[a, b], span) else {
                    return poison(span);
                };
                (ty, placement)
            }
            (None, None, _) | (_, None, None) => (Type::Unit, Placement::Public),
            (a, b, _) => {
                let with_value = a.or(b).expect("one branch has a value");
                self.error(
                    Diagnostic::error(
                        "E0208",
                        "only one branch of this `if` has a value",
                        Label::new(with_value.span, "this branch's value"),
                    )
                    .with_help(
                        "give both branches a value (add an `else`), or end this one with `;`",
                    ),
                );
                return poison(span);
            }
        };
        // Both branches deliver their value at the joined placement.
        if let Some(tail) = then_block.tail.take() {
            let moved = self.operand(cx, *tail, placement);
            then_block.tail = Some(Box::new(moved));
        }
        if let Some(block) = else_block.as_mut()
            && let Some(tail) = block.tail.take()
        {
            let moved = self.operand(cx, *tail, placement);
            block.tail = Some(Box::new(moved));
        }
        Expr {
            kind: ExprKind::If {
                cond: Box::new(cond),
                then_block,
                else_block,
            },
            ty,
            placement,
            span,
        }
    }

    /// The value of an `if` condition known at compile time (built from literals, constants and
    /// `const` parameters only), or `None`.
    fn static_condition(&mut self, cx: &FnContext, cond: &ast::Expr) -> Option<bool> {
        fn names_locals(cx: &FnContext, e: &ast::Expr) -> bool {
            match &e.kind {
                ast::ExprKind::Var(name) => cx.lookup(&name.name).is_some(),
                ast::ExprKind::Unary { operand, .. } => names_locals(cx, operand),
                ast::ExprKind::Binary { lhs, rhs, .. } => {
                    names_locals(cx, lhs) || names_locals(cx, rhs)
                }
                ast::ExprKind::Int(_) | ast::ExprKind::Fixed(_) | ast::ExprKind::Bool(_) => false,
                _ => true,
            }
        }
        if names_locals(cx, cond) {
            return None;
        }
        let errors = self.errors.len();
        let value = self.const_expr(cx.module, cond);
        self.errors.truncate(errors);
        match value {
            Some(super::ConstValue::Bool(b)) => Some(b),
            _ => None,
        }
    }

    /// An `if` whose condition is known at compile time: only the taken branch is checked and
    /// compiled, so the branches may differ in shape (`if axis == 0 { transpose(x) } else { x }`
    /// in a function with a `const axis` parameter).
    fn static_if(
        &mut self,
        cx: &mut FnContext,
        taken: bool,
        then_branch: &'a ast::Block,
        else_branch: Option<&'a ast::Expr>,
        span: Span,
        expected: &Expected,
    ) -> Expr {
        let block = match (taken, else_branch) {
            (true, _) => self.block(cx, then_branch, expected),
            (false, Some(e)) => match &e.kind {
                ast::ExprKind::Block(b) => self.block(cx, b, expected),
                _ => {
                    let value = self.expr(cx, e, expected);
                    crate::hir::Block {
                        stmts: Vec::new(),
                        span: value.span,
                        tail: Some(Box::new(value)),
                    }
                }
            },
            (false, None) => crate::hir::Block {
                stmts: Vec::new(),
                span,
                tail: None,
            },
        };
        let (ty, placement) = match block.tail.as_deref() {
            Some(v) => (v.ty.clone(), v.placement),
            None => (Type::Unit, Placement::Public),
        };
        if ty == Type::Error {
            return poison(span);
        }
        Expr {
            kind: ExprKind::Block(block),
            ty,
            placement,
            span,
        }
    }

    /// A `bool` that steers control flow.
    pub(super) fn condition(&mut self, cx: &FnContext, cond: &Expr, what: Control) -> bool {
        let Some(t) = self.tensor_of(cond, "a condition").cloned() else {
            return false;
        };
        if t.scalar != Scalar::Bool || t.rank() != 0 {
            self.error(
                Diagnostic::error("E0201", format!("a condition must be a single `bool`, not {t}"), Label::new(cond.span, format!("this is {t}")))
                    .with_help("compare to get a `bool` (`n > 0`); for elementwise choices use `select(c, a, b)`"),
            );
            return false;
        }
        self.control(cx, cond, what)
    }

    /// A public (or `on`-party) integer: a loop bound, an index, a size.
    pub(super) fn int_control(&mut self, cx: &FnContext, value: &Expr, what: Control) -> bool {
        let Some(t) = self.tensor_of(value, "a bound").cloned() else {
            return false;
        };
        if t.scalar != Scalar::Int || t.rank() != 0 {
            self.error(Diagnostic::error(
                "E0201",
                format!(
                    "{} must be an `int`, not {t}",
                    match what {
                        Control::LoopBound => "a loop bound",
                        Control::Index => "an index",
                        _ => "a size",
                    }
                ),
                Label::new(value.span, format!("this is {t}")),
            ));
            return false;
        }
        self.control(cx, value, what)
    }

    /// The compile-time value of a public integer expression, up to loop variables.
    pub(super) fn static_int(&self, cx: &FnContext, e: &Expr) -> Option<Affine> {
        match &e.kind {
            ExprKind::Int(v) => Some(Affine::constant(*v)),
            ExprKind::Local(id) if cx.loop_vars.contains(id) => Some(Affine {
                constant: 0,
                terms: vec![(*id, 1)],
            }),
            ExprKind::Unary {
                op: UnOp::Neg,
                operand,
            } => self.static_int(cx, operand)?.scale(-1),
            ExprKind::Binary {
                op: BinOp::Add,
                lhs,
                rhs,
            } => self
                .static_int(cx, lhs)?
                .combine(&self.static_int(cx, rhs)?, 1),
            ExprKind::Binary {
                op: BinOp::Sub,
                lhs,
                rhs,
            } => self
                .static_int(cx, lhs)?
                .combine(&self.static_int(cx, rhs)?, -1),
            ExprKind::Binary {
                op: BinOp::Mul,
                lhs,
                rhs,
            } => {
                let (a, b) = (self.static_int(cx, lhs)?, self.static_int(cx, rhs)?);
                match (a.as_constant(), b.as_constant()) {
                    (Some(k), _) => b.scale(k),
                    (_, Some(k)) => a.scale(k),
                    _ => None,
                }
            }
            ExprKind::Binary {
                op: BinOp::Div,
                lhs,
                rhs,
            } => {
                let (a, b) = (
                    self.static_int(cx, lhs)?.as_constant()?,
                    self.static_int(cx, rhs)?.as_constant()?,
                );
                a.checked_div(b).map(Affine::constant)
            }
            _ => None,
        }
    }

    fn index(
        &mut self,
        cx: &mut FnContext,
        base: &'a ast::Expr,
        indices: &'a [ast::IndexItem],
        span: Span,
        expected: &Expected,
    ) -> Expr {
        let base = self.expr(cx, base, &Expected::at(self.target(cx, expected)));
        let Some(t) = self.tensor_of(&base, "an indexed value").cloned() else {
            return poison(span);
        };
        if indices.is_empty() {
            self.error(
                Diagnostic::error(
                    "E0203",
                    "an empty index `x[]`",
                    Label::new(span, "nothing between the brackets"),
                )
                .with_help("index with positions or ranges: `x[i]`, `x[a .. b]`"),
            );
            return poison(span);
        }
        if indices.len() > t.rank() {
            self.error(
                Diagnostic::error(
                    "E0203",
                    format!("{} indices for a value of rank {}", indices.len(), t.rank()),
                    Label::new(span, "too many indices"),
                )
                .with_secondary(Label::new(base.span, format!("this is {t}"))),
            );
            return poison(span);
        }
        let at = cx.on_party.map(Placement::Party);
        let mut items = Vec::new();
        let mut shape = Vec::new();
        let mut ok = true;
        for (axis, item) in indices.iter().enumerate() {
            let dim = t.shape[axis];
            match item {
                ast::IndexItem::Single(i) => {
                    let i = self.expr(cx, i, &Expected::at(at));
                    ok &= self.int_control(cx, &i, Control::Index);
                    if let (Some(k), Dim::Known(n)) =
                        (self.static_int(cx, &i).and_then(|a| a.as_constant()), dim)
                        && (k < 0 || k as u64 >= n)
                    {
                        self.error(Diagnostic::error(
                            "E0213",
                            format!("index {k} is out of range for a dimension of size {n}"),
                            Label::new(i.span, "out of range"),
                        ));
                        ok = false;
                    }
                    items.push(IndexItem::Single(i));
                }
                ast::IndexItem::Range {
                    start,
                    end,
                    span: range_span,
                } => {
                    let s = self.expr(cx, start, &Expected::at(at));
                    let e = self.expr(cx, end, &Expected::at(at));
                    // A range's bounds decide the result's shape, which is public.
                    ok &= self.int_control(cx, &s, Control::Shape);
                    ok &= self.int_control(cx, &e, Control::Shape);
                    let (ss, se) = (self.static_int(cx, &s), self.static_int(cx, &e));
                    let len = match (&ss, &se) {
                        (Some(a), Some(b)) => b.combine(a, -1).and_then(|d| d.as_constant()),
                        _ => None,
                    };
                    let out_of_range = |v: &Option<Affine>| match (
                        v.as_ref().and_then(Affine::as_constant),
                        dim,
                    ) {
                        (Some(k), Dim::Known(n)) => k < 0 || k as u64 > n,
                        (Some(k), _) => k < 0,
                        _ => false,
                    };
                    if len.is_some_and(|l| l < 0) || out_of_range(&ss) || out_of_range(&se) {
                        self.error(
                            Diagnostic::error(
                                "E0213",
                                format!("slice out of range for a dimension of size {dim}"),
                                Label::new(*range_span, "out of range"),
                            )
                            .with_help(
                                "a slice `a .. b` needs 0 <= a <= b <= the dimension's size",
                            ),
                        );
                        ok = false;
                    }
                    shape.push(match len {
                        Some(l) if l >= 0 => Dim::Known(l as u64),
                        _ => Dim::Runtime,
                    });
                    items.push(IndexItem::Range { start: s, end: e });
                }
            }
        }
        if !ok {
            return poison(span);
        }
        shape.extend_from_slice(&t.shape[indices.len()..]);
        // `shape(x)[k]` of a dimension known statically is that number: shapes are public, and
        // asking a secret value's holders for it would cost a message.
        if let (
            ExprKind::Builtin {
                builtin: Builtin::Shape,
                args,
            },
            [IndexItem::Single(i)],
        ) = (&base.kind, items.as_slice())
            && let Some(k) = self.static_int(cx, i).and_then(|a| a.as_constant())
            && let Some(Dim::Known(n)) = args[0].ty.tensor().and_then(|a| a.shape.get(k as usize))
        {
            return Expr {
                kind: ExprKind::Int(*n as i64),
                ty: tensor(Scalar::Int, Vec::new()),
                placement: Placement::Public,
                span,
            };
        }
        let placement = base.placement;
        Expr {
            kind: ExprKind::Index {
                base: Box::new(base),
                items,
            },
            ty: tensor(t.scalar, shape),
            placement,
            span,
        }
    }

    // ---- Calls ------------------------------------------------------------------------------

    fn call(
        &mut self,
        cx: &mut FnContext,
        callee: &'a ast::Path,
        args: &'a [ast::Arg],
        span: Span,
        expected: &Expected,
    ) -> Expr {
        if let [name] = callee.segments.as_slice() {
            if let Some(decl) = self.modules[cx.module].functions.get(&name.name).copied() {
                return self.call_function(cx, cx.module, decl, args, span, expected);
            }
            if let Some((module, fname)) = self.modules[cx.module].imports.get(&name.name).cloned()
            {
                let decl = self.modules[module].functions[&fname];
                return self.call_function(cx, module, decl, args, span, expected);
            }
            if BUILTINS.contains(&name.name.as_str()) {
                return self.builtin(cx, &name.name, args, span, expected);
            }
            self.error(
                Diagnostic::error("E0102", format!("unknown function `{}`", name.name), Label::new(name.span, "not defined or imported"))
                    .with_help(if cx.module == MAIN_MODULE {
                        "define it with `fn`, or import it from the standard library: `use std::nn::sigmoid;`"
                    } else {
                        "library modules import what they use with `use`"
                    }),
            );
            return poison(span);
        }
        let (last, module_path) = callee.segments.split_last().expect("a path has a segment");
        let module_path: Vec<&str> = module_path.iter().map(|s| s.name.as_str()).collect();
        let Some(module) = self.library_module(&module_path.join("::"), callee.span) else {
            return poison(span);
        };
        match self.modules[module].functions.get(&last.name).copied() {
            Some(decl) => self.call_function(cx, module, decl, args, span, expected),
            None if is_builtin_alias(&module_path.join("::"), &last.name) => {
                self.builtin(cx, &last.name, args, span, expected)
            }
            None => {
                self.error(Diagnostic::error(
                    "E0102",
                    format!(
                        "`{}` has no function `{}`",
                        module_path.join("::"),
                        last.name
                    ),
                    Label::new(last.span, "not in this module"),
                ));
                poison(span)
            }
        }
    }

    pub(super) fn call_function(
        &mut self,
        cx: &mut FnContext,
        module: super::ModuleId,
        decl: &'a ast::FnDecl,
        args: &'a [ast::Arg],
        span: Span,
        expected: &Expected,
    ) -> Expr {
        let Some(bound) = self.bind_arguments(module, decl, args, span) else {
            return poison(span);
        };
        // `const` parameters first: their values may size the other parameters' shapes.
        let mut consts = HashMap::new();
        for (param, arg) in decl.params.iter().zip(&bound) {
            if !param.constant {
                continue;
            }
            let Some(value) = self.const_expr(cx.module, &arg.value) else {
                return poison(span);
            };
            let (declared, dims) = match param.ty.tensor() {
                Some((scalar, dims)) => (super::consts::scalar_of(scalar), dims),
                None => (Scalar::Bool, Some(&[][..])),
            };
            let value = match (declared, value) {
                (Scalar::Fixed, super::ConstValue::Int(v)) if dims.is_none() => {
                    super::ConstValue::Fixed(v as f64)
                }
                (s, v) if s == v.scalar() && dims.is_none() => v,
                (s, v) => {
                    self.error(
                        Diagnostic::error(
                            "E0201",
                            format!(
                                "the constant parameter `{}` is `{}`, but this is `{}`",
                                param.name.name,
                                s.name(),
                                v.scalar().name()
                            ),
                            Label::new(arg.value.span, "this argument"),
                        )
                        // A library function's declaration is not in the program's file.
                        .with_secondary_if(
                            module == MAIN_MODULE,
                            Label::new(param.span, "declared here"),
                        )
                        .with_help("a `const` parameter is a scalar `int`, `fixed` or `bool` known at compile time"),
                    );
                    return poison(span);
                }
            };
            consts.insert(param.name.name.clone(), value);
        }
        let result = self.call_arguments(cx, module, decl, &bound, &consts, expected);
        let Some((hir_args, signature)) = result else {
            return poison(span);
        };
        if hir_args.iter().any(|a| a.ty.is_aggregate())
            && decl
                .params
                .iter()
                .filter(|p| !p.constant)
                .zip(&hir_args)
                .any(|(p, a)| p.ty.is_any_shape() && a.ty.is_aggregate())
        {
            return self.map_call(cx, module, decl, hir_args, consts, span);
        }
        let Some(function) = self.instantiate(module, decl, signature, consts, cx.on_party, span)
        else {
            return poison(span);
        };

        let f = &self.functions[function];
        let (ty, placement, reveals) = (f.ret_type.clone(), f.ret_placement, f.reveals.clone());
        for target in reveals {
            self.note_reveal(cx, target, span, Some(&decl.name.name));
        }
        Expr {
            kind: ExprKind::Call {
                function,
                args: hir_args,
            },
            ty,
            placement,
            span,
        }
    }

    /// The arguments of a call in the order of the parameters: positional ones first, then
    /// named ones (`softmax(x, axis: 1)`) matched by name.
    fn bind_arguments(
        &mut self,
        module: super::ModuleId,
        decl: &'a ast::FnDecl,
        args: &'a [ast::Arg],
        span: Span,
    ) -> Option<Vec<&'a ast::Arg>> {
        let mut bound: Vec<Option<&'a ast::Arg>> = vec![None; decl.params.len()];
        let mut next = 0;
        // Parameters by name, so that a call of n named arguments takes time linear in n.
        let by_name: HashMap<&str, usize> = if args.iter().any(|a| a.name.is_some()) {
            decl.params
                .iter()
                .enumerate()
                .rev() // a name declared twice (an error) binds its first parameter
                .map(|(i, p)| (p.name.name.as_str(), i))
                .collect()
        } else {
            HashMap::new()
        };
        for arg in args {
            let slot = match &arg.name {
                None => {
                    if next >= decl.params.len() {
                        self.error(wrong_count(module, decl, args.len(), span));
                        return None;
                    }
                    next += 1;
                    next - 1
                }
                Some(name) => match by_name.get(name.name.as_str()) {
                    Some(&i) => i,
                    None => {
                        let names: Vec<&str> =
                            decl.params.iter().map(|p| p.name.name.as_str()).collect();
                        self.error(
                            Diagnostic::error(
                                "E0114",
                                format!("`{}` has no parameter `{}`", decl.name.name, name.name),
                                Label::new(name.span, "no such parameter"),
                            )
                            .with_secondary_if(
                                module == MAIN_MODULE,
                                Label::new(decl.name.span, "defined here"),
                            )
                            .with_help(format!("its parameters are: {}", names.join(", "))),
                        );
                        return None;
                    }
                },
            };
            if bound[slot].is_some() {
                self.error(
                    Diagnostic::error(
                        "E0114",
                        format!("`{}` is given twice", decl.params[slot].name.name),
                        Label::new(arg.value.span, "given again here"),
                    )
                    .with_help("pass each argument once: positional ones first, then named ones"),
                );
                return None;
            }
            bound[slot] = Some(arg);
        }
        let missing: Vec<&str> = decl
            .params
            .iter()
            .zip(&bound)
            .filter(|(_, a)| a.is_none())
            .map(|(p, _)| p.name.name.as_str())
            .collect();
        if !missing.is_empty() {
            self.error(
                wrong_count(module, decl, args.len(), span)
                    .with_help(format!("missing: {}", missing.join(", "))),
            );
            return None;
        }
        Some(
            bound
                .into_iter()
                .map(|a| a.expect("every parameter is bound"))
                .collect(),
        )
    }

    /// Checks the runtime (non-`const`) arguments of a call against the parameters.
    #[allow(clippy::type_complexity)]
    fn call_arguments(
        &mut self,
        cx: &mut FnContext,
        module: super::ModuleId,
        decl: &'a ast::FnDecl,
        bound: &[&'a ast::Arg],
        consts: &HashMap<String, super::ConstValue>,
        expected: &Expected,
    ) -> Option<(Vec<Expr>, Vec<(Type, Placement)>)> {
        let target = self.target(cx, expected);
        let mut hir_args = Vec::new();
        let mut signature = Vec::new();
        for (param, arg) in decl.params.iter().zip(bound).filter(|(p, _)| !p.constant) {
            // The callee's `const` parameters may size its parameters' types; the arguments
            // themselves are the caller's expressions, checked in the caller's scope.
            self.const_params.push(consts.clone());
            let declared = self.signature_type(module, &param.ty);
            self.const_params.pop();
            let (declared, any_shape) = declared?;
            let declared_placement = match &param.placement {
                Some(p) => Some(self.placement(p)?),
                None => None,
            };
            let at = declared_placement.or(target);
            let value = self.expr(
                cx,
                &arg.value,
                &Expected {
                    ty: Some((declared.clone(), any_shape)),
                    placement: at,
                },
            );
            // A struct (or tuple) passed where any shape of `fixed` is taken maps the function
            // over its fields (`sgd(model, grads, 0.1)`); `map_call` checks each field's call.
            let mapped = any_shape && value.ty.is_aggregate();
            let value = if mapped {
                value
            } else {
                self.fit_value(
                    value,
                    &declared,
                    any_shape,
                    &format!("parameter `{}`", param.name.name),
                )?
            };
            let value = match (declared_placement, target) {
                (Some(p), _) => self.store(cx, value, p),
                (None, Some(t)) => self.operand(cx, value, t),
                (None, None) => value,
            };
            if value.ty == Type::Error {
                return None;
            }
            if let Type::Tensor(t) = &value.ty
                && t.scalar == Scalar::Float
                && !matches!(value.placement, Placement::Party(_))
            {
                self.error(Diagnostic::error(
                    "E0204",
                    "a `float` parameter takes a party's value",
                    Label::new(value.span, "this is not held by a party"),
                ));
                return None;
            }
            signature.push((value.ty.clone(), value.placement));
            hir_args.push(value);
        }
        Some((hir_args, signature))
    }

    /// Checks that a value of type `actual` fits `declared` and returns the type the value takes
    /// there: the declared scalar, and the more precise of the two shapes.
    pub(super) fn conform(
        &mut self,
        value: &Expr,
        actual: &TensorType,
        declared: &TensorType,
        any_shape: bool,
        what: &str,
    ) -> Option<TensorType> {
        if !Scalar::widens_to(actual.scalar, declared.scalar) {
            self.error(
                Diagnostic::error(
                    "E0201",
                    format!(
                        "{what} is `{}`, but this is `{}`",
                        declared.scalar.name(),
                        actual.scalar.name()
                    ),
                    Label::new(value.span, format!("this is {actual}")),
                )
                .with_help(match (actual.scalar, declared.scalar) {
                    (Scalar::Fixed, Scalar::Int) => {
                        "a `fixed` value does not narrow to `int` implicitly"
                    }
                    (Scalar::Bool, _) => "turn a `bool` into a number with `select(c, 1, 0)`",
                    _ => "`int` widens to `fixed` and `float`, and a party's `fixed` and `float` values convert into each other; nothing else converts",
                }),
            );
            return None;
        }
        if any_shape {
            return Some(actual.with_scalar(declared.scalar));
        }
        if actual.rank() != declared.rank() {
            self.error(Diagnostic::error(
                "E0203",
                format!(
                    "{what} has rank {} ({declared}), but this has rank {} ({actual})",
                    declared.rank(),
                    actual.rank()
                ),
                Label::new(value.span, format!("this is {actual}")),
            ));
            return None;
        }
        let mut shape = Vec::new();
        for (a, d) in actual.shape.iter().zip(&declared.shape) {
            match types::unify_dim(*a, *d) {
                Some(dim) => shape.push(dim),
                None => {
                    self.error(
                        Diagnostic::error("E0202", format!("{what} is {declared}, but this is {actual}"), Label::new(value.span, format!("this is {actual}")))
                            .with_help("the dimensions differ; `_` in a type accepts any size (checked at run time)"),
                    );
                    return None;
                }
            }
        }
        Some(TensorType::new(declared.scalar, shape))
    }

    /// Records a reveal (direct, or through a called function) and checks it is allowed.
    pub(super) fn note_reveal(
        &mut self,
        cx: &mut FnContext,
        target: Placement,
        span: Span,
        via: Option<&str>,
    ) {
        cx.reveals.insert(target);
        if let Some(allowed) = &cx.allowed_reveals
            && !allowed.contains(&target)
        {
            let to = match target {
                Placement::Party(p) => self.parties[p].name.clone(),
                _ => "public".to_string(),
            };
            let message = match via {
                None => format!(
                    "`{}` reveals to {to}, but its signature does not allow it",
                    cx.name
                ),
                Some(callee) => format!(
                    "`{}` calls `{callee}`, which reveals to {to}, but its signature does not allow it",
                    cx.name
                ),
            };
            self.error(
                Diagnostic::error("E0310", message, Label::new(span, format!("reveals to {to}")))
                    .with_help(format!("a function other than `main` states its reveals: add `reveals({to})` after its return type")),
            );
        }
    }

    fn split_args(
        &mut self,
        name: &str,
        args: &'a [ast::Arg],
        positional: usize,
        named: &[&str],
        span: Span,
    ) -> Option<(Vec<&'a ast::Expr>, HashMap<String, &'a ast::Expr>)> {
        let mut pos = Vec::new();
        let mut by_name = HashMap::new();
        for arg in args {
            match &arg.name {
                None if by_name.is_empty() => pos.push(&arg.value),
                None => {
                    self.error(Diagnostic::error(
                        "E0114",
                        "positional argument after a named one",
                        Label::new(arg.value.span, "move it before the named arguments"),
                    ));
                    return None;
                }
                Some(n) if named.contains(&n.name.as_str()) => {
                    if by_name.insert(n.name.clone(), &arg.value).is_some() {
                        self.error(Diagnostic::error(
                            "E0114",
                            format!("`{}` is given twice", n.name),
                            Label::new(n.span, "again here"),
                        ));
                        return None;
                    }
                }
                Some(n) => {
                    let takes = if named.is_empty() {
                        "no named arguments".to_string()
                    } else {
                        named
                            .iter()
                            .map(|n| format!("`{n}:`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    self.error(
                        Diagnostic::error(
                            "E0114",
                            format!("`{name}` has no argument `{}`", n.name),
                            Label::new(n.span, "unknown argument"),
                        )
                        .with_help(format!("`{name}` takes {takes}")),
                    );
                    return None;
                }
            }
        }
        if pos.len() != positional {
            self.error(Diagnostic::error(
                "E0114",
                format!(
                    "`{name}` takes {positional} positional argument{}, but {} {} given",
                    if positional == 1 { "" } else { "s" },
                    pos.len(),
                    if pos.len() == 1 { "is" } else { "are" }
                ),
                Label::new(span, "in this call"),
            ));
            return None;
        }
        Some((pos, by_name))
    }

    /// A static axis argument (`axis: 0`).
    fn axis(
        &mut self,
        cx: &FnContext,
        value: Option<&'a ast::Expr>,
        rank: usize,
    ) -> Option<Option<usize>> {
        let Some(value) = value else {
            return Some(None);
        };
        let axis = self.const_expr(cx.module, value)?;
        match axis {
            super::ConstValue::Int(k) if k >= 0 && (k as usize) < rank => Some(Some(k as usize)),
            _ => {
                self.error(
                    Diagnostic::error(
                        "E0213",
                        format!("axis out of range for a value of rank {rank}"),
                        Label::new(value.span, "not an axis"),
                    )
                    .with_help(format!(
                        "axes count from 0 up to {}",
                        rank.saturating_sub(1)
                    )),
                );
                None
            }
        }
    }

    /// The geometry of `im2col` and `col2im` (`builtin`): `image: [h, w, c]`, `window: [kh, kw]`,
    /// and optional `stride: s` (1) and `pad: p` (0), all known at compile time.
    fn window(
        &mut self,
        builtin: &str,
        cx: &FnContext,
        named: &HashMap<String, &'a ast::Expr>,
        span: Span,
    ) -> Option<tfe_ir::Window> {
        let image = self.const_ints(
            builtin,
            cx,
            named.get("image").copied(),
            3,
            "image: [height, width, channels]",
            span,
        )?;
        let window = self.const_ints(
            builtin,
            cx,
            named.get("window").copied(),
            2,
            "window: [height, width]",
            span,
        )?;
        let one = |this: &mut Self, key: &str, default: i64| -> Option<i64> {
            match named.get(key) {
                None => Some(default),
                Some(e) => match this.const_expr(cx.module, e)? {
                    super::ConstValue::Int(v) => Some(v),
                    _ => {
                        this.error(Diagnostic::error(
                            "E0214",
                            format!("`{key}` of `{builtin}` is an `int` constant"),
                            Label::new(e.span, "not an integer"),
                        ));
                        None
                    }
                },
            }
        };
        let stride = one(self, "stride", 1)?;
        let pad = one(self, "pad", 0)?;
        let [h, w, c] = [image[0], image[1], image[2]];
        let [kh, kw] = [window[0], window[1]];
        // Each size at most 2^20 and an image or a window at most 2^40 values, so that no size
        // computed from them overflows.
        let limit = 1 << 20;
        if [h, w, c, kh, kw, stride, pad]
            .iter()
            .any(|v| !(-limit..=limit).contains(v))
            || h * w * c > limit * limit
            || kh * kw * c > limit * limit
        {
            self.error(
                Diagnostic::error(
                    "E0214",
                    format!("a {h}×{w}×{c} image with a {kh}×{kw} window, stride {stride} and padding {pad} is too large"),
                    Label::new(span, format!("in this `{builtin}`")),
                )
                .with_help("each size, the stride and the padding are at most 1,048,576, and an image or a window holds at most 2^40 values"),
            );
            return None;
        }
        if h < 1
            || w < 1
            || c < 1
            || kh < 1
            || kw < 1
            || stride < 1
            || pad < 0
            || kh > h + 2 * pad
            || kw > w + 2 * pad
        {
            self.error(
                Diagnostic::error(
                    "E0214",
                    format!(
                        "no {kh}×{kw} window fits a {h}×{w} image with padding {pad} and stride {stride}"
                    ),
                    Label::new(span, format!("in this `{builtin}`")),
                )
                .with_help("sizes and the stride are at least 1, the padding at least 0, and the window at most the padded image"),
            );
            return None;
        }
        let u = |v: i64| v as usize;
        Some(tfe_ir::Window {
            h: u(h),
            w: u(w),
            c: u(c),
            kh: u(kh),
            kw: u(kw),
            stride: u(stride),
            pad: u(pad),
        })
    }

    /// The table of `log2_lookup`: a list of 1 to 64 numeric constants, `[1.0, 0.5, 0.25]`.
    fn const_table(&mut self, cx: &FnContext, value: &'a ast::Expr) -> Option<Vec<f64>> {
        let bad = |this: &mut Self, span: Span, label: &str| {
            this.error(
                Diagnostic::error(
                    "E0215",
                    "the table of `log2_lookup` is a list of 1 to 64 numeric constants",
                    Label::new(span, label.to_string()),
                )
                .with_help(
                    "write the table as a list: `log2_lookup(x, [1.0, 0.5, 0.25], from: 0)`",
                ),
            );
        };
        let ast::ExprKind::Array(items) = &value.kind else {
            bad(self, value.span, "not a list of constants");
            return None;
        };
        if items.is_empty() || items.len() > 64 {
            bad(self, value.span, &format!("{} entries", items.len()));
            return None;
        }
        let mut out = Vec::new();
        for item in items {
            match self.const_expr(cx.module, item)? {
                super::ConstValue::Int(v) => out.push(v as f64),
                super::ConstValue::Fixed(v) => out.push(v),
                super::ConstValue::Bool(_) => {
                    bad(self, item.span, "a `bool`");
                    return None;
                }
            }
        }
        Some(out)
    }

    /// A list of `len` integer constants, `[a, b, …]`.
    fn const_ints(
        &mut self,
        builtin: &str,
        cx: &FnContext,
        value: Option<&'a ast::Expr>,
        len: usize,
        what: &str,
        span: Span,
    ) -> Option<Vec<i64>> {
        let items = match value.map(|v| &v.kind) {
            Some(ast::ExprKind::Array(items)) if items.len() == len => items,
            _ => {
                self.error(
                    Diagnostic::error(
                        "E0214",
                        format!("`{builtin}` needs `{what}`"),
                        Label::new(value.map_or(span, |v| v.span), "expected here"),
                    )
                    .with_help(format!("write the sizes as a list of integer constants: `{builtin}(x, image: [8, 8, 1], window: [3, 3])`")),
                );
                return None;
            }
        };
        let mut out = Vec::new();
        for item in items {
            match self.const_expr(cx.module, item)? {
                super::ConstValue::Int(v) => out.push(v),
                _ => {
                    self.error(Diagnostic::error(
                        "E0214",
                        format!("the sizes of `{builtin}` are `int` constants"),
                        Label::new(item.span, "not an integer"),
                    ));
                    return None;
                }
            }
        }
        Some(out)
    }

    /// A string literal argument (a file path).
    fn path_arg(&mut self, value: &ast::Expr, builtin: &str) -> Option<String> {
        match &value.kind {
            ast::ExprKind::Str(s) if !s.is_empty() => Some(s.clone()),
            _ => {
                self.error(
                    Diagnostic::error(
                        "E0210",
                        format!("`{builtin}` takes a file path as a string literal"),
                        Label::new(value.span, "not a string literal"),
                    )
                    .with_help("paths are relative to the party's data directory: \"weights.csv\""),
                );
                None
            }
        }
    }

    /// The name of a value kept as shares: a string literal that is a plain file name (letters,
    /// digits, `_` and `-`), since it names `NAME.shares` in each member's data directory and
    /// must not reach outside it.
    fn stored_name(&mut self, value: &ast::Expr, builtin: &str) -> Option<String> {
        let name = self.path_arg(value, builtin)?;
        let plain = name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !plain {
            self.error(
                Diagnostic::error(
                    "E0314",
                    format!("`{builtin}` takes a plain name, not a path"),
                    Label::new(value.span, format!("`{name}` is not a plain name")),
                )
                .with_help("each member keeps its share as `NAME.shares` in its own data directory: use letters, digits, `_` and `-` (at most 128)"),
            );
            return None;
        }
        Some(name)
    }

    /// Whether shares of a value of this type can be kept: a tensor or a struct (whose fields are
    /// tensors), not a tuple.
    fn storable(&mut self, ty: &Type, span: Span, builtin: &str) -> bool {
        if matches!(ty, Type::Tensor(_) | Type::Struct(_)) {
            return true;
        }
        self.error(
            Diagnostic::error(
                "E0315",
                format!("`{builtin}` keeps a tensor or a struct"),
                Label::new(span, format!("this is {ty}")),
            )
            .with_help("store each part of a tuple on its own, or gather them in a struct"),
        );
        false
    }

    /// The sizes of a `zeros`/`ones`/`reshape` shape argument: `[30, 1]`, `[rows(x), 1]`, `shape(x)`.
    fn shape_arg(
        &mut self,
        cx: &mut FnContext,
        value: &'a ast::Expr,
    ) -> Option<(Vec<Dim>, Vec<Expr>)> {
        match &value.kind {
            ast::ExprKind::Array(items) => {
                let mut dims = Vec::new();
                let mut exprs = Vec::new();
                for item in items {
                    let e = self.expr(cx, item, &Expected::default());
                    if !self.int_control(cx, &e, Control::Shape) {
                        return None;
                    }
                    dims.push(
                        match self.static_int(cx, &e).and_then(|a| a.as_constant()) {
                            Some(k) if k >= 0 => Dim::Known(k as u64),
                            Some(_) => {
                                self.error(Diagnostic::error(
                                    "E0213",
                                    "a size cannot be negative",
                                    Label::new(e.span, "negative"),
                                ));
                                return None;
                            }
                            None => Dim::Runtime,
                        },
                    );
                    exprs.push(e);
                }
                Some((dims, exprs))
            }
            ast::ExprKind::Call { callee, args }
                if callee.to_text() == "shape" && args.len() == 1 =>
            {
                let e = self.expr(cx, value, &Expected::default());
                let dims = match &e.kind {
                    ExprKind::Builtin { args, .. } => args[0].ty.tensor()?.shape.clone(),
                    _ => return None,
                };
                Some((dims, vec![e]))
            }
            _ => {
                self.error(
                    Diagnostic::error("E0210", "a shape is a list of sizes", Label::new(value.span, "not a shape"))
                        .with_help("write the sizes as a list, `[30, 1]` or `[rows(x), 1]`, or take another tensor's `shape(x)`"),
                );
                None
            }
        }
    }

    fn builtin(
        &mut self,
        cx: &mut FnContext,
        name: &str,
        args: &'a [ast::Arg],
        span: Span,
        expected: &Expected,
    ) -> Expr {
        self.builtin_inner(cx, name, args, span, expected)
            .unwrap_or_else(|| poison(span))
    }

    fn builtin_inner(
        &mut self,
        cx: &mut FnContext,
        name: &str,
        args: &'a [ast::Arg],
        span: Span,
        expected: &Expected,
    ) -> Option<Expr> {
        if cx.module != MAIN_MODULE
            && matches!(
                name,
                "read_csv"
                    | "write_csv"
                    | "read_npy"
                    | "write_npy"
                    | "write_shares"
                    | "read_shares"
                    | "print"
                    | "reveal"
            )
        {
            self.error(
                Diagnostic::error("E0310", format!("library code calls `{name}`"), Label::new(span, "not allowed in the library"))
                    .with_help("library functions compute on their arguments only: no files, no output, no reveals"),
            );
            return None;
        }
        let target = self.target(cx, expected);
        let make = |builtin: Builtin, args: Vec<Expr>, ty: Type, placement: Placement| Expr {
            kind: ExprKind::Builtin { builtin, args },
            ty,
            placement,
            span,
        };
        match name {
            "read_csv" | "read_npy" => {
                let (pos, _) = self.split_args(name, args, 1, &[], span)?;
                let path = self.path_arg(pos[0], name)?;
                let file = if name == "read_csv" { "x.csv" } else { "x.npy" };
                let Some(party) = (match target {
                    Some(Placement::Party(p)) => Some(p),
                    _ => None,
                }) else {
                    self.error(
                        Diagnostic::error("E0311", format!("`{name}` runs at a party, and this one does not say which"), Label::new(span, "read where?"))
                            .with_help(format!("annotate the `let` with the reading party: `let x: fixed[_, 30] @alice = {name}(\"{file}\");`")),
                    );
                    return None;
                };
                let ty = match &expected.ty {
                    Some((Type::Tensor(t), false)) => t.clone(),
                    _ => {
                        self.error(
                            Diagnostic::error("E0211", format!("`{name}` needs the type of the data it reads"), Label::new(span, "of what type?"))
                                .with_help(format!("annotate the `let` with the element type and the shape: `let x: fixed[_, 30] @alice = {name}(\"{file}\");` (`_` for a size the file decides)")),
                        );
                        return None;
                    }
                };
                if name == "read_npy" {
                    return Some(make(
                        Builtin::ReadNpy { path },
                        Vec::new(),
                        Type::Tensor(ty),
                        Placement::Party(party),
                    ));
                }
                if ty.rank() > 2 {
                    self.error(Diagnostic::error(
                        "E0203",
                        "`read_csv` reads a 1-D or 2-D tensor",
                        Label::new(span, format!("{ty} has rank {}", ty.rank())),
                    ));
                    return None;
                }
                Some(make(
                    Builtin::ReadCsv { path },
                    Vec::new(),
                    Type::Tensor(ty),
                    Placement::Party(party),
                ))
            }
            "write_csv" | "write_npy" | "print" => {
                let (pos, _) =
                    self.split_args(name, args, if name == "print" { 1 } else { 2 }, &[], span)?;
                let value = self.expr(cx, pos[0], &Expected::at(cx.on_party.map(Placement::Party)));
                // `write_csv` of a struct writes one file per field (`model_w.csv`).
                let tensors: Vec<TensorType> = match &value.ty {
                    Type::Struct(st) if name == "write_csv" => self.structs[st.id]
                        .fields
                        .iter()
                        .map(|(_, t)| t.clone())
                        .collect(),
                    _ => vec![self.tensor_of(&value, "the value")?.clone()],
                };
                if let Some(t) = tensors.iter().find(|t| t.rank() > 2)
                    && name == "write_csv"
                {
                    self.error(Diagnostic::error(
                        "E0203",
                        "`write_csv` writes a 0-D, 1-D or 2-D tensor",
                        Label::new(value.span, format!("this is {t}")),
                    ));
                    return None;
                }
                let builtin = match name {
                    "print" => Builtin::Print,
                    "write_npy" => Builtin::WriteNpy {
                        path: self.path_arg(pos[1], name)?,
                    },
                    _ => Builtin::WriteCsv {
                        path: self.path_arg(pos[1], name)?,
                    },
                };
                match value.placement {
                    Placement::Secret(s) => {
                        let mut d = Diagnostic::error(
                            "E0308",
                            format!("`{name}` of a secret value"),
                            Label::new(
                                value.span,
                                format!("this is secret (at `{}`)", self.secrets[s].name),
                            ),
                        );
                        if let Some(origin) = self.origin(cx, &value) {
                            d = d.with_secondary(origin);
                        }
                        self.error(d.with_help(format!(
                            "`{name}` runs where its value is visible; reveal it to the party that may see it: `{name}(reveal(x, to: analyst){})`",
                            match name {
                                "write_csv" => ", \"out.csv\"",
                                "write_npy" => ", \"out.npy\"",
                                _ => "",
                            }
                        )));
                        None
                    }
                    // Inside `on p`, even a public value is printed (or written) by p alone.
                    Placement::Public if cx.on_party.is_some() => Some(make(
                        builtin,
                        vec![value],
                        Type::Unit,
                        Placement::Party(cx.on_party.expect("checked")),
                    )),
                    // Inside `on p`, another party's value would have to come to p: a flow error.
                    Placement::Party(q) if cx.on_party.is_some_and(|p| p != q) => {
                        let p = cx.on_party.expect("checked");
                        let moved = self.store(cx, value, Placement::Party(p));
                        (moved.ty != Type::Error)
                            .then(|| make(builtin, vec![moved], Type::Unit, Placement::Party(p)))
                    }
                    placement => Some(make(builtin, vec![value], Type::Unit, placement)),
                }
            }
            "write_shares" => {
                let (pos, _) = self.split_args(name, args, 2, &[], span)?;
                let value = self.expr(cx, pos[0], &Expected::default());
                let stored = self.stored_name(pos[1], name)?;
                if value.ty == Type::Error || !self.storable(&value.ty, value.span, name) {
                    return None;
                }
                match value.placement {
                    Placement::Secret(s) if cx.on_party.is_none() => Some(make(
                        Builtin::WriteShares { name: stored },
                        vec![value],
                        Type::Unit,
                        Placement::Secret(s),
                    )),
                    Placement::Secret(_) => {
                        self.error(
                            Diagnostic::error("E0312", "`write_shares` inside an `on` block", Label::new(span, "stored here"))
                                .with_help("an `on` block runs at one party alone, and every member of the placement stores its share: store before or after the block"),
                        );
                        None
                    }
                    placement => {
                        let mut d = Diagnostic::error(
                            "E0312",
                            "`write_shares` of a value that is not secret",
                            Label::new(
                                value.span,
                                format!("this is {}", super::flow::describe(self, placement)),
                            ),
                        );
                        if let Some(origin) = self.origin(cx, &value) {
                            d = d.with_secondary(origin);
                        }
                        self.error(d.with_help(
                            "shares are kept only of a value at a secret placement; share it first (`let m: Mlp @rep = m0;`), or write a party's own value with `write_csv`",
                        ));
                        None
                    }
                }
            }
            "read_shares" => {
                let (pos, _) = self.split_args(name, args, 1, &[], span)?;
                let stored = self.stored_name(pos[0], name)?;
                let Some(Placement::Secret(s)) = target else {
                    self.error(
                        Diagnostic::error("E0313", "`read_shares` loads shares into a secret placement, and this one does not say which", Label::new(span, "loaded where?"))
                            .with_help("annotate the `let` with the type and the secret placement it was stored from: `let m: Mlp @rep = read_shares(\"model\");`"),
                    );
                    return None;
                };
                if cx.on_party.is_some() {
                    self.error(
                        Diagnostic::error("E0313", "`read_shares` inside an `on` block", Label::new(span, "loaded here"))
                            .with_help("an `on` block runs at one party alone, and every member of the placement loads its share: load before the block"),
                    );
                    return None;
                }
                let ty = match &expected.ty {
                    Some((ty @ (Type::Tensor(_) | Type::Struct(_)), false)) => ty.clone(),
                    _ => {
                        self.error(
                            Diagnostic::error("E0211", "`read_shares` needs the type of the value it loads", Label::new(span, "of what type?"))
                                .with_help("annotate the `let` with the type stored: `let m: Mlp @rep = read_shares(\"model\");` (`_` for a size the file decides)"),
                        );
                        return None;
                    }
                };
                if !self.storable(&ty, span, name) {
                    return None;
                }
                Some(make(
                    Builtin::ReadShares { name: stored },
                    Vec::new(),
                    ty,
                    Placement::Secret(s),
                ))
            }
            "reveal" => {
                let (pos, named) = self.split_args(name, args, 1, &["to"], span)?;
                if cx.on_party.is_some() {
                    self.error(
                        Diagnostic::error("E0309", "`reveal` inside an `on` block", Label::new(span, "reveal here"))
                            .with_help("an `on` block runs at one party alone; reveal before the block and use the result inside it"),
                    );
                    return None;
                }
                let to = match named.get("to") {
                    None => None,
                    Some(value) => match &value.kind {
                        ast::ExprKind::Var(party) => Some(self.party(party)?),
                        _ => {
                            self.error(Diagnostic::error(
                                "E0109",
                                "`to:` names a party",
                                Label::new(value.span, "not a party name"),
                            ));
                            return None;
                        }
                    },
                };
                let value = self.expr(cx, pos[0], &Expected::default());
                if !self.value_of(&value, "a revealed value") {
                    return None;
                }
                let target = to.map_or(Placement::Public, Placement::Party);
                self.note_reveal(cx, target, span, None);
                // A party's f64 values arrive as fixed-point: `float` exists only at a party.
                let value = if value.ty.tensor().is_some_and(|t| t.scalar == Scalar::Float) {
                    self.widen(value, Scalar::Fixed)
                } else {
                    value
                };
                let ty = value.ty.clone();
                Some(Expr {
                    kind: ExprKind::Reveal {
                        value: Box::new(value),
                        to,
                    },
                    ty,
                    placement: target,
                    span,
                })
            }
            "zeros" | "ones" => {
                let (pos, _) = self.split_args(name, args, 1, &[], span)?;
                let (dims, exprs) = self.shape_arg(cx, pos[0])?;
                let scalar = match expected.tensor() {
                    Some(t) if t.scalar != Scalar::Bool => t.scalar,
                    _ => Scalar::Fixed,
                };
                let builtin = if name == "zeros" {
                    Builtin::Zeros
                } else {
                    Builtin::Ones
                };
                Some(make(
                    builtin,
                    exprs,
                    tensor(scalar, dims),
                    Placement::Public,
                ))
            }
            "rows" | "shape" => {
                let (pos, _) = self.split_args(name, args, 1, &[], span)?;
                let value = self.expr(cx, pos[0], &Expected::default());
                let t = self.tensor_of(&value, "the argument")?.clone();
                if name == "rows" {
                    if t.rank() == 0 {
                        self.error(Diagnostic::error(
                            "E0203",
                            "`rows` of a scalar",
                            Label::new(value.span, format!("this is {t}")),
                        ));
                        return None;
                    }
                    // Shapes are public: the number of rows is known to every party.
                    if let Dim::Known(n) = t.shape[0] {
                        return Some(Expr {
                            kind: ExprKind::Int(n as i64),
                            ty: tensor(Scalar::Int, Vec::new()),
                            placement: Placement::Public,
                            span,
                        });
                    }
                    Some(make(
                        Builtin::Rows,
                        vec![value],
                        tensor(Scalar::Int, Vec::new()),
                        Placement::Public,
                    ))
                } else {
                    let rank = t.rank() as u64;
                    Some(make(
                        Builtin::Shape,
                        vec![value],
                        tensor(Scalar::Int, vec![Dim::Known(rank)]),
                        Placement::Public,
                    ))
                }
            }
            "concat" => {
                let (pos, named) = self.split_args(name, args, 1, &["axis"], span)?;
                let ast::ExprKind::Array(items) = &pos[0].kind else {
                    self.error(
                        Diagnostic::error(
                            "E0210",
                            "`concat` takes a list of tensors",
                            Label::new(pos[0].span, "not a list"),
                        )
                        .with_help("write the parts as a list: `concat([a, b], axis: 0)`"),
                    );
                    return None;
                };
                let mut parts = Vec::new();
                for item in items {
                    let part = self.expr(cx, item, &Expected::at(target));
                    self.tensor_of(&part, "a part")?;
                    parts.push(part);
                }
                if parts.is_empty() {
                    self.error(Diagnostic::error(
                        "E0114",
                        "`concat` of an empty list",
                        Label::new(pos[0].span, "no parts"),
                    ));
                    return None;
                }
                let rank = parts[0].ty.tensor()?.rank();
                let axis = self
                    .axis(cx, named.get("axis").copied(), rank)?
                    .unwrap_or(0);
                if let Some(t) = target {
                    parts = parts.into_iter().map(|p| self.operand(cx, p, t)).collect();
                }
                let refs: Vec<&Expr> = parts.iter().collect();
                let placement = self.join(cx, &refs, span)?;
                let mut scalar = parts[0].ty.tensor()?.scalar;
                for p in &parts[1..] {
                    let s = p.ty.tensor()?.scalar;
                    scalar = match Scalar::arithmetic_join(scalar, s) {
                        Some(j) => j,
                        None if s == scalar => s,
                        None => {
                            self.error(Diagnostic::error(
                                "E0201",
                                format!(
                                    "`concat` of `{}` and `{}` values",
                                    scalar.name(),
                                    s.name()
                                ),
                                Label::new(p.span, format!("this is {}", p.ty)),
                            ));
                            return None;
                        }
                    };
                }
                let shapes: Vec<&[Dim]> = parts
                    .iter()
                    .map(|p| p.ty.tensor().map_or(&[][..], |t| &t.shape[..]))
                    .collect();
                let shape = match types::concat_shape(&shapes, axis) {
                    Ok(s) => s,
                    Err(msg) => {
                        self.error(Diagnostic::error(
                            "E0202",
                            format!("`concat`: {msg}"),
                            Label::new(span, "these parts do not fit together"),
                        ));
                        return None;
                    }
                };
                let parts: Vec<Expr> = parts
                    .into_iter()
                    .map(|p| {
                        let p = self.operand(cx, p, placement);
                        self.widen(p, scalar)
                    })
                    .collect();
                Some(make(
                    Builtin::Concat { axis },
                    parts,
                    tensor(scalar, shape),
                    placement,
                ))
            }
            "transpose" => {
                let (pos, _) = self.split_args(name, args, 1, &[], span)?;
                let value = self.expr(cx, pos[0], &Expected::at(target));
                let t = self.tensor_of(&value, "the argument")?.clone();
                let shape = match t.shape.as_slice() {
                    [a, b] => vec![*b, *a],
                    [a] => vec![*a],
                    _ => {
                        self.error(Diagnostic::error(
                            "E0203",
                            "`transpose` takes a matrix or a vector",
                            Label::new(value.span, format!("this is {t}")),
                        ));
                        return None;
                    }
                };
                let placement = value.placement;
                Some(make(
                    Builtin::Transpose,
                    vec![value],
                    tensor(t.scalar, shape),
                    placement,
                ))
            }
            "im2col" => {
                let (pos, named) =
                    self.split_args(name, args, 1, &["image", "window", "stride", "pad"], span)?;
                let value = self.expr(cx, pos[0], &Expected::at(target));
                let t = self.tensor_of(&value, "the argument")?.clone();
                let g = self.window(name, cx, &named, span)?;
                let per_image = (g.h * g.w * g.c) as u64;
                match t.shape.as_slice() {
                    [_, types::Dim::Known(k)] if *k != per_image => {
                        self.error(
                            Diagnostic::error(
                                "E0202",
                                format!(
                                    "`im2col` of {}×{}×{} images needs rows of {per_image} values, but this is {t}",
                                    g.h, g.w, g.c
                                ),
                                Label::new(value.span, format!("this is {t}")),
                            )
                            .with_help("one image per row, flattened channel-last: index (y * width + x) * channels + c"),
                        );
                        return None;
                    }
                    [_, _] if t.scalar.is_numeric() => {}
                    _ => {
                        self.error(Diagnostic::error(
                            "E0203",
                            "`im2col` takes a matrix of numbers: one image per row",
                            Label::new(value.span, format!("this is {t}")),
                        ));
                        return None;
                    }
                }
                let (oh, ow) = g.out();
                let rows = match t.shape[0] {
                    types::Dim::Known(n) => types::Dim::Known(n * (oh * ow) as u64),
                    types::Dim::Runtime => types::Dim::Runtime,
                };
                let shape = vec![rows, types::Dim::Known((g.kh * g.kw * g.c) as u64)];
                let placement = value.placement;
                Some(make(
                    Builtin::Im2Col(g),
                    vec![value],
                    tensor(t.scalar, shape),
                    placement,
                ))
            }
            "col2im" => {
                let (pos, named) =
                    self.split_args(name, args, 1, &["image", "window", "stride", "pad"], span)?;
                let value = self.expr(cx, pos[0], &Expected::at(target));
                let t = self.tensor_of(&value, "the argument")?.clone();
                let g = self.window(name, cx, &named, span)?;
                let (oh, ow) = g.out();
                let per_window = (g.kh * g.kw * g.c) as u64;
                let windows = (oh * ow) as u64;
                let bad_rows = matches!(t.shape.first(), Some(types::Dim::Known(r)) if !r.is_multiple_of(windows));
                match t.shape.as_slice() {
                    [_, types::Dim::Known(k)] if *k != per_window || bad_rows => {
                        self.error(
                            Diagnostic::error(
                                "E0202",
                                format!(
                                    "`col2im` of {}×{}×{} windows of {}×{}×{} images needs rows of {per_window} values, {windows} rows per image, but this is {t}",
                                    g.kh, g.kw, g.c, g.h, g.w, g.c
                                ),
                                Label::new(value.span, format!("this is {t}")),
                            )
                            .with_help("`col2im` takes what `im2col` of the same geometry gives"),
                        );
                        return None;
                    }
                    [_, _] if t.scalar.is_numeric() => {}
                    _ => {
                        self.error(Diagnostic::error(
                            "E0203",
                            "`col2im` takes a matrix of numbers: one window per row",
                            Label::new(value.span, format!("this is {t}")),
                        ));
                        return None;
                    }
                }
                let rows = match t.shape[0] {
                    types::Dim::Known(n) => types::Dim::Known(n / windows),
                    types::Dim::Runtime => types::Dim::Runtime,
                };
                let shape = vec![rows, types::Dim::Known((g.h * g.w * g.c) as u64)];
                let placement = value.placement;
                Some(make(
                    Builtin::Col2Im(g),
                    vec![value],
                    tensor(t.scalar, shape),
                    placement,
                ))
            }
            "log2_lookup" => {
                let (pos, named) = self.split_args(name, args, 2, &["from"], span)?;
                let value = self.expr(cx, pos[0], &Expected::at(target));
                let t = self.tensor_of(&value, "the argument")?.clone();
                if t.scalar != Scalar::Fixed {
                    self.error(
                        Diagnostic::error(
                            "E0201",
                            format!("`log2_lookup` of `{}` values", t.scalar.name()),
                            Label::new(value.span, format!("this is {t}")),
                        )
                        .with_help("`log2_lookup` takes `fixed` values"),
                    );
                    return None;
                }
                let table = self.const_table(cx, pos[1])?;
                let from = match named.get("from") {
                    Some(e) => match self.const_expr(cx.module, e)? {
                        super::ConstValue::Int(k) if (-64..=64).contains(&k) => k,
                        _ => {
                            self.error(
                                Diagnostic::error(
                                    "E0215",
                                    "`from` of `log2_lookup` is an `int` constant from -64 to 64",
                                    Label::new(e.span, "not such a constant"),
                                )
                                .with_help("`from: k` says the table's first entry is for 2^k <= x < 2^(k+1)"),
                            );
                            return None;
                        }
                    },
                    None => {
                        self.error(
                            Diagnostic::error(
                                "E0215",
                                "`log2_lookup` needs `from: k`, the exponent of the table's first entry",
                                Label::new(span, "in this `log2_lookup`"),
                            )
                            .with_help("`log2_lookup(x, table, from: -16)`: entry 0 is for 2^-16 <= x < 2^-15"),
                        );
                        return None;
                    }
                };
                let placement = value.placement;
                Some(make(
                    Builtin::Log2Lookup { from, table },
                    vec![value],
                    tensor(Scalar::Fixed, t.shape.clone()),
                    placement,
                ))
            }
            "reshape" => {
                let (pos, _) = self.split_args(name, args, 2, &[], span)?;
                let value = self.expr(cx, pos[0], &Expected::at(target));
                let t = self.tensor_of(&value, "the argument")?.clone();
                let (dims, mut exprs) = self.shape_arg(cx, pos[1])?;
                let size = |d: &[Dim]| {
                    d.iter().try_fold(1u64, |acc, d| match d {
                        Dim::Known(n) => acc.checked_mul(*n),
                        Dim::Runtime => None,
                    })
                };
                if let (Some(a), Some(b)) = (size(&t.shape), size(&dims))
                    && a != b
                {
                    self.error(Diagnostic::error(
                        "E0202",
                        format!(
                            "`reshape` of {a} elements into {} ({b} elements)",
                            shape_text(&dims)
                        ),
                        Label::new(span, "sizes differ"),
                    ));
                    return None;
                }
                let placement = value.placement;
                exprs.insert(0, value);
                Some(make(
                    Builtin::Reshape,
                    exprs,
                    tensor(t.scalar, dims),
                    placement,
                ))
            }
            "sum" | "max" | "argmax" => {
                let (pos, named) = self.split_args(name, args, 1, &["axis"], span)?;
                let value = self.expr(cx, pos[0], &Expected::at(target));
                let t = self.tensor_of(&value, "the argument")?.clone();
                if !t.scalar.is_numeric() {
                    self.error(
                        Diagnostic::error(
                            "E0201",
                            format!("`{name}` of `bool` values"),
                            Label::new(value.span, format!("this is {t}")),
                        )
                        .with_help("turn the `bool`s into numbers first: `select(c, 1, 0)`"),
                    );
                    return None;
                }
                let axis = self.axis(cx, named.get("axis").copied(), t.rank())?;
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
                if name != "sum" && t.shape.iter().any(|d| matches!(d, types::Dim::Known(0))) {
                    self.error(Diagnostic::error(
                        "E0202",
                        format!("`{name}` of an empty tensor"),
                        Label::new(value.span, format!("this is {t}")),
                    ));
                    return None;
                }
                let placement = value.placement;
                let (builtin, scalar) = match name {
                    "max" => (Builtin::Max { axis }, t.scalar),
                    "argmax" => (Builtin::ArgMax { axis }, Scalar::Int),
                    _ => (Builtin::Sum { axis }, t.scalar),
                };
                Some(make(builtin, vec![value], tensor(scalar, shape), placement))
            }
            "matmul" => {
                let (pos, _) = self.split_args(name, args, 2, &[], span)?;
                let mut a = self.expr(cx, pos[0], &Expected::at(target));
                let mut b = self.expr(cx, pos[1], &Expected::at(target));
                let (ta, tb) = (
                    self.tensor_of(&a, "a factor")?.clone(),
                    self.tensor_of(&b, "a factor")?.clone(),
                );
                let Some(scalar) = Scalar::arithmetic_join(ta.scalar, tb.scalar) else {
                    self.error(Diagnostic::error(
                        "E0201",
                        format!(
                            "`matmul` of `{}` and `{}`",
                            ta.scalar.name(),
                            tb.scalar.name()
                        ),
                        Label::new(span, "takes numbers"),
                    ));
                    return None;
                };
                let shape = match types::matmul_shape(&ta.shape, &tb.shape) {
                    Ok(s) => s,
                    Err(msg) => {
                        self.error(
                            Diagnostic::error("E0202", format!("`matmul`: {msg}"), Label::new(span, "these do not multiply"))
                                .with_secondary(Label::new(a.span, format!("this is {ta}")))
                                .with_secondary(Label::new(b.span, format!("this is {tb}")))
                                .with_help("`matmul(a, b)` multiplies an m×k matrix by a k×n matrix (or a k vector); `transpose` may help"),
                        );
                        return None;
                    }
                };
                if let Some(t) = target {
                    a = self.operand(cx, a, t);
                    b = self.operand(cx, b, t);
                }
                let placement = self.join(cx, &[&a, &b], span)?;
                let a = self.operand(cx, a, placement);
                let b = self.operand(cx, b, placement);
                let (a, b) = (self.widen(a, scalar), self.widen(b, scalar));
                Some(make(
                    Builtin::Matmul,
                    vec![a, b],
                    tensor(scalar, shape),
                    placement,
                ))
            }
            "select" => {
                let (pos, _) = self.split_args(name, args, 3, &[], span)?;
                let mut parts = Vec::new();
                for p in &pos {
                    let value = self.expr(
                        cx,
                        p,
                        &Expected {
                            ty: expected.ty.clone(),
                            placement: target,
                        },
                    );
                    self.tensor_of(&value, "an argument")?;
                    parts.push(value);
                }
                let tc = parts[0].ty.tensor()?.clone();
                if tc.scalar != Scalar::Bool {
                    self.error(
                        Diagnostic::error(
                            "E0201",
                            format!(
                                "the condition of `select` must be `bool`, not `{}`",
                                tc.scalar.name()
                            ),
                            Label::new(parts[0].span, format!("this is {tc}")),
                        )
                        .with_help("compare to get a `bool`: `select(x > 0, x, 0)`"),
                    );
                    return None;
                }
                let (ta, tb) = (parts[1].ty.tensor()?.clone(), parts[2].ty.tensor()?.clone());
                let scalar = match Scalar::arithmetic_join(ta.scalar, tb.scalar) {
                    Some(s) => s,
                    None if ta.scalar == tb.scalar => ta.scalar,
                    None => {
                        self.error(Diagnostic::error(
                            "E0201",
                            format!(
                                "`select` between `{}` and `{}`",
                                ta.scalar.name(),
                                tb.scalar.name()
                            ),
                            Label::new(span, "the two choices differ in kind"),
                        ));
                        return None;
                    }
                };
                let Some(shape) = types::broadcast(&tc.shape, &ta.shape)
                    .and_then(|s| types::broadcast(&s, &tb.shape))
                else {
                    self.error(Diagnostic::error(
                        "E0202",
                        format!(
                            "`select` of shapes {}, {} and {}",
                            shape_text(&tc.shape),
                            shape_text(&ta.shape),
                            shape_text(&tb.shape)
                        ),
                        Label::new(span, "these shapes do not broadcast"),
                    ));
                    return None;
                };
                if let Some(t) = target {
                    parts = parts.into_iter().map(|p| self.operand(cx, p, t)).collect();
                }
                let refs: Vec<&Expr> = parts.iter().collect();
                let placement = self.join(cx, &refs, span)?;
                let mut parts: Vec<Expr> = parts
                    .into_iter()
                    .map(|p| self.operand(cx, p, placement))
                    .collect();
                let c = parts.remove(0);
                let rest: Vec<Expr> = parts.into_iter().map(|p| self.widen(p, scalar)).collect();
                let mut args = vec![c];
                args.extend(rest);
                Some(make(
                    Builtin::Select,
                    args,
                    tensor(scalar, shape),
                    placement,
                ))
            }
            "zeros_like" => {
                let (pos, _) = self.split_args(name, args, 1, &[], span)?;
                let value = self.expr(cx, pos[0], &Expected::at(target));
                if !self.value_of(&value, "the argument of `zeros_like`") {
                    return None;
                }
                let (ty, placement) = (value.ty.clone(), value.placement);
                Some(make(Builtin::ZerosLike, vec![value], ty, placement))
            }
            "grad" | "value_and_grad" => self.grad_call(cx, name, args, span, expected),
            _ => unreachable!("`{name}` is listed in BUILTINS"),
        }
    }
}

fn shape_text(shape: &[Dim]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

fn describe_type(ty: &Type) -> String {
    match ty {
        Type::Unit => "`()` (no value)".to_string(),
        Type::Str => "a string".to_string(),
        Type::List(_) => "a list".to_string(),
        other => format!("`{other}`"),
    }
}

/// Names close enough to suggest one for the other (edit distance 1, or the same ignoring case).
fn similar(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()] <= 1
}

/// E0114 for a call with the wrong number of arguments (the definition is shown when it is in
/// the program's own file).
fn wrong_count(
    module: super::ModuleId,
    decl: &ast::FnDecl,
    given: usize,
    span: Span,
) -> Diagnostic {
    let n = decl.params.len();
    Diagnostic::error(
        "E0114",
        format!(
            "`{}` takes {n} argument{}, but {given} {} given",
            decl.name.name,
            if n == 1 { "" } else { "s" },
            if given == 1 { "is" } else { "are" }
        ),
        Label::new(span, "in this call"),
    )
    .with_secondary_if(
        module == MAIN_MODULE,
        Label::new(decl.name.span, "defined here"),
    )
}
