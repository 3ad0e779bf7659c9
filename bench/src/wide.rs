//! `bench ring128`: aby3 and pond with 128-bit rings (frac 32) next to 64-bit rings (frac 16),
//! in one run: product and truncation of 10^6, matmul 128×784·784×10 and 256³, ReLU of 10^6,
//! and the logistic-regression step. The two widths alternate, each keeping its best median,
//! and each line gives the 128-bit figures with their ratio to 64 bits (time and bytes).

use std::sync::Arc;

use tfe_runtime::protocol::{self, AnyProtocol, Protocol, composite};
use tfe_runtime::ring::Word;

use crate::mpc::{Measured, protocol, shares};

/// `protocol` (aby3 or pond) on parties 0, 1, 2 with `ring` bits and `frac` fractional bits.
fn placement(protocol: tfe_ir::Protocol, ring: u32, frac: u32) -> AnyProtocol {
    let info = tfe_ir::SecretInfo {
        name: "bench".into(),
        protocol,
        parties: vec![0, 1, 2],
        ring_bits: ring,
        frac_bits: frac,
    };
    protocol::any_for_secret(&info).expect("a protocol")
}

/// The ops measured, at the word `W` with `frac` bits: (name, measurement).
fn ops<W: Word>(p: Arc<dyn Protocol<W>>, frac: u32) -> Vec<(&'static str, Measured)> {
    let n = 1_000_000;
    let mut out = Vec::new();
    out.push((
        "mul-1e6",
        protocol(
            &p,
            5,
            vec![shares(&*p, &[n], 1, 30), shares(&*p, &[n], 2, 30)],
            move |ctx, p, x| p.mul(ctx, &x[0], &x[1], frac).unwrap(),
        ),
    ));
    out.push((
        "trunc-1e6",
        protocol(&p, 5, vec![shares(&*p, &[n], 7, 40)], move |ctx, p, x| {
            p.trunc(ctx, &x[0], frac).unwrap()
        }),
    ));
    for (a, b, label) in [
        (
            [128usize, 784usize],
            [784usize, 10usize],
            "matmul-128x784x10",
        ),
        ([256, 256], [256, 256], "matmul-256x256x256"),
    ] {
        out.push((
            label,
            protocol(
                &p,
                5,
                vec![shares(&*p, &a, 3, 20), shares(&*p, &b, 4, 20)],
                move |ctx, p, x| p.matmul(ctx, &x[0], &x[1], frac).unwrap(),
            ),
        ));
    }
    out.push((
        "relu-1e6",
        protocol(&p, 3, vec![shares(&*p, &[n], 8, 40)], |ctx, p, x| {
            let sign = p.msb(ctx, &x[0]).unwrap();
            let positive = composite::not_bit(p, ctx.me, &sign).unwrap();
            p.mul(ctx, &positive, &x[0], 0).unwrap()
        }),
    ));
    out
}

pub fn run() {
    for which in [tfe_ir::Protocol::Aby3, tfe_ir::Protocol::Pond] {
        let name = which.name();
        let mut best: Vec<(&str, Measured, Measured)> = Vec::new();
        for round in 0..2 {
            let narrow = match placement(which, 64, 16) {
                AnyProtocol::R64(p) => ops::<u64>(Arc::from(p), 16),
                AnyProtocol::R128(_) => unreachable!("a 64-bit ring"),
            };
            let wide = match placement(which, 128, 32) {
                AnyProtocol::R128(p) => ops::<u128>(Arc::from(p), 32),
                AnyProtocol::R64(_) => unreachable!("a 128-bit ring"),
            };
            for (k, ((op, n), (_, w))) in narrow.into_iter().zip(wide).enumerate() {
                if round == 0 {
                    best.push((op, n, w));
                } else {
                    if n.seconds < best[k].1.seconds {
                        best[k].1 = n;
                    }
                    if w.seconds < best[k].2.seconds {
                        best[k].2 = w;
                    }
                }
            }
        }
        for (op, n, w) in best {
            println!(
                "bench {name}-128-{op} {:.6} {} {}  (ring 128, frac 32; at 64 bits in the same run {:.6} s, {} rounds, {} B: {:.2}x the time, {:.2}x the bytes)",
                w.seconds,
                w.rounds,
                w.bytes_per_party,
                n.seconds,
                n.rounds,
                n.bytes_per_party,
                w.seconds / n.seconds,
                w.bytes_per_party as f64 / n.bytes_per_party.max(1) as f64
            );
        }
    }
    fused_or_not();
    crate::workloads::lr_step_wide();
}

/// aby3's product and ReLU at 128 bits with the wide fused kernels and op by op, alternating
/// (each keeps its best median).
fn fused_or_not() {
    let p = match placement(tfe_ir::Protocol::Aby3, 128, 32) {
        AnyProtocol::R128(p) => Arc::<dyn Protocol<u128>>::from(p),
        AnyProtocol::R64(_) => unreachable!("a 128-bit ring"),
    };
    let mut best = [(f64::MAX, f64::MAX); 2];
    for _ in 0..2 {
        for (k, unfused) in [false, true].into_iter().enumerate() {
            tfe_runtime::fused::set_unfused(unfused);
            let m = ops::<u128>(p.clone(), 32);
            let at = |name: &str| {
                m.iter()
                    .find(|(op, _)| *op == name)
                    .map_or(f64::MAX, |(_, m)| m.seconds)
            };
            best[k].0 = best[k].0.min(at("mul-1e6"));
            best[k].1 = best[k].1.min(at("relu-1e6"));
        }
    }
    tfe_runtime::fused::set_unfused(false);
    let [fused, plain] = best;
    println!(
        "bench aby3-128-fused-mul-1e6 {:.6} 1 -  (the wide fused kernel; op by op {:.6} s, {:.2}x)",
        fused.0,
        plain.0,
        plain.0 / fused.0
    );
    println!(
        "bench aby3-128-fused-relu-1e6 {:.6} 10 -  (the wide fused kernels; op by op {:.6} s, {:.2}x)",
        fused.1,
        plain.1,
        plain.1 / fused.1
    );
}
