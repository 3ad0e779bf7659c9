//! Types of checked values, and the shape rules of the tensor operations.
//!
//! A value's type is a scalar kind and a shape. Shapes are public (the language says so), so the
//! checker reasons about them freely: each dimension is either known at compile time or known
//! only at run time (`_`), in which case the runtime checks it.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// A fixed-point real: plaintext at a party or public, encoded in the ring when secret.
    Fixed,
    Int,
    Bool,
    /// An f64, only ever at a party (plaintext work on the party's own data).
    Float,
}

impl Scalar {
    pub fn name(self) -> &'static str {
        match self {
            Scalar::Fixed => "fixed",
            Scalar::Int => "int",
            Scalar::Bool => "bool",
            Scalar::Float => "float",
        }
    }

    pub fn is_numeric(self) -> bool {
        !matches!(self, Scalar::Bool)
    }

    /// The scalar of `a op b` for arithmetic: `int` widens to `fixed` or `float`.
    pub fn arithmetic_join(a: Scalar, b: Scalar) -> Option<Scalar> {
        match (a, b) {
            (x, y) if x == y && x.is_numeric() => Some(x),
            (Scalar::Int, x) | (x, Scalar::Int) if x.is_numeric() => Some(x),
            // A party's f64 and fixed-point values mix as f64.
            (Scalar::Float, Scalar::Fixed) | (Scalar::Fixed, Scalar::Float) => Some(Scalar::Float),
            _ => None,
        }
    }

    /// Whether a value of scalar `from` may stand where `to` is expected (`int` widens).
    pub fn widens_to(from: Scalar, to: Scalar) -> bool {
        from == to
            || (from == Scalar::Int && matches!(to, Scalar::Fixed | Scalar::Float))
            || (from == Scalar::Fixed && to == Scalar::Float)
            || (from == Scalar::Float && to == Scalar::Fixed)
    }
}

/// One dimension of a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dim {
    Known(u64),
    /// Known only at run time (`_`).
    Runtime,
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Known(n) => write!(f, "{n}"),
            Dim::Runtime => f.write_str("_"),
        }
    }
}

/// The type of a tensor (a scalar is a tensor of rank 0).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TensorType {
    pub scalar: Scalar,
    pub shape: Vec<Dim>,
}

impl TensorType {
    pub fn scalar(scalar: Scalar) -> TensorType {
        TensorType {
            scalar,
            shape: Vec::new(),
        }
    }

    pub fn new(scalar: Scalar, shape: Vec<Dim>) -> TensorType {
        TensorType { scalar, shape }
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    pub fn with_scalar(&self, scalar: Scalar) -> TensorType {
        TensorType {
            scalar,
            shape: self.shape.clone(),
        }
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scalar.name())?;
        if !self.shape.is_empty() {
            let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
            write!(f, "[{}]", dims.join(", "))?;
        }
        Ok(())
    }
}

/// A struct type: its index in the program's struct declarations (`hir::Program::structs`),
/// and its name for messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StructType {
    pub id: usize,
    pub name: String,
}

/// The type of any checked expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    /// The value of statements, `print`, `write_csv`, blocks without a tail.
    Unit,
    Tensor(TensorType),
    /// A value of a `struct`: its fields, at the value's one placement.
    Struct(StructType),
    /// `(a, b)`: two or more values, at one placement.
    Tuple(Vec<Type>),
    /// A string literal: only file paths take one.
    Str,
    /// `[a, b, c]` as an argument of `concat` or a shape: the element types.
    List(Vec<Type>),
    /// The type of an expression that failed to check. Operations on it report nothing more,
    /// so one mistake gives one error. Never present in a HIR the checker returns.
    Error,
}

impl Type {
    pub fn tensor(&self) -> Option<&TensorType> {
        match self {
            Type::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// Whether this is a value a variable can hold: a tensor, a struct or a tuple.
    pub fn is_value(&self) -> bool {
        matches!(self, Type::Tensor(_) | Type::Struct(_) | Type::Tuple(_))
    }

    /// Whether this is a struct or a tuple (a value made of several tensors).
    pub fn is_aggregate(&self) -> bool {
        matches!(self, Type::Struct(_) | Type::Tuple(_))
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Unit => f.write_str("()"),
            Type::Error => f.write_str("{error}"),
            Type::Tensor(t) => t.fmt(f),
            Type::Struct(s) => f.write_str(&s.name),
            Type::Tuple(items) => {
                let items: Vec<String> = items.iter().map(|t| t.to_string()).collect();
                write!(f, "({})", items.join(", "))
            }
            Type::Str => f.write_str("string"),
            Type::List(items) => {
                let items: Vec<String> = items.iter().map(|t| t.to_string()).collect();
                write!(f, "[{}]", items.join(", "))
            }
        }
    }
}

/// Two dimensions that must be equal: the more precise one, or `None` if they differ.
pub fn unify_dim(a: Dim, b: Dim) -> Option<Dim> {
    match (a, b) {
        (Dim::Known(x), Dim::Known(y)) => (x == y).then_some(a),
        (Dim::Known(_), Dim::Runtime) => Some(a),
        (Dim::Runtime, _) => Some(b),
    }
}

/// NumPy broadcasting of two shapes, or `None` if they are incompatible. A run-time dimension
/// against a known one takes the known one (the runtime checks it).
pub fn broadcast(a: &[Dim], b: &[Dim]) -> Option<Vec<Dim>> {
    let rank = a.len().max(b.len());
    let mut out = vec![Dim::Known(1); rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            Dim::Known(1)
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            Dim::Known(1)
        };
        out[i] = match (da, db) {
            (Dim::Known(1), d) | (d, Dim::Known(1)) => d,
            (x, y) => unify_dim(x, y)?,
        };
    }
    Some(out)
}

/// `matmul(a, b)`: `[m, k] · [k, n] → [m, n]`, and `[m, k] · [k] → [m]`.
pub fn matmul_shape(a: &[Dim], b: &[Dim]) -> Result<Vec<Dim>, String> {
    match (a, b) {
        ([m, k1], [k2, n]) => match unify_dim(*k1, *k2) {
            Some(_) => Ok(vec![*m, *n]),
            None => Err(format!("inner dimensions differ: {k1} and {k2}")),
        },
        ([m, k1], [k2]) => match unify_dim(*k1, *k2) {
            Some(_) => Ok(vec![*m]),
            None => Err(format!("inner dimensions differ: {k1} and {k2}")),
        },
        _ => Err(format!(
            "matmul takes a matrix and a matrix or vector, not ranks {} and {}",
            a.len(),
            b.len()
        )),
    }
}

/// `concat(parts, axis)`: equal shapes except along `axis`, whose sizes add up.
pub fn concat_shape(parts: &[&[Dim]], axis: usize) -> Result<Vec<Dim>, String> {
    let first = parts.first().ok_or("concat needs at least one tensor")?;
    if axis >= first.len() {
        return Err(format!(
            "axis {axis} is out of range for rank {}",
            first.len()
        ));
    }
    let mut out = first.to_vec();
    for part in &parts[1..] {
        if part.len() != first.len() {
            return Err(format!("ranks differ: {} and {}", first.len(), part.len()));
        }
        for (i, (o, d)) in out.iter_mut().zip(part.iter()).enumerate() {
            if i == axis {
                *o = match (*o, *d) {
                    (Dim::Known(x), Dim::Known(y)) => Dim::Known(x + y),
                    _ => Dim::Runtime,
                };
            } else {
                *o = unify_dim(*o, *d).ok_or_else(|| {
                    format!("dimension {i} differs: {o} and {d} (only axis {axis} may differ)")
                })?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Dim::{Known as K, Runtime as R};

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast(&[K(32), K(1)], &[K(1)]), Some(vec![K(32), K(1)]));
        assert_eq!(broadcast(&[K(32), K(4)], &[K(4)]), Some(vec![K(32), K(4)]));
        assert_eq!(broadcast(&[], &[K(3)]), Some(vec![K(3)]));
        assert_eq!(broadcast(&[R, K(4)], &[K(7), K(4)]), Some(vec![K(7), K(4)]));
        assert_eq!(broadcast(&[K(3)], &[K(4)]), None);
    }

    #[test]
    fn matmul_and_concat_shapes() {
        assert_eq!(matmul_shape(&[R, K(30)], &[K(30), K(1)]), Ok(vec![R, K(1)]));
        assert!(matmul_shape(&[K(2), K(3)], &[K(4), K(1)]).is_err());
        assert!(matmul_shape(&[K(2)], &[K(2)]).is_err());
        assert_eq!(
            concat_shape(&[&[R, K(30)], &[K(5), K(30)]], 0),
            Ok(vec![R, K(30)])
        );
        assert_eq!(
            concat_shape(&[&[K(2), K(3)], &[K(5), K(3)]], 0),
            Ok(vec![K(7), K(3)])
        );
        assert!(concat_shape(&[&[K(2), K(3)], &[K(2), K(4)]], 0).is_err());
    }

    #[test]
    fn int_widens() {
        assert_eq!(
            Scalar::arithmetic_join(Scalar::Int, Scalar::Fixed),
            Some(Scalar::Fixed)
        );
        assert_eq!(Scalar::arithmetic_join(Scalar::Bool, Scalar::Fixed), None);
        assert!(Scalar::widens_to(Scalar::Int, Scalar::Fixed));
        assert!(!Scalar::widens_to(Scalar::Fixed, Scalar::Int));
    }
}
