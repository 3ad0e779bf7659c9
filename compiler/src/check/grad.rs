//! `grad(f, a, …)` and `value_and_grad(f, a, …)` calls, and the gradients functions declare
//! for themselves (`fn sigmoid(x: fixed[..]) -> fixed[..] grad(x: sigmoid_grad) { … }`).
//!
//! The checker only types these: a `grad` call checks `f(a, …)` as an ordinary call and becomes
//! an `ExprKind::Grad` node; a `grad(…)` clause is checked by instantiating each gradient
//! function for the signature of the function's instance. The gradients themselves are derived
//! by the pass after the checker (`crate::grad`), which replaces every `Grad` node.

use tfe_grammar::Span;
use tfe_grammar::ast;

use super::expr::{BUILTINS, Expected};
use super::{Checker, FnContext, MAIN_MODULE, ModuleId};
use crate::diagnostics::{Diagnostic, Label};
use crate::hir::{Expr, ExprKind, FunctionId, Placement, Vjp};
use crate::types::{Dim, Scalar, Type};

impl<'a> Checker<'a> {
    /// A function by the name a module knows it by: its own, or imported.
    pub(super) fn function_named(
        &self,
        module: ModuleId,
        name: &str,
    ) -> Option<(ModuleId, &'a ast::FnDecl)> {
        if let Some(decl) = self.modules[module].functions.get(name) {
            return Some((module, decl));
        }
        let (m, n) = self.modules[module].imports.get(name)?;
        Some((*m, self.modules[*m].functions.get(n)?))
    }

    /// `grad(f, a, b, …)` or `value_and_grad(f, a, b, …)`.
    pub(super) fn grad_call(
        &mut self,
        cx: &mut FnContext,
        name: &str,
        args: &'a [ast::Arg],
        span: Span,
        expected: &Expected,
    ) -> Option<Expr> {
        let with_value = name == "value_and_grad";
        let usage = format!(
            "write `{name}(loss, model, x, y)`: a function, then its arguments; the gradient is with respect to the first argument"
        );
        let bad = |this: &mut Self, message: String, at: Span, label: &str, help: &str| {
            this.error(
                Diagnostic::error("E0503", message, Label::new(at, label.to_string()))
                    .with_help(help.to_string()),
            );
            None
        };
        let Some(first) = args.first().filter(|a| a.name.is_none()) else {
            return bad(
                self,
                format!("`{name}` takes a function first"),
                span,
                "in this call",
                &usage,
            );
        };
        let ast::ExprKind::Var(fname) = &first.value.kind else {
            return bad(
                self,
                format!("the first argument of `{name}` names a function"),
                first.value.span,
                "not a function name",
                &usage,
            );
        };
        let Some((module, decl)) = self.function_named(cx.module, &fname.name) else {
            if BUILTINS.contains(&fname.name.as_str()) {
                return bad(
                    self,
                    format!("`{}` is a builtin", fname.name),
                    fname.span,
                    "not a function of the program or the library",
                    &format!(
                        "`{name}` differentiates a function written in `.tfe`: wrap the builtin in one, `fn f(x: fixed[..]) -> fixed {{ … }}`"
                    ),
                );
            }
            self.error(
                Diagnostic::error(
                    "E0102",
                    format!("unknown function `{}`", fname.name),
                    Label::new(fname.span, "not defined or imported"),
                )
                .with_help("define it with `fn`, or import it from the standard library: `use std::nn::mse;`"),
            );
            return None;
        };
        if args.len() < 2 {
            return bad(
                self,
                format!("`{name}` needs the arguments of `{}`", fname.name),
                span,
                "nothing to differentiate at",
                &usage,
            );
        }
        if decl.params.first().is_none_or(|p| p.constant) {
            return bad(
                self,
                format!(
                    "the first parameter of `{}` is not a value to differentiate",
                    fname.name
                ),
                fname.span,
                "its first parameter is a constant, or it has none",
                &usage,
            );
        }
        let call = self.call_function(
            cx,
            module,
            decl,
            &args[1..],
            span,
            &Expected::at(expected.placement),
        );
        let ExprKind::Call {
            function,
            args: hir_args,
        } = call.kind
        else {
            if call.ty == Type::Error {
                return None;
            }
            return bad(
                self,
                format!("`{}` is applied field by field here, not once", fname.name),
                span,
                "a call mapped over a struct's fields",
                "`grad` differentiates one call: give the function a parameter of the struct's type",
            );
        };
        let (ret_type, ret_placement) = {
            let f = &self.functions[function];
            (f.ret_type.clone(), f.ret_placement)
        };
        let scalar = matches!(&ret_type, Type::Tensor(t)
            if t.scalar == Scalar::Fixed && t.shape.iter().all(|d| *d == Dim::Known(1)));
        if !scalar {
            let mut d = Diagnostic::error(
                "E0502",
                format!("`{name}` of `{}`, which returns `{ret_type}`", fname.name),
                Label::new(
                    fname.span,
                    format!("this returns `{ret_type}`, not a single `fixed`"),
                ),
            );
            if module == MAIN_MODULE {
                d = d.with_secondary(Label::new(
                    decl.ret.as_ref().map_or(decl.name.span, |r| r.span),
                    "declared here",
                ));
            }
            self.error(d.with_help(
                "a gradient is of one number: differentiate a function whose result is one `fixed` (or a tensor of one element), such as a loss from `std::nn`",
            ));
            return None;
        }
        let point = &hir_args[0];
        if !self.differentiable(&point.ty) {
            return bad(
                self,
                format!(
                    "`{name}` differentiates with respect to `fixed` values, not `{}`",
                    point.ty
                ),
                point.span,
                &format!("this is `{}`", point.ty),
                "the first argument is a `fixed` tensor, or a struct of `fixed` tensors",
            );
        }
        let (grad_type, grad_placement) = (point.ty.clone(), point.placement);
        let (ty, placement) = if with_value {
            let Some(placement) = super::flow::join_quiet(ret_placement, grad_placement) else {
                return bad(
                    self,
                    format!(
                        "the value of `{}` is {}, its gradient {}",
                        fname.name,
                        super::flow::describe(self, ret_placement),
                        super::flow::describe(self, grad_placement)
                    ),
                    span,
                    "a tuple lives at one placement",
                    "call `grad` for the gradient and the function itself for its value",
                );
            };
            (Type::Tuple(vec![ret_type, grad_type]), placement)
        } else {
            (grad_type, grad_placement)
        };
        Some(Expr {
            kind: ExprKind::Grad {
                function,
                args: hir_args,
                with_value,
            },
            ty,
            placement,
            span,
        })
    }

    /// Whether a value's type has a gradient: `fixed` tensors, and structs and tuples of them.
    fn differentiable(&self, ty: &Type) -> bool {
        match ty {
            Type::Tensor(t) => t.scalar == Scalar::Fixed,
            Type::Struct(st) => self.structs[st.id]
                .fields
                .iter()
                .all(|(_, t)| t.scalar == Scalar::Fixed),
            Type::Tuple(items) => items.iter().all(|t| self.differentiable(t)),
            _ => false,
        }
    }

    /// The gradient functions of a `grad(…)` clause, checked for the signature of the function
    /// instance `id`: each takes the function's parameters (its constant ones included, of the
    /// same names), then the function's result and the result's gradient, and returns the
    /// gradient of the parameter it is named for (of that parameter's type). Returns one entry
    /// per non-constant parameter, or `None` after an error.
    pub(super) fn custom_gradients(
        &mut self,
        module: ModuleId,
        decl: &'a ast::FnDecl,
        id: FunctionId,
        on_party: Option<usize>,
        call_span: Span,
    ) -> Option<Vec<Option<Vjp>>> {
        let clause = decl.grads.as_ref().expect("called for a `grad(…)` clause");
        let runtime: Vec<&ast::Param> = decl.params.iter().filter(|p| !p.constant).collect();
        let (param_types, ret): (Vec<(Type, Placement)>, (Type, Placement)) = {
            let f = &self.functions[id];
            (
                f.params
                    .iter()
                    .map(|l| (f.locals[*l].ty.clone(), f.locals[*l].placement))
                    .collect(),
                (f.ret_type.clone(), f.ret_placement),
            )
        };
        let bad = |this: &mut Self, message: String, at: Span, label: &str, help: String| {
            this.error(
                Diagnostic::error("E0504", message, Label::new(at, label.to_string()))
                    .with_help(help),
            );
        };
        let form = |g: &str| {
            let mut params: Vec<String> = decl
                .params
                .iter()
                .map(|p| {
                    let c = if p.constant { "const " } else { "" };
                    format!("{c}{}: …", p.name.name)
                })
                .collect();
            params.push("y: …".to_string());
            params.push("dy: …".to_string());
            format!(
                "a gradient function takes the function's parameters, then its result and the result's gradient: `fn {g}({})`",
                params.join(", ")
            )
        };
        let mut grads: Vec<Option<Vjp>> = vec![None; runtime.len()];
        let mut ok = true;
        for entry in &clause.entries {
            let Some(index) = runtime.iter().position(|p| p.name.name == entry.param.name) else {
                let constant = decl.params.iter().any(|p| p.name.name == entry.param.name);
                bad(
                    self,
                    if constant {
                        format!(
                            "`{}` is a constant parameter: it has no gradient",
                            entry.param.name
                        )
                    } else {
                        format!(
                            "`{}` has no parameter `{}`",
                            decl.name.name, entry.param.name
                        )
                    },
                    entry.param.span,
                    "not a parameter with a gradient",
                    "a `grad(…)` clause names parameters of the function that are not `const`"
                        .to_string(),
                );
                ok = false;
                continue;
            };
            if grads[index].is_some() {
                bad(
                    self,
                    format!("the gradient of `{}` is given twice", entry.param.name),
                    entry.param.span,
                    "given again here",
                    "name each parameter once".to_string(),
                );
                ok = false;
                continue;
            }
            let Some((g_module, g)) = self.function_named(module, &entry.function.name) else {
                bad(
                    self,
                    format!("unknown function `{}`", entry.function.name),
                    entry.function.span,
                    "not a function of this module",
                    form(&entry.function.name),
                );
                ok = false;
                continue;
            };
            let shape_fits = g.params.len() == decl.params.len() + 2
                && g.params.iter().zip(&decl.params).all(|(a, b)| {
                    a.constant == b.constant && (!a.constant || a.name.name == b.name.name)
                })
                && g.params[decl.params.len()..].iter().all(|p| !p.constant);
            if !shape_fits {
                bad(
                    self,
                    format!(
                        "`{}` does not take the parameters of a gradient of `{}`",
                        g.name.name, decl.name.name
                    ),
                    entry.function.span,
                    "its parameters do not fit",
                    form(&g.name.name),
                );
                ok = false;
                continue;
            }
            let mut args = param_types.clone();
            args.push(ret.clone());
            args.push(ret.clone());
            let g_runtime: Vec<&ast::Param> = g.params.iter().filter(|p| !p.constant).collect();
            let mut fits = true;
            for (param, (ty, placement)) in g_runtime.iter().zip(&args) {
                fits &= self.fits_param(g_module, param, ty, *placement);
            }
            // The variant for a public gradient of a secret result: a loss's gradient starts as
            // the public 1, and a product with a public value is cheaper than with shares.
            let mut public_args = args.clone();
            if let Some(last) = public_args.last_mut() {
                last.1 = Placement::Public;
            }
            let public_dy = matches!(ret.1, Placement::Secret(_));
            if !fits {
                bad(
                    self,
                    format!(
                        "`{}` does not take the types of `{}`'s parameters and result",
                        g.name.name, decl.name.name
                    ),
                    entry.function.span,
                    "its parameter types do not fit",
                    form(&g.name.name),
                );
                ok = false;
                continue;
            }
            let consts = self.const_params.last().cloned().unwrap_or_default();
            let Some(gid) =
                self.instantiate(g_module, g, args, consts.clone(), on_party, call_span)
            else {
                ok = false;
                continue;
            };
            let public_gid = if public_dy {
                match self.instantiate(g_module, g, public_args, consts, on_party, call_span) {
                    Some(id) => Some(id),
                    None => {
                        ok = false;
                        continue;
                    }
                }
            } else {
                None
            };
            let g_ret = self.functions[gid].ret_type.clone();
            if !super::types_compatible(&g_ret, &param_types[index].0) {
                bad(
                    self,
                    format!(
                        "`{}` returns `{g_ret}`, but the gradient of `{}` is `{}`",
                        g.name.name, entry.param.name, param_types[index].0
                    ),
                    entry.function.span,
                    "returns another type",
                    "a parameter's gradient has the parameter's type".to_string(),
                );
                ok = false;
                continue;
            }
            grads[index] = Some(Vjp {
                at_result: gid,
                public_dy: public_gid,
            });
        }
        ok.then_some(grads)
    }

    /// Whether a value of this type and placement fits a declared parameter (no conversions:
    /// the values come from the compiler, not from source).
    fn fits_param(
        &mut self,
        module: ModuleId,
        param: &ast::Param,
        ty: &Type,
        placement: Placement,
    ) -> bool {
        let Some((declared, any_shape)) = self.signature_type(module, &param.ty) else {
            return false;
        };
        let type_fits = match (&declared, ty) {
            (Type::Tensor(d), Type::Tensor(t)) if any_shape => d.scalar == t.scalar,
            (d, t) => super::types_compatible(d, t),
        };
        let placement_fits = match &param.placement {
            None => true,
            Some(p) => self.placement(p) == Some(placement),
        };
        type_fits && placement_fits
    }
}
