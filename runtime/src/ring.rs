//! Tensors over the rings Z_2^64 and Z_2^128 ([`Word`]), with wrapping arithmetic, NumPy
//! broadcasting, fixed-point encoding, and a fast integer matrix product.
//!
//! Fixed-point: a real `v` is encoded as `round(v · 2^frac)` in two's complement; a product of
//! two encodings carries `2·frac` fractional bits until it is truncated.

use ndarray::{ArrayD, IxDyn};

pub use crate::word::Word;

/// A tensor over Z_2^64 (by default) or Z_2^128.
pub type RingTensor<W = u64> = ArrayD<W>;

/// The broadcast shape of two shapes (NumPy rules), or `None`.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![1; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Applies `f` elementwise to two tensors broadcast against each other.
pub fn zip_with<A: Copy, B: Copy, C>(
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    f: impl Fn(A, B) -> C,
) -> Result<ArrayD<C>, String> {
    if a.shape() == b.shape() {
        let mut out = Vec::with_capacity(a.len());
        if let (Some(sa), Some(sb)) = (a.as_slice(), b.as_slice()) {
            out.extend(sa.iter().zip(sb).map(|(x, y)| f(*x, *y)));
        } else {
            out.extend(a.iter().zip(b.iter()).map(|(x, y)| f(*x, *y)));
        }
        return Ok(ArrayD::from_shape_vec(IxDyn(a.shape()), out).expect("same shape"));
    }
    let shape = broadcast_shape(a.shape(), b.shape()).ok_or_else(|| {
        format!(
            "shapes {:?} and {:?} do not broadcast",
            a.shape(),
            b.shape()
        )
    })?;
    // Fast paths for contiguous operands, where one repeats along leading axes (a scalar, or a
    // row added to every row): iterating a broadcast view element by element costs 5–10 times
    // more, and a training step does this for every constant and bias.
    if let (Some(sa), Some(sb)) = (a.as_slice(), b.as_slice()) {
        let total: usize = shape.iter().product();
        if sa.len() == total && !sb.is_empty() && is_suffix(b.shape(), &shape) {
            let mut out = Vec::with_capacity(total);
            for chunk in sa.chunks(sb.len()) {
                out.extend(chunk.iter().zip(sb).map(|(x, y)| f(*x, *y)));
            }
            return Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("broadcast shape"));
        }
        if sb.len() == total && !sa.is_empty() && is_suffix(a.shape(), &shape) {
            let mut out = Vec::with_capacity(total);
            for chunk in sb.chunks(sa.len()) {
                out.extend(sa.iter().zip(chunk).map(|(x, y)| f(*x, *y)));
            }
            return Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("broadcast shape"));
        }
    }
    let av = a.broadcast(IxDyn(&shape)).expect("broadcastable");
    let bv = b.broadcast(IxDyn(&shape)).expect("broadcastable");
    let out: Vec<C> = av.iter().zip(bv.iter()).map(|(x, y)| f(*x, *y)).collect();
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("broadcast shape"))
}

/// Whether `part` broadcast to `full` repeats whole along the leading axes: after dropping its
/// leading 1s, it is a suffix of `full` (so in memory it repeats every `part.len()` elements).
fn is_suffix(part: &[usize], full: &[usize]) -> bool {
    let first = part.iter().position(|&d| d != 1).unwrap_or(part.len());
    let part = &part[first..];
    part.len() <= full.len() && full[full.len() - part.len()..] == *part
}

pub fn add<W: Word>(a: &RingTensor<W>, b: &RingTensor<W>) -> Result<RingTensor<W>, String> {
    zip_with(a, b, W::wrapping_add)
}

pub fn sub<W: Word>(a: &RingTensor<W>, b: &RingTensor<W>) -> Result<RingTensor<W>, String> {
    zip_with(a, b, W::wrapping_sub)
}

pub fn mul<W: Word>(a: &RingTensor<W>, b: &RingTensor<W>) -> Result<RingTensor<W>, String> {
    zip_with(a, b, W::wrapping_mul)
}

pub fn neg<W: Word>(a: &RingTensor<W>) -> RingTensor<W> {
    a.mapv(W::wrapping_neg)
}

/// Encodes reals as fixed-point ring elements with `frac` fractional bits.
pub fn encode_fixed<W: Word>(v: &ArrayD<f64>, frac: u32) -> RingTensor<W> {
    let scale = (frac as f64).exp2();
    v.mapv(|x| W::from_f64(x * scale))
}

/// Decodes fixed-point ring elements (two's complement) to reals.
pub fn decode_fixed<W: Word>(v: &RingTensor<W>, frac: u32) -> ArrayD<f64> {
    let scale = (frac as f64).exp2();
    v.mapv(|x| x.to_f64() / scale)
}

pub fn encode_int<W: Word>(v: &ArrayD<i64>) -> RingTensor<W> {
    v.mapv(W::from_i64)
}

pub fn decode_int<W: Word>(v: &RingTensor<W>) -> ArrayD<i64> {
    v.mapv(W::to_i64)
}

/// The product of two matrices over the ring, or of a matrix and a vector.
///
/// ndarray's generic integer `dot` is about ten times slower than this kernel. On x86-64 without
/// AVX-512 the 64-bit scalar multiplier does one product per cycle, faster than AVX2 (which has
/// no 64-bit lane product and needs three 32-bit ones per lane), so that kernel is scalar and
/// keeps the multiplier busy: `b` is packed in blocks of `KC` rows by `NC` columns (a block
/// stays in the L2 cache while every row of `a` passes over it), each block in panels of `NR`
/// columns, and a 3 × 4 block of results is accumulated in registers across a panel: about 1.8
/// billion multiply-adds per second per core here, whatever the shape. With AVX-512 (`vpmullq`,
/// eight 64-bit lane products) the same blocking with a 4 × 16 block runs (`bench
/// ring-matmul` compares the two).
pub fn matmul<W: Word>(a: &RingTensor<W>, b: &RingTensor<W>) -> Result<RingTensor<W>, String> {
    let (m, k) = match a.shape() {
        [m, k] => (*m, *k),
        s => return Err(format!("matmul: left operand has shape {s:?}")),
    };
    let (k2, n, vector) = match b.shape() {
        [k2, n] => (*k2, *n, false),
        [k2] => (*k2, 1, true),
        s => return Err(format!("matmul: right operand has shape {s:?}")),
    };
    if k != k2 {
        return Err(format!("matmul: inner dimensions {k} and {k2} differ"));
    }
    let a = a.as_standard_layout();
    let a = a.as_slice().expect("standard layout");
    let b = b.as_standard_layout();
    let b = b.as_slice().expect("standard layout");
    let out = if vector {
        (0..m).map(|i| dot(&a[i * k..(i + 1) * k], b)).collect()
    } else {
        let mut out = vec![W::ZERO; m * n];
        W::matmul_into(a, b, &mut out, m, k, n);
        out
    };
    let shape: Vec<usize> = if vector { vec![m] } else { vec![m, n] };
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("m × n"))
}

/// Rows of `b` per packed block.
const KC: usize = 256;
/// Columns of `b` per packed block (with `KC`, 512 KiB: the L2 cache of one core here).
const NC: usize = 256;

/// `out += a · b` for row-major `a` (m × k), `b` (k × n) and `out` (m × n): with AVX-512 (its
/// 64-bit lane product, `vpmullq`) where the CPU has it, else on the scalar multiplier.
pub(crate) fn matmul_kernel(a: &[u64], b: &[u64], out: &mut [u64], m: usize, k: usize, n: usize) {
    #[cfg(target_arch = "x86_64")]
    if wide_lanes() {
        wide::matmul(a, b, out, m, k, n);
        return;
    }
    blocked::<3, 4>(a, b, out, m, k, n);
}

/// Set by [`set_wide_lanes`]: the scalar kernel even where AVX-512 runs.
static SCALAR_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether matrix products may use AVX-512 where the CPU has it (the default), or only the
/// scalar kernel (the benchmark compares the two in one run; `TFE_NO_AVX512` in the
/// environment does the same for a whole process).
pub fn set_wide_lanes(on: bool) {
    SCALAR_ONLY.store(!on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether the AVX-512 kernel runs: the CPU has AVX-512F, DQ and VL, and neither
/// [`set_wide_lanes`] nor `TFE_NO_AVX512` turned it off.
#[cfg(target_arch = "x86_64")]
fn wide_lanes() -> bool {
    static WIDE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let available = *WIDE.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::env::var_os("TFE_NO_AVX512").is_none()
    });
    available && !SCALAR_ONLY.load(std::sync::atomic::Ordering::Relaxed)
}

/// The AVX-512 instantiation of [`blocked`]: a 4 × 16 block of results (eight 8-lane
/// registers) per panel, which the compiler turns into `vpmullq` and `vpaddq` when the
/// function is compiled for those instructions.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod wide {
    pub fn matmul(a: &[u64], b: &[u64], out: &mut [u64], m: usize, k: usize, n: usize) {
        // SAFETY: only called after `wide_lanes` found AVX-512F and AVX-512DQ on this CPU, the
        // instructions `kernel` is compiled to use.
        unsafe { kernel(a, b, out, m, k, n) }
    }

    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    fn kernel(a: &[u64], b: &[u64], out: &mut [u64], m: usize, k: usize, n: usize) {
        super::blocked::<4, 16>(a, b, out, m, k, n);
    }
}

/// The packed, blocked product: `b` is packed in blocks of `KC` rows by `NC` columns (a block
/// stays in the L2 cache while every row of `a` passes over it), each block in panels of `NR`
/// columns, and an `MR` × `NR` block of results is accumulated in registers across a panel.
#[inline(always)]
fn blocked<const MR: usize, const NR: usize>(
    a: &[u64],
    b: &[u64],
    out: &mut [u64],
    m: usize,
    k: usize,
    n: usize,
) {
    let mut pack = vec![0u64; KC.min(k) * NC.min(n).next_multiple_of(NR)];
    for k0 in (0..k).step_by(KC) {
        let kc = (k - k0).min(KC);
        for j0 in (0..n).step_by(NC) {
            let nc = (n - j0).min(NC);
            let panels = nc.div_ceil(NR);
            // Panel q holds columns j0 + q·NR .. of rows k0 .., NR values per row (zeros past
            // the last column).
            for q in 0..panels {
                for p in 0..kc {
                    let row = &b[(k0 + p) * n..(k0 + p + 1) * n];
                    for t in 0..NR {
                        let j = j0 + q * NR + t;
                        pack[(q * kc + p) * NR + t] = if j < j0 + nc { row[j] } else { 0 };
                    }
                }
            }
            for i in (0..m).step_by(MR) {
                let mr = (m - i).min(MR);
                for q in 0..panels {
                    let panel = &pack[q * kc * NR..(q + 1) * kc * NR];
                    let mut c = [[0u64; NR]; MR];
                    if mr == MR {
                        let rows: [&[u64]; MR] =
                            std::array::from_fn(|r| &a[(i + r) * k + k0..(i + r) * k + k0 + kc]);
                        for (p, bp) in panel.chunks_exact(NR).enumerate() {
                            let bp: &[u64; NR] = bp.try_into().expect("NR columns");
                            let av: [u64; MR] = std::array::from_fn(|r| rows[r][p]);
                            for (cr, av) in c.iter_mut().zip(av) {
                                for (ct, bt) in cr.iter_mut().zip(bp) {
                                    *ct = ct.wrapping_add(av.wrapping_mul(*bt));
                                }
                            }
                        }
                    } else {
                        for (p, bp) in panel.chunks_exact(NR).enumerate() {
                            for r in 0..mr {
                                let av = a[(i + r) * k + k0 + p];
                                for t in 0..NR {
                                    c[r][t] = c[r][t].wrapping_add(av.wrapping_mul(bp[t]));
                                }
                            }
                        }
                    }
                    for (r, cr) in c.iter().enumerate().take(mr) {
                        for (t, v) in cr.iter().enumerate() {
                            let j = j0 + q * NR + t;
                            if j < j0 + nc {
                                let o = &mut out[(i + r) * n + j];
                                *o = o.wrapping_add(*v);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn dot<W: Word>(x: &[W], y: &[W]) -> W {
    let mut acc = [W::ZERO; 8];
    let chunks = x.len() / 8;
    for c in 0..chunks {
        let xs = &x[c * 8..c * 8 + 8];
        let ys = &y[c * 8..c * 8 + 8];
        for l in 0..8 {
            acc[l] = acc[l].wrapping_add(xs[l].wrapping_mul(ys[l]));
        }
    }
    let mut total = acc.iter().fold(W::ZERO, |s, v| s.wrapping_add(*v));
    for i in chunks * 8..x.len() {
        total = total.wrapping_add(x[i].wrapping_mul(y[i]));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(a: &[u64], b: &[u64], m: usize, k: usize, n: usize) -> Vec<u64> {
        let mut out = vec![0u64; m * n];
        for i in 0..m {
            for j in 0..n {
                for t in 0..k {
                    out[i * n + j] =
                        out[i * n + j].wrapping_add(a[i * k + t].wrapping_mul(b[t * n + j]));
                }
            }
        }
        out
    }

    proptest! {
        #[test]
        fn matmul_matches_the_definition(m in 1usize..7, k in 1usize..20, n in 1usize..6, seed in any::<u64>()) {
            let mut s = seed | 1;
            let mut next = || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
            let a: Vec<u64> = (0..m * k).map(|_| next()).collect();
            let b: Vec<u64> = (0..k * n).map(|_| next()).collect();
            let ta = ArrayD::from_shape_vec(IxDyn(&[m, k]), a.clone()).unwrap();
            let tb = ArrayD::from_shape_vec(IxDyn(&[k, n]), b.clone()).unwrap();
            let got = matmul(&ta, &tb).unwrap();
            prop_assert_eq!(got.as_slice().unwrap(), &naive(&a, &b, m, k, n)[..]);
        }

        #[test]
        fn fixed_point_round_trips(v in -1.0e6f64..1.0e6) {
            let t = ArrayD::from_elem(IxDyn(&[1]), v);
            let back = decode_fixed(&encode_fixed::<u64>(&t, 16), 16);
            prop_assert!((back[[0]] - v).abs() <= 0.5 / 65536.0 + 1e-12);
        }
    }

    /// Shapes across the kernel's blocks: rows not a multiple of 3, inner dimensions over
    /// `KC`, columns over `NC` and not a multiple of 4; and a matrix times a vector.
    #[test]
    fn matmul_across_block_edges() {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for (m, k, n) in [(7, 300, 261), (1, 513, 4), (5, 256, 256), (4, 1, 3)] {
            let a: Vec<u64> = (0..m * k).map(|_| next()).collect();
            let b: Vec<u64> = (0..k * n).map(|_| next()).collect();
            let ta = ArrayD::from_shape_vec(IxDyn(&[m, k]), a.clone()).unwrap();
            let tb = ArrayD::from_shape_vec(IxDyn(&[k, n]), b.clone()).unwrap();
            let got = matmul(&ta, &tb).unwrap();
            assert_eq!(
                got.as_slice().unwrap(),
                &naive(&a, &b, m, k, n)[..],
                "{m}x{k}x{n}"
            );
            let col: Vec<u64> = b.iter().step_by(n).copied().collect();
            let v = matmul(
                &ta,
                &ArrayD::from_shape_vec(IxDyn(&[k]), col.clone()).unwrap(),
            )
            .unwrap();
            assert_eq!(v.shape(), &[m]);
            assert_eq!(v.as_slice().unwrap(), &naive(&a, &col, m, k, 1)[..]);
        }
    }

    /// Both kernels directly (the public entry picks one per CPU): the scalar one everywhere,
    /// the AVX-512 one where this CPU runs it, across the blocks' edges.
    #[test]
    fn the_scalar_and_the_wide_kernel_agree_with_the_definition() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for (m, k, n) in [
            (7, 300, 261),
            (1, 513, 4),
            (5, 256, 256),
            (4, 1, 3),
            (9, 17, 33),
        ] {
            let a: Vec<u64> = (0..m * k).map(|_| next()).collect();
            let b: Vec<u64> = (0..k * n).map(|_| next()).collect();
            let want = naive(&a, &b, m, k, n);
            let mut out = vec![0u64; m * n];
            blocked::<3, 4>(&a, &b, &mut out, m, k, n);
            assert_eq!(out, want, "scalar {m}x{k}x{n}");
            #[cfg(target_arch = "x86_64")]
            if wide_lanes() {
                let mut out = vec![0u64; m * n];
                wide::matmul(&a, &b, &mut out, m, k, n);
                assert_eq!(out, want, "AVX-512 {m}x{k}x{n}");
            }
        }
    }

    #[test]
    fn broadcasting_and_wrapping() {
        let a = ArrayD::from_shape_vec(IxDyn(&[2, 1]), vec![u64::MAX, 1]).unwrap();
        let b = ArrayD::from_shape_vec(IxDyn(&[3]), vec![1, 2, 3]).unwrap();
        let c = add(&a, &b).unwrap();
        assert_eq!(c.shape(), &[2, 3]);
        assert_eq!(c.as_slice().unwrap(), &[0, 1, 2, 2, 3, 4]);
    }

    #[test]
    fn fast_broadcasts_agree_with_element_by_element() {
        use ndarray::Dimension;
        // Every pair of shapes whose broadcast the fast paths handle, and some they do not.
        let shapes: &[&[usize]] = &[
            &[],
            &[1],
            &[3],
            &[1, 3],
            &[2, 3],
            &[2, 1],
            &[4, 2, 3],
            &[4, 1, 3],
        ];
        for sa in shapes {
            for sb in shapes {
                let Some(shape) = broadcast_shape(sa, sb) else {
                    continue;
                };
                let a = ArrayD::from_shape_fn(IxDyn(sa), |i| {
                    7 + i.slice().iter().sum::<usize>() as u64 * 31
                });
                let b = ArrayD::from_shape_fn(IxDyn(sb), |i| {
                    1000 + i.slice().iter().product::<usize>() as u64 * 3
                });
                let got = sub(&a, &b).unwrap();
                let want = ArrayD::from_shape_fn(IxDyn(&shape), |i| {
                    let pick = |t: &ArrayD<u64>| {
                        let off = shape.len() - t.ndim();
                        let idx: Vec<usize> = (0..t.ndim())
                            .map(|k| if t.shape()[k] == 1 { 0 } else { i[off + k] })
                            .collect();
                        t[IxDyn(&idx)]
                    };
                    pick(&a).wrapping_sub(pick(&b))
                });
                assert_eq!(got, want, "{sa:?} - {sb:?}");
            }
        }
    }
}
