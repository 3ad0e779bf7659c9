//! [`Shares`]: what one party holds of a value at a secret placement, whatever the protocol.
//!
//! A sharing is linear in every protocol here (replicated or additive, arithmetic over Z_2^64
//! or boolean with `^`), so every local linear operation — `+`, `-`, negation, products by
//! public values, shape operations — is the same operation on each component. Those live here,
//! written once; what needs messages lives in the protocols.
//!
//! A party may take part in a placement's ops while holding no component at all (pond's dealer
//! deals correlated randomness for products it never sees). Its `Shares` carry only the shape,
//! which it needs to deal randomness of the right size, and which every local operation keeps up
//! to date without touching any data.

use ndarray::{ArrayD, Axis, IxDyn, Slice};

use crate::RunError;
use crate::ring::{self, RingTensor, Word};

/// This party's components of a shared tensor, in the order its protocol defines (aby3's role
/// `i`: `x_i`, `x_{i+1}`; a pond server: its additive share; pond's dealer: none).
#[derive(Debug, Clone, PartialEq)]
pub struct Shares<W = u64> {
    parts: Vec<RingTensor<W>>,
    /// The tensor's shape; equal to every part's shape.
    shape: Vec<usize>,
}

fn shape_err(e: String) -> RunError {
    RunError::Shape(e)
}

/// A tensor of `()` of `shape`: a shape that shape operations can run on without any memory
/// (a `Vec<()>` of any length allocates nothing), so a party holding no component computes the
/// shape of a result with the very code that computes the result elsewhere.
pub fn ghost(shape: &[usize]) -> ArrayD<()> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), vec![(); n]).expect("n elements")
}

impl<W: Word> Shares<W> {
    /// Components of one shape (at least one).
    pub fn new(parts: Vec<RingTensor<W>>) -> Result<Shares<W>, RunError> {
        let shape = parts
            .first()
            .ok_or_else(|| RunError::Internal("shares without components".into()))?
            .shape()
            .to_vec();
        if parts.iter().any(|p| p.shape() != shape.as_slice()) {
            return Err(RunError::Internal(
                "components of one sharing differ in shape".into(),
            ));
        }
        Ok(Shares { parts, shape })
    }

    /// The two components of a replicated share.
    pub fn pair(a: RingTensor<W>, b: RingTensor<W>) -> Shares<W> {
        debug_assert_eq!(a.shape(), b.shape());
        let shape = a.shape().to_vec();
        Shares {
            parts: vec![a, b],
            shape,
        }
    }

    /// The one component of an additive share.
    pub fn single(a: RingTensor<W>) -> Shares<W> {
        let shape = a.shape().to_vec();
        Shares {
            parts: vec![a],
            shape,
        }
    }

    /// No component, only the shape (a party that deals randomness but holds no share).
    pub fn shape_only(shape: &[usize]) -> Shares<W> {
        Shares {
            parts: Vec::new(),
            shape: shape.to_vec(),
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn parts(&self) -> &[RingTensor<W>] {
        &self.parts
    }

    pub fn into_parts(self) -> Vec<RingTensor<W>> {
        self.parts
    }

    /// Whether this party holds components (false for a dealer).
    pub fn holds(&self) -> bool {
        !self.parts.is_empty()
    }

    /// Component `i`, or an internal error if this party holds fewer.
    pub fn part(&self, i: usize) -> Result<&RingTensor<W>, RunError> {
        self.parts.get(i).ok_or_else(|| {
            RunError::Internal(format!(
                "component {i} of a sharing of which this party holds {}",
                self.parts.len()
            ))
        })
    }

    /// Applies a shape-changing or elementwise map to every component; `on_shape` gives the
    /// result's shape where there is no component (it runs the same map on a [`ghost`]).
    pub fn map_with<E: Into<RunError>>(
        &self,
        f: impl Fn(&RingTensor<W>) -> Result<RingTensor<W>, E>,
        on_shape: impl Fn(&ArrayD<()>) -> Result<ArrayD<()>, E>,
    ) -> Result<Shares<W>, RunError> {
        if self.parts.is_empty() {
            let shape = on_shape(&ghost(&self.shape)).map_err(Into::into)?;
            return Ok(Shares::shape_only(shape.shape()));
        }
        let parts: Vec<RingTensor<W>> = self
            .parts
            .iter()
            .map(|p| f(p).map_err(Into::into))
            .collect::<Result<_, _>>()?;
        Shares::new(parts)
    }

    /// An elementwise map that keeps the shape.
    pub fn map(&self, f: impl Fn(&RingTensor<W>) -> RingTensor<W>) -> Shares<W> {
        Shares {
            parts: self.parts.iter().map(f).collect(),
            shape: self.shape.clone(),
        }
    }

    /// Componentwise `f` of two sharings of the same protocol, broadcasting as NumPy does.
    pub fn zip(
        &self,
        other: &Shares<W>,
        f: impl Fn(&RingTensor<W>, &RingTensor<W>) -> Result<RingTensor<W>, String>,
    ) -> Result<Shares<W>, RunError> {
        if self.parts.len() != other.parts.len() {
            return Err(RunError::Internal(format!(
                "combining sharings of {} and {} components",
                self.parts.len(),
                other.parts.len()
            )));
        }
        if self.parts.is_empty() {
            let shape = ring::broadcast_shape(&self.shape, &other.shape).ok_or_else(|| {
                RunError::Shape(format!(
                    "shapes {:?} and {:?} do not broadcast",
                    self.shape, other.shape
                ))
            })?;
            return Ok(Shares::shape_only(&shape));
        }
        let parts: Vec<RingTensor<W>> = self
            .parts
            .iter()
            .zip(&other.parts)
            .map(|(a, b)| f(a, b).map_err(shape_err))
            .collect::<Result<_, _>>()?;
        Shares::new(parts)
    }

    // ---- Local linear operations, the same in every protocol ----------------------------------

    pub fn add(&self, other: &Shares<W>) -> Result<Shares<W>, RunError> {
        self.zip(other, ring::add)
    }

    pub fn sub(&self, other: &Shares<W>) -> Result<Shares<W>, RunError> {
        self.zip(other, ring::sub)
    }

    pub fn neg(&self) -> Shares<W> {
        self.map(ring::neg)
    }

    /// `^` of two boolean sharings.
    pub fn xor(&self, other: &Shares<W>) -> Result<Shares<W>, RunError> {
        self.zip(other, |a, b| ring::zip_with(a, b, |p, q| p ^ q))
    }

    /// Every word shifted left by `k` bits (of a boolean sharing: bit `i` moves to `i + k`).
    pub fn shl(&self, k: u32) -> Shares<W> {
        self.map(|t| t.mapv(|v| v << k))
    }

    /// Every word shifted right by `k` bits (of a boolean sharing).
    pub fn shr(&self, k: u32) -> Shares<W> {
        self.map(|t| t.mapv(|v| v >> k))
    }

    /// `x · c` for a public `c`, elementwise with broadcasting (no truncation).
    pub fn mul_public(&self, c: &RingTensor<W>) -> Result<Shares<W>, RunError> {
        if self.parts.is_empty() {
            let shape = ring::broadcast_shape(&self.shape, c.shape()).ok_or_else(|| {
                RunError::Shape(format!(
                    "shapes {:?} and {:?} do not broadcast",
                    self.shape,
                    c.shape()
                ))
            })?;
            return Ok(Shares::shape_only(&shape));
        }
        self.map_with(|t| ring::mul(t, c).map_err(shape_err), |g| Ok(g.clone()))
    }

    /// `x · C` for a public matrix `C` (no truncation).
    pub fn matmul_public_right(&self, c: &RingTensor<W>) -> Result<Shares<W>, RunError> {
        let shape = matmul_shape(&self.shape, c.shape())?;
        if self.parts.is_empty() {
            return Ok(Shares::shape_only(&shape));
        }
        self.map_with(|t| ring::matmul(t, c).map_err(shape_err), |g| Ok(g.clone()))
    }

    /// `C · x` for a public matrix `C` (no truncation).
    pub fn matmul_public_left(&self, c: &RingTensor<W>) -> Result<Shares<W>, RunError> {
        let shape = matmul_shape(c.shape(), &self.shape)?;
        if self.parts.is_empty() {
            return Ok(Shares::shape_only(&shape));
        }
        self.map_with(|t| ring::matmul(c, t).map_err(shape_err), |g| Ok(g.clone()))
    }

    /// The slice `from .. to` along `axis`.
    pub fn slice_axis(&self, axis: usize, from: usize, to: usize) -> Shares<W> {
        let mut shape = self.shape.clone();
        shape[axis] = to - from;
        Shares {
            parts: self
                .parts
                .iter()
                .map(|t| t.slice_axis(Axis(axis), Slice::from(from..to)).to_owned())
                .collect(),
            shape,
        }
    }

    /// Index `i` of `axis`, which disappears.
    pub fn index_axis(self, axis: usize, i: usize) -> Shares<W> {
        let mut shape = self.shape.clone();
        shape.remove(axis);
        Shares {
            parts: self
                .parts
                .into_iter()
                .map(|t| t.index_axis_move(Axis(axis), i))
                .collect(),
            shape,
        }
    }

    /// Sharings joined along `axis`.
    pub fn concat(parts: &[&Shares<W>], axis: usize) -> Result<Shares<W>, RunError> {
        let first = parts
            .first()
            .ok_or_else(|| RunError::Internal("concatenating no sharings".into()))?;
        let k = first.parts.len();
        if parts.iter().any(|p| p.parts.len() != k) {
            return Err(RunError::Internal(
                "concatenating sharings of different protocols".into(),
            ));
        }
        if k == 0 {
            let ghosts: Vec<ArrayD<()>> = parts.iter().map(|p| ghost(&p.shape)).collect();
            let refs: Vec<&ArrayD<()>> = ghosts.iter().collect();
            let joined = crate::value::concat(&refs, axis).map_err(shape_err)?;
            return Ok(Shares::shape_only(joined.shape()));
        }
        let joined: Vec<RingTensor<W>> = (0..k)
            .map(|c| {
                let comps: Vec<&RingTensor<W>> = parts.iter().map(|p| &p.parts[c]).collect();
                crate::value::concat(&comps, axis).map_err(shape_err)
            })
            .collect::<Result<_, _>>()?;
        Shares::new(joined)
    }

    /// All elements along one axis.
    pub fn flatten(&self) -> Result<Shares<W>, RunError> {
        let n = self.len();
        self.map_with(
            |t| {
                t.to_shape(IxDyn(&[n]))
                    .map(|v| v.to_owned())
                    .map_err(|e| shape_err(e.to_string()))
            },
            |g| Ok(ghost(&[g.len()])),
        )
    }

    /// In standard (C) layout, so each component's words can be read as a slice.
    pub fn standard_layout(self) -> Shares<W> {
        Shares {
            parts: self
                .parts
                .into_iter()
                .map(|t| {
                    if t.is_standard_layout() {
                        t
                    } else {
                        t.as_standard_layout().into_owned()
                    }
                })
                .collect(),
            shape: self.shape,
        }
    }
}

/// The shape of a matrix product (or of a matrix and a vector).
pub fn matmul_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, RunError> {
    match (a, b) {
        ([m, k], [k2, n]) if k == k2 => Ok(vec![*m, *n]),
        ([m, k], [k2]) if k == k2 => Ok(vec![*m]),
        _ => Err(RunError::Shape(format!("matmul of shapes {a:?} and {b:?}"))),
    }
}

/// Pseudo-random words of `x`'s shape from `seed` (xorshift): masks for the shares that tests
/// and benchmarks deal themselves. Not for real data.
pub fn random_like<W: Word>(x: &RingTensor<W>, seed: u64) -> RingTensor<W> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    x.mapv(|_| {
        let low = W::from_u64(next());
        if W::BITS > 64 {
            low ^ (W::from_u64(next()) << 64)
        } else {
            low
        }
    })
}
