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
    if want("lr-step") {
        lr_step();
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

/// One logistic-regression training step (batch 128, 784 features, the original system's
/// "LR (SGD)" row) through the whole stack: a generated `.tfe` program is checked, lowered,
/// projected and run by six parties in this process. Runs with 1 and with 21 steps are timed;
/// their difference over 20 is the time of a step (reading data and agreeing keys cancel out).
fn lr_step() {
    let dir = std::env::temp_dir().join(format!("tfe-bench-lr-{}", std::process::id()));
    for (party, rows, cols) in [("alice", 128, 784), ("alice", 128, 1)] {
        std::fs::create_dir_all(dir.join(party)).unwrap();
        let name = if cols == 1 { "y.csv" } else { "x.csv" };
        let mut text = String::new();
        let mut s = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..rows {
            let row: Vec<String> = (0..cols)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    if cols == 1 {
                        ((s >> 63) as u8).to_string()
                    } else {
                        format!("{:.4}", (s >> 11) as f64 / (1u64 << 53) as f64)
                    }
                })
                .collect();
            text.push_str(&row.join(","));
            text.push('\n');
        }
        std::fs::write(dir.join(party).join(name), text).unwrap();
    }
    let program = |steps: usize| {
        format!(
            "use std::nn::sigmoid;\nparty alice, analyst, s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
             fn main() {{\n\
                 let xa: fixed[128, 784] @alice = read_csv(\"x.csv\");\n\
                 let ya: fixed[128, 1] @alice = read_csv(\"y.csv\");\n\
                 let x: fixed[128, 784] @rep = xa;\n\
                 let y: fixed[128, 1] @rep = ya;\n\
                 let mut w: fixed[784, 1] @rep = zeros([784, 1]);\n\
                 let mut b: fixed[1] @rep = zeros([1]);\n\
                 for step in 0..{steps} {{\n\
                     let g = sigmoid(matmul(x, w) + b) - y;\n\
                     w = w - 0.01 / 128 * matmul(transpose(x), g);\n\
                     b = b - 0.01 / 128 * sum(g, axis: 0);\n\
                 }}\n\
                 write_csv(reveal(w, to: analyst), \"w.csv\");\n\
             }}\n"
        )
    };
    let run = |steps: usize| -> (f64, Vec<u64>, Vec<u64>) {
        let src = program(steps);
        let hir = tfe_compiler::check(&src).unwrap_or_else(|d| panic!("{d:?}"));
        let ir = tfe_compiler::lower::lower(&hir).unwrap_or_else(|d| panic!("{d:?}"));
        let programs: Vec<_> = (0..ir.parties.len())
            .map(|p| tfe_ir::project(&ir, p))
            .collect();
        let dirs: Vec<_> = ir.parties.iter().map(|p| dir.join(p)).collect();
        let start = Instant::now();
        let reports = tfe_runtime::embedded::run(
            programs,
            dirs,
            tfe_runtime::embedded::Options {
                timeout: Duration::from_secs(120),
                seed: None,
            },
            Arc::new(|_, _| {}),
        )
        .expect("run");
        let secs = start.elapsed().as_secs_f64();
        (
            secs,
            reports.iter().map(|r| r.net.rounds).collect(),
            reports.iter().map(|r| r.net.bytes_sent).collect(),
        )
    };
    let mut one = Vec::new();
    let mut many = Vec::new();
    for _ in 0..3 {
        one.push(run(1));
        many.push(run(21));
    }
    let median = |v: &mut Vec<(f64, Vec<u64>, Vec<u64>)>| {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v[v.len() / 2].clone()
    };
    let (t1, r1, b1) = median(&mut one);
    let (t21, r21, b21) = median(&mut many);
    let per_step = |a: &[u64], b: &[u64]| a.iter().zip(b).map(|(x, y)| (x - y) / 20).max().unwrap();
    let m = Measured {
        seconds: (t21 - t1) / 20.0,
        rounds: per_step(&r21, &r1),
        bytes_per_party: per_step(&b21, &b1),
    };
    print(
        "lr-step-128x784",
        &m,
        "one SGD step of logistic regression, the whole stack, 6 parties in one process; per step = (21 steps - 1 step) / 20",
    );
}
