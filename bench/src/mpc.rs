//! Benchmarks of the aby3 protocols and of whole programs, all parties in this process.
//!
//! Protocol benchmarks run the runtime's protocol functions on three threads over the in-process
//! transport, on random shares; times are wall-clock from the start of the op to the last party's
//! end (the median of several runs), rounds and bytes are those of one party (the maximum).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ndarray::{ArrayD, IxDyn};
use tfe_runtime::aby3::{self, Aby3, Ctx};
use tfe_runtime::exec::agree_keys;
use tfe_runtime::net::{Transport, local_network};
use tfe_runtime::ring::RingTensor;
use tfe_runtime::value::Rep;

pub struct Measured {
    pub seconds: f64,
    pub rounds: u64,
    pub bytes_per_party: u64,
}

fn random(shape: &[usize], seed: u64, bits: u32) -> RingTensor {
    let mut s = seed | 1;
    let n: usize = shape.iter().product();
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let data: Vec<u64> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s & mask
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), data).expect("n elements")
}

/// Replicated shares of a random value with magnitudes below 2^`bits`, for each of 3 parties.
fn shares(shape: &[usize], seed: u64, bits: u32) -> Vec<Rep> {
    let x = random(shape, seed, bits);
    let x0 = random(shape, seed ^ 0xabcd, 64);
    let x1 = random(shape, seed ^ 0x1234, 64);
    let x2 = tfe_runtime::ring::sub(&tfe_runtime::ring::sub(&x, &x0).unwrap(), &x1).unwrap();
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

/// Runs `op` as the three parties of an aby3 placement, `runs` times; returns the median.
pub fn protocol(
    runs: usize,
    inputs: Vec<Vec<Rep>>,
    op: impl Fn(&mut Ctx<'_>, &Aby3, &[Rep]) -> Rep + Send + Sync + 'static,
) -> Measured {
    let aby = Aby3 {
        members: [0, 1, 2],
        frac: 16,
    };
    let op = Arc::new(op);
    let inputs = Arc::new(inputs);
    let barrier = Arc::new(Barrier::new(3));
    let handles: Vec<_> = local_network(3, Duration::from_secs(120))
        .into_iter()
        .enumerate()
        .map(|(me, mut net)| {
            let (op, inputs, barrier) = (op.clone(), inputs.clone(), barrier.clone());
            std::thread::spawn(move || {
                let keys = agree_keys(3, me, &mut net, None).expect("keys");
                let mine: Vec<Rep> = inputs.iter().map(|i| i[me].clone()).collect();
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
                    };
                    let out = op(&mut ctx, &aby, &mine);
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
    }
}

pub fn print(name: &str, m: &Measured, note: &str) {
    println!(
        "bench {name} {:.6} {} {}  ({note})",
        m.seconds, m.rounds, m.bytes_per_party
    );
}

pub fn run_all(filter: &str) {
    let want = |name: &str| name.contains(filter);
    if want("aby3-mul") {
        let n = 1_000_000;
        let m = protocol(
            5,
            vec![shares(&[n], 1, 30), shares(&[n], 2, 30)],
            |ctx, aby, x| aby3::mul(ctx, aby, &x[0], &x[1], 16).unwrap(),
        );
        print(
            "aby3-mul-1e6",
            &m,
            "fixed-point product with truncation; theory: 1 round, 8 MB per party",
        );
    }
    if want("aby3-matmul") {
        let m = protocol(
            9,
            vec![shares(&[128, 784], 3, 20), shares(&[784, 10], 4, 20)],
            |ctx, aby, x| aby3::matmul(ctx, aby, &x[0], &x[1], 16).unwrap(),
        );
        print(
            "aby3-matmul-128x784x10",
            &m,
            "theory: 1 round, 128*10*8 = 10240 B per party",
        );
        let m = protocol(
            5,
            vec![shares(&[256, 256], 5, 20), shares(&[256, 256], 6, 20)],
            |ctx, aby, x| aby3::matmul(ctx, aby, &x[0], &x[1], 16).unwrap(),
        );
        print(
            "aby3-matmul-256x256x256",
            &m,
            "theory: 1 round, 256*256*8 = 524288 B per party",
        );
    }
    if want("aby3-trunc") {
        let n = 1_000_000;
        let m = protocol(5, vec![shares(&[n], 7, 40)], |ctx, aby, x| {
            aby3::trunc(ctx, aby, &x[0], 16).unwrap()
        });
        print(
            "aby3-trunc-1e6",
            &m,
            "theory: 1 round, at most 8 MB per party",
        );
    }
    if want("aby3-max") {
        let m = protocol(9, vec![shares(&[1000], 9, 40)], |ctx, aby, x| {
            aby3::max_axis(ctx, aby, &x[0], 0).unwrap()
        });
        print(
            "aby3-max-1000",
            &m,
            "a tournament: 10 levels of one comparison and one select; theory: 10 levels x 11 rounds of communication",
        );
        let m = protocol(9, vec![shares(&[1000, 4], 10, 40)], |ctx, aby, x| {
            aby3::max_axis(ctx, aby, &x[0], 1).unwrap()
        });
        print(
            "aby3-max-1000x4-axis1",
            &m,
            "a 2x2 max-pool of 1000 windows: 2 levels",
        );
    }
    if want("lr-step") {
        crate::workloads::lr_step();
    }
    if want("mlp") {
        crate::workloads::mlp_inference();
    }
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
                let mul = protocol(
                    5,
                    vec![shares(&[n], 1, 30), shares(&[n], 2, 30)],
                    |ctx, aby, x| aby3::mul(ctx, aby, &x[0], &x[1], 16).unwrap(),
                );
                let cmp = protocol(3, vec![shares(&[n], 8, 40)], |ctx, aby, x| {
                    aby3::msb(ctx, aby, &x[0]).unwrap()
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
    if want("aby3-relu") {
        let n = 1_000_000;
        let m = protocol(3, vec![shares(&[n], 8, 40)], |ctx, aby, x| {
            let sign = aby3::msb(ctx, aby, &x[0]).unwrap();
            let positive = aby3::not_bit(aby, ctx.me, &sign).unwrap();
            aby3::mul(ctx, aby, &positive, &x[0], 0).unwrap()
        });
        print(
            "aby3-relu-1e6",
            &m,
            "sign by Kogge-Stone and a product: communication depth 11; a party waits at most 9 times",
        );
    }
}
