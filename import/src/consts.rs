//! Nodes whose inputs are all constants are computed at import time: the shape arithmetic of
//! exporters (`Shape -> Gather -> Unsqueeze -> Concat -> Reshape`), `Constant` nodes, and
//! parameters that pass through a cast, a transpose or a reshape before a layer uses them.

use crate::ImportError;
use crate::graph::{Attr, Data, Int, Node, Tensor};
use crate::translate::{Translation, Val, dims_text, known_ints};

impl Translation<'_> {
    pub fn fold_constant(&mut self, node: &Node) -> Result<(), ImportError> {
        let inputs: Vec<Option<Tensor>> = (0..node.inputs.len())
            .map(|i| match self.optional(node, i) {
                Ok(Some(Val::Const(t))) => Ok(Some(t.clone())),
                Ok(_) => Ok(None),
                Err(e) => Err(e),
            })
            .collect::<Result<_, _>>()?;
        let arg = |i: usize| -> Result<&Tensor, ImportError> {
            inputs
                .get(i)
                .and_then(Option::as_ref)
                .ok_or_else(|| self.bad(node, format!("input {} is missing", i + 1)))
        };
        let out = match node.op.as_str() {
            "Constant" => constant_attr(node).ok_or_else(|| {
                self.unsupported(node, "a constant of a kind tfe does not read".into())
            })?,
            "Identity" | "Dropout" => arg(0)?.clone(),
            "Cast" => {
                let t = arg(0)?;
                let to = node.int("to").unwrap_or(1) as i32;
                if crate::graph::is_float_type(to) {
                    let v = t.as_f64().ok_or_else(|| {
                        self.unsupported(node, "the batch size as a number".into())
                    })?;
                    Tensor::floats(t.dims.clone(), v)
                } else {
                    let v: Vec<Int> = match &t.data {
                        Data::Int(v) => v.clone(),
                        Data::Float(v) => v.iter().map(|f| Int::Known(f.trunc() as i64)).collect(),
                    };
                    Tensor {
                        dims: t.dims.clone(),
                        data: Data::Int(v),
                    }
                }
            }
            "Neg" => {
                map(arg(0)?, |v| -v, |v| v.checked_neg()).ok_or_else(|| self.batch_math(node))?
            }
            "Add" | "Sub" | "Mul" | "Div" => {
                let (a, b) = (arg(0)?, arg(1)?);
                let op = node.op.as_str();
                binary(a, b, op)
                    .map_err(|e| self.bad(node, e))?
                    .ok_or_else(|| self.batch_math(node))?
            }
            "Reshape" => {
                let t = arg(0)?;
                let shape = known_ints(arg(1)?).ok_or_else(|| self.batch_math(node))?;
                let allow_zero = node.int("allowzero").unwrap_or(0) != 0;
                let dims =
                    reshape_dims(&t.dims, &shape, allow_zero).map_err(|e| self.bad(node, e))?;
                Tensor {
                    dims,
                    data: t.data.clone(),
                }
            }
            "Flatten" => {
                let t = arg(0)?;
                let r = t.dims.len() as i64;
                let mut axis = node.int("axis").unwrap_or(1);
                if axis < 0 {
                    axis += r;
                }
                let axis = axis.clamp(0, r) as usize;
                let outer: usize = t.dims[..axis].iter().product();
                Tensor {
                    dims: vec![outer, t.elements() / outer.max(1)],
                    data: t.data.clone(),
                }
            }
            "Unsqueeze" | "Squeeze" => {
                let t = arg(0)?;
                let axes: Option<Vec<i64>> = match node.ints("axes") {
                    Some(a) => Some(a.to_vec()),
                    None => inputs.get(1).and_then(Option::as_ref).and_then(known_ints),
                };
                let dims = if node.op == "Unsqueeze" {
                    let axes = axes.ok_or_else(|| self.bad(node, "no axes".into()))?;
                    let rank = (t.dims.len() + axes.len()) as i64;
                    let mut axes: Vec<usize> = axes
                        .iter()
                        .map(|&a| (if a < 0 { a + rank } else { a }) as usize)
                        .collect();
                    axes.sort_unstable();
                    let mut d = t.dims.clone();
                    for a in axes {
                        if a > d.len() {
                            return Err(self.bad(node, format!("axis {a}")));
                        }
                        d.insert(a, 1);
                    }
                    d
                } else {
                    let rank = t.dims.len() as i64;
                    let axes: Vec<usize> = match axes {
                        Some(a) => a
                            .iter()
                            .map(|&a| (if a < 0 { a + rank } else { a }) as usize)
                            .collect(),
                        None => (0..t.dims.len()).filter(|&k| t.dims[k] == 1).collect(),
                    };
                    t.dims
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| !axes.contains(k))
                        .map(|(_, d)| *d)
                        .collect()
                };
                Tensor {
                    dims,
                    data: t.data.clone(),
                }
            }
            "Concat" => {
                let parts: Vec<&Tensor> =
                    (0..node.inputs.len()).map(arg).collect::<Result<_, _>>()?;
                let axis = node.int("axis").unwrap_or(0);
                concat(&parts, axis).map_err(|e| self.bad(node, e))?
            }
            "Gather" => {
                let (data, idx) = (arg(0)?, arg(1)?);
                let indices = known_ints(idx).ok_or_else(|| self.batch_math(node))?;
                gather(data, &idx.dims, &indices, node.int("axis").unwrap_or(0))
                    .map_err(|e| self.bad(node, e))?
            }
            "Transpose" => {
                let t = arg(0)?;
                let perm: Vec<usize> = match node.ints("perm") {
                    Some(p) => p.iter().map(|&a| a as usize).collect(),
                    None => (0..t.dims.len()).rev().collect(),
                };
                transpose(t, &perm).map_err(|e| self.bad(node, e))?
            }
            op => {
                return Err(self.unsupported(
                    node,
                    format!("{op} of constants is not computed at import time"),
                ));
            }
        };
        self.set(node, 0, Val::Const(out));
        Ok(())
    }

    fn batch_math(&self, node: &Node) -> ImportError {
        self.unsupported(
            node,
            "arithmetic on the batch size (tfe keeps the batch size out of the model)".into(),
        )
    }
}

fn constant_attr(node: &Node) -> Option<Tensor> {
    match node.attrs.iter().next()? {
        (_, Attr::Tensor(t)) => Some(t.clone()),
        (k, Attr::Float(f)) if k == "value_float" => Some(Tensor::floats(vec![], vec![*f])),
        (k, Attr::Floats(f)) if k == "value_floats" => {
            Some(Tensor::floats(vec![f.len()], f.clone()))
        }
        (k, Attr::Int(i)) if k == "value_int" => Some(Tensor::ints(vec![], vec![*i])),
        (k, Attr::Ints(i)) if k == "value_ints" => Some(Tensor::ints(vec![i.len()], i.clone())),
        _ => None,
    }
}

fn map(t: &Tensor, f: impl Fn(f64) -> f64, g: impl Fn(i64) -> Option<i64>) -> Option<Tensor> {
    Some(Tensor {
        dims: t.dims.clone(),
        data: match &t.data {
            Data::Float(v) => Data::Float(v.iter().map(|x| f(*x)).collect()),
            Data::Int(v) => Data::Int(
                v.iter()
                    .map(|x| match x {
                        Int::Known(k) => g(*k).map(Int::Known),
                        Int::Batch => None,
                    })
                    .collect::<Option<_>>()?,
            ),
        },
    })
}

/// NumPy's broadcast of two shapes.
fn broadcast_dims(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let r = a.len().max(b.len());
    let get = |d: &[usize], k: usize| {
        if k + d.len() < r {
            1
        } else {
            d[k + d.len() - r]
        }
    };
    (0..r)
        .map(|k| match (get(a, k), get(b, k)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            (x, y) => Err(format!(
                "shapes {} and {} do not broadcast ({x} against {y})",
                dims_text(a),
                dims_text(b)
            )),
        })
        .collect()
}

/// For each element of a tensor of `out` dims, the index of the element of `d` it reads.
fn broadcast_index(d: &[usize], out: &[usize]) -> Vec<usize> {
    let r = out.len();
    let mut strides = vec![0usize; r];
    let mut s = 1;
    for k in (0..r).rev() {
        let dk = if k + d.len() < r {
            1
        } else {
            d[k + d.len() - r]
        };
        strides[k] = if dk == 1 { 0 } else { s };
        s *= dk;
    }
    let size: usize = out.iter().product();
    let mut idx = vec![0usize; r];
    let mut res = Vec::with_capacity(size);
    for _ in 0..size {
        res.push(idx.iter().zip(&strides).map(|(i, s)| i * s).sum());
        for k in (0..r).rev() {
            idx[k] += 1;
            if idx[k] < out[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    res
}

/// `a op b` with broadcasting; `Ok(None)` where the batch size would enter arithmetic other
/// than multiplying or dividing it by 1.
fn binary(a: &Tensor, b: &Tensor, op: &str) -> Result<Option<Tensor>, String> {
    let dims = broadcast_dims(&a.dims, &b.dims)?;
    let ia = broadcast_index(&a.dims, &dims);
    let ib = broadcast_index(&b.dims, &dims);
    let data = match (&a.data, &b.data) {
        (Data::Int(x), Data::Int(y)) => {
            let mut out = Vec::with_capacity(ia.len());
            for (i, j) in ia.iter().zip(&ib) {
                out.push(match (x[*i], y[*j], op) {
                    (Int::Known(p), Int::Known(q), _) => Int::Known(match op {
                        "Add" => p.wrapping_add(q),
                        "Sub" => p.wrapping_sub(q),
                        "Mul" => p.wrapping_mul(q),
                        _ if q == 0 => return Err("an integer division by zero".into()),
                        _ => p.div_euclid(q),
                    }),
                    (Int::Batch, Int::Known(1), "Mul" | "Div")
                    | (Int::Known(1), Int::Batch, "Mul") => Int::Batch,
                    _ => return Ok(None),
                });
            }
            Data::Int(out)
        }
        _ => {
            let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                return Ok(None);
            };
            Data::Float(
                ia.iter()
                    .zip(&ib)
                    .map(|(i, j)| {
                        let (p, q) = (x[*i], y[*j]);
                        match op {
                            "Add" => p + q,
                            "Sub" => p - q,
                            "Mul" => p * q,
                            _ => p / q,
                        }
                    })
                    .collect(),
            )
        }
    };
    Ok(Some(Tensor { dims, data }))
}

fn reshape_dims(from: &[usize], shape: &[i64], allow_zero: bool) -> Result<Vec<usize>, String> {
    let size: usize = from.iter().product();
    let mut dims: Vec<Option<usize>> = Vec::new();
    for (k, &d) in shape.iter().enumerate() {
        dims.push(match d {
            -1 => None,
            0 if !allow_zero => Some(*from.get(k).ok_or("a 0 beyond the rank")?),
            n if n >= 0 => Some(n as usize),
            n => return Err(format!("a dimension {n}")),
        });
    }
    let known: usize = dims.iter().flatten().product();
    let out: Vec<usize> = match dims.iter().filter(|d| d.is_none()).count() {
        0 => dims.into_iter().flatten().collect(),
        1 if known > 0 => dims
            .into_iter()
            .map(|d| d.unwrap_or(size / known))
            .collect(),
        _ => return Err(format!("cannot reshape {} to {shape:?}", dims_text(from))),
    };
    if out.iter().product::<usize>() != size {
        return Err(format!("cannot reshape {} to {shape:?}", dims_text(from)));
    }
    Ok(out)
}

fn concat(parts: &[&Tensor], axis: i64) -> Result<Tensor, String> {
    let first = parts.first().ok_or("no parts")?;
    let r = first.dims.len() as i64;
    let axis = if axis < 0 { axis + r } else { axis };
    if axis < 0 || axis >= r.max(1) {
        return Err(format!("axis {axis}"));
    }
    let a = axis as usize;
    let outer: usize = first.dims[..a].iter().product();
    let floats = parts.iter().any(|p| matches!(p.data, Data::Float(_)));
    let mut dims = first.dims.clone();
    if !dims.is_empty() {
        dims[a] = parts
            .iter()
            .map(|p| p.dims.get(a).copied().unwrap_or(1))
            .sum();
    }
    let mut ints = Vec::new();
    let mut fl = Vec::new();
    for o in 0..outer {
        for p in parts {
            let inner = p.elements() / outer.max(1);
            let range = o * inner..(o + 1) * inner;
            match &p.data {
                Data::Int(v) if !floats => ints.extend_from_slice(&v[range]),
                _ => fl.extend_from_slice(
                    &p.as_f64()
                        .ok_or("the batch size among floating-point values")?[range],
                ),
            }
        }
    }
    Ok(Tensor {
        dims,
        data: if floats {
            Data::Float(fl)
        } else {
            Data::Int(ints)
        },
    })
}

fn gather(data: &Tensor, idx_dims: &[usize], indices: &[i64], axis: i64) -> Result<Tensor, String> {
    let r = data.dims.len() as i64;
    let axis = if axis < 0 { axis + r } else { axis };
    if axis < 0 || axis >= r {
        return Err(format!("axis {axis}"));
    }
    let a = axis as usize;
    let n = data.dims[a] as i64;
    let outer: usize = data.dims[..a].iter().product();
    let inner: usize = data.dims[a + 1..].iter().product();
    let mut dims = data.dims[..a].to_vec();
    dims.extend(idx_dims);
    dims.extend(&data.dims[a + 1..]);
    let pick = |o: usize, i: i64, k: usize| -> Result<usize, String> {
        let i = if i < 0 { i + n } else { i };
        if i < 0 || i >= n {
            return Err(format!("index {i} out of {n}"));
        }
        Ok((o * n as usize + i as usize) * inner + k)
    };
    let mut order = Vec::new();
    for o in 0..outer {
        for &i in indices {
            for k in 0..inner {
                order.push(pick(o, i, k)?);
            }
        }
    }
    let data = match &data.data {
        Data::Float(v) => Data::Float(order.iter().map(|&p| v[p]).collect()),
        Data::Int(v) => Data::Int(order.iter().map(|&p| v[p]).collect()),
    };
    Ok(Tensor { dims, data })
}

fn transpose(t: &Tensor, perm: &[usize]) -> Result<Tensor, String> {
    let r = t.dims.len();
    if perm.len() != r || (0..r).any(|a| !perm.contains(&a)) {
        return Err(format!("perm {perm:?} for rank {r}"));
    }
    let dims: Vec<usize> = perm.iter().map(|&a| t.dims[a]).collect();
    let mut strides = vec![1usize; r];
    for k in (0..r.saturating_sub(1)).rev() {
        strides[k] = strides[k + 1] * t.dims[k + 1];
    }
    let size = t.elements();
    let mut idx = vec![0usize; r];
    let mut order = Vec::with_capacity(size);
    for _ in 0..size {
        order.push(
            idx.iter()
                .enumerate()
                .map(|(k, i)| i * strides[perm[k]])
                .sum::<usize>(),
        );
        for k in (0..r).rev() {
            idx[k] += 1;
            if idx[k] < dims[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    let data = match &t.data {
        Data::Float(v) => Data::Float(order.iter().map(|&p| v[p]).collect()),
        Data::Int(v) => Data::Int(order.iter().map(|&p| v[p]).collect()),
    };
    Ok(Tensor { dims, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_arithmetic_and_layout_of_constants() {
        let t = Tensor::ints(vec![2, 3], vec![0, 1, 2, 3, 4, 5]);
        let tt = transpose(&t, &[1, 0]).unwrap();
        assert_eq!(tt.dims, vec![3, 2]);
        assert_eq!(tt.as_known_ints().unwrap(), vec![0, 3, 1, 4, 2, 5]);
        let g = gather(&t, &[], &[1], 1).unwrap();
        assert_eq!(g.dims, vec![2]);
        assert_eq!(g.as_known_ints().unwrap(), vec![1, 4]);
        let shape = Tensor {
            dims: vec![1],
            data: Data::Int(vec![Int::Batch]),
        };
        let c = concat(&[&shape, &Tensor::ints(vec![1], vec![-1])], 0).unwrap();
        assert_eq!(c.data, Data::Int(vec![Int::Batch, Int::Known(-1)]));
        let b = binary(
            &Tensor::floats(vec![2, 1], vec![1.0, 2.0]),
            &Tensor::floats(vec![3], vec![10.0, 20.0, 30.0]),
            "Mul",
        )
        .unwrap()
        .unwrap();
        assert_eq!(b.dims, vec![2, 3]);
        assert_eq!(
            b.as_f64().unwrap(),
            vec![10.0, 20.0, 30.0, 20.0, 40.0, 60.0]
        );
        assert_eq!(
            reshape_dims(&[2, 3, 4], &[0, -1], false).unwrap(),
            vec![2, 12]
        );
        assert!(
            binary(&shape, &Tensor::ints(vec![1], vec![2]), "Mul")
                .unwrap()
                .is_none()
        );
    }
}
