//! The information-flow rules: how placements combine, how a value moves to another
//! placement, and which values may steer control flow. Every error of the E03xx family is
//! raised here (except those tied to one builtin), with a label on the value, a label where the
//! value got its placement, and a help line with the fix.

use tfe_grammar::Span;

use super::{Checker, FnContext};
use crate::diagnostics::{Diagnostic, Label};
use crate::hir::{Expr, ExprKind, Placement};
use crate::types::{Scalar, Type};

/// The join of two placements when it exists without an error: public adapts to anything, a
/// party's value joins a secret placement (it will be shared into it).
pub(crate) fn join_quiet(a: Placement, b: Placement) -> Option<Placement> {
    match (a, b) {
        (Placement::Public, x) | (x, Placement::Public) => Some(x),
        (x, y) if x == y => Some(x),
        (Placement::Party(_), Placement::Secret(s))
        | (Placement::Secret(s), Placement::Party(_)) => Some(Placement::Secret(s)),
        _ => None,
    }
}

/// What a placement is, in words: "public", "held by `alice`", "secret (at `rep`)".
pub(super) fn describe(checker: &Checker<'_>, placement: Placement) -> String {
    match placement {
        Placement::Public => "public".to_string(),
        Placement::Party(p) => format!("held by `{}`", checker.parties[p].name),
        Placement::Secret(s) => format!("secret (at `{}`)", checker.secrets[s].name),
    }
}

fn name_of(checker: &Checker<'_>, placement: Placement) -> String {
    match placement {
        Placement::Public => "public".to_string(),
        Placement::Party(p) => checker.parties[p].name.clone(),
        Placement::Secret(s) => checker.secrets[s].name.clone(),
    }
}

/// Where a control-flow value is used, for messages.
#[derive(Debug, Clone, Copy)]
pub(super) enum Control {
    IfCondition,
    WhileCondition,
    LoopBound,
    Index,
    Shape,
}

impl Control {
    fn noun(self) -> &'static str {
        match self {
            Control::IfCondition => "an `if` condition",
            Control::WhileCondition => "a `while` condition",
            Control::LoopBound => "a loop bound",
            Control::Index => "an index or slice bound",
            Control::Shape => "a size or slice bound",
        }
    }
}

impl Checker<'_> {
    /// Where a value got its placement, as a secondary label: the declaration of the variable it
    /// reads, the `read_csv` that produced it, the reveal or sharing that moved it.
    pub(super) fn origin(&self, cx: &FnContext, expr: &Expr) -> Option<Label> {
        let here = describe(self, expr.placement);
        match &expr.kind {
            ExprKind::Local(id) => {
                let local = &cx.locals[*id];
                Some(Label::new(
                    local.span,
                    format!("`{}` is {here} because of its declaration here", local.name),
                ))
            }
            ExprKind::Builtin { builtin, .. }
                if matches!(builtin.name(), "read_csv" | "read_npy") =>
            {
                Some(Label::new(expr.span, format!("read here: {here}")))
            }
            ExprKind::Share { .. } => Some(Label::new(expr.span, format!("shared here: {here}"))),
            ExprKind::Reveal { .. } => {
                Some(Label::new(expr.span, format!("revealed here: {here}")))
            }
            ExprKind::Call { .. } => Some(Label::new(
                expr.span,
                format!("this call returns a value {here}"),
            )),
            ExprKind::Unary { operand, .. } | ExprKind::Convert { value: operand, .. } => {
                self.origin(cx, operand)
            }
            ExprKind::Binary { lhs, rhs, .. } => [lhs, rhs]
                .into_iter()
                .find(|e| e.placement == expr.placement)
                .and_then(|e| self.origin(cx, e)),
            ExprKind::Index { base, .. } => self.origin(cx, base),
            ExprKind::Builtin { args, .. } | ExprKind::List(args) => args
                .iter()
                .find(|e| e.placement == expr.placement)
                .and_then(|e| self.origin(cx, e)),
            _ => None,
        }
    }

    /// The placement where an operation on these operands is computed, without a target: public
    /// operands adapt; one party's values stay at that party; parties' values join a secret
    /// placement. Two parties in the clear, or two secret placements, are errors.
    pub(super) fn join(
        &mut self,
        cx: &FnContext,
        operands: &[&Expr],
        span: Span,
    ) -> Option<Placement> {
        let mut joined = Placement::Public;
        let mut witness: Option<&Expr> = None;
        for operand in operands {
            if operand.ty == Type::Error {
                return None;
            }
            match join_quiet(joined, operand.placement) {
                Some(p) => {
                    if p != joined || witness.is_none() && p != Placement::Public {
                        witness = Some(operand);
                    }
                    joined = p;
                }
                None => {
                    let first = witness.expect("a non-public join has a witness");
                    self.mixed_placements(cx, first, operand, span);
                    return None;
                }
            }
        }
        Some(joined)
    }

    fn mixed_placements(&mut self, cx: &FnContext, a: &Expr, b: &Expr, span: Span) {
        let (code, message, help) = match (a.placement, b.placement) {
            (Placement::Party(_), Placement::Party(_)) => (
                "E0303",
                format!(
                    "this combines values of `{}` and `{}` in the clear",
                    name_of(self, a.placement),
                    name_of(self, b.placement)
                ),
                "to compute on both without either learning the other's data, compute at a secret \
                 placement: annotate the `let` (`let z: … @rep = …;`); or, if one party may learn \
                 the other's value, `reveal(x, to: …)` it first"
                    .to_string(),
            ),
            _ => (
                "E0307",
                format!(
                    "this combines values of two secret placements, `{}` and `{}`",
                    name_of(self, a.placement),
                    name_of(self, b.placement)
                ),
                "values cannot move between secret placements; compute this part of the program \
                 at one of them"
                    .to_string(),
            ),
        };
        let mut d = Diagnostic::error(code, message, Label::new(span, "combined here"));
        for e in [a, b] {
            d = d.with_secondary(self.origin(cx, e).unwrap_or_else(|| {
                Label::new(e.span, format!("this is {}", describe(self, e.placement)))
            }));
        }
        self.error(d.with_help(help));
    }

    /// Moves a value towards `target` to be used as an operand there: a party's value is shared
    /// into a secret placement; public values stay public (they adapt to any placement); anything
    /// else needs a reveal and is an error.
    pub(super) fn operand(&mut self, cx: &FnContext, value: Expr, target: Placement) -> Expr {
        if value.placement == Placement::Public
            || value.placement == target
            || value.ty == Type::Error
        {
            return value;
        }
        self.move_to(cx, value, target)
    }

    /// Moves a value to exactly `target`, where it is stored (a `let`, an assignment, an
    /// argument, a returned value). A public value is shared into a secret placement, or simply
    /// held by a party.
    pub(super) fn store(&mut self, cx: &FnContext, value: Expr, target: Placement) -> Expr {
        if value.placement == target || value.ty == Type::Error {
            return value;
        }
        match (value.placement, target) {
            (Placement::Public, Placement::Party(_)) => Expr {
                placement: target,
                ..value
            },
            _ => self.move_to(cx, value, target),
        }
    }

    fn move_to(&mut self, cx: &FnContext, value: Expr, target: Placement) -> Expr {
        // Code in `on p` runs at p alone: nothing it computes may be shared or sent elsewhere
        // (whether it happens could depend on p's data).
        if let Some(p) = cx.on_party
            && target != Placement::Party(p)
        {
            let party = self.parties[p].name.clone();
            self.error(
                Diagnostic::error(
                    "E0306",
                    format!(
                        "a value would leave `on {party}` for `{}`",
                        name_of(self, target)
                    ),
                    Label::new(
                        value.span,
                        format!("this would move to `{}`", name_of(self, target)),
                    ),
                )
                .with_help(format!(
                    "code in `on {party}` runs at {party} alone and keeps its values there; \
                     give the block a value and share or reveal it after the block"
                )),
            );
            return Expr {
                ty: Type::Error,
                ..value
            };
        }
        match (value.placement, target) {
            (Placement::Public | Placement::Party(_), Placement::Secret(s)) => {
                // A party's f64 values are encoded as fixed-point when shared.
                let value = match value.ty.tensor() {
                    Some(t) if t.scalar == Scalar::Float => {
                        let ty = Type::Tensor(t.with_scalar(Scalar::Fixed));
                        Expr {
                            ty,
                            placement: value.placement,
                            span: value.span,
                            kind: ExprKind::Convert {
                                value: Box::new(value),
                                to: Scalar::Fixed,
                            },
                        }
                    }
                    _ => value,
                };
                Expr {
                    ty: value.ty.clone(),
                    placement: target,
                    span: value.span,
                    kind: ExprKind::Share {
                        value: Box::new(value),
                        to: s,
                    },
                }
            }
            (Placement::Public, _) => Expr {
                placement: target,
                ..value
            },
            (from, to) => {
                self.flow_error(cx, &value, from, to);
                Expr {
                    ty: Type::Error,
                    ..value
                }
            }
        }
    }

    fn flow_error(&mut self, cx: &FnContext, value: &Expr, from: Placement, to: Placement) {
        let what = match &value.kind {
            ExprKind::Local(id) => format!("`{}`", cx.locals[*id].name),
            _ => "this value".to_string(),
        };
        let reveal = match to {
            Placement::Party(p) => format!("reveal(x, to: {})", self.parties[p].name),
            _ => "reveal(x)".to_string(),
        };
        let destination = match to {
            Placement::Public => "public".to_string(),
            _ => format!("`{}`", name_of(self, to)),
        };
        let (code, message, help) = match (from, to) {
            (Placement::Secret(_), Placement::Public) => (
                "E0301",
                format!("{what} is secret and would become public without a reveal"),
                format!("if every party may learn it, declassify it explicitly with `{reveal}`"),
            ),
            (Placement::Secret(_), _) => (
                "E0301",
                format!("{what} is secret and would reach {destination} without a reveal"),
                format!(
                    "a secret value reaches a party only through a reveal; if {destination} may \
                     learn it, write `{reveal}`"
                ),
            ),
            (Placement::Party(p), Placement::Public) => (
                "E0302",
                format!(
                    "{what} is held by `{}` and would become public without a reveal",
                    self.parties[p].name
                ),
                format!("if every party may learn it, declassify it explicitly with `{reveal}`"),
            ),
            (Placement::Party(p), _) => (
                "E0302",
                format!(
                    "{what} is held by `{}` and would reach {destination} without a reveal",
                    self.parties[p].name
                ),
                format!(
                    "a party's value reaches another party only through `{reveal}`; to compute on \
                     it without revealing it, use a secret placement"
                ),
            ),
            (Placement::Public, _) => unreachable!("public values move freely"),
        };
        let code = if let (Placement::Secret(_), Placement::Secret(_)) = (from, to) {
            "E0307"
        } else {
            code
        };
        let message = if code == "E0307" {
            format!(
                "{what} is at `{}` and cannot move to `{}`",
                name_of(self, from),
                name_of(self, to)
            )
        } else {
            message
        };
        let mut d = Diagnostic::error(
            code,
            message,
            Label::new(value.span, format!("this is {}", describe(self, from))),
        );
        if let Some(origin) = self.origin(cx, value)
            && origin.span != value.span
        {
            d = d.with_secondary(origin);
        }
        self.error(d.with_help(if code == "E0307" {
            "values cannot move between secret placements; compute this part of the program at one of them".to_string()
        } else {
            help
        }));
    }

    /// Checks that a value may steer control flow (or size a tensor): it must be public, or held
    /// by the party whose `on` block this is.
    pub(super) fn control(&mut self, cx: &FnContext, value: &Expr, what: Control) -> bool {
        match value.placement {
            _ if value.ty == Type::Error => false,
            Placement::Public => true,
            Placement::Party(p) if cx.on_party == Some(p) && !matches!(what, Control::Shape) => {
                true
            }
            Placement::Party(p) => {
                let name = &self.parties[p].name;
                let (message, help) = if matches!(what, Control::Shape) {
                    (
                        format!("{} is held by `{name}`", what.noun()),
                        format!(
                            "shapes are public: every party sees the sizes of tensors, so a size \
                             (or a slice bound) cannot be `{name}`'s private value; if every party \
                             may learn it, `reveal` it first"
                        ),
                    )
                } else {
                    (
                        format!("{} is held by `{name}` outside `on {name}`", what.noun()),
                        format!(
                            "control flow on a party's data must run at that party: put this code in \
                             `on {name} {{ … }}`, or, if every party may learn the value, `reveal` it"
                        ),
                    )
                };
                let mut d = Diagnostic::error(
                    "E0305",
                    message,
                    Label::new(value.span, format!("this is held by `{name}`")),
                );
                if let Some(origin) = self.origin(cx, value) {
                    d = d.with_secondary(origin);
                }
                self.error(d.with_help(help));
                false
            }
            Placement::Secret(s) => {
                let name = &self.secrets[s].name;
                let help = match what {
                    Control::IfCondition => {
                        "compute both branches and choose elementwise with `select(c, a, b)`"
                            .to_string()
                    }
                    Control::WhileCondition | Control::LoopBound => {
                        "the number of iterations is visible to every party, so it must be public; \
                         loop a public number of times and use `select` inside"
                            .to_string()
                    }
                    Control::Index => {
                        "indices and slice bounds must be public; to pick an element by a secret \
                         index, multiply by a one-hot mask and `sum`"
                            .to_string()
                    }
                    Control::Shape => {
                        "shapes are public: they cannot depend on secret values".to_string()
                    }
                };
                let mut d = Diagnostic::error(
                    "E0304",
                    format!("{} depends on a secret value", what.noun()),
                    Label::new(value.span, format!("this is secret (at `{name}`)")),
                );
                if let Some(origin) = self.origin(cx, value) {
                    d = d.with_secondary(origin);
                }
                self.error(d.with_help(help));
                false
            }
        }
    }
}
