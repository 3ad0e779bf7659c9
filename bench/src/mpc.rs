//! Benchmarks of the protocols (aby3, pond and securenn) and of whole programs, all parties in this
//! process.
//!
//! Protocol benchmarks run the runtime's protocol functions on three threads over the in-process
//! transport, on random shares; times are wall-clock from the start of the op to the last party's
//! end (the median of several runs), rounds and bytes are those of one party (the maximum), and
//! the details give every member's bytes (pond's dealer and securenn's helper last).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ndarray::{ArrayD, IxDyn};
use tfe_runtime::exec::agree_keys;
use tfe_runtime::net::{Transport, local_network};
use tfe_runtime::protocol::{self, Ctx, Protocol, Shares, composite};
use tfe_runtime::ring::{RingTensor, Word};

pub struct Measured {
    pub seconds: f64,
    pub rounds: u64,
    pub bytes_per_party: u64,
    /// Each member's bytes sent, in role order.
    pub bytes_by_role: Vec<u64>,
}

fn random<W: Word>(shape: &[usize], seed: u64, bits: u32) -> RingTensor<W> {
    let mut s = seed | 1;
    let n: usize = shape.iter().product();
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let data: Vec<W> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            W::from_u64(s & mask)
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), data).expect("n elements")
}

/// The protocols benchmarked, each on parties 0, 1 and 2 (pond's dealer and securenn's helper
/// is 2).
pub fn protocols() -> Vec<Arc<dyn Protocol>> {
    [
        tfe_ir::Protocol::Aby3,
        tfe_ir::Protocol::Pond,
        tfe_ir::Protocol::SecureNn,
    ]
    .into_iter()
    .map(|protocol| {
        let info = tfe_ir::SecretInfo {
            name: "bench".into(),
            protocol,
            parties: vec![0, 1, 2],
            ring_bits: 64,
            frac_bits: 16,
        };
        Arc::from(protocol::for_secret(&info).expect("a protocol"))
    })
    .collect()
}

/// Every member's shares of a random value with magnitudes below 2^`bits`.
pub(crate) fn shares<W: Word>(
    p: &dyn Protocol<W>,
    shape: &[usize],
    seed: u64,
    bits: u32,
) -> Vec<Shares<W>> {
    p.deal(&random(shape, seed, bits), seed ^ 0xabcd)
}

/// Runs `op` as the three members of a placement of `p`, `runs` times, on inputs `inputs`
/// (each a list of every member's shares); returns the median.
pub fn protocol<W: Word>(
    p: &Arc<dyn Protocol<W>>,
    runs: usize,
    inputs: Vec<Vec<Shares<W>>>,
    op: impl Fn(&mut Ctx<'_>, &dyn Protocol<W>, &[Shares<W>]) -> Shares<W> + Send + Sync + 'static,
) -> Measured {
    let op = Arc::new(op);
    let inputs = Arc::new(inputs);
    let barrier = Arc::new(Barrier::new(3));
    let handles: Vec<_> = local_network(3, Duration::from_secs(120))
        .into_iter()
        .enumerate()
        .map(|(me, mut net)| {
            let (op, inputs, barrier, p) = (op.clone(), inputs.clone(), barrier.clone(), p.clone());
            std::thread::spawn(move || {
                let keys = agree_keys(3, me, &mut net, None).expect("keys");
                let mine: Vec<Shares<W>> = inputs.iter().map(|i| i[me].clone()).collect();
                let mut times = Vec::new();
                let before = net.stats();
                for run in 0..runs {
                    barrier.wait();
                    let start = Instant::now();
                    let mut ctx = Ctx {
                        me,
                        session: 1,
                        keys: &keys,
                        net: &mut net,
                        op: 1,
                        count: run as u64,
                        step: 0,
                        result: None,
                    };
                    let out = op(&mut ctx, &*p, &mine);
                    p.end_op(&mut ctx).expect("end of op");
                    ctx.net.flush().expect("flush");
                    std::hint::black_box(out);
                    times.push(start.elapsed());
                    barrier.wait();
                }
                let after = net.stats();
                (
                    times,
                    (after.rounds - before.rounds) / runs as u64,
                    (after.bytes_sent - before.bytes_sent) / runs as u64,
                )
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("party thread"))
        .collect();
    // The op ends when its slowest party ends.
    let mut per_run: Vec<Duration> = (0..runs)
        .map(|r| results.iter().map(|(t, _, _)| t[r]).max().unwrap())
        .collect();
    per_run.sort();
    Measured {
        seconds: per_run[runs / 2].as_secs_f64(),
        rounds: results.iter().map(|(_, r, _)| *r).max().unwrap(),
        bytes_per_party: results.iter().map(|(_, _, b)| *b).max().unwrap(),
        bytes_by_role: results.iter().map(|(_, _, b)| *b).collect(),
    }
}

pub fn print(name: &str, m: &Measured, note: &str) {
    let note = if m.bytes_by_role.len() > 1 && !note.contains("bytes by") {
        let each: Vec<String> = m.bytes_by_role.iter().map(u64::to_string).collect();
        format!("{note}; bytes by party {}", each.join("/"))
    } else {
        note.to_string()
    };
    println!(
        "bench {name} {:.6} {} {}  ({note})",
        m.seconds, m.rounds, m.bytes_per_party
    );
}

pub fn run_all(filter: &str) {
    let want = |name: &str| name.contains(filter);
    for p in protocols() {
        protocol_ops(&p, &want);
    }
    if want("lr-step") {
        crate::workloads::lr_step();
    }
    if want("mlp") {
        crate::workloads::mlp_inference();
    }
    let aby3 = protocols().remove(0);
    if want("jit-e2e") {
        // The same protocols with the fused kernels compiled, interpreted (--no-jit), and not
        // used (op by op), in one run; the configurations alternate (warm-up favours whichever
        // runs later) and each keeps its best median.
        let n = 1_000_000;
        let configs = [(true, false), (false, false), (true, true)];
        let mut best = [(f64::MAX, f64::MAX); 3];
        for _ in 0..2 {
            for (c, &(jit, unfused)) in configs.iter().enumerate() {
                tfe_runtime::fused::set_jit(jit);
                tfe_runtime::fused::set_unfused(unfused);
                let p = &aby3;
                let mul = protocol(
                    p,
                    5,
                    vec![shares(&**p, &[n], 1, 30), shares(&**p, &[n], 2, 30)],
                    |ctx, p, x| p.mul(ctx, &x[0], &x[1], 16).unwrap(),
                );
                let cmp = protocol(p, 3, vec![shares(&**p, &[n], 8, 40)], |ctx, p, x| {
                    p.msb(ctx, &x[0]).unwrap()
                });
                best[c].0 = best[c].0.min(mul.seconds);
                best[c].1 = best[c].1.min(cmp.seconds);
            }
        }
        tfe_runtime::fused::set_jit(true);
        tfe_runtime::fused::set_unfused(false);
        let [jit, interp, unfused] = best;
        println!(
            "bench jit-e2e-mul-1e6 {:.6} 1 8000008  (fused kernels compiled; interpreted (--no-jit) {:.6} s, {:.2}x; op by op {:.6} s, {:.2}x)",
            jit.0,
            interp.0,
            interp.0 / jit.0,
            unfused.0,
            unfused.0 / jit.0
        );
        println!(
            "bench jit-e2e-compare-1e6 {:.6} 9 -  (sign of 10^6 values, fused kernels compiled; interpreted (--no-jit) {:.6} s, {:.2}x; op by op {:.6} s, {:.2}x)",
            jit.1,
            interp.1,
            interp.1 / jit.1,
            unfused.1,
            unfused.1 / jit.1
        );
    }
    if want("jit-e2e") {
        crate::workloads::lr_step_jit();
    }
}

/// The op benchmarks of one protocol: product and truncation of 10^6, matmul 128×784·784×10
/// and 256³, ReLU of 10^6, max of 1,000 and of 1,000 2×2 windows.
fn protocol_ops(p: &Arc<dyn Protocol>, want: &dyn Fn(&str) -> bool) {
    let name = p.name();
    let bench = |op: &str| format!("{name}-{op}");
    let by_role = |m: &Measured| {
        let roles: Vec<String> = m.bytes_by_role.iter().map(u64::to_string).collect();
        format!("bytes by role {}", roles.join("/"))
    };
    // securenn computes everything but the sign as pond does.
    let pond = name != "aby3";
    if want(&bench("mul")) {
        let n = 1_000_000;
        let m = protocol(
            p,
            5,
            vec![shares(&**p, &[n], 1, 30), shares(&**p, &[n], 2, 30)],
            |ctx, p, x| p.mul(ctx, &x[0], &x[1], 16).unwrap(),
        );
        let theory = if pond {
            "1 round; each server sends x-a and y-b (16 MB), the dealer c_1 to server 1 (8 MB)"
        } else {
            "1 round, 8 MB per party"
        };
        print(
            &bench("mul-1e6"),
            &m,
            &format!(
                "fixed-point product with truncation; theory: {theory}; {}",
                by_role(&m)
            ),
        );
    }
    if want(&bench("matmul")) {
        for (shape_a, shape_b, label) in [
            ([128usize, 784usize], [784usize, 10usize], "128x784x10"),
            ([256, 256], [256, 256], "256x256x256"),
        ] {
            let m = protocol(
                p,
                9,
                vec![shares(&**p, &shape_a, 3, 20), shares(&**p, &shape_b, 4, 20)],
                |ctx, p, x| p.matmul(ctx, &x[0], &x[1], 16).unwrap(),
            );
            let (a, b) = (shape_a[0] * shape_a[1], shape_b[0] * shape_b[1]);
            let z = shape_a[0] * shape_b[1];
            let theory = if pond {
                format!(
                    "1 round; servers {} B each (the operands), dealer {} B (the result)",
                    8 * (a + b) + 32,
                    8 * z + 16
                )
            } else {
                format!("1 round, {} B per party (the result)", 8 * z + 16)
            };
            print(
                &bench(&format!("matmul-{label}")),
                &m,
                &format!("theory: {theory}; {}", by_role(&m)),
            );
        }
    }
    if want(&bench("trunc")) {
        let n = 1_000_000;
        let m = protocol(p, 5, vec![shares(&**p, &[n], 7, 40)], |ctx, p, x| {
            p.trunc(ctx, &x[0], 16).unwrap()
        });
        let theory = if pond {
            "local: 0 rounds, 0 B"
        } else {
            "1 round, at most 8 MB per party"
        };
        print(&bench("trunc-1e6"), &m, &format!("theory: {theory}"));
    }
    if want(&bench("relu")) {
        let n = 1_000_000;
        let m = protocol(p, 3, vec![shares(&**p, &[n], 8, 40)], |ctx, p, x| {
            let sign = p.msb(ctx, &x[0]).unwrap();
            let positive = composite::not_bit(p, ctx.me, &sign).unwrap();
            p.mul(ctx, &positive, &x[0], 0).unwrap()
        });
        let theory = if name == "securenn" {
            "sign (8 rounds: ShareConvert and ComputeMSB with the helper) and a product; \
             per element each server sends 6 words and 128 B (176 B), the helper 7 words and 128 B (184 B)"
        } else if pond {
            "sign (8 rounds: the carry tree's 7 ANDs on bit planes, 2 x 181 / 64 words each way, \
             and 1 opened word) and a product; per element each server sends 8.66 words (69 B), \
             the dealer 4.83 (39 B)"
        } else {
            "sign by the carry into bit 63 (7 ANDs on bit planes: 181 / 64 words per element) and \
             a product: communication depth 11, a party waits at most 9 times; per element role 0 \
             sends 5.83 words (47 B), roles 1 and 2 4.83 (39 B)"
        };
        print(
            &bench("relu-1e6"),
            &m,
            &format!("{theory}; {}", by_role(&m)),
        );
    }
    if want(&bench("max")) {
        let m = protocol(p, 9, vec![shares(&**p, &[1000], 9, 40)], |ctx, p, x| {
            composite::max_axis(p, ctx, &x[0], 0).unwrap()
        });
        print(
            &bench("max-1000"),
            &m,
            &format!(
                "a tournament: 10 levels of one comparison and one select; {}",
                by_role(&m)
            ),
        );
        let m = protocol(p, 9, vec![shares(&**p, &[1000, 4], 10, 40)], |ctx, p, x| {
            composite::max_axis(p, ctx, &x[0], 1).unwrap()
        });
        print(
            &bench("max-1000x4-axis1"),
            &m,
            "a 2x2 max-pool of 1000 windows: all 6 pairs of each in one comparison (1000 x 6 <= 65,536) and 2 rounds of products",
        );
    }
}
