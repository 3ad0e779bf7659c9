//! Every aby3 protocol against plaintext arithmetic on random inputs: three parties run it in
//! threads over the in-process transport, and the revealed result is compared with the
//! plaintext result (exactly for ring operations; within the stated error for truncation).

use std::time::Duration;

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

use super::*;
use crate::net::local_network;

const FRAC: u32 = 16;

/// Runs `f` as each of three parties (roles 0, 1, 2 are parties 0, 1, 2) and returns what each
/// returned. `f` gets a context for op 1, run 0.
fn run3<R: Send + 'static>(
    f: impl Fn(&mut Ctx<'_>, &Aby3) -> Result<R, RunError> + Send + Sync + 'static,
) -> Vec<R> {
    let aby = Aby3 {
        members: [0, 1, 2],
        frac: FRAC,
    };
    let keys = test_keys(3);
    let f = std::sync::Arc::new(f);
    let handles: Vec<_> = local_network(3, Duration::from_secs(10))
        .into_iter()
        .enumerate()
        .map(|(me, mut net)| {
            let f = f.clone();
            let keys = keys.clone();
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
                };
                let r = f(&mut ctx, &aby);
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
    for (set, key) in keys {
        if set.contains(&me) {
            store.insert(set.clone(), *key);
        }
    }
    store
}

/// Splits a plaintext ring tensor into the three parties' replicated shares.
fn split(x: &RingTensor, seed: u64) -> Vec<Rep> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let x0 = x.mapv(|_| next());
    let x1 = x.mapv(|_| next());
    let x2 = ring::sub(&ring::sub(x, &x0).unwrap(), &x1).unwrap();
    vec![
        Rep {
            a: x0.clone(),
            b: x1.clone(),
        },
        Rep {
            a: x1,
            b: x2.clone(),
        },
        Rep { a: x2, b: x0 },
    ]
}

fn open(shares: &[Rep]) -> RingTensor {
    ring::add(
        &ring::add(&shares[0].a, &shares[0].b).unwrap(),
        &shares[1].b,
    )
    .unwrap()
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn integer_products_are_exact(xs in prop::collection::vec(any::<u64>(), 1..40), seed in any::<u64>()) {
        let ys: Vec<u64> = xs.iter().map(|v| v.rotate_left(17) ^ 0x9e37).collect();
        let n = xs.len();
        let x = tensor(xs.clone(), &[n]);
        let y = tensor(ys.clone(), &[n]);
        let (sx, sy) = (split(&x, seed), split(&y, seed ^ 7));
        let out = run3(move |ctx, aby| mul(ctx, aby, &sx[ctx.me], &sy[ctx.me], 0));
        let expected: Vec<u64> = xs.iter().zip(&ys).map(|(a, b)| a.wrapping_mul(*b)).collect();
        let opened = open(&out);
        prop_assert_eq!(opened.as_slice().unwrap(), &expected[..]);
    }

    #[test]
    fn fixed_point_products_are_within_one_unit(
        xs in prop::collection::vec(-100.0f64..100.0, 1..40),
        seed in any::<u64>(),
    ) {
        let ys: Vec<f64> = xs.iter().map(|v| 1.5 - v / 3.0).collect();
        let (sx, sy) = (split(&fixed(&xs), seed), split(&fixed(&ys), seed ^ 3));
        let out = run3(move |ctx, aby| mul(ctx, aby, &sx[ctx.me], &sy[ctx.me], FRAC));
        let got = ring::decode_fixed(&open(&out), FRAC);
        for ((x, y), g) in xs.iter().zip(&ys).zip(got.iter()) {
            // Encoding rounds each factor by 2^-17; truncation adds at most 2^-16.
            let bound = (x.abs() + y.abs() + 1.0) * 2f64.powi(-17) + 2f64.powi(-16) + 1e-9;
            prop_assert!((g - x * y).abs() <= bound, "{} * {} = {} (got {})", x, y, x * y, g);
        }
    }

    #[test]
    fn fixed_point_matmul_is_within_bound(m in 1usize..5, k in 1usize..12, n in 1usize..4, seed in any::<u64>()) {
        let a: Vec<f64> = (0..m * k).map(|i| ((i as u64 ^ seed) % 200) as f64 / 20.0 - 5.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (((i as u64 * 7) ^ seed) % 100) as f64 / 25.0 - 2.0).collect();
        let ta = ring::encode_fixed(&ArrayD::from_shape_vec(IxDyn(&[m, k]), a.clone()).unwrap(), FRAC);
        let tb = ring::encode_fixed(&ArrayD::from_shape_vec(IxDyn(&[k, n]), b.clone()).unwrap(), FRAC);
        let (sa, sb) = (split(&ta, seed), split(&tb, seed ^ 11));
        let out = run3(move |ctx, aby| matmul(ctx, aby, &sa[ctx.me], &sb[ctx.me], FRAC));
        let got = ring::decode_fixed(&open(&out), FRAC);
        for i in 0..m {
            for j in 0..n {
                let exact: f64 = (0..k).map(|t| a[i * k + t] * b[t * n + j]).sum();
                let bound = k as f64 * 7.0 * 2f64.powi(-17) + 2f64.powi(-16) + 1e-9;
                prop_assert!((got[[i, j]] - exact).abs() <= bound, "{} vs {}", got[[i, j]], exact);
            }
        }
    }

    #[test]
    fn msb_is_the_sign(xs in prop::collection::vec(-(1i64 << 62)..(1i64 << 62), 1..30), seed in any::<u64>()) {
        let x = tensor(xs.iter().map(|v| *v as u64).collect(), &[xs.len()]);
        let sx = split(&x, seed);
        let out = run3(move |ctx, aby| msb(ctx, aby, &sx[ctx.me]));
        let expected: Vec<u64> = xs.iter().map(|v| u64::from(*v < 0)).collect();
        let opened = open(&out);
        prop_assert_eq!(opened.as_slice().unwrap(), &expected[..]);
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
        let sx = split(&x, seed);
        let t = table.clone();
        let out = run3(move |ctx, aby| highest_bit_lookup(ctx, aby, &sx[ctx.me], lo, &t));
        let opened = open(&out);
        prop_assert_eq!(opened.shape(), &[values.len()][..]);
        for (i, v) in values.iter().enumerate() {
            // The highest set bit: None for 0, 63 for negatives (never in a table).
            let want = match (*v as u64).checked_ilog2().map(i64::from) {
                Some(top) if top < 63 && top >= lo && top < lo + table.len() as i64 => {
                    table[(top - lo) as usize]
                }
                _ => 0,
            };
            prop_assert_eq!(opened[[i]], want, "value {}", v);
        }
    }

    #[test]
    fn max_along_an_axis_is_exact(
        rows in 1usize..12,
        cols in 1usize..6,
        axis in 0usize..2,
        xs in prop::collection::vec(-(1i64 << 40)..(1i64 << 40), 72),
        seed in any::<u64>(),
    ) {
        let n = rows * cols;
        let values: Vec<u64> = xs[..n].iter().map(|v| *v as u64).collect();
        let sx = split(&tensor(values, &[rows, cols]), seed);
        let out = run3(move |ctx, aby| max_axis(ctx, aby, &sx[ctx.me], axis));
        let opened = open(&out);
        let m = ndarray::Array2::from_shape_fn((rows, cols), |(r, c)| xs[r * cols + c]);
        let expected: Vec<u64> = m
            .lanes(ndarray::Axis(axis))
            .into_iter()
            .map(|lane| *lane.iter().max().unwrap() as u64)
            .collect();
        prop_assert_eq!(opened.shape(), &[if axis == 0 { cols } else { rows }][..]);
        prop_assert_eq!(opened.iter().copied().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn argmax_points_at_a_maximum(
        rows in 1usize..12,
        cols in 1usize..6,
        axis in 0usize..2,
        xs in prop::collection::vec(-50i64..50, 72),
        seed in any::<u64>(),
    ) {
        // Few distinct values: ties are common, and any maximum's index is right.
        let n = rows * cols;
        let values: Vec<u64> = xs[..n].iter().map(|v| *v as u64).collect();
        let sx = split(&tensor(values, &[rows, cols]), seed);
        let out = run3(move |ctx, aby| argmax_axis(ctx, aby, &sx[ctx.me], axis));
        let opened = open(&out);
        let m = ndarray::Array2::from_shape_fn((rows, cols), |(r, c)| xs[r * cols + c]);
        let lanes: Vec<Vec<i64>> = m
            .lanes(ndarray::Axis(axis))
            .into_iter()
            .map(|lane| lane.to_vec())
            .collect();
        prop_assert_eq!(opened.len(), lanes.len());
        for (lane, index) in lanes.iter().zip(opened.iter()) {
            let best = *lane.iter().max().unwrap();
            prop_assert!((*index as usize) < lane.len());
            prop_assert_eq!(lane[*index as usize], best);
        }
    }

    #[test]
    fn sharing_and_revealing_round_trip(xs in prop::collection::vec(any::<u64>(), 1..20), owner in 0usize..4, target in 0usize..4) {
        // Parties 0..3 are members; party 3 is outside the placement.
        let n = xs.len();
        let x = tensor(xs.clone(), &[n]);
        let aby = Aby3 { members: [0, 1, 2], frac: FRAC };
        let keys = test_keys(4);
        let handles: Vec<_> = local_network(4, Duration::from_secs(2))
            .into_iter()
            .enumerate()
            .map(|(me, mut net)| {
                let keys = keys.clone();
                let x = x.clone();
                std::thread::spawn(move || {
                    let store = keystore(&keys, me);
                    let mut ctx = Ctx { me, session: 9, keys: &store, net: &mut net, op: 2, count: 5, step: 0 };
                    let mine = (me == owner).then_some(&x);
                    let shares = if me < 3 || me == owner {
                        share(&mut ctx, &aby, owner, mine, None).unwrap()
                    } else {
                        None
                    };
                    // The reveal is another op: its own id, its own steps.
                    ctx.op = 3;
                    ctx.step = 0;
                    let revealed = if me < 3 || me == target {
                        reveal(&mut ctx, &aby, shares.as_ref(), &[target]).unwrap()
                    } else {
                        None
                    };
                    ctx.net.flush().unwrap();
                    revealed
                })
            })
            .collect();
        let results: Vec<Option<RingTensor>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        for (p, r) in results.iter().enumerate() {
            if p == target {
                prop_assert_eq!(r.as_ref().unwrap().as_slice().unwrap(), &xs[..]);
            } else {
                prop_assert!(r.is_none());
            }
        }
    }
}

#[test]
fn truncation_of_a_public_product() {
    let xs = [3.25, -7.5, 0.0, 1000.125];
    let sx = split(&fixed(&xs), 5);
    let c = fixed(&[0.5]);
    let out = run3(move |ctx, aby| {
        let scaled = mul_public(&sx[ctx.me], &c)?;
        trunc(ctx, aby, &scaled, FRAC)
    });
    let got = ring::decode_fixed(&open(&out), FRAC);
    for (x, g) in xs.iter().zip(got.iter()) {
        assert!((g - x * 0.5).abs() <= 2f64.powi(-16) + 1e-12, "{x}: {g}");
    }
}

/// What each of the three parties sent while running `f` once: (bytes, messages, rounds).
fn traffic(
    f: impl Fn(&mut Ctx<'_>, &Aby3) -> Result<Rep, RunError> + Send + Sync + 'static,
) -> Vec<(u64, u64, u64)> {
    run3(move |ctx, aby| {
        f(ctx, aby)?;
        ctx.net.flush().unwrap();
        let s = ctx.net.stats();
        Ok((s.bytes_sent, s.messages_sent, s.rounds))
    })
}

/// Rounds and bytes per op against the protocols' theory. A ring tensor of `n` elements and rank
/// `r` is `8n + 8r` bytes on the wire (the shape travels with it). A round is a send followed by
/// a wait; a party that only sends in a step, or only receives, does not count one.
#[test]
fn rounds_and_bytes_match_the_theory() {
    let n = 1000;
    let x = split(&tensor((0..n as u64).collect(), &[n]), 1);
    let y = split(&tensor((0..n as u64).map(|v| v * 3).collect(), &[n]), 2);
    let tensor_bytes = |elements: usize, rank: usize| (8 * elements + 8 * rank) as u64;

    // Product, no truncation: each role sends its masked part to the previous one. 1 round.
    let (xs, ys) = (x.clone(), y.clone());
    let t = traffic(move |ctx, aby| mul(ctx, aby, &xs[ctx.me], &ys[ctx.me], 0));
    assert_eq!(t, vec![(tensor_bytes(n, 1), 1, 1); 3], "mul");

    // Product with truncation, fused: 1 → 2, 2 → 1, 0 → 2. Every party sends one ring element per
    // element; role 0 never waits.
    let (xs, ys) = (x.clone(), y.clone());
    let t = traffic(move |ctx, aby| mul(ctx, aby, &xs[ctx.me], &ys[ctx.me], FRAC));
    assert_eq!(t[0], (tensor_bytes(n, 1), 1, 0), "mul.trunc role 0");
    assert_eq!(t[1], (tensor_bytes(n, 1), 1, 1), "mul.trunc role 1");
    assert_eq!(t[2], (tensor_bytes(n, 1), 1, 1), "mul.trunc role 2");

    // Matmul 20×30 · 30×5: one ring element per element of the *result*.
    let a = split(&tensor((0..600).collect(), &[20, 30]), 3);
    let b = split(&tensor((0..150).collect(), &[30, 5]), 4);
    let t = traffic(move |ctx, aby| matmul(ctx, aby, &a[ctx.me], &b[ctx.me], 0));
    assert_eq!(t, vec![(tensor_bytes(100, 2), 1, 1); 3], "matmul");

    // Sign: role 0 shares x_0 + x_1 bitwise (1 message), the generate bits (1 round), 6
    // Kogge–Stone levels of two ANDs (one message each), role 0 shares the result bit, and one
    // product converts it: at most 10 rounds, each AND message one word per element.
    let xs = x.clone();
    let t = traffic(move |ctx, aby| msb(ctx, aby, &xs[ctx.me]));
    for (role, &(bytes, messages, rounds)) in t.iter().enumerate() {
        assert!(rounds <= 10, "msb role {role}: {rounds} rounds");
        // 1 + 12 AND messages and the final product's, plus role 0's two input sharings.
        let expected_messages = if role == 0 { 16 } else { 14 };
        assert_eq!(messages, expected_messages, "msb role {role}");
        assert_eq!(bytes, messages * tensor_bytes(n, 1), "msb role {role}");
    }

    // A 24-entry lookup at the highest bit: A2B (role 0's sharing, the generate bits, 12
    // Kogge–Stone ANDs), 6 prefix-OR ANDs, role 0's 24 bit parts per element to role 2, and one
    // resharing: 16 rounds.
    let xs = x.clone();
    let table: Vec<u64> = (1..=24).collect();
    let t = traffic(move |ctx, aby| highest_bit_lookup(ctx, aby, &xs[ctx.me], 0, &table));
    for (role, &(bytes, messages, rounds)) in t.iter().enumerate() {
        assert!(rounds <= 16, "lookup role {role}: {rounds} rounds");
        let (words, wide) = if role == 0 { (21, 1) } else { (20, 0) };
        assert_eq!(messages, words + wide, "lookup role {role}");
        assert_eq!(
            bytes,
            words * tensor_bytes(n, 1) + wide * tensor_bytes(n * 24, 2),
            "lookup role {role}"
        );
    }

    // Max of 1000: 10 levels of one comparison and one select on the halves (500, 250, …).
    let xs = x.clone();
    let t = traffic(move |ctx, aby| max_axis(ctx, aby, &xs[ctx.me], 0));
    let mut pairs = 0;
    let mut m = n;
    while m > 1 {
        pairs += m / 2;
        m = m.div_ceil(2);
    }
    assert_eq!(pairs, n - 1, "a tournament makes n - 1 comparisons");
    for (role, &(bytes, _, rounds)) in t.iter().enumerate() {
        assert!(rounds <= 10 * 11, "max role {role}: {rounds} rounds");
        // Per pair: the comparison's messages and the select's product, one word each.
        let per_pair = if role == 0 { 16 + 1 } else { 14 + 1 };
        let headers = 8 * 10 * per_pair;
        assert_eq!(
            bytes,
            8 * per_pair * pairs as u64 + headers,
            "max role {role}"
        );
    }
}
