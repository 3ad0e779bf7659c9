//! Constants and written types. Constants are public and evaluated at compile time (they size
//! tensors: `fixed[N, 1]`); a written type becomes a [`TensorType`].

use tfe_grammar::ast;

use super::{Checker, ModuleId};
use crate::diagnostics::{Diagnostic, Label};
use crate::types::{Dim, Scalar, TensorType, Type};

/// The value of a constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ConstValue {
    Int(i64),
    Fixed(f64),
    Bool(bool),
}

impl ConstValue {
    pub(crate) fn scalar(self) -> Scalar {
        match self {
            ConstValue::Int(_) => Scalar::Int,
            ConstValue::Fixed(_) => Scalar::Fixed,
            ConstValue::Bool(_) => Scalar::Bool,
        }
    }

    fn as_f64(self) -> Option<f64> {
        match self {
            ConstValue::Int(v) => Some(v as f64),
            ConstValue::Fixed(v) => Some(v),
            ConstValue::Bool(_) => None,
        }
    }
}

pub(super) fn scalar_of(scalar: ast::ScalarType) -> Scalar {
    match scalar {
        ast::ScalarType::Fixed => Scalar::Fixed,
        ast::ScalarType::Int => Scalar::Int,
        ast::ScalarType::Bool => Scalar::Bool,
        ast::ScalarType::Float => Scalar::Float,
    }
}

impl Checker<'_> {
    /// A name known at compile time: a `const` parameter of the function instance being
    /// checked, or else a constant of the module.
    pub(super) fn named_constant(
        &mut self,
        module: ModuleId,
        name: &str,
    ) -> Option<Option<ConstValue>> {
        if let Some(v) = self.const_params.last().and_then(|c| c.get(name)) {
            return Some(Some(*v));
        }
        self.constant(module, name)
    }

    /// The value of a named constant of a module, evaluating it on first use.
    pub(super) fn constant(&mut self, module: ModuleId, name: &str) -> Option<Option<ConstValue>> {
        let key = (module, name.to_string());
        if let Some(value) = self.constants.get(&key) {
            return Some(*value);
        }
        let decl = *self.modules[module].constants.get(name)?;
        if self.constants_in_progress.len() > super::MAX_CALL_DEPTH {
            self.error(
                Diagnostic::error(
                    "E0116",
                    format!(
                        "a constant defined through more than {} others",
                        super::MAX_CALL_DEPTH
                    ),
                    Label::new(
                        decl.name.span,
                        format!(
                            "`{name}` is constant {} of a chain, each defined through the next",
                            self.constants_in_progress.len() + 1
                        ),
                    ),
                )
                .with_help("a constant may be defined through at most 64 others (`A` in terms of `B`, `B` in terms of `C`, …): give some of them their values directly"),
            );
            self.constants.insert(key, None);
            return Some(None);
        }
        if !self.constants_in_progress.insert(key.clone()) {
            self.error(
                Diagnostic::error(
                    "E0115",
                    format!("the constant `{name}` depends on itself"),
                    Label::new(decl.name.span, "defined in terms of itself"),
                )
                .with_help("give the constant a value that does not refer back to it"),
            );
            return Some(None);
        }
        let value = self.const_expr(module, &decl.value);
        let value = match (value, &decl.ty) {
            (Some(v), Some(ty)) => self.const_conform(v, ty, &decl.value),
            (v, _) => v,
        };
        self.constants_in_progress.remove(&key);
        self.constants.insert(key, value);
        Some(value)
    }

    fn const_conform(
        &mut self,
        value: ConstValue,
        ty: &ast::Type,
        expr: &ast::Expr,
    ) -> Option<ConstValue> {
        let Some((scalar, dims)) = ty.tensor() else {
            self.error(
                Diagnostic::error(
                    "E0115",
                    "constants are scalars",
                    Label::new(ty.span, "not a scalar type"),
                )
                .with_help("write `const N: int = 3;`; build structs and tuples inside functions"),
            );
            return None;
        };
        if scalar == ast::ScalarType::Float {
            self.error(
                Diagnostic::error(
                    "E0204",
                    "constants cannot be `float`",
                    Label::new(ty.span, "a `float` constant"),
                )
                .with_help("constants are public, and `float` exists only at a party: use `fixed`"),
            );
            return None;
        }
        if dims.is_some() {
            self.error(
                Diagnostic::error(
                    "E0115",
                    "constants are scalars",
                    Label::new(ty.span, "a tensor type"),
                )
                .with_help("write `const N: int = 3;`; build tensors inside functions"),
            );
            return None;
        }
        match (scalar_of(scalar), value) {
            (Scalar::Fixed | Scalar::Float, ConstValue::Int(v)) => {
                Some(ConstValue::Fixed(v as f64))
            }
            (s, v) if s == v.scalar() || (s == Scalar::Float && v.scalar() == Scalar::Fixed) => {
                Some(v)
            }
            (s, v) => {
                self.error(Diagnostic::error(
                    "E0201",
                    format!(
                        "the constant is declared `{}` but its value is `{}`",
                        s.name(),
                        v.scalar().name()
                    ),
                    Label::new(expr.span, format!("this is {}", v.scalar().name())),
                ));
                None
            }
        }
    }

    /// Evaluates a constant expression: literals, other constants, arithmetic, comparisons.
    pub(super) fn const_expr(&mut self, module: ModuleId, expr: &ast::Expr) -> Option<ConstValue> {
        use ast::{BinOp, ExprKind, UnOp};
        match &expr.kind {
            ExprKind::Int(v) => match i64::try_from(*v) {
                Ok(v) => Some(ConstValue::Int(v)),
                Err(_) => self.not_constant(expr),
            },
            ExprKind::Fixed(v) => Some(ConstValue::Fixed(*v)),
            ExprKind::Bool(b) => Some(ConstValue::Bool(*b)),
            ExprKind::Var(name) => match self.named_constant(module, &name.name) {
                Some(v) => v,
                None => {
                    self.error(
                        Diagnostic::error(
                            "E0115",
                            format!("`{}` is not a constant", name.name),
                            Label::new(name.span, "not known at compile time"),
                        )
                        .with_help("a constant's value is built from literals and other constants"),
                    );
                    None
                }
            },
            ExprKind::Unary {
                op: UnOp::Neg,
                operand,
            } => match self.const_expr(module, operand)? {
                ConstValue::Fixed(v) => Some(ConstValue::Fixed(-v)),
                ConstValue::Int(v) => Some(ConstValue::Int(-v)),
                ConstValue::Bool(_) => self.not_constant(expr),
            },
            ExprKind::Unary {
                op: UnOp::Not,
                operand,
            } => match self.const_expr(module, operand)? {
                ConstValue::Bool(b) => Some(ConstValue::Bool(!b)),
                _ => self.not_constant(expr),
            },
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.const_expr(module, lhs)?;
                let b = self.const_expr(module, rhs)?;
                match (op, a, b) {
                    (BinOp::Add, ConstValue::Int(x), ConstValue::Int(y)) => {
                        x.checked_add(y).map(ConstValue::Int)
                    }
                    (BinOp::Sub, ConstValue::Int(x), ConstValue::Int(y)) => {
                        x.checked_sub(y).map(ConstValue::Int)
                    }
                    (BinOp::Mul, ConstValue::Int(x), ConstValue::Int(y)) => {
                        x.checked_mul(y).map(ConstValue::Int)
                    }
                    (BinOp::Div, ConstValue::Int(x), ConstValue::Int(y)) => {
                        x.checked_div(y).map(ConstValue::Int)
                    }
                    (BinOp::Rem, ConstValue::Int(x), ConstValue::Int(y)) => {
                        x.checked_rem(y).map(ConstValue::Int)
                    }
                    (BinOp::And, ConstValue::Bool(x), ConstValue::Bool(y)) => {
                        Some(ConstValue::Bool(x && y))
                    }
                    (BinOp::Or, ConstValue::Bool(x), ConstValue::Bool(y)) => {
                        Some(ConstValue::Bool(x || y))
                    }
                    (op, a, b) => {
                        let (x, y) = (a.as_f64(), b.as_f64());
                        match (op, x, y) {
                            (BinOp::Add, Some(x), Some(y)) => Some(ConstValue::Fixed(x + y)),
                            (BinOp::Sub, Some(x), Some(y)) => Some(ConstValue::Fixed(x - y)),
                            (BinOp::Mul, Some(x), Some(y)) => Some(ConstValue::Fixed(x * y)),
                            (BinOp::Div, Some(x), Some(y)) if y != 0.0 => {
                                Some(ConstValue::Fixed(x / y))
                            }
                            (BinOp::Lt, Some(x), Some(y)) => Some(ConstValue::Bool(x < y)),
                            (BinOp::Le, Some(x), Some(y)) => Some(ConstValue::Bool(x <= y)),
                            (BinOp::Gt, Some(x), Some(y)) => Some(ConstValue::Bool(x > y)),
                            (BinOp::Ge, Some(x), Some(y)) => Some(ConstValue::Bool(x >= y)),
                            (BinOp::Eq, Some(x), Some(y)) => Some(ConstValue::Bool(x == y)),
                            (BinOp::Ne, Some(x), Some(y)) => Some(ConstValue::Bool(x != y)),
                            _ => None,
                        }
                    }
                }
                .or_else(|| self.not_constant(expr))
            }
            _ => self.not_constant(expr),
        }
    }

    fn not_constant(&mut self, expr: &ast::Expr) -> Option<ConstValue> {
        self.error(
            Diagnostic::error(
                "E0115",
                "this is not a constant expression",
                Label::new(expr.span, "cannot be computed at compile time"),
            )
            .with_help(
                "constants are built from literals and other constants with `+ - * / %`, \
                 comparisons and `&& || !` (integers must not overflow or divide by zero)",
            ),
        );
        None
    }

    fn dim(&mut self, module: ModuleId, dim: &ast::Dim) -> Option<Dim> {
        match dim {
            ast::Dim::Fixed(n, _) => Some(Dim::Known(*n)),
            ast::Dim::Unknown(_) => Some(Dim::Runtime),
            ast::Dim::Named(name) => match self.named_constant(module, &name.name) {
                Some(Some(ConstValue::Int(n))) if n >= 0 => Some(Dim::Known(n as u64)),
                Some(None) => None,
                _ => {
                    self.error(
                        Diagnostic::error(
                            "E0205",
                            format!("`{}` is not an integer constant", name.name),
                            Label::new(
                                name.span,
                                "a dimension must be a number, an integer constant or `_`",
                            ),
                        )
                        .with_help("write `_` for a size known only at run time"),
                    );
                    None
                }
            },
            ast::Dim::Any(span) => {
                self.error(
                    Diagnostic::error("E0206", "`..` stands only in function signatures", Label::new(*span, "not allowed here"))
                        .with_help("here, write each dimension: a number, a constant, or `_` for a size known at run time"),
                );
                None
            }
        }
    }

    /// A tensor type written in a `let`, a field or a `read_csv`: every dimension given.
    pub(super) fn annotation_type(
        &mut self,
        module: ModuleId,
        ty: &ast::Type,
    ) -> Option<TensorType> {
        match self.written_type(module, ty)? {
            Type::Tensor(t) => Some(t),
            other => {
                self.error(
                    Diagnostic::error(
                        "E0210",
                        format!("a tensor type is needed here, not `{other}`"),
                        Label::new(ty.span, "not a tensor type"),
                    )
                    .with_help("struct fields are tensors or numbers: `fixed[10, 1]`, `fixed`"),
                );
                None
            }
        }
    }

    /// Any type written outside a signature: a tensor with every dimension given, a struct by
    /// its name, or a tuple of these.
    pub(super) fn written_type(&mut self, module: ModuleId, ty: &ast::Type) -> Option<Type> {
        match &ty.kind {
            ast::TypeKind::Tensor { scalar, dims } => {
                let scalar = scalar_of(*scalar);
                let mut shape = Vec::new();
                let mut ok = true;
                for dim in dims.iter().flatten() {
                    match self.dim(module, dim) {
                        Some(d) => shape.push(d),
                        None => ok = false,
                    }
                }
                ok.then(|| Type::Tensor(TensorType::new(scalar, shape)))
            }
            ast::TypeKind::Named(name) => self.struct_named(module, name).map(Type::Struct),
            ast::TypeKind::Tuple(items) => {
                let mut out = Vec::new();
                let mut ok = true;
                for item in items {
                    match self.written_type(module, item) {
                        Some(t) => out.push(t),
                        None => ok = false,
                    }
                }
                ok.then_some(Type::Tuple(out))
            }
        }
    }

    /// A type written in a signature, where `fixed[..]` means any shape: returns the type and
    /// whether its shape is free. (Inside a struct's fields or a tuple, `..` is an error.)
    pub(super) fn signature_type(
        &mut self,
        module: ModuleId,
        ty: &ast::Type,
    ) -> Option<(Type, bool)> {
        if let ast::TypeKind::Tensor {
            scalar,
            dims: Some(dims),
        } = &ty.kind
            && let [ast::Dim::Any(_)] = dims.as_slice()
        {
            return Some((Type::Tensor(TensorType::scalar(scalar_of(*scalar))), true));
        }
        self.written_type(module, ty).map(|t| (t, false))
    }
}
