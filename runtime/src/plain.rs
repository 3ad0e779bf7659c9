//! Plaintext kernels: what a party computes on its own data, and what every party computes on
//! public values (identically, so public values agree everywhere).

use ndarray::{ArrayD, Ix2, IxDyn};
use tfe_ir::{IndexKind, Kernel, Literal, Scalar};

use crate::RunError;
use crate::ring::zip_with;
use crate::value::{self, Pick, Value, scalar};

fn shape_err(e: String) -> RunError {
    RunError::Shape(e)
}

/// Numbers for arithmetic: `int` operands of an `f64` operation become f64.
enum Num {
    F(ArrayD<f64>),
    I(ArrayD<i64>),
}

fn nums(a: &Value, b: &Value) -> Result<(Num, Num), RunError> {
    Ok(match (a, b) {
        (Value::F64(x), Value::F64(y)) => (Num::F(x.clone()), Num::F(y.clone())),
        (Value::I64(x), Value::I64(y)) => (Num::I(x.clone()), Num::I(y.clone())),
        (Value::F64(x), Value::I64(y)) => (Num::F(x.clone()), Num::F(y.mapv(|v| v as f64))),
        (Value::I64(x), Value::F64(y)) => (Num::F(x.mapv(|v| v as f64)), Num::F(y.clone())),
        (x, y) => {
            return Err(RunError::Internal(format!(
                "arithmetic on {} and {}",
                x.kind(),
                y.kind()
            )));
        }
    })
}

fn arith(
    a: &Value,
    b: &Value,
    f: fn(f64, f64) -> f64,
    g: fn(i64, i64) -> Option<i64>,
    what: &str,
) -> Result<Value, RunError> {
    match nums(a, b)? {
        (Num::F(x), Num::F(y)) => Ok(Value::F64(zip_with(&x, &y, f).map_err(shape_err)?)),
        (Num::I(x), Num::I(y)) => {
            let out = zip_with(&x, &y, g).map_err(shape_err)?;
            if out.iter().any(Option::is_none) {
                return Err(RunError::Io(format!(
                    "integer {what} overflows or divides by zero"
                )));
            }
            Ok(Value::I64(out.mapv(|v| v.unwrap_or_default())))
        }
        _ => unreachable!("nums returns matching kinds"),
    }
}

fn compare(
    a: &Value,
    b: &Value,
    f: fn(f64, f64) -> bool,
    g: fn(i64, i64) -> bool,
    h: fn(bool, bool) -> bool,
) -> Result<Value, RunError> {
    if let (Value::Bool(x), Value::Bool(y)) = (a, b) {
        return Ok(Value::Bool(zip_with(x, y, h).map_err(shape_err)?));
    }
    match nums(a, b)? {
        (Num::F(x), Num::F(y)) => Ok(Value::Bool(zip_with(&x, &y, f).map_err(shape_err)?)),
        (Num::I(x), Num::I(y)) => Ok(Value::Bool(zip_with(&x, &y, g).map_err(shape_err)?)),
        _ => unreachable!("nums returns matching kinds"),
    }
}

fn bools(a: &Value, b: &Value, f: fn(bool, bool) -> bool) -> Result<Value, RunError> {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => Ok(Value::Bool(zip_with(x, y, f).map_err(shape_err)?)),
        _ => Err(RunError::Internal("logic on non-bools".into())),
    }
}

/// Sizes from size registers.
pub fn sizes(args: &[&Value]) -> Result<Vec<usize>, RunError> {
    args.iter()
        .map(|v| {
            let n = v.as_index().map_err(RunError::Internal)?;
            usize::try_from(n).map_err(|_| RunError::Shape(format!("negative size {n}")))
        })
        .collect()
}

/// The picks of an index op from its bound registers.
pub fn picks(items: &[IndexKind], bounds: &[&Value]) -> Result<Vec<Pick>, RunError> {
    let mut out = Vec::new();
    let mut it = bounds.iter();
    let mut next = || -> Result<i64, RunError> {
        it.next()
            .ok_or_else(|| RunError::Internal("missing index bound".into()))?
            .as_index()
            .map_err(RunError::Internal)
    };
    for item in items {
        out.push(match item {
            IndexKind::Single => Pick::One(next()?),
            IndexKind::Range => Pick::Range(next()?, next()?),
        });
    }
    Ok(out)
}

/// Shape operations, the same on every kind of tensor.
macro_rules! on_any {
    ($v:expr, |$t:ident| $body:expr) => {
        match $v {
            Value::F64($t) => Value::F64($body),
            Value::I64($t) => Value::I64($body),
            Value::Bool($t) => Value::Bool($body),
            Value::Shares(r) => Value::Shares(r.map_with(
                |$t| -> Result<_, RunError> { Ok($body) },
                |$t| -> Result<_, RunError> { Ok($body) },
            )?),
            Value::Shares128(r) => Value::Shares128(r.map_with(
                |$t| -> Result<_, RunError> { Ok($body) },
                |$t| -> Result<_, RunError> { Ok($body) },
            )?),
        }
    };
}

/// Applies a shape operation (transpose, reshape, concat, index, sum) to plaintext or shares.
pub fn shape_op(kernel: &Kernel, args: &[&Value]) -> Result<Value, RunError> {
    let x = args[0];
    Ok(match kernel {
        Kernel::Copy | Kernel::Refresh => x.clone(),
        Kernel::Transpose => on_any!(x, |t| value::transpose(t)),
        Kernel::Im2Col(g) => on_any!(x, |t| value::im2col(t, g).map_err(shape_err)?),
        Kernel::Col2Im(g) => match x {
            Value::F64(t) => Value::F64(value::col2im(t, g, |a, b| a + b).map_err(shape_err)?),
            Value::I64(t) => Value::I64(value::col2im(t, g, i64::wrapping_add).map_err(shape_err)?),
            Value::Shares(r) => Value::Shares(r.map_with(
                |t| value::col2im(t, g, u64::wrapping_add),
                |t| value::col2im(t, g, |_, _| ()),
            )?),
            Value::Shares128(r) => Value::Shares128(r.map_with(
                |t| value::col2im(t, g, u128::wrapping_add),
                |t| value::col2im(t, g, |_, _| ()),
            )?),
            Value::Bool(_) => return Err(RunError::Internal("`col2im` of `bool` values".into())),
        },
        Kernel::Reshape => {
            let s = sizes(&args[1..])?;
            on_any!(x, |t| value::reshape(t, &s).map_err(shape_err)?)
        }
        Kernel::Index { items } => {
            let p = picks(items, &args[1..])?;
            on_any!(x, |t| value::index(t, &p).map_err(shape_err)?)
        }
        Kernel::Concat { axis } => match x {
            Value::F64(_) => Value::F64(
                value::concat(
                    &collect(args, |v| if let Value::F64(t) = v { Some(t) } else { None })?,
                    *axis,
                )
                .map_err(shape_err)?,
            ),
            Value::I64(_) => Value::I64(
                value::concat(
                    &collect(args, |v| if let Value::I64(t) = v { Some(t) } else { None })?,
                    *axis,
                )
                .map_err(shape_err)?,
            ),
            Value::Bool(_) => Value::Bool(
                value::concat(
                    &collect(args, |v| {
                        if let Value::Bool(t) = v {
                            Some(t)
                        } else {
                            None
                        }
                    })?,
                    *axis,
                )
                .map_err(shape_err)?,
            ),
            Value::Shares(_) => {
                let parts = collect(args, |v| {
                    if let Value::Shares(r) = v {
                        Some(r)
                    } else {
                        None
                    }
                })?;
                Value::Shares(crate::value::Shares::concat(&parts, *axis)?)
            }
            Value::Shares128(_) => {
                let parts = collect(args, |v| {
                    if let Value::Shares128(r) = v {
                        Some(r)
                    } else {
                        None
                    }
                })?;
                Value::Shares128(crate::value::Shares::concat(&parts, *axis)?)
            }
        },
        Kernel::Sum { axis } => match x {
            Value::F64(t) => Value::F64(value::sum(t, *axis, |a, b| a + b).map_err(shape_err)?),
            Value::I64(t) => {
                Value::I64(value::sum(t, *axis, i64::wrapping_add).map_err(shape_err)?)
            }
            Value::Shares(r) => Value::Shares(r.map_with(
                |t| value::sum(t, *axis, u64::wrapping_add),
                |t| value::sum(t, *axis, |_, _| ()),
            )?),
            Value::Shares128(r) => Value::Shares128(r.map_with(
                |t| value::sum(t, *axis, u128::wrapping_add),
                |t| value::sum(t, *axis, |_, _| ()),
            )?),
            Value::Bool(_) => return Err(RunError::Internal("sum of bools".into())),
        },
        Kernel::ArgMax { axis } => {
            let index = |t: &ndarray::ArrayD<f64>| -> Result<Value, RunError> {
                let flat;
                let (t, axis) = match axis {
                    Some(k) => (t, *k),
                    None => {
                        flat = t
                            .iter()
                            .copied()
                            .collect::<ndarray::Array1<f64>>()
                            .into_dyn();
                        (&flat, 0)
                    }
                };
                if axis >= t.ndim() || t.shape()[axis] == 0 {
                    return Err(shape_err(format!(
                        "argmax over axis {axis} of shape {:?}",
                        t.shape()
                    )));
                }
                Ok(Value::I64(t.map_axis(ndarray::Axis(axis), |lane| {
                    let mut best = 0;
                    for (i, v) in lane.iter().enumerate() {
                        if *v > lane[best] {
                            best = i;
                        }
                    }
                    best as i64
                })))
            };
            match x {
                Value::F64(t) => index(t)?,
                Value::I64(t) => index(&t.mapv(|v| v as f64))?,
                other => {
                    return Err(RunError::Internal(format!(
                        "the argmax of {} in the clear",
                        other.kind()
                    )));
                }
            }
        }
        Kernel::Max { axis } => match x {
            Value::F64(t) => Value::F64(value::reduce(t, *axis, f64::max).map_err(shape_err)?),
            Value::I64(t) => Value::I64(value::reduce(t, *axis, i64::max).map_err(shape_err)?),
            other => {
                return Err(RunError::Internal(format!(
                    "the maximum of {} in the clear",
                    other.kind()
                )));
            }
        },
        other => {
            return Err(RunError::Internal(format!(
                "{} is not a shape operation",
                other.name()
            )));
        }
    })
}

fn collect<'v, T>(
    args: &[&'v Value],
    f: impl Fn(&'v Value) -> Option<&'v T>,
) -> Result<Vec<&'v T>, RunError> {
    args.iter()
        .map(|v| f(v).ok_or_else(|| RunError::Internal("concat of mixed kinds".into())))
        .collect()
}

/// `table[e - from]` where `2^e <= x < 2^(e+1)`; 0 for `x <= 0` and for `e` outside the table.
pub fn log2_lookup(x: f64, table: &[f64], from: i64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return 0.0;
    }
    let e = x.log2().floor() as i64;
    // log2 rounds: make sure 2^e <= x < 2^(e+1) exactly.
    let e = if 2f64.powi(e as i32) > x {
        e - 1
    } else if 2f64.powi(e as i32 + 1) <= x {
        e + 1
    } else {
        e
    };
    usize::try_from(e - from)
        .ok()
        .and_then(|j| table.get(j))
        .copied()
        .unwrap_or(0.0)
}

/// Runs a kernel on plaintext arguments. `result` is the scalar kind of the result register.
pub fn compute(kernel: &Kernel, args: &[&Value], result: Scalar) -> Result<Value, RunError> {
    let a = || args[0];
    let b = || args[1];
    Ok(match kernel {
        Kernel::Const(Literal::Fixed(v)) => Value::F64(scalar(*v)),
        Kernel::Const(Literal::Int(v)) => Value::I64(scalar(*v)),
        Kernel::Const(Literal::Bool(v)) => Value::Bool(scalar(*v)),
        // A plaintext value has no randomness to refresh.
        Kernel::Copy
        | Kernel::Refresh
        | Kernel::Transpose
        | Kernel::Im2Col(_)
        | Kernel::Col2Im(_)
        | Kernel::Reshape
        | Kernel::Index { .. }
        | Kernel::Concat { .. }
        | Kernel::Sum { .. }
        | Kernel::Max { .. }
        | Kernel::ArgMax { .. } => shape_op(kernel, args)?,
        Kernel::MaxOneHot => match a() {
            Value::F64(x) => Value::F64(max_onehot(x)?),
            other => {
                return Err(RunError::Internal(format!(
                    "`max_onehot` of {} in the clear",
                    other.kind()
                )));
            }
        },
        Kernel::Log2Lookup { from, table } => match a() {
            Value::F64(x) => Value::F64(x.mapv(|v| log2_lookup(v, table, *from))),
            _ => {
                return Err(RunError::Internal(
                    "`log2_lookup` of non-fixed values".into(),
                ));
            }
        },
        Kernel::Neg => match a() {
            Value::F64(t) => Value::F64(t.mapv(|v| -v)),
            Value::I64(t) => Value::I64(t.mapv(i64::wrapping_neg)),
            other => return Err(RunError::Internal(format!("negation of {}", other.kind()))),
        },
        Kernel::Not => match a() {
            Value::Bool(t) => Value::Bool(t.mapv(|v| !v)),
            other => return Err(RunError::Internal(format!("`!` of {}", other.kind()))),
        },
        Kernel::Add => arith(a(), b(), |x, y| x + y, i64::checked_add, "addition")?,
        Kernel::Sub => arith(a(), b(), |x, y| x - y, i64::checked_sub, "subtraction")?,
        Kernel::Mul { .. } => arith(a(), b(), |x, y| x * y, i64::checked_mul, "product")?,
        Kernel::Div => arith(a(), b(), |x, y| x / y, i64::checked_div, "division")?,
        Kernel::Rem => arith(a(), b(), |x, y| x % y, i64::checked_rem, "remainder")?,
        Kernel::And => bools(a(), b(), |x, y| x && y)?,
        Kernel::Or => bools(a(), b(), |x, y| x || y)?,
        Kernel::Lt => compare(a(), b(), |x, y| x < y, |x, y| x < y, |x, y| !x & y)?,
        Kernel::Le => compare(a(), b(), |x, y| x <= y, |x, y| x <= y, |x, y| x <= y)?,
        Kernel::Gt => compare(a(), b(), |x, y| x > y, |x, y| x > y, |x, y| x & !y)?,
        Kernel::Ge => compare(a(), b(), |x, y| x >= y, |x, y| x >= y, |x, y| x >= y)?,
        Kernel::Eq => compare(a(), b(), |x, y| x == y, |x, y| x == y, |x, y| x == y)?,
        Kernel::Ne => compare(a(), b(), |x, y| x != y, |x, y| x != y, |x, y| x != y)?,
        Kernel::MatMulCol2Im { trunc, window } => {
            let product = compute(&Kernel::MatMul { trunc: *trunc }, args, result)?;
            shape_op(&Kernel::Col2Im(*window), &[&product])?
        }
        Kernel::MatMul { .. } => match nums(a(), b())? {
            (Num::F(x), Num::F(y)) => Value::F64(matmul_f64(&x, &y)?),
            (Num::I(x), Num::I(y)) => {
                let r = crate::ring::matmul(&x.mapv(|v| v as u64), &y.mapv(|v| v as u64))
                    .map_err(shape_err)?;
                Value::I64(r.mapv(|v| v as i64))
            }
            _ => unreachable!("nums returns matching kinds"),
        },
        Kernel::Select => {
            let Value::Bool(c) = a() else {
                return Err(RunError::Internal("select on a non-bool".into()));
            };
            match nums(args[1], args[2])? {
                (Num::F(x), Num::F(y)) => {
                    let xy = zip_with(&x, &y, |p, q| (p, q)).map_err(shape_err)?;
                    Value::F64(
                        zip_with(c, &xy, |c, (p, q)| if c { p } else { q }).map_err(shape_err)?,
                    )
                }
                (Num::I(x), Num::I(y)) => {
                    let xy = zip_with(&x, &y, |p, q| (p, q)).map_err(shape_err)?;
                    Value::I64(
                        zip_with(c, &xy, |c, (p, q)| if c { p } else { q }).map_err(shape_err)?,
                    )
                }
                _ => unreachable!("nums returns matching kinds"),
            }
        }
        Kernel::Zeros | Kernel::Ones => {
            let s = sizes(args)?;
            let one = matches!(kernel, Kernel::Ones);
            match result {
                Scalar::Int => Value::I64(ArrayD::from_elem(IxDyn(&s), i64::from(one))),
                Scalar::Bool => Value::Bool(ArrayD::from_elem(IxDyn(&s), one)),
                Scalar::Fixed | Scalar::Float => {
                    Value::F64(ArrayD::from_elem(IxDyn(&s), if one { 1.0 } else { 0.0 }))
                }
            }
        }
        Kernel::Rows => {
            let shape = a().shape();
            let rows = *shape
                .first()
                .ok_or_else(|| RunError::Shape("rows of a scalar".into()))?;
            Value::I64(scalar(rows as i64))
        }
        Kernel::Shape => {
            let shape: Vec<i64> = a().shape().iter().map(|d| *d as i64).collect();
            let n = shape.len();
            Value::I64(ArrayD::from_shape_vec(IxDyn(&[n]), shape).expect("1-D"))
        }
        Kernel::Convert { to } => match (a(), to) {
            (Value::I64(t), Scalar::Fixed | Scalar::Float) => Value::F64(t.mapv(|v| v as f64)),
            (Value::F64(t), Scalar::Fixed | Scalar::Float) => Value::F64(t.clone()),
            (v, to) => {
                return Err(RunError::Internal(format!(
                    "conversion of {} to {}",
                    v.kind(),
                    to.name()
                )));
            }
        },
    })
}

fn matmul_f64(a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>, RunError> {
    let a2 = a
        .view()
        .into_dimensionality::<Ix2>()
        .map_err(|_| RunError::Shape(format!("matmul of shape {:?}", a.shape())))?;
    match b.ndim() {
        2 => {
            let b2 = b.view().into_dimensionality::<Ix2>().expect("rank 2");
            if a2.ncols() != b2.nrows() {
                return Err(RunError::Shape(format!(
                    "matmul of {:?} and {:?}",
                    a.shape(),
                    b.shape()
                )));
            }
            Ok(a2.dot(&b2).into_dyn())
        }
        1 => {
            let b1 = b
                .view()
                .into_dimensionality::<ndarray::Ix1>()
                .expect("rank 1");
            if a2.ncols() != b1.len() {
                return Err(RunError::Shape(format!(
                    "matmul of {:?} and {:?}",
                    a.shape(),
                    b.shape()
                )));
            }
            Ok(a2.dot(&b1).into_dyn())
        }
        _ => Err(RunError::Shape(format!(
            "matmul of {:?} and {:?}",
            a.shape(),
            b.shape()
        ))),
    }
}

/// `[r, n + 1]`: per row of a matrix `[r, n]`, the one-hot (1.0) of its first maximal entry in
/// columns `0 .. n` and the maximum in column `n` (`Kernel::MaxOneHot`, as the tournament on
/// shares chooses).
pub fn max_onehot(x: &ndarray::ArrayD<f64>) -> Result<ndarray::ArrayD<f64>, RunError> {
    let (r, n) = match x.shape() {
        [r, n] if *n > 0 => (*r, *n),
        other => {
            return Err(RunError::Shape(format!(
                "the row maxima of a tensor of shape {other:?}"
            )));
        }
    };
    let mut out = ndarray::ArrayD::zeros(ndarray::IxDyn(&[r, n + 1]));
    for (i, row) in x.outer_iter().enumerate() {
        let mut best = 0;
        for (j, v) in row.iter().enumerate() {
            if *v > row[best] {
                best = j;
            }
        }
        out[[i, best]] = 1.0;
        out[[i, n]] = row[best];
    }
    Ok(out)
}
