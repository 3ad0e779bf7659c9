//! Structs and tuples: declarations, literals, field access, taking tuples apart, field-wise
//! arithmetic, and calls mapped over the fields of a struct.
//!
//! A struct or tuple value lives at one placement, all its parts with it, and moves between
//! placements as a whole (the checker's `Share` and `Reveal` nodes wrap the whole value; the
//! lowering gives each part its own register). Building one joins its parts' placements as an
//! operator joins its operands'.

use std::collections::HashMap;

use tfe_grammar::Span;
use tfe_grammar::ast::{self, BinOp, UnOp};

use super::expr::{Expected, poison};
use super::{Checker, FnContext, ModuleId};
use crate::diagnostics::{Diagnostic, Label};
use crate::hir::{self, Expr, ExprKind, Placement, Stmt};
use crate::types::{Scalar, StructType, TensorType, Type};

impl<'a> Checker<'a> {
    /// Declares a struct of a module: its fields' types are resolved now (so a field's size may
    /// be any constant of the module). A declaration with errors is still recorded, marked
    /// broken, so that its uses report nothing more.
    pub(super) fn declare_struct(&mut self, module: ModuleId, decl: &'a ast::StructDecl) {
        let mut fields: Vec<(String, TensorType)> = Vec::new();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut broken = false;
        if decl.fields.is_empty() {
            broken = true;
            self.error(
                Diagnostic::error(
                    "E0219",
                    format!("the struct `{}` has no fields", decl.name.name),
                    Label::new(decl.span, "an empty struct"),
                )
                .with_help("a struct holds one or more tensors: `struct Linear { w: fixed[30, 1], b: fixed[1] }`"),
            );
        }
        for field in &decl.fields {
            if let Some(first) = seen.insert(&field.name.name, field.name.span) {
                broken = true;
                self.error(
                    Diagnostic::error(
                        "E0219",
                        format!("the field `{}` is declared twice", field.name.name),
                        Label::new(field.name.span, "declared again here"),
                    )
                    .with_secondary(Label::new(first, "first declared here"))
                    .with_help("give each field of a struct its own name"),
                );
                continue;
            }
            let ty = match &field.ty.kind {
                ast::TypeKind::Tensor { .. } => self.annotation_type(module, &field.ty),
                ast::TypeKind::Named(_) | ast::TypeKind::Tuple(_) => {
                    self.error(
                        Diagnostic::error(
                            "E0219",
                            format!("the field `{}` is not a tensor", field.name.name),
                            Label::new(field.ty.span, "a struct's fields are tensors or numbers"),
                        )
                        .with_help("write the tensors of an inner struct as fields of this one"),
                    );
                    None
                }
            };
            match ty {
                Some(t) if t.scalar == Scalar::Float => {
                    broken = true;
                    self.error(
                        Diagnostic::error(
                            "E0219",
                            format!("the field `{}` is `float`", field.name.name),
                            Label::new(field.ty.span, "`float` lives only at a party"),
                        )
                        .with_help("a struct may be shared or revealed as a whole: use `fixed`"),
                    );
                }
                Some(t) => fields.push((field.name.name.clone(), t)),
                None => broken = true,
            }
        }
        let id = self.structs.len();
        self.structs.push(hir::StructDef {
            name: decl.name.name.clone(),
            fields,
            span: decl.span,
        });
        self.broken_structs.push(broken);
        self.modules[module]
            .structs
            .insert(decl.name.name.clone(), id);
    }

    /// The struct a type name stands for in a module.
    pub(super) fn struct_named(
        &mut self,
        module: ModuleId,
        name: &ast::Ident,
    ) -> Option<StructType> {
        match self.modules[module].structs.get(&name.name) {
            Some(id) if self.broken_structs[*id] => None,
            Some(id) => Some(StructType {
                id: *id,
                name: name.name.clone(),
            }),
            None => {
                self.error(
                    Diagnostic::error(
                        "E0101",
                        format!("unknown type `{}`", name.name),
                        Label::new(name.span, "not a struct of this program"),
                    )
                    .with_help(format!(
                        "declare it with `struct {} {{ field: fixed[…], … }}`, or write a tensor type such as `fixed[10]`",
                        name.name
                    )),
                );
                None
            }
        }
    }

    fn field_names(&self, id: usize) -> String {
        let names: Vec<String> = self.structs[id]
            .fields
            .iter()
            .map(|(n, _)| format!("`{n}`"))
            .collect();
        names.join(", ")
    }

    /// `Name { field: value, … }`: every field once, each value fitted to its field's type;
    /// computed where the context says, or at the join of the fields' placements.
    pub(super) fn struct_literal(
        &mut self,
        cx: &mut FnContext,
        name: &'a ast::Ident,
        inits: &'a [ast::FieldInit],
        span: Span,
        expected: &Expected,
    ) -> Expr {
        let target = self.target(cx, expected);
        let Some(st) = self.struct_named(cx.module, name) else {
            // The values are still checked, for their own errors.
            for init in inits {
                self.expr(cx, &init.value, &Expected::at(target));
            }
            return poison(span);
        };
        let fields = self.structs[st.id].fields.clone();
        let mut values: Vec<Option<Expr>> = vec![None; fields.len()];
        let mut ok = true;
        for init in inits {
            let Some(i) = fields.iter().position(|(n, _)| *n == init.name.name) else {
                ok = false;
                self.error(
                    Diagnostic::error(
                        "E0216",
                        format!("`{}` has no field `{}`", st.name, init.name.name),
                        Label::new(init.name.span, "no such field"),
                    )
                    .with_help(format!("its fields are {}", self.field_names(st.id))),
                );
                self.expr(cx, &init.value, &Expected::at(target));
                continue;
            };
            if values[i].is_some() {
                ok = false;
                self.error(
                    Diagnostic::error(
                        "E0217",
                        format!("the field `{}` is given twice", init.name.name),
                        Label::new(init.name.span, "given again here"),
                    )
                    .with_help("a struct literal gives every field exactly once"),
                );
                continue;
            }
            let ty = Type::Tensor(fields[i].1.clone());
            let value = self.expr(
                cx,
                &init.value,
                &Expected {
                    ty: Some((ty.clone(), false)),
                    placement: target,
                },
            );
            let value_span = value.span;
            match self.fit_value(
                value,
                &ty,
                false,
                &format!("the field `{}`", init.name.name),
            ) {
                Some(v) => values[i] = Some(v),
                None => {
                    ok = false;
                    values[i] = Some(poison(value_span));
                }
            }
        }
        let missing: Vec<String> = fields
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|((n, _), _)| format!("`{n}`"))
            .collect();
        if !missing.is_empty() && ok {
            self.error(
                Diagnostic::error(
                    "E0217",
                    format!(
                        "`{}` needs {} {}",
                        st.name,
                        if missing.len() == 1 { "the field" } else { "the fields" },
                        missing.join(", ")
                    ),
                    Label::new(span, "missing here"),
                )
                .with_help("a struct literal gives every field exactly once: `zeros([…])` for a field that starts at zero"),
            );
            return poison(span);
        }
        if !ok {
            return poison(span);
        }
        let values: Vec<Expr> = values.into_iter().flatten().collect();
        match self.place_parts(cx, values, target, span) {
            Some((values, placement)) => Expr {
                kind: ExprKind::StructLit { fields: values },
                ty: Type::Struct(st),
                placement,
                span,
            },
            None => poison(span),
        }
    }

    /// Moves the parts of a struct or tuple being built to one placement: the context's, or
    /// the join of theirs (a party's part is then shared into a secret placement). Every part
    /// ends up held there, public ones included: the value is one placement's.
    fn place_parts(
        &mut self,
        cx: &FnContext,
        mut parts: Vec<Expr>,
        target: Option<Placement>,
        span: Span,
    ) -> Option<(Vec<Expr>, Placement)> {
        if let Some(t) = target {
            parts = parts.into_iter().map(|p| self.operand(cx, p, t)).collect();
        }
        let refs: Vec<&Expr> = parts.iter().collect();
        let placement = self.join(cx, &refs, span)?;
        let parts: Vec<Expr> = parts
            .into_iter()
            .map(|p| self.store(cx, p, placement))
            .collect();
        if parts.iter().any(|p| p.ty == Type::Error) {
            return None;
        }
        Some((parts, placement))
    }

    /// `v.field`: the field of a struct, at the struct's placement.
    pub(super) fn field(
        &mut self,
        cx: &mut FnContext,
        base: &'a ast::Expr,
        field: &'a ast::Ident,
        span: Span,
        expected: &Expected,
    ) -> Expr {
        let base = self.expr(cx, base, &Expected::at(self.target(cx, expected)));
        let st = match &base.ty {
            Type::Error => return poison(span),
            Type::Struct(st) => st.clone(),
            other => {
                let help = match other {
                    Type::Tuple(_) => "take a tuple apart with `let (a, b) = t;`",
                    _ => {
                        "only structs have fields: declare one with `struct Name { field: fixed[…] }`"
                    }
                };
                self.error(
                    Diagnostic::error(
                        "E0216",
                        format!("`{other}` has no field `{}`", field.name),
                        Label::new(field.span, "no such field"),
                    )
                    .with_secondary(Label::new(base.span, format!("this is `{other}`")))
                    .with_help(help),
                );
                return poison(span);
            }
        };
        let Some(index) = self.structs[st.id]
            .fields
            .iter()
            .position(|(n, _)| *n == field.name)
        else {
            self.error(
                Diagnostic::error(
                    "E0216",
                    format!("`{}` has no field `{}`", st.name, field.name),
                    Label::new(field.span, "no such field"),
                )
                .with_help(format!("its fields are {}", self.field_names(st.id))),
            );
            return poison(span);
        };
        let ty = Type::Tensor(self.structs[st.id].fields[index].1.clone());
        let placement = base.placement;
        Expr {
            kind: ExprKind::Field {
                base: Box::new(base),
                index,
            },
            ty,
            placement,
            span,
        }
    }

    /// `(a, b, …)`: a tuple, at one placement like a struct.
    pub(super) fn tuple(
        &mut self,
        cx: &mut FnContext,
        items: &'a [ast::Expr],
        span: Span,
        expected: &Expected,
    ) -> Expr {
        let target = self.target(cx, expected);
        let element_types: Vec<Option<(Type, bool)>> = match &expected.ty {
            Some((Type::Tuple(types), _)) if types.len() == items.len() => {
                types.iter().map(|t| Some((t.clone(), false))).collect()
            }
            _ => vec![None; items.len()],
        };
        let mut values = Vec::new();
        let mut ok = true;
        for (item, ty) in items.iter().zip(element_types) {
            let value = self.expr(
                cx,
                item,
                &Expected {
                    ty,
                    placement: target,
                },
            );
            ok &= self.value_of(&value, "an element of a tuple");
            values.push(value);
        }
        if !ok {
            return poison(span);
        }
        match self.place_parts(cx, values, target, span) {
            Some((values, placement)) => Expr {
                ty: Type::Tuple(values.iter().map(|v| v.ty.clone()).collect()),
                kind: ExprKind::Tuple(values),
                placement,
                span,
            },
            None => poison(span),
        }
    }

    /// `let (a, _, mut b) = value;`: one variable per element, at the tuple's placement.
    pub(super) fn let_tuple(
        &mut self,
        cx: &mut FnContext,
        bindings: &'a [ast::Binding],
        value: Expr,
        ty: Type,
        span: Span,
    ) -> Option<Stmt> {
        let types: Option<Vec<Type>> = match &ty {
            Type::Error => None,
            Type::Tuple(items) if items.len() == bindings.len() => Some(items.clone()),
            Type::Tuple(items) => {
                self.error(
                    Diagnostic::error(
                        "E0218",
                        format!(
                            "this tuple has {} elements, but the pattern names {}",
                            items.len(),
                            bindings.len()
                        ),
                        Label::new(value.span, format!("this is `{ty}`")),
                    )
                    .with_help("name every element, and write `_` for one you do not use"),
                );
                None
            }
            other => {
                self.error(
                    Diagnostic::error(
                        "E0218",
                        format!("`let (…)` takes a tuple apart, but this is `{other}`"),
                        Label::new(value.span, format!("this is `{other}`")),
                    )
                    .with_help("bind a single value with `let name = …;`"),
                );
                None
            }
        };
        let mut locals = Vec::new();
        for (i, binding) in bindings.iter().enumerate() {
            let Some(name) = &binding.name else {
                locals.push(None);
                continue;
            };
            if bindings[..i]
                .iter()
                .any(|b| b.name.as_ref().is_some_and(|n| n.name == name.name))
            {
                self.error(Diagnostic::error(
                    "E0103",
                    format!("`{}` is bound twice in this pattern", name.name),
                    Label::new(name.span, "bound again here"),
                ));
            }
            let ty = types.as_ref().map_or(Type::Error, |types| types[i].clone());
            locals.push(Some(cx.declare(hir::Local {
                name: name.name.clone(),
                ty,
                placement: value.placement,
                mutable: binding.mutable,
                span: binding.span,
            })));
        }
        types.map(|_| Stmt::LetTuple {
            locals,
            value,
            span,
        })
    }

    /// `-v` for a struct: field by field.
    pub(super) fn aggregate_unary(&mut self, op: UnOp, value: Expr, span: Span) -> Expr {
        let ok = op == UnOp::Neg
            && matches!(&value.ty, Type::Struct(st) if self.struct_scalar(st.id).is_some());
        if !ok {
            self.error(
                Diagnostic::error(
                    "E0201",
                    format!("`{}` does not apply to `{}`", op.symbol(), value.ty),
                    Label::new(value.span, format!("this is `{}`", value.ty)),
                )
                .with_help("`-` negates a struct of numbers field by field; take tuples apart with `let (a, b) = t;`"),
            );
            return poison(span);
        }
        let (ty, placement) = (value.ty.clone(), value.placement);
        Expr {
            kind: ExprKind::Unary {
                op,
                operand: Box::new(value),
            },
            ty,
            placement,
            span,
        }
    }

    /// The one kind of number of a struct's fields, if they have one (field-wise arithmetic
    /// needs it: a scalar operand widens to it).
    fn struct_scalar(&self, id: usize) -> Option<Scalar> {
        let fields = &self.structs[id].fields;
        let first = fields.first()?.1.scalar;
        (first.is_numeric() && fields.iter().all(|(_, t)| t.scalar == first)).then_some(first)
    }

    /// `a + b`, `a - b`, `a * b` between two values of one struct type, and `+ - *` between a
    /// struct and a scalar and `/` of a struct by a scalar: field by field.
    pub(super) fn aggregate_binary(
        &mut self,
        cx: &FnContext,
        op: BinOp,
        l: Expr,
        r: Expr,
        target: Option<Placement>,
        span: Span,
    ) -> Expr {
        let refuse = |this: &mut Self, message: String, help: &str| {
            this.error(
                Diagnostic::error("E0201", message, Label::new(span, "here"))
                    .with_secondary(Label::new(l.span, format!("this is `{}`", l.ty)))
                    .with_secondary(Label::new(r.span, format!("this is `{}`", r.ty)))
                    .with_help(help.to_string()),
            );
            poison(span)
        };
        let arithmetic = matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div);
        let (st, scalar_side) = match (&l.ty, &r.ty) {
            (Type::Struct(a), Type::Struct(b)) if a.id == b.id && op != BinOp::Div => {
                (a.clone(), None)
            }
            (Type::Struct(a), Type::Tensor(t)) if arithmetic => (a.clone(), Some((&r, t.clone()))),
            (Type::Tensor(t), Type::Struct(b)) if arithmetic && op != BinOp::Div => {
                (b.clone(), Some((&l, t.clone())))
            }
            _ => {
                return refuse(
                    self,
                    format!("`{}` of `{}` and `{}`", op.symbol(), l.ty, r.ty),
                    "`+ - *` apply field by field to two structs of one type, or to a struct and a scalar; `/` divides a struct by a scalar; take tuples apart with `let (a, b) = t;`",
                );
            }
        };
        let Some(kind) = self.struct_scalar(st.id) else {
            return refuse(
                self,
                format!(
                    "`{}` of `{}`, whose fields are not all one kind of number",
                    op.symbol(),
                    st.name
                ),
                "field-wise arithmetic needs fields that are all `fixed` (or all `int`)",
            );
        };
        if let Some((scalar, t)) = &scalar_side {
            if t.rank() != 0 {
                self.error(
                    Diagnostic::error(
                        "E0202",
                        format!("`{}` of a struct and a tensor {t}", op.symbol()),
                        Label::new(scalar.span, format!("this is {t}, not a single number")),
                    )
                    .with_help("a struct combines with another struct of its type or with a single number, field by field"),
                );
                return poison(span);
            }
            if Scalar::arithmetic_join(t.scalar, kind) != Some(kind) {
                return refuse(
                    self,
                    format!(
                        "`{}` of `{}` fields and a `{}`",
                        op.symbol(),
                        kind.name(),
                        t.scalar.name()
                    ),
                    "`int` widens to `fixed`; nothing else converts",
                );
            }
        }
        let (mut l, mut r) = (l, r);
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
        if op == BinOp::Div
            && matches!(placement, Placement::Secret(_))
            && r.placement != Placement::Public
        {
            self.error(
                Diagnostic::error(
                    "E0207",
                    "division by a secret value",
                    Label::new(
                        r.span,
                        format!(
                            "this divisor is {}",
                            super::flow::describe(self, r.placement)
                        ),
                    ),
                )
                .with_help("secret values may be divided only by public ones"),
            );
            return poison(span);
        }
        let widen = |this: &mut Self, e: Expr| {
            if e.ty.tensor().is_some() {
                this.widen(e, kind)
            } else {
                e
            }
        };
        let (l, r) = (widen(self, l), widen(self, r));
        Expr {
            kind: ExprKind::Binary {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
            },
            ty: Type::Struct(st),
            placement,
            span,
        }
    }

    /// A call of a function taking any shape of `fixed` (`fixed[..]`) with struct (or tuple)
    /// arguments: the function is applied field by field, each field's call checked on its own,
    /// and the results gathered into a value of the same type. Every argument is computed once,
    /// into a variable of its own. All struct arguments must be of one type.
    pub(super) fn map_call(
        &mut self,
        cx: &mut FnContext,
        module: ModuleId,
        decl: &'a ast::FnDecl,
        args: Vec<Expr>,
        consts: HashMap<String, super::ConstValue>,
        span: Span,
    ) -> Expr {
        let shape = args
            .iter()
            .find(|a| a.ty.is_aggregate())
            .map(|a| a.ty.clone())
            .expect("a mapped call has a struct argument");
        let runtime_params: Vec<&ast::Param> = decl.params.iter().filter(|p| !p.constant).collect();
        for (param, arg) in runtime_params.iter().zip(&args) {
            if arg.ty.is_aggregate() && !super::types_compatible(&arg.ty, &shape) {
                self.error(
                    Diagnostic::error(
                        "E0201",
                        format!(
                            "`{}` is applied field by field to `{shape}`, but `{}` is `{}`",
                            decl.name.name, param.name.name, arg.ty
                        ),
                        Label::new(arg.span, format!("this is `{}`", arg.ty)),
                    )
                    .with_help("the struct arguments of a call mapped over fields are of one type"),
                );
                return poison(span);
            }
            if arg.ty.is_aggregate() && !param.ty.is_any_shape() {
                self.error(
                    Diagnostic::error(
                        "E0201",
                        format!(
                            "`{}` is applied field by field to `{shape}`, but its parameter `{}` is not `fixed[..]`",
                            decl.name.name, param.name.name
                        ),
                        Label::new(arg.span, format!("this is `{}`", arg.ty)),
                    )
                    .with_help("only parameters of any shape (`fixed[..]`) take struct arguments field by field"),
                );
                return poison(span);
            }
        }
        // Each argument once: a variable or a literal as it is, anything else into a variable
        // the fields' calls read.
        let mut stmts = Vec::new();
        let mut values = Vec::new();
        for (i, arg) in args.into_iter().enumerate() {
            if matches!(
                arg.kind,
                ExprKind::Local(_) | ExprKind::Int(_) | ExprKind::Fixed(_) | ExprKind::Bool(_)
            ) {
                values.push(arg);
                continue;
            }
            let local = cx.declare(hir::Local {
                name: format!("{}#{i}", decl.name.name),
                ty: arg.ty.clone(),
                placement: arg.placement,
                mutable: false,
                span: arg.span,
            });
            values.push(Expr {
                kind: ExprKind::Local(local),
                ty: arg.ty.clone(),
                placement: arg.placement,
                span: arg.span,
            });
            stmts.push(Stmt::Let {
                local,
                value: arg,
                span,
            });
        }
        let mut results = Vec::new();
        for (path, leaf) in self.leaves(&shape) {
            let mut leaf_args = Vec::new();
            let mut signature = Vec::new();
            for value in &values {
                let mut e = value.clone();
                if value.ty.is_aggregate() {
                    for &index in &path {
                        let part = self.parts_of(&e.ty)[index].clone();
                        e = Expr {
                            kind: ExprKind::Field {
                                base: Box::new(e),
                                index,
                            },
                            ty: part,
                            placement: value.placement,
                            span: value.span,
                        };
                    }
                }
                signature.push((e.ty.clone(), e.placement));
                leaf_args.push(e);
            }
            let Some(function) =
                self.instantiate(module, decl, signature, consts.clone(), cx.on_party, span)
            else {
                return poison(span);
            };
            let f = &self.functions[function];
            let (ret, ret_placement, reveals) =
                (f.ret_type.clone(), f.ret_placement, f.reveals.clone());
            if !super::types_compatible(&ret, &Type::Tensor(leaf.clone())) {
                self.error(
                    Diagnostic::error(
                        "E0201",
                        format!(
                            "`{}` applied field by field to `{shape}` gives `{ret}` for a field of type `{leaf}`",
                            decl.name.name
                        ),
                        Label::new(span, "in this call"),
                    )
                    .with_help("a function mapped over a struct's fields returns a value of each field's type"),
                );
                return poison(span);
            }
            for target in reveals {
                self.note_reveal(cx, target, span, Some(&decl.name.name));
            }
            results.push(Expr {
                kind: ExprKind::Call {
                    function,
                    args: leaf_args,
                },
                ty: Type::Tensor(leaf),
                placement: ret_placement,
                span,
            });
        }
        let mut results = results.into_iter();
        let Some(tail) = self.rebuild(cx, &shape, &mut results, span) else {
            return poison(span);
        };
        let (ty, placement) = (tail.ty.clone(), tail.placement);
        Expr {
            kind: ExprKind::Block(hir::Block {
                stmts,
                tail: Some(Box::new(tail)),
                span,
            }),
            ty,
            placement,
            span,
        }
    }

    /// The types of the parts of a struct or tuple.
    fn parts_of(&self, ty: &Type) -> Vec<Type> {
        match ty {
            Type::Struct(st) => self.structs[st.id]
                .fields
                .iter()
                .map(|(_, t)| Type::Tensor(t.clone()))
                .collect(),
            Type::Tuple(items) => items.clone(),
            _ => Vec::new(),
        }
    }

    /// Every tensor inside a struct or tuple type: its path of part indices, and its type.
    fn leaves(&self, ty: &Type) -> Vec<(Vec<usize>, TensorType)> {
        match ty {
            Type::Tensor(t) => vec![(Vec::new(), t.clone())],
            _ => self
                .parts_of(ty)
                .iter()
                .enumerate()
                .flat_map(|(i, part)| {
                    self.leaves(part).into_iter().map(move |(mut path, t)| {
                        path.insert(0, i);
                        (path, t)
                    })
                })
                .collect(),
        }
    }

    /// A value of type `ty` from its tensors, in the order of [`Checker::leaves`].
    fn rebuild(
        &mut self,
        cx: &FnContext,
        ty: &Type,
        leaves: &mut impl Iterator<Item = Expr>,
        span: Span,
    ) -> Option<Expr> {
        if let Type::Tensor(_) = ty {
            return leaves.next();
        }
        let mut parts = Vec::new();
        for part in self.parts_of(ty) {
            parts.push(self.rebuild(cx, &part, leaves, span)?);
        }
        let (parts, placement) = self.place_parts(cx, parts, None, span)?;
        let kind = match ty {
            Type::Struct(_) => ExprKind::StructLit { fields: parts },
            _ => ExprKind::Tuple(parts),
        };
        Some(Expr {
            kind,
            ty: ty.clone(),
            placement,
            span,
        })
    }
}
