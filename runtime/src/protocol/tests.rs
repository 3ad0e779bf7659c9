//! Every protocol's primitives and the composites on them against plaintext arithmetic on
//! random inputs, for each protocol: the members run the op in threads over the in-process
//! transport, and the opened result is compared with the plaintext result (exactly for ring
//! operations; within the stated error for truncation).

use std::sync::Arc;
use std::time::Duration;

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

use super::*;
use crate::net::local_network;
use crate::prg::SharedKey;
use crate::ring::{self, Word};

const FRAC: u32 = 16;

/// The protocols at 128 bits (aby3 and pond; securenn is 64-bit only), with `frac` bits.
fn protocols_at<W: Word>(frac: u32) -> Vec<Arc<dyn Protocol<W>>> {
    vec![
        Arc::new(aby3::Aby3 {
            members: [0, 1, 2],
            frac,
        }),
        Arc::new(pond::Pond {
            members: [0, 1, 2],
            frac,
        }),
    ]
}

/// The protocols under test, each a placement of parties 0, 1 and 2 (pond's dealer is 2).
fn protocols() -> Vec<Arc<dyn Protocol>> {
    vec![
        Arc::new(aby3::Aby3 {
            members: [0, 1, 2],
            frac: FRAC,
        }),
        Arc::new(pond::Pond {
            members: [0, 1, 2],
            frac: FRAC,
        }),
        Arc::new(securenn::SecureNn {
            pond: pond::Pond {
                members: [0, 1, 2],
                frac: FRAC,
            },
        }),
    ]
}

/// Runs `f` as each of `n` parties (the placement's members are parties 0, 1, 2) and returns
/// what each returned. `f` gets a context for op 1, run 0.
fn run_parties<W: Word, R: Send + 'static>(
    p: &Arc<dyn Protocol<W>>,
    n: usize,
    f: impl Fn(&mut Ctx<'_>, &dyn Protocol<W>) -> Result<R, RunError> + Send + Sync + 'static,
) -> Vec<R> {
    let keys = test_keys(n);
    let f = Arc::new(f);
    let handles: Vec<_> = local_network(n, Duration::from_secs(10))
        .into_iter()
        .enumerate()
        .map(|(me, mut net)| {
            let (f, keys, p) = (f.clone(), keys.clone(), p.clone());
            std::thread::spawn(move || {
                let store = keystore(&keys, me);
                let mut ctx = Ctx {
                    me,
                    session: 42,
                    keys: &store,
                    net: &mut net,
                    op: 1,
                    count: 0,
                    step: 0,
                    result: None,
                };
                let r = f(&mut ctx, &*p);
                p.end_op(&mut ctx).unwrap();
                ctx.net.flush().unwrap();
                r
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect()
}

/// [`run_parties`] with the three members only.
pub(super) fn run3<W: Word, R: Send + 'static>(
    p: &Arc<dyn Protocol<W>>,
    f: impl Fn(&mut Ctx<'_>, &dyn Protocol<W>) -> Result<R, RunError> + Send + Sync + 'static,
) -> Vec<R> {
    run_parties(p, 3, f)
}

/// Keys for every pair and triple of `n` parties, deterministic for tests.
fn test_keys(n: usize) -> Vec<(Vec<PartyId>, SharedKey)> {
    let mut out = Vec::new();
    let mut seed = 1u8;
    for a in 0..n {
        for b in a + 1..n {
            out.push((vec![a, b], SharedKey([seed; 16])));
            seed += 1;
            for c in b + 1..n {
                out.push((vec![a, b, c], SharedKey([seed; 16])));
                seed += 1;
            }
        }
    }
    out
}

fn keystore(keys: &[(Vec<PartyId>, SharedKey)], me: PartyId) -> KeyStore {
    let mut store = KeyStore::default();
    store.insert(vec![me], SharedKey([200 + me as u8; 16]));
    for (set, key) in keys {
        if set.contains(&me) {
            store.insert(set.clone(), *key);
        }
    }
    store
}

fn tensor(values: Vec<u64>, shape: &[usize]) -> RingTensor {
    ArrayD::from_shape_vec(IxDyn(shape), values).unwrap()
}

fn fixed(values: &[f64]) -> RingTensor {
    ring::encode_fixed(
        &ArrayD::from_shape_vec(IxDyn(&[values.len()]), values.to_vec()).unwrap(),
        FRAC,
    )
}

/// Runs a one-input op on shares of `x` under every protocol; returns each protocol's opened
/// result.
fn unary(
    x: &RingTensor,
    seed: u64,
    op: impl Fn(&mut Ctx<'_>, &dyn Protocol, &Shares) -> Result<Shares, RunError>
    + Send
    + Sync
    + Clone
    + 'static,
) -> Vec<(&'static str, RingTensor)> {
    unary_in(protocols(), x, seed, op)
}

/// [`unary`] under the protocols `ps`, of any ring.
fn unary_in<W: Word>(
    ps: Vec<Arc<dyn Protocol<W>>>,
    x: &RingTensor<W>,
    seed: u64,
    op: impl Fn(&mut Ctx<'_>, &dyn Protocol<W>, &Shares<W>) -> Result<Shares<W>, RunError>
    + Send
    + Sync
    + Clone
    + 'static,
) -> Vec<(&'static str, RingTensor<W>)> {
    ps.into_iter()
        .map(|p| {
            let sx = p.deal(x, seed);
            let op = op.clone();
            let out = run3(&p, move |ctx, p| op(ctx, p, &sx[ctx.me]));
            (p.name(), p.open(&out))
        })
        .collect()
}

/// [`unary`] for two inputs.
fn binary(
    x: &RingTensor,
    y: &RingTensor,
    seed: u64,
    op: impl Fn(&mut Ctx<'_>, &dyn Protocol, &Shares, &Shares) -> Result<Shares, RunError>
    + Send
    + Sync
    + Clone
    + 'static,
) -> Vec<(&'static str, RingTensor)> {
    binary_in(protocols(), x, y, seed, op)
}

/// [`binary`] under the protocols `ps`, of any ring.
fn binary_in<W: Word>(
    ps: Vec<Arc<dyn Protocol<W>>>,
    x: &RingTensor<W>,
    y: &RingTensor<W>,
    seed: u64,
    op: impl Fn(&mut Ctx<'_>, &dyn Protocol<W>, &Shares<W>, &Shares<W>) -> Result<Shares<W>, RunError>
    + Send
    + Sync
    + Clone
    + 'static,
) -> Vec<(&'static str, RingTensor<W>)> {
    ps.into_iter()
        .map(|p| {
            let (sx, sy) = (p.deal(x, seed), p.deal(y, seed ^ 0x77));
            let op = op.clone();
            let out = run3(&p, move |ctx, p| op(ctx, p, &sx[ctx.me], &sy[ctx.me]));
            (p.name(), p.open(&out))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn integer_products_are_exact(xs in prop::collection::vec(any::<u64>(), 1..40), seed in any::<u64>()) {
        let ys: Vec<u64> = xs.iter().map(|v| v.rotate_left(17) ^ 0x9e37).collect();
        let n = xs.len();
        let expected: Vec<u64> = xs.iter().zip(&ys).map(|(a, b)| a.wrapping_mul(*b)).collect();
        for (name, opened) in binary(&tensor(xs, &[n]), &tensor(ys, &[n]), seed, |ctx, p, x, y| p.mul(ctx, x, y, 0)) {
            prop_assert_eq!(opened.as_slice().unwrap(), &expected[..], "{}", name);
        }
    }

    #[test]
    fn broadcast_products_are_exact(rows in 1usize..6, cols in 1usize..6, seed in any::<u64>()) {
        // A column times a row: both operands broadcast.
        let xs: Vec<u64> = (0..rows as u64).map(|v| v.wrapping_mul(seed | 1)).collect();
        let ys: Vec<u64> = (0..cols as u64).map(|v| v ^ seed).collect();
        let (x, y) = (tensor(xs.clone(), &[rows, 1]), tensor(ys.clone(), &[cols]));
        for (name, opened) in binary(&x, &y, seed, |ctx, p, x, y| p.mul(ctx, x, y, 0)) {
            prop_assert_eq!(opened.shape(), &[rows, cols][..], "{}", name);
            for r in 0..rows {
                for c in 0..cols {
                    prop_assert_eq!(opened[[r, c]], xs[r].wrapping_mul(ys[c]), "{}", name);
                }
            }
        }
    }

    #[test]
    fn fixed_point_products_are_within_one_unit(
        xs in prop::collection::vec(-100.0f64..100.0, 1..40),
        seed in any::<u64>(),
    ) {
        let ys: Vec<f64> = xs.iter().map(|v| 1.5 - v / 3.0).collect();
        for (name, opened) in binary(&fixed(&xs), &fixed(&ys), seed, |ctx, p, x, y| p.mul(ctx, x, y, FRAC)) {
            let got = ring::decode_fixed(&opened, FRAC);
            for ((x, y), g) in xs.iter().zip(&ys).zip(got.iter()) {
                // Encoding rounds each factor by 2^-17; truncation adds at most 2^-16.
                let bound = (x.abs() + y.abs() + 1.0) * 2f64.powi(-17) + 2f64.powi(-16) + 1e-9;
                prop_assert!((g - x * y).abs() <= bound, "{}: {} * {} = {} (got {})", name, x, y, x * y, g);
            }
        }
    }

    #[test]
    fn fixed_point_matmul_is_within_bound(m in 1usize..5, k in 1usize..12, n in 1usize..4, seed in any::<u64>()) {
        let a: Vec<f64> = (0..m * k).map(|i| ((i as u64 ^ seed) % 200) as f64 / 20.0 - 5.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (((i as u64 * 7) ^ seed) % 100) as f64 / 25.0 - 2.0).collect();
        let ta = ring::encode_fixed(&ArrayD::from_shape_vec(IxDyn(&[m, k]), a.clone()).unwrap(), FRAC);
        let tb = ring::encode_fixed(&ArrayD::from_shape_vec(IxDyn(&[k, n]), b.clone()).unwrap(), FRAC);
        for (name, opened) in binary(&ta, &tb, seed, |ctx, p, x, y| p.matmul(ctx, x, y, FRAC)) {
            let got = ring::decode_fixed(&opened, FRAC);
            for i in 0..m {
                for j in 0..n {
                    let exact: f64 = (0..k).map(|t| a[i * k + t] * b[t * n + j]).sum();
                    let bound = k as f64 * 7.0 * 2f64.powi(-17) + 2f64.powi(-16) + 1e-9;
                    prop_assert!((got[[i, j]] - exact).abs() <= bound, "{}: {} vs {}", name, got[[i, j]], exact);
                }
            }
        }
    }

    #[test]
    fn a_product_mapped_before_its_resharing_is_the_map_of_the_product(
        images in 1usize..3,
        f in 1usize..5,
        c in 1usize..3,
        size in 2usize..4,
        stride in 1usize..3,
        pad in 0usize..2,
        seed in any::<u64>(),
    ) {
        // col2im of a convolution's window gradients, as `MatMulCol2Im` runs it: integers
        // (exact, any words) and fixed point (one truncation after the sums).
        let g = tfe_ir::Window { h: 5, w: 4, c, kh: size, kw: size, stride, pad };
        let (oh, ow) = g.out();
        let rows = images * oh * ow;
        let width = size * size * c;
        let words = |n: usize, salt: u64| -> Vec<u64> {
            (0..n as u64).map(|i| (i ^ seed ^ salt).wrapping_mul(0x9e37_79b9_7f4a_7c15)).collect()
        };
        let (x, y) = (tensor(words(rows * f, 1), &[rows, f]), tensor(words(f * width, 2), &[f, width]));
        let expected = crate::value::col2im(&ring::matmul(&x, &y).unwrap(), &g, u64::wrapping_add).unwrap();
        let op = move |ctx: &mut Ctx<'_>, p: &dyn Protocol, x: &Shares, y: &Shares, trunc: u32| {
            let apply = |t: &RingTensor| crate::value::col2im(t, &g, u64::wrapping_add).map_err(RunError::Shape);
            let post = Linear { apply: &apply, shape: vec![images, g.h * g.w * g.c] };
            p.matmul_then(ctx, x, y, trunc, &post)
        };
        for (name, opened) in binary(&x, &y, seed, move |ctx, p, x, y| op(ctx, p, x, y, 0)) {
            prop_assert_eq!(&opened, &expected, "{}", name);
        }
        let a: Vec<f64> = (0..rows * f).map(|i| ((i as u64 ^ seed) % 200) as f64 / 20.0 - 5.0).collect();
        let b: Vec<f64> = (0..f * width).map(|i| (((i as u64 * 7) ^ seed) % 100) as f64 / 25.0 - 2.0).collect();
        let (fa, fb) = (
            ArrayD::from_shape_vec(IxDyn(&[rows, f]), a).unwrap(),
            ArrayD::from_shape_vec(IxDyn(&[f, width]), b).unwrap(),
        );
        let exact = crate::value::col2im(&fa.clone().into_dimensionality::<ndarray::Ix2>().unwrap()
            .dot(&fb.clone().into_dimensionality::<ndarray::Ix2>().unwrap()).into_dyn(), &g, |p, q| p + q).unwrap();
        // Each pixel sums at most size² window entries, each a sum of f products.
        let bound = (size * size * f) as f64 * 7.0 * 2f64.powi(-17) + 2f64.powi(-16) + 1e-9;
        let (ta, tb) = (ring::encode_fixed(&fa, FRAC), ring::encode_fixed(&fb, FRAC));
        for (name, opened) in binary(&ta, &tb, seed, move |ctx, p, x, y| op(ctx, p, x, y, FRAC)) {
            let got = ring::decode_fixed(&opened, FRAC);
            for (g, e) in got.iter().zip(exact.iter()) {
                prop_assert!((g - e).abs() <= bound, "{}: {} vs {}", name, g, e);
            }
        }
    }

    #[test]
    fn products_run_together_are_the_products_apart(
        rows in 1usize..6,
        cols in 1usize..5,
        seed in any::<u64>(),
    ) {
        // An elementwise product with broadcasting, a matrix product and a product by a public
        // value, in one call: integers exactly (no truncation), fixed point within one unit of
        // the last bit plus the encoding's error.
        let words = |n: usize, salt: u64| -> Vec<u64> {
            (0..n as u64).map(|i| (i ^ seed ^ salt).wrapping_mul(0x9e37_79b9_7f4a_7c15)).collect()
        };
        let x = tensor(words(rows * cols, 1), &[rows, cols]);
        let y = tensor(words(cols, 2), &[cols]);
        let c = tensor(words(cols * 2, 3), &[cols, 2]);
        let want = [
            ring::mul(&x, &y).unwrap(),
            ring::matmul(&x, &c).unwrap(),
            ring::matmul(&x, &c).unwrap(),
        ];
        for p in protocols() {
            let (sx, sy, sc) = (p.deal(&x, seed), p.deal(&y, seed ^ 1), p.deal(&c, seed ^ 2));
            let public = c.clone();
            let out = run3(&p, move |ctx, p| {
                let local = sx[ctx.me].matmul_public_right(&public)?;
                let items = [
                    Product::Mul(&sx[ctx.me], &sy[ctx.me]),
                    Product::MatMul(&sx[ctx.me], &sc[ctx.me]),
                    Product::Trunc(&local),
                ];
                let results = p.products(ctx, &items, 0)?;
                Shares::concat(&[&results[0].flatten()?, &results[1].flatten()?, &results[2].flatten()?], 0)
            });
            let opened = p.open(&out);
            let expected: Vec<u64> = want.iter().flat_map(|t| t.iter().copied()).collect();
            prop_assert_eq!(opened.iter().copied().collect::<Vec<_>>(), expected, "{}", p.name());
        }
        let a: Vec<f64> = (0..rows * cols).map(|i| ((i as u64 ^ seed) % 200) as f64 / 20.0 - 5.0).collect();
        let b: Vec<f64> = (0..cols).map(|i| (((i as u64 * 7) ^ seed) % 100) as f64 / 25.0 - 2.0).collect();
        let fa = ring::encode_fixed(&ArrayD::from_shape_vec(IxDyn(&[rows, cols]), a.clone()).unwrap(), FRAC);
        let fb = ring::encode_fixed(&ArrayD::from_shape_vec(IxDyn(&[cols]), b.clone()).unwrap(), FRAC);
        let half = ring::encode_fixed(&ArrayD::from_elem(IxDyn(&[]), 0.5), FRAC);
        for p in protocols() {
            let (sx, sy) = (p.deal(&fa, seed), p.deal(&fb, seed ^ 1));
            let h = half.clone();
            let out = run3(&p, move |ctx, p| {
                let local = sx[ctx.me].mul_public(&h)?;
                let items = [Product::Mul(&sx[ctx.me], &sy[ctx.me]), Product::Trunc(&local)];
                let results = p.products(ctx, &items, FRAC)?;
                Shares::concat(&[&results[0].flatten()?, &results[1].flatten()?], 0)
            });
            let got = ring::decode_fixed(&p.open(&out), FRAC);
            for r in 0..rows {
                for k in 0..cols {
                    let (x, y) = (a[r * cols + k], b[k]);
                    let bound = (x.abs() + y.abs() + 1.0) * 2f64.powi(-17) + 2f64.powi(-16) + 1e-9;
                    prop_assert!((got[r * cols + k] - x * y).abs() <= bound, "{}: {} * {}", p.name(), x, y);
                    prop_assert!((got[rows * cols + r * cols + k] - x * 0.5).abs() <= bound, "{}: {} / 2", p.name(), x);
                }
            }
        }
    }

    #[test]
    fn refresh_keeps_the_value_and_renews_every_component(xs in prop::collection::vec(any::<u64>(), 1..40), seed in any::<u64>()) {
        let x = tensor(xs.clone(), &[xs.len()]);
        for p in protocols() {
            let before = p.deal(&x, seed);
            let dealt = before.clone();
            let after = run3(&p, move |ctx, p| p.refresh(ctx, &dealt[ctx.me]));
            let opened = p.open(&after);
            prop_assert_eq!(opened.as_slice().unwrap(), &xs[..], "{}", p.name());
            // Every component of every member is new: no word survives in place (each one is
            // the old word plus a pseudo-random mask; equal with probability 2^-64 per word).
            for (old, new) in before.iter().zip(&after) {
                prop_assert_eq!(old.parts().len(), new.parts().len(), "{}", p.name());
                for (a, b) in old.parts().iter().zip(new.parts()) {
                    for (u, v) in a.iter().zip(b.iter()) {
                        prop_assert_ne!(u, v, "{}: a share kept a word", p.name());
                    }
                }
            }
        }
    }

    #[test]
    fn msb_is_the_sign(xs in prop::collection::vec(-(1i64 << 62)..(1i64 << 62), 1..30), seed in any::<u64>()) {
        let x = tensor(xs.iter().map(|v| *v as u64).collect(), &[xs.len()]);
        let expected: Vec<u64> = xs.iter().map(|v| u64::from(*v < 0)).collect();
        for (name, opened) in unary(&x, seed, |ctx, p, x| p.msb(ctx, x)) {
            prop_assert_eq!(opened.as_slice().unwrap(), &expected[..], "{}", name);
        }
    }

    #[test]
    fn the_carry_tree_gives_bit_63_of_any_word(
        rows in 1usize..5,
        cols in 1usize..90,
        transposed in any::<bool>(),
        seed in any::<u64>(),
    ) {
        // Any word (not only values below 2^62 in magnitude), blocks of 64 elements and a
        // partial last block, and operands not in standard layout (a transposed view).
        let words: Vec<u64> = (0..rows * cols)
            .map(|i| (i as u64 ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(i as u32))
            .collect();
        let x = tensor(words, &[rows, cols]);
        // With `transposed`, the op sees the transpose as a column-major array.
        let logical = if transposed { x.t().to_owned() } else { x.clone() };
        let expected: Vec<u64> = logical.iter().map(|w| w >> 63).collect();
        for (name, opened) in unary(&x, seed, move |ctx, p, x| {
            let x = if transposed {
                x.map_with(|t| Ok::<_, RunError>(t.t().to_owned()), |g| Ok(g.t().to_owned()))?
            } else {
                x.clone()
            };
            composite::msb(p, ctx, &x)
        }) {
            prop_assert_eq!(opened.shape(), logical.shape(), "{}", name);
            prop_assert_eq!(opened.iter().copied().collect::<Vec<_>>(), expected.clone(), "{}", name);
        }
    }

    #[test]
    fn bit_decomposition_is_exact(xs in prop::collection::vec(any::<u64>(), 1..20), seed in any::<u64>()) {
        // The boolean sharing of a2b, opened with ^ (each protocol's open adds; for bits that
        // differ, open the XOR by revealing both sides separately is not possible, so compare
        // through the injection of every bit).
        let x = tensor(xs.clone(), &[xs.len()]);
        let weights: Vec<u64> = (0..64).map(|j| 1u64 << j).collect();
        for (name, opened) in unary(&x, seed, move |ctx, p, x| {
            let bits = composite::a2b(p, ctx, x)?;
            p.inject(ctx, &bits, 0, &weights)
        }) {
            prop_assert_eq!(opened.as_slice().unwrap(), &xs[..], "{}", name);
        }
    }

    #[test]
    fn highest_bit_lookup_reads_the_table_at_the_top_bit(
        xs in prop::collection::vec(any::<i64>(), 1..30),
        shifts in prop::collection::vec(0u32..64, 30),
        lo in -3i64..40,
        table in prop::collection::vec(any::<u64>(), 1..30),
        seed in any::<u64>(),
    ) {
        // Values of every magnitude: shift random words right so that each bit length occurs.
        let values: Vec<i64> = xs.iter().zip(&shifts).map(|(v, s)| v >> s).collect();
        let x = tensor(values.iter().map(|v| *v as u64).collect(), &[values.len()]);
        let t = table.clone();
        for (name, opened) in unary(&x, seed, move |ctx, p, x| composite::highest_bit_lookup(p, ctx, x, lo, &t)) {
            prop_assert_eq!(opened.shape(), &[values.len()][..]);
            for (i, v) in values.iter().enumerate() {
                // The highest set bit: None for 0, 63 for negatives (never in a table).
                let want = match (*v as u64).checked_ilog2().map(i64::from) {
                    Some(top) if top < 63 && top >= lo && top < lo + table.len() as i64 => {
                        table[(top - lo) as usize]
                    }
                    _ => 0,
                };
                prop_assert_eq!(opened[[i]], want, "{}: value {}", name, v);
            }
        }
    }

    #[test]
    fn comparisons_equality_and_select_are_exact(
        xs in prop::collection::vec(-20i64..20, 1..24),
        seed in any::<u64>(),
    ) {
        let ys: Vec<i64> = xs.iter().map(|v| (v * 7 + 3) % 11).collect();
        let n = xs.len();
        let enc = |v: &[i64]| tensor(v.iter().map(|x| *x as u64).collect(), &[n]);
        let (x, y) = (enc(&xs), enc(&ys));
        let bit = |b: bool| u64::from(b);
        let cases: Vec<(&str, Vec<u64>)> = vec![
            ("lt", xs.iter().zip(&ys).map(|(a, b)| bit(a < b)).collect()),
            ("le", xs.iter().zip(&ys).map(|(a, b)| bit(a <= b)).collect()),
            ("eq", xs.iter().zip(&ys).map(|(a, b)| bit(a == b)).collect()),
            ("select", xs.iter().zip(&ys).map(|(a, b)| (*a.max(b)) as u64).collect()),
            ("or", xs.iter().zip(&ys).map(|(a, b)| bit(*a < 0 || *b < 0)).collect()),
        ];
        for (what, expected) in cases {
            let op = move |ctx: &mut Ctx<'_>, p: &dyn Protocol, x: &Shares, y: &Shares| match what {
                "lt" => composite::less(p, ctx, x, y, true),
                "le" => composite::less(p, ctx, x, y, false),
                "eq" => composite::equal(p, ctx, x, y),
                "select" => {
                    let c = composite::less(p, ctx, x, y, true)?;
                    composite::select(p, ctx, &c, y, x)
                }
                _ => {
                    let (a, b) = (p.msb(ctx, x)?, p.msb(ctx, y)?);
                    composite::or(p, ctx, &a, &b)
                }
            };
            for (name, opened) in binary(&x, &y, seed, op) {
                prop_assert_eq!(opened.as_slice().unwrap(), &expected[..], "{} {}", name, what);
            }
        }
    }

    #[test]
    fn max_along_an_axis_is_exact(
        rows in 1usize..12,
        cols in 1usize..6,
        axis in 0usize..2,
        path in 0usize..3,
        xs in prop::collection::vec(-(1i64 << 40)..(1i64 << 40), 72),
        seed in any::<u64>(),
    ) {
        // Whichever `max_axis` picks for the sizes, the tournament, or all pairs at once.
        let n = rows * cols;
        let values: Vec<u64> = xs[..n].iter().map(|v| *v as u64).collect();
        let m = ndarray::Array2::from_shape_fn((rows, cols), |(r, c)| xs[r * cols + c]);
        let expected: Vec<u64> = m
            .lanes(ndarray::Axis(axis))
            .into_iter()
            .map(|lane| *lane.iter().max().unwrap() as u64)
            .collect();
        for (name, opened) in unary(&tensor(values, &[rows, cols]), seed, move |ctx, p, x| match path {
            0 => composite::max_axis(p, ctx, x, axis),
            1 => composite::max_tournament(p, ctx, x, axis),
            _ => composite::all_pairs(p, ctx, x, axis, false),
        }) {
            prop_assert_eq!(opened.shape(), &[if axis == 0 { cols } else { rows }][..], "{}", name);
            prop_assert_eq!(opened.iter().copied().collect::<Vec<_>>(), expected.clone(), "{}", name);
        }
    }

    #[test]
    fn max_onehot_picks_the_first_maximal_entry_of_each_row(
        rows in 1usize..8,
        cols in 1usize..10,
        xs in prop::collection::vec(-4i64..4, 80),
        seed in any::<u64>(),
    ) {
        // Few distinct values: ties are common, and the one chosen must be the first.
        let n = rows * cols;
        let values: Vec<u64> = xs[..n].iter().map(|v| *v as u64).collect();
        let one = 1u64 << 16;
        let mut expected = Vec::new();
        for r in 0..rows {
            let row = &xs[r * cols..(r + 1) * cols];
            let best = (0..cols).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            expected.extend((0..cols).map(|j| if j == best { one } else { 0 }));
            expected.push(row[best] as u64);
        }
        for (name, opened) in unary(&tensor(values, &[rows, cols]), seed, move |ctx, p, x| composite::max_onehot(p, ctx, x, one)) {
            prop_assert_eq!(opened.shape(), &[rows, cols + 1][..], "{}", name);
            prop_assert_eq!(opened.iter().copied().collect::<Vec<_>>(), expected.clone(), "{}", name);
        }
    }

    #[test]
    fn argmax_points_at_a_maximum(
        rows in 1usize..12,
        cols in 1usize..6,
        axis in 0usize..2,
        path in 0usize..3,
        xs in prop::collection::vec(-50i64..50, 72),
        seed in any::<u64>(),
    ) {
        // Few distinct values: ties are common, and any maximum's index is right.
        let n = rows * cols;
        let values: Vec<u64> = xs[..n].iter().map(|v| *v as u64).collect();
        let m = ndarray::Array2::from_shape_fn((rows, cols), |(r, c)| xs[r * cols + c]);
        let lanes: Vec<Vec<i64>> = m
            .lanes(ndarray::Axis(axis))
            .into_iter()
            .map(|lane| lane.to_vec())
            .collect();
        for (name, opened) in unary(&tensor(values, &[rows, cols]), seed, move |ctx, p, x| match path {
            0 => composite::argmax_axis(p, ctx, x, axis),
            1 => composite::argmax_tournament(p, ctx, x, axis),
            _ => composite::all_pairs(p, ctx, x, axis, true),
        }) {
            prop_assert_eq!(opened.len(), lanes.len());
            for (lane, index) in lanes.iter().zip(opened.iter()) {
                let best = *lane.iter().max().unwrap();
                prop_assert!((*index as usize) < lane.len(), "{}", name);
                prop_assert_eq!(lane[*index as usize], best, "{}", name);
                if path == 2 {
                    // All pairs pick the first maximum.
                    let first = lane.iter().position(|v| *v == best).unwrap();
                    prop_assert_eq!(*index as usize, first, "{}", name);
                }
            }
        }
    }

    #[test]
    fn sharing_and_revealing_round_trip(
        xs in prop::collection::vec(any::<u64>(), 1..20),
        owner in 0usize..4,
        target in 0usize..4,
        shape_known in any::<bool>(),
    ) {
        // Parties 0..3 are members; party 3 is outside the placement.
        let n = xs.len();
        let x = tensor(xs.clone(), &[n]);
        for p in protocols() {
            let x = x.clone();
            let results = run_parties(&p, 4, move |ctx, p| {
                let mine = (ctx.me == owner).then_some(&x);
                let dims = [n];
                let known = shape_known.then_some(&dims[..]);
                let shares = if ctx.me < 3 || ctx.me == owner {
                    p.share(ctx, owner, mine, known)?
                } else {
                    None
                };
                if ctx.me < 3 {
                    p.end_op(ctx)?;
                }
                // The reveal is another op: its own id, its own steps.
                ctx.op = 3;
                ctx.step = 0;
                let revealed = if ctx.me < 3 || ctx.me == target {
                    p.reveal(ctx, shares.as_ref(), &[target])?
                } else {
                    None
                };
                Ok(revealed)
            });
            for (q, r) in results.iter().enumerate() {
                if q == target {
                    prop_assert_eq!(r.as_ref().unwrap().as_slice().unwrap(), &xs[..], "{}", p.name());
                } else {
                    prop_assert!(r.is_none(), "{}", p.name());
                }
            }
        }
    }
}

/// Fractional bits at 128 bits (the design sketch's `ring = 128, frac = 32`).
const FRAC128: u32 = 32;

fn wide(values: Vec<u128>, shape: &[usize]) -> RingTensor<u128> {
    ArrayD::from_shape_vec(IxDyn(shape), values).unwrap()
}

/// Random 128-bit words from the strategy's u64 pairs.
fn words128(pairs: &[(u64, u64)]) -> Vec<u128> {
    pairs
        .iter()
        .map(|(h, l)| (*h as u128) << 64 | *l as u128)
        .collect()
}

/// [`unary_in`] under aby3 and pond at 128 bits.
fn unary128(
    x: &RingTensor<u128>,
    seed: u64,
    op: impl Fn(&mut Ctx<'_>, &dyn Protocol<u128>, &Shares<u128>) -> Result<Shares<u128>, RunError>
    + Send
    + Sync
    + Clone
    + 'static,
) -> Vec<(&'static str, RingTensor<u128>)> {
    unary_in(protocols_at(FRAC128), x, seed, op)
}

/// [`binary_in`] under aby3 and pond at 128 bits.
fn binary128(
    x: &RingTensor<u128>,
    y: &RingTensor<u128>,
    seed: u64,
    op: impl Fn(
        &mut Ctx<'_>,
        &dyn Protocol<u128>,
        &Shares<u128>,
        &Shares<u128>,
    ) -> Result<Shares<u128>, RunError>
    + Send
    + Sync
    + Clone
    + 'static,
) -> Vec<(&'static str, RingTensor<u128>)> {
    binary_in(protocols_at(FRAC128), x, y, seed, op)
}

// The same properties in Z_2^128 (aby3 and pond; securenn is 64-bit only): every word is 128
// bits, every comparison reads bit 127, fixed point has 32 fractional bits.
proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn integer_products_are_exact_at_128_bits(
        pairs in prop::collection::vec(any::<(u64, u64)>(), 1..30),
        seed in any::<u64>(),
    ) {
        let xs = words128(&pairs);
        let ys: Vec<u128> = xs.iter().map(|v| v.rotate_left(71) ^ 0x9e37).collect();
        let n = xs.len();
        let expected: Vec<u128> = xs.iter().zip(&ys).map(|(a, b)| a.wrapping_mul(*b)).collect();
        let (x, y) = (wide(xs, &[n]), wide(ys, &[n]));
        for (name, opened) in binary128(&x, &y, seed, |ctx, p, x, y| p.mul(ctx, x, y, 0)) {
            prop_assert_eq!(opened.as_slice().unwrap(), &expected[..], "{}", name);
        }
        // And the same products batched with a matrix product, in one round.
        let column = wide(expected.clone(), &[n, 1]);
        for (name, opened) in binary128(&x, &y, seed, move |ctx, p, x, y| {
            let xc = x.map_with(|t| crate::value::reshape(t, &[n, 1]), |g| crate::value::reshape(g, &[n, 1]))?;
            let one = p.public(ctx.me, &wide(vec![1], &[1, 1]))?;
            let mut out = p.products(ctx, &[Product::Mul(x, y), Product::MatMul(&xc, &one)], 0)?;
            let m = out.pop().unwrap();
            let e = out.pop().unwrap();
            // e - x·1 as a column: the products' difference, x·y - x.
            let ec = e.map_with(|t| crate::value::reshape(t, &[n, 1]), |g| crate::value::reshape(g, &[n, 1]))?;
            ec.sub(&m)
        }) {
            let want: Vec<u128> = column.iter().zip(x.iter()).map(|(p, v)| p.wrapping_sub(*v)).collect();
            prop_assert_eq!(opened.iter().copied().collect::<Vec<_>>(), want, "{} batched", name);
        }
    }

    #[test]
    fn broadcast_and_mapped_products_are_exact_at_128_bits(
        rows in 1usize..6,
        cols in 1usize..6,
        pairs in prop::collection::vec(any::<(u64, u64)>(), 60),
        seed in any::<u64>(),
    ) {
        // A column times a row (both operands broadcast), and a matrix product mapped by
        // col2im before its resharing (`matmul_then`, a convolution's input gradient).
        let w = words128(&pairs);
        let (xs, ys) = (w[..rows].to_vec(), w[rows..rows + cols].to_vec());
        let (x, y) = (wide(xs.clone(), &[rows, 1]), wide(ys.clone(), &[cols]));
        for (name, opened) in binary128(&x, &y, seed, |ctx, p, x, y| p.mul(ctx, x, y, 0)) {
            prop_assert_eq!(opened.shape(), &[rows, cols][..], "{}", name);
            for r in 0..rows {
                for c in 0..cols {
                    prop_assert_eq!(opened[[r, c]], xs[r].wrapping_mul(ys[c]), "{}", name);
                }
            }
        }
        let g = tfe_ir::Window { h: 3, w: 3, c: 1, kh: 2, kw: 2, stride: 1, pad: 0 };
        let (oh, ow) = g.out();
        let f = cols;
        let a = wide(w[..oh * ow * f].to_vec(), &[oh * ow, f]);
        let b = wide(w[20..20 + f * 4].to_vec(), &[f, 4]);
        let expected = crate::value::col2im(&ring::matmul(&a, &b).unwrap(), &g, u128::wrapping_add).unwrap();
        for (name, opened) in binary128(&a, &b, seed, move |ctx, p, x, y| {
            let apply = |t: &RingTensor<u128>| crate::value::col2im(t, &g, u128::wrapping_add).map_err(RunError::Shape);
            let post = Linear { apply: &apply, shape: vec![1, 9] };
            p.matmul_then(ctx, x, y, 0, &post)
        }) {
            prop_assert_eq!(&opened, &expected, "{}", name);
        }
    }

    #[test]
    fn fixed_point_products_are_within_one_unit_at_128_bits(
        xs in prop::collection::vec(-1e6f64..1e6, 1..30),
        seed in any::<u64>(),
    ) {
        // Magnitudes a 64-bit ring with 16 fractional bits cannot hold (products up to 3.4e11,
        // past its 2^31), well within 128/32's: the truncation fails with probability about
        // |x y| / 2^63 per product (SecureML's bound, as at 64 bits with 2^31).
        let ys: Vec<f64> = xs.iter().map(|v| 1.5 - v / 3.0).collect();
        let enc = |v: &[f64]| ring::encode_fixed::<u128>(&ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).unwrap(), FRAC128);
        for (name, opened) in binary128(&enc(&xs), &enc(&ys), seed, |ctx, p, x, y| p.mul(ctx, x, y, FRAC128)) {
            let got = ring::decode_fixed(&opened, FRAC128);
            for ((x, y), g) in xs.iter().zip(&ys).zip(got.iter()) {
                // Encoding rounds each factor by 2^-33; truncation adds at most 2^-32; f64
                // holds the product to 53 bits.
                let bound = (x.abs() + y.abs() + 1.0) * 2f64.powi(-33) + 2f64.powi(-32) + (x * y).abs() * 2f64.powi(-52);
                prop_assert!((g - x * y).abs() <= bound, "{}: {} * {} = {} (got {})", name, x, y, x * y, g);
            }
        }
    }

    #[test]
    fn fixed_point_matmul_is_within_bound_at_128_bits(m in 1usize..5, k in 1usize..12, n in 1usize..4, seed in any::<u64>()) {
        let a: Vec<f64> = (0..m * k).map(|i| ((i as u64 ^ seed) % 200) as f64 * 1e5 - 1e7).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (((i as u64 * 7) ^ seed) % 100) as f64 / 25.0 - 2.0).collect();
        let ta = ring::encode_fixed::<u128>(&ArrayD::from_shape_vec(IxDyn(&[m, k]), a.clone()).unwrap(), FRAC128);
        let tb = ring::encode_fixed::<u128>(&ArrayD::from_shape_vec(IxDyn(&[k, n]), b.clone()).unwrap(), FRAC128);
        for (name, opened) in binary128(&ta, &tb, seed, |ctx, p, x, y| p.matmul(ctx, x, y, FRAC128)) {
            let got = ring::decode_fixed(&opened, FRAC128);
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = (0..k).map(|t| a[i * k + t] * b[t * n + j]).sum();
                    // b's encoding error (2^-33 each) times |a| summed, and one truncation.
                    let bound = (0..k).map(|t| a[i * k + t].abs()).sum::<f64>() * 2f64.powi(-33) + 2f64.powi(-32) + 1e-9;
                    prop_assert!((got[[i, j]] - want).abs() <= bound, "{}: {} vs {}", name, got[[i, j]], want);
                }
            }
        }
    }

    #[test]
    fn msb_is_bit_127_at_128_bits(
        pairs in prop::collection::vec(any::<(u64, u64)>(), 1..140),
        seed in any::<u64>(),
    ) {
        // Any word, in blocks of 128 elements and a partial last block.
        let xs = words128(&pairs);
        let expected: Vec<u128> = xs.iter().map(|v| v >> 127).collect();
        let n = xs.len();
        for (name, opened) in unary128(&wide(xs, &[n]), seed, |ctx, p, x| p.msb(ctx, x)) {
            prop_assert_eq!(opened.as_slice().unwrap(), &expected[..], "{}", name);
        }
    }

    #[test]
    fn bit_decomposition_is_exact_at_128_bits(
        pairs in prop::collection::vec(any::<(u64, u64)>(), 1..20),
        seed in any::<u64>(),
    ) {
        let xs = words128(&pairs);
        let weights: Vec<u128> = (0..128).map(|j| 1u128 << j).collect();
        let n = xs.len();
        for (name, opened) in unary128(&wide(xs.clone(), &[n]), seed, move |ctx, p, x| {
            let bits = composite::a2b(p, ctx, x)?;
            p.inject(ctx, &bits, 0, &weights)
        }) {
            prop_assert_eq!(opened.as_slice().unwrap(), &xs[..], "{}", name);
        }
    }

    #[test]
    fn highest_bit_lookup_reads_the_table_at_the_top_bit_at_128_bits(
        pairs in prop::collection::vec(any::<(u64, u64)>(), 1..20),
        shifts in prop::collection::vec(0u32..128, 20),
        lo in -3i64..120,
        table in prop::collection::vec(any::<(u64, u64)>(), 1..20),
        seed in any::<u64>(),
    ) {
        let values: Vec<i128> = words128(&pairs).iter().zip(&shifts).map(|(v, s)| (*v as i128) >> s).collect();
        let table = words128(&table);
        let n = values.len();
        let x = wide(values.iter().map(|v| *v as u128).collect(), &[n]);
        let t = table.clone();
        for (name, opened) in unary128(&x, seed, move |ctx, p, x| composite::highest_bit_lookup(p, ctx, x, lo, &t)) {
            for (i, v) in values.iter().enumerate() {
                let want = match (*v as u128).checked_ilog2().map(i64::from) {
                    Some(top) if top < 127 && top >= lo && top < lo + table.len() as i64 => {
                        table[(top - lo) as usize]
                    }
                    _ => 0,
                };
                prop_assert_eq!(opened[[i]], want, "{}: value {}", name, v);
            }
        }
    }

    #[test]
    fn comparisons_equality_select_and_maxima_are_exact_at_128_bits(
        xs in prop::collection::vec(-(1i128 << 100)..(1i128 << 100), 1..24),
        rows in 1usize..5,
        seed in any::<u64>(),
    ) {
        // Values beyond 64 bits, and ties.
        let ys: Vec<i128> = xs.iter().enumerate().map(|(i, v)| if i % 3 == 0 { *v } else { (v * 7 + 3) % (1i128 << 90) }).collect();
        let n = xs.len();
        let enc = |v: &[i128]| wide(v.iter().map(|x| *x as u128).collect(), &[n]);
        let (x, y) = (enc(&xs), enc(&ys));
        let bit = |b: bool| u128::from(b);
        let cases: Vec<(&str, Vec<u128>)> = vec![
            ("lt", xs.iter().zip(&ys).map(|(a, b)| bit(a < b)).collect()),
            ("le", xs.iter().zip(&ys).map(|(a, b)| bit(a <= b)).collect()),
            ("eq", xs.iter().zip(&ys).map(|(a, b)| bit(a == b)).collect()),
            ("select", xs.iter().zip(&ys).map(|(a, b)| (*a.max(b)) as u128).collect()),
        ];
        for (what, expected) in cases {
            let op = move |ctx: &mut Ctx<'_>, p: &dyn Protocol<u128>, x: &Shares<u128>, y: &Shares<u128>| match what {
                "lt" => composite::less(p, ctx, x, y, true),
                "le" => composite::less(p, ctx, x, y, false),
                "eq" => composite::equal(p, ctx, x, y),
                _ => {
                    let c = composite::less(p, ctx, x, y, true)?;
                    composite::select(p, ctx, &c, y, x)
                }
            };
            for (name, opened) in binary128(&x, &y, seed, op) {
                prop_assert_eq!(opened.as_slice().unwrap(), &expected[..], "{} {}", name, what);
            }
        }
        // Maxima and argmaxima of `rows` rows, by the tournament and by all pairs.
        let cols = n.div_ceil(rows);
        let values: Vec<i128> = (0..rows * cols).map(|i| xs[i % n] ^ (i as i128 % 3)).collect();
        let m = ndarray::Array2::from_shape_fn((rows, cols), |(r, c)| values[r * cols + c]);
        let maxima: Vec<u128> = m.rows().into_iter().map(|r| *r.iter().max().unwrap() as u128).collect();
        let t = wide(values.iter().map(|v| *v as u128).collect(), &[rows, cols]);
        for path in 0..3 {
            for (name, opened) in unary128(&t, seed, move |ctx, p, x| match path {
                0 => composite::max_tournament(p, ctx, x, 1),
                1 => composite::all_pairs(p, ctx, x, 1, false),
                _ => {
                    // The maximum through the argmax: pick each row's entry at its index.
                    let idx = composite::argmax_axis(p, ctx, x, 1)?;
                    let cols_t = wide((0..cols as u128).collect(), &[1, cols]);
                    let idx_col = idx.map_with(|t| crate::value::reshape(t, &[rows, 1]), |g| crate::value::reshape(g, &[rows, 1]))?;
                    let d = p.public(ctx.me, &cols_t)?.sub(&idx_col)?;
                    let hit = composite::equal(p, ctx, &d, &p.public(ctx.me, &wide(vec![0], &[1, 1]))?)?;
                    let picked = p.mul(ctx, &hit, x, 0)?;
                    picked.map_with(|t| crate::value::sum(t, Some(1), u128::wrapping_add), |g| crate::value::sum(g, Some(1), |_, _| ()))
                }
            }) {
                prop_assert_eq!(opened.iter().copied().collect::<Vec<_>>(), maxima.clone(), "{} path {}", name, path);
            }
        }
    }

    #[test]
    fn sharing_revealing_and_refreshing_round_trip_at_128_bits(
        pairs in prop::collection::vec(any::<(u64, u64)>(), 1..20),
        owner in 0usize..4,
        target in 0usize..4,
    ) {
        // Parties 0..3 are members; party 3 is outside the placement.
        let xs = words128(&pairs);
        let n = xs.len();
        let x = wide(xs.clone(), &[n]);
        for p in protocols_at::<u128>(FRAC128) {
            let x = x.clone();
            let results = run_parties(&p, 4, move |ctx, p| {
                let mine = (ctx.me == owner).then_some(&x);
                let shares = if ctx.me < 3 || ctx.me == owner {
                    p.share(ctx, owner, mine, None)?
                } else {
                    None
                };
                if ctx.me < 3 {
                    p.end_op(ctx)?;
                }
                ctx.op = 3;
                ctx.step = 0;
                let fresh = match &shares {
                    Some(s) if ctx.me < 3 => {
                        let r = p.refresh(ctx, s)?;
                        p.end_op(ctx)?;
                        Some(r)
                    }
                    _ => None,
                };
                ctx.op = 4;
                ctx.step = 0;
                let revealed = if ctx.me < 3 || ctx.me == target {
                    p.reveal(ctx, fresh.as_ref(), &[target])?
                } else {
                    None
                };
                Ok(revealed)
            });
            for (q, r) in results.iter().enumerate() {
                if q == target {
                    prop_assert_eq!(r.as_ref().unwrap().as_slice().unwrap(), &xs[..], "{}", p.name());
                } else {
                    prop_assert!(r.is_none(), "{}", p.name());
                }
            }
        }
    }
}

#[test]
fn truncation_of_a_public_product() {
    let xs = [3.25, -7.5, 0.0, 1000.125];
    let c = fixed(&[0.5]);
    for (name, opened) in unary(&fixed(&xs), 5, move |ctx, p, x| {
        let scaled = x.mul_public(&c)?;
        p.trunc(ctx, &scaled, FRAC)
    }) {
        let got = ring::decode_fixed(&opened, FRAC);
        for (x, g) in xs.iter().zip(got.iter()) {
            assert!(
                (g - x * 0.5).abs() <= 2f64.powi(-16) + 1e-12,
                "{name}: {x}: {g}"
            );
        }
    }
}

/// The shares of a public value (pond's: the value at server 0, zero at server 1) are not
/// uniformly random, yet truncate like any other, negative values included. (Regression: pond
/// shifted its shares as unsigned words, so the shares `(c, 0)` of a negative `c` truncated to
/// about 2^(64 - 16), as in `let c: fixed @rep = -2.0; c * 0.5`.)
#[test]
fn truncation_of_a_public_values_shares() {
    let xs = [3.25, -7.5, 0.0, -1.0 / 65536.0, 1000.125, -1000.5, -0.75];
    for p in protocols() {
        let x = fixed(&xs);
        let out = run3(&p, move |ctx, p| {
            let shares = p.public(ctx.me, &x)?;
            p.trunc(ctx, &shares.mul_public(&fixed(&[0.5]))?, FRAC)
        });
        let got = ring::decode_fixed(&p.open(&out), FRAC);
        for (x, g) in xs.iter().zip(got.iter()) {
            assert!(
                (g - x * 0.5).abs() <= 2f64.powi(-16) + 1e-12,
                "{}: {x} * 0.5 = {g}",
                p.name()
            );
        }
    }
}

/// What each member sent while running `f` once: (bytes, messages, rounds).
fn traffic(
    p: &Arc<dyn Protocol>,
    f: impl Fn(&mut Ctx<'_>, &dyn Protocol) -> Result<Shares, RunError> + Send + Sync + 'static,
) -> Vec<(u64, u64, u64)> {
    run3(p, move |ctx, p| {
        f(ctx, p)?;
        p.end_op(ctx)?;
        ctx.net.flush().unwrap();
        let s = ctx.net.stats();
        Ok((s.bytes_sent, s.messages_sent, s.rounds))
    })
}

/// A ring tensor of `elements` elements and rank `rank` on the wire: 8 bytes per element and per
/// dimension (the shape travels with it).
fn tensor_bytes(elements: usize, rank: usize) -> u64 {
    (8 * elements + 8 * rank) as u64
}

/// Rounds and bytes per op against aby3's theory (its module header). A round is a send
/// followed by a wait; a party that only sends in a step, or only receives, does not count one.
#[test]
fn aby3_rounds_and_bytes_match_the_theory() {
    let p = protocols().remove(0);
    assert_eq!(p.name(), "aby3");
    let n = 1000;
    let x = p.deal(&tensor((0..n as u64).collect(), &[n]), 1);
    let y = p.deal(&tensor((0..n as u64).map(|v| v * 3).collect(), &[n]), 2);

    // Product, no truncation: each role sends its masked part to the previous one. 1 round.
    let (xs, ys) = (x.clone(), y.clone());
    let t = traffic(&p, move |ctx, p| p.mul(ctx, &xs[ctx.me], &ys[ctx.me], 0));
    assert_eq!(t, vec![(tensor_bytes(n, 1), 1, 1); 3], "mul");

    // Product with truncation, fused: 1 → 2, 2 → 1, 0 → 2. Every party sends one ring element
    // per element; role 0 never waits.
    let (xs, ys) = (x.clone(), y.clone());
    let t = traffic(&p, move |ctx, p| p.mul(ctx, &xs[ctx.me], &ys[ctx.me], FRAC));
    assert_eq!(t[0], (tensor_bytes(n, 1), 1, 0), "mul.trunc role 0");
    assert_eq!(t[1], (tensor_bytes(n, 1), 1, 1), "mul.trunc role 1");
    assert_eq!(t[2], (tensor_bytes(n, 1), 1, 1), "mul.trunc role 2");

    // Matmul 20×30 · 30×5: one ring element per element of the *result*.
    let a = p.deal(&tensor((0..600).collect(), &[20, 30]), 3);
    let b = p.deal(&tensor((0..150).collect(), &[30, 5]), 4);
    let t = traffic(&p, move |ctx, p| p.matmul(ctx, &a[ctx.me], &b[ctx.me], 0));
    assert_eq!(t, vec![(tensor_bytes(100, 2), 1, 1); 3], "matmul");

    // Three products run together (an elementwise product of 1000, the matmul above, a
    // truncation of 1000): one message of all their words per party, in one round.
    let (xs, ys) = (x.clone(), y.clone());
    let a = p.deal(&tensor((0..600).collect(), &[20, 30]), 3);
    let b = p.deal(&tensor((0..150).collect(), &[30, 5]), 4);
    let t = traffic(&p, move |ctx, p| {
        let items = [
            Product::Mul(&xs[ctx.me], &ys[ctx.me]),
            Product::MatMul(&a[ctx.me], &b[ctx.me]),
            Product::Trunc(&xs[ctx.me]),
        ];
        let mut out = p.products(ctx, &items, FRAC)?;
        Ok(out.remove(0))
    });
    assert_eq!(t[0], (tensor_bytes(2100, 1), 1, 0), "products role 0");
    for (role, sent) in t.iter().enumerate().skip(1) {
        assert_eq!(*sent, (tensor_bytes(2100, 1), 1, 1), "products role {role}");
    }

    // The same product mapped before its resharing: col2im of the 2×2 windows of 3×3 images
    // (4 windows per image), 20 rows of 4 into 5 images of 9 pixels. Each party sends the
    // images (45 words), not the windows (80).
    let a = p.deal(&tensor((0..600).collect(), &[20, 30]), 3);
    let b = p.deal(&tensor((0..120).collect(), &[30, 4]), 4);
    let g = tfe_ir::Window {
        h: 3,
        w: 3,
        c: 1,
        kh: 2,
        kw: 2,
        stride: 1,
        pad: 0,
    };
    let t = traffic(&p, move |ctx, p| {
        let apply = |t: &RingTensor| {
            crate::value::col2im(t, &g, u64::wrapping_add).map_err(RunError::Shape)
        };
        let post = Linear {
            apply: &apply,
            shape: vec![5, 9],
        };
        p.matmul_then(ctx, &a[ctx.me], &b[ctx.me], FRAC, &post)
    });
    for (role, &(bytes, messages, _)) in t.iter().enumerate() {
        assert_eq!(
            (bytes, messages),
            (tensor_bytes(45, 2), 1),
            "matmul_then role {role}"
        );
    }

    // Sign: role 0 shares x_0 + x_1 bitwise (1 message), then the carry tree on bit planes
    // (⌈1000 / 64⌉ = 16 words per plane): the 63 generates (1 round) and 6 levels of 61, 31,
    // 15, 7, 3 and 1 planes, one message each; then the injection: role 0's part to role 2, and
    // one word from each of roles 1 and 2 to make the shares replicated. At most 10 rounds.
    let xs = x.clone();
    let t = traffic(&p, move |ctx, p| p.msb(ctx, &xs[ctx.me]));
    let tree: u64 = CARRY_PLANES
        .iter()
        .map(|k| tensor_bytes(k * n.div_ceil(64), 2))
        .sum();
    for (role, &(bytes, messages, rounds)) in t.iter().enumerate() {
        assert!(rounds <= 10, "msb role {role}: {rounds} rounds");
        let words = if role == 0 { 2 } else { 1 };
        assert_eq!(messages, words + 7, "msb role {role}");
        assert_eq!(bytes, words * tensor_bytes(n, 1) + tree, "msb role {role}");
    }

    // A 24-entry lookup at the highest bit: A2B (role 0's sharing, the generate bits, 12
    // Kogge–Stone ANDs), 6 prefix-OR ANDs, role 0's 24 bit parts per element to role 2, and one
    // word each from roles 1 and 2 to make the result replicated: 16 rounds.
    let xs = x.clone();
    let table: Vec<u64> = (1..=24).collect();
    let t = traffic(&p, move |ctx, p| {
        composite::highest_bit_lookup(p, ctx, &xs[ctx.me], 0, &table)
    });
    for (role, &(bytes, messages, rounds)) in t.iter().enumerate() {
        assert!(rounds <= 16, "lookup role {role}: {rounds} rounds");
        let (words, wide) = if role == 0 { (20, 1) } else { (20, 0) };
        assert_eq!(messages, words + wide, "lookup role {role}");
        assert_eq!(
            bytes,
            words * tensor_bytes(n, 1) + wide * tensor_bytes(n * 24, 1),
            "lookup role {role}"
        );
    }

    // Max of 1000: 10 levels of one comparison and one select on the halves (500, 250, …).
    let xs = x.clone();
    let t = traffic(&p, move |ctx, p| {
        composite::max_axis(p, ctx, &xs[ctx.me], 0)
    });
    let mut pairs = 0;
    let mut m = n;
    while m > 1 {
        pairs += m / 2;
        m = m.div_ceil(2);
    }
    assert_eq!(pairs, n - 1, "a tournament makes n - 1 comparisons");
    for (role, &(bytes, _, rounds)) in t.iter().enumerate() {
        assert!(rounds <= 10 * 11, "max role {role}: {rounds} rounds");
        // Per level of `h` pairs: the comparison (its word messages, one word per pair each,
        // and its carry tree on planes of ⌈h / 64⌉ words) and the select's product.
        let mut expected = 0;
        let mut m = n;
        while m > 1 {
            let h = m / 2;
            let words = if role == 0 { 2 + 1 } else { 1 + 1 };
            expected += words * tensor_bytes(h, 1);
            expected += CARRY_PLANES
                .iter()
                .map(|k| tensor_bytes(k * h.div_ceil(64), 2))
                .sum::<u64>();
            m = m.div_ceil(2);
        }
        assert_eq!(bytes, expected, "max role {role}");
    }
}

/// The planes each AND of the carry tree of a comparison takes ([`super::carry`]).
const CARRY_PLANES: [usize; 7] = [63, 61, 31, 15, 7, 3, 1];

/// Rounds and bytes per op against pond's theory (its module header): the servers open the
/// operands of a product, the dealer sends one word per result element to server 1 and receives
/// nothing.
#[test]
fn pond_rounds_and_bytes_match_the_theory() {
    let p = protocols().remove(1);
    assert_eq!(p.name(), "pond");
    let n = 1000;
    let x = p.deal(&tensor((0..n as u64).collect(), &[n]), 1);
    let y = p.deal(&tensor((0..n as u64).map(|v| v * 3).collect(), &[n]), 2);

    // Product (truncated or not: the truncation is local): each server sends x - a and y - b.
    for trunc in [0, FRAC] {
        let (xs, ys) = (x.clone(), y.clone());
        let t = traffic(&p, move |ctx, p| {
            p.mul(ctx, &xs[ctx.me], &ys[ctx.me], trunc)
        });
        assert_eq!(t[0], (2 * tensor_bytes(n, 1), 2, 1), "mul role 0");
        assert_eq!(t[1], (2 * tensor_bytes(n, 1), 2, 1), "mul role 1");
        assert_eq!(
            t[2],
            (tensor_bytes(n, 1), 1, 0),
            "mul: the dealer sends c_1 only"
        );
    }

    // Matmul 20×30 · 30×5: the servers' bytes grow with the operands (600 + 150 words), the
    // dealer's with the result (100).
    let a = p.deal(&tensor((0..600).collect(), &[20, 30]), 3);
    let b = p.deal(&tensor((0..150).collect(), &[30, 5]), 4);
    let t = traffic(&p, move |ctx, p| {
        p.matmul(ctx, &a[ctx.me], &b[ctx.me], FRAC)
    });
    for (server, sent) in t.iter().enumerate().take(2) {
        assert_eq!(
            *sent,
            (tensor_bytes(600, 2) + tensor_bytes(150, 2), 2, 1),
            "matmul server {server}"
        );
    }
    assert_eq!(t[2], (tensor_bytes(100, 2), 1, 0), "matmul dealer");

    // Truncation of a product by a public value: local.
    let xs = x.clone();
    let t = traffic(&p, move |ctx, p| p.trunc(ctx, &xs[ctx.me], FRAC));
    assert_eq!(t, vec![(0, 0, 0); 3], "trunc");

    // Sign: the carry tree's 7 ANDs on bit planes (both openings each way, 181 planes of
    // ⌈n / 64⌉ words), then one opened word per element; 8 rounds. The dealer sends one plane per
    // AND plane and one word per element for the injected bit.
    let xs = x.clone();
    let t = traffic(&p, move |ctx, p| p.msb(ctx, &xs[ctx.me]));
    let nw = n.div_ceil(64);
    for (role, &(bytes, messages, rounds)) in t.iter().enumerate() {
        if role < 2 {
            assert!(rounds <= 8, "msb server {role}: {rounds} rounds");
            assert_eq!(messages, 8, "msb server {role}");
            let tree: u64 = CARRY_PLANES
                .iter()
                .map(|k| tensor_bytes(2 * k * nw, 1))
                .sum();
            assert_eq!(bytes, tree + tensor_bytes(n, 1), "msb server {role}");
        } else {
            assert_eq!(rounds, 0, "the dealer never waits");
            assert_eq!(messages, 8, "msb dealer");
            let tree: u64 = CARRY_PLANES.iter().map(|k| tensor_bytes(k * nw, 2)).sum();
            assert_eq!(bytes, tree + tensor_bytes(n, 1), "msb dealer");
        }
    }
}

/// Rounds and bytes of securenn's sign against its module header: the servers send 4 words and
/// 128 bytes per element, the helper 6 words and 128 bytes (to P1 only), in 8 rounds.
#[test]
fn securenn_rounds_and_bytes_match_the_theory() {
    let p = protocols().remove(2);
    assert_eq!(p.name(), "securenn");
    let n = 1000;
    let x = p.deal(&tensor((0..n as u64).map(|v| v * 77).collect(), &[n]), 1);
    let bytes = |count: usize| (count + 8) as u64;
    let t = traffic(&p, move |ctx, p| p.msb(ctx, &x[ctx.me]));
    for (role, &(sent, messages, rounds)) in t.iter().enumerate() {
        assert!(rounds <= 8, "role {role}: {rounds} rounds");
        if role < 2 {
            // ã, the opened r, e and f: 4 words; two PrivateCompares: 64 bytes each.
            assert_eq!(messages, 6, "server {role}");
            assert_eq!(
                sent,
                4 * tensor_bytes(n, 1) + 2 * bytes(64 * n),
                "server {role}"
            );
        } else {
            // x, x[0], δ, η', β', the product's c_1: 6 words; the bits of x and of ã.
            assert_eq!(messages, 8, "helper");
            assert_eq!(sent, 6 * tensor_bytes(n, 1) + 2 * bytes(64 * n), "helper");
        }
    }
}

/// What securenn's helper receives — the masked shares `ã_j` of ShareConvert and the servers'
/// PrivateCompare shares — is distributed the same whatever the secret: two secrets (0 and
/// -5000) over 400 runs of 16 elements each. Each word of `ã_j` has half its bits set; each
/// PrivateCompare share is uniform on Z_67; and what the helper reconstructs from them, `d_i`,
/// is 0 in exactly one of the 64 positions of half the comparisons (the masking bit) and
/// uniform on the non-zero values elsewhere.
#[test]
fn securenns_helper_sees_uniform_values_whatever_the_secret() {
    use std::sync::Mutex;

    let p = protocols().remove(2);
    let view = |secret: i64| -> View {
        let seen = Arc::new(Mutex::new(View::default()));
        for run in 0..400u64 {
            let x = tensor(vec![secret as u64; 16], &[16]);
            let shares = p.deal(&x, run * 7919 + 1);
            let keys = test_keys(3);
            let handles: Vec<_> = local_network(3, Duration::from_secs(10))
                .into_iter()
                .enumerate()
                .map(|(me, net)| {
                    let (p, keys, shares, seen) =
                        (p.clone(), keys.clone(), shares.clone(), seen.clone());
                    std::thread::spawn(move || {
                        let store = keystore(&keys, me);
                        let mut spy = Spy {
                            inner: net,
                            seen: (me == 2).then_some(seen),
                            pending: std::collections::HashMap::new(),
                        };
                        let mut ctx = Ctx {
                            me,
                            // A fresh session per run: fresh randomness.
                            session: run,
                            keys: &store,
                            net: &mut spy,
                            op: 1,
                            count: 0,
                            step: 0,
                            result: None,
                        };
                        p.msb(&mut ctx, &shares[me]).unwrap();
                        p.end_op(&mut ctx).unwrap();
                        ctx.net.flush().unwrap();
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        }
        let v = seen.lock().unwrap();
        v.clone()
    };
    let (a, b) = (view(0), view(-5000));
    for (name, v) in [("0", &a), ("-5000", &b)] {
        let ones = v.ones as f64 / (v.words as f64 * 64.0);
        assert!(
            (ones - 0.5).abs() < 0.01,
            "secret {name}: bits of ã set {ones}"
        );
        let shares: u64 = v.share_values.iter().sum();
        for (value, count) in v.share_values.iter().enumerate() {
            let f = *count as f64 / shares as f64;
            assert!(
                (f - 1.0 / 67.0).abs() < 0.002,
                "secret {name}: share {value} at {f}"
            );
        }
        let comparisons = v.comparisons as f64;
        let with_zero = v.with_zero as f64 / comparisons;
        assert!(
            (with_zero - 0.5).abs() < 0.03,
            "secret {name}: zeros in {with_zero} of comparisons"
        );
        assert_eq!(
            v.opened[0], v.with_zero,
            "secret {name}: at most one zero per comparison"
        );
        let nonzero: u64 = v.opened[1..].iter().sum();
        for (value, count) in v.opened.iter().enumerate().skip(1) {
            let f = *count as f64 / nonzero as f64;
            assert!(
                (f - 1.0 / 66.0).abs() < 0.003,
                "secret {name}: d = {value} at {f}"
            );
        }
    }
}

/// What the helper saw.
#[derive(Debug, Clone, Default)]
struct View {
    /// Set bits and words of the ring elements received from the servers.
    ones: u64,
    words: u64,
    /// How often each value of Z_67 came as a PrivateCompare share.
    share_values: Vec<u64>,
    /// Of the reconstructed PrivateCompare values: how often each occurred, how many
    /// comparisons (of 64 values) there were, and how many had a zero.
    opened: Vec<u64>,
    comparisons: u64,
    with_zero: u64,
}

/// A transport that records, for the helper, what it receives from the servers.
struct Spy {
    inner: crate::net::LocalTransport,
    seen: Option<Arc<std::sync::Mutex<View>>>,
    /// PrivateCompare shares waiting for the other server's.
    pending: std::collections::HashMap<tfe_ir::MsgKey, Vec<u8>>,
}

impl crate::net::Transport for Spy {
    fn me(&self) -> PartyId {
        self.inner.me()
    }
    fn send(
        &mut self,
        to: PartyId,
        key: tfe_ir::MsgKey,
        payload: crate::net::Payload,
    ) -> Result<(), crate::net::NetError> {
        self.inner.send(to, key, payload)
    }
    fn flush(&mut self) -> Result<(), crate::net::NetError> {
        self.inner.flush()
    }
    fn recv(
        &mut self,
        from: PartyId,
        key: tfe_ir::MsgKey,
    ) -> Result<crate::net::Payload, crate::net::NetError> {
        let payload = self.inner.recv(from, key)?;
        if let Some(seen) = &self.seen {
            let mut v = seen.lock().unwrap();
            if v.share_values.is_empty() {
                v.share_values = vec![0; 67];
                v.opened = vec![0; 67];
            }
            match &payload {
                crate::net::Payload::Ring(t) => {
                    for w in t.iter() {
                        v.ones += u64::from(w.count_ones());
                        v.words += 1;
                    }
                }
                crate::net::Payload::Bytes(t) => {
                    let bytes: Vec<u8> = t.iter().copied().collect();
                    for b in &bytes {
                        v.share_values[*b as usize] += 1;
                    }
                    if let Some(other) = self.pending.remove(&key) {
                        for (chunk, other) in bytes.chunks(64).zip(other.chunks(64)) {
                            let mut zero = false;
                            for (p, q) in chunk.iter().zip(other) {
                                let d = (u64::from(*p) + u64::from(*q)) % 67;
                                v.opened[d as usize] += 1;
                                zero |= d == 0;
                            }
                            v.comparisons += 1;
                            v.with_zero += u64::from(zero);
                        }
                    } else {
                        self.pending.insert(key, bytes);
                    }
                }
                _ => {}
            }
        }
        Ok(payload)
    }
    fn abort(&mut self, reason: &str) {
        self.inner.abort(reason)
    }
    fn stats(&self) -> crate::net::NetStats {
        self.inner.stats()
    }
}
