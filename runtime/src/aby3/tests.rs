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
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

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
