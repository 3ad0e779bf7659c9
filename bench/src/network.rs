//! Whole programs with every party its own process over gRPC on loopback, next to the same
//! programs in one process; and over emulated LAN and WAN links.
//!
//! The harness starts one child process per party (this binary with `--net-party`); each child
//! compiles the program, connects, runs its part and reports its time from after the connection
//! is up to its last message, its rounds, the payload bytes it sent and the bytes its sockets
//! wrote. As in-process, a workload runs its loop once and `1 + reps` times; the difference
//! over `reps` is one iteration.
//!
//! Whole trainings are timed per batch instead ([`per_batch`]): every party records when each
//! iteration of the program's outermost loop ends (the hook the progress display uses), and a
//! batch's time is the median of those laps. That leaves out reading the data and the first
//! batch's warm-up, which vary between runs by more than a small network's batch takes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tfe_runtime::emulate::Emulation;

use crate::mpc::{Measured, print};
use crate::workloads::{Kind, lr_data, lr_program, mlp_data, mlp_program, write_data};

/// What a run reported: the slowest party's time, and each party's counts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    seconds: f64,
    rounds: Vec<u64>,
    bytes: Vec<u64>,
    wire: Vec<u64>,
    /// Seconds of each iteration but the first of the longest outermost loop, the slowest
    /// party's at each iteration.
    laps: Vec<f64>,
}

/// Records when each iteration of a party's outermost loops ends.
#[derive(Clone, Default)]
pub(crate) struct Marks(Arc<std::sync::Mutex<Vec<(u64, u64, Instant)>>>);

impl Marks {
    pub(crate) fn progress(&self) -> tfe_runtime::exec::Progress {
        let marks = self.0.clone();
        tfe_runtime::exec::Progress(Arc::new(move |done, total| {
            marks
                .lock()
                .expect("marks")
                .push((done, total, Instant::now()));
        }))
    }

    /// The laps of the longest run of consecutive iterations of one loop (the training loop,
    /// in the programs timed here): the time between the ends of iterations `i` and `i + 1`, so
    /// the first iteration (warm-up) is not among them.
    pub(crate) fn laps(&self) -> Vec<f64> {
        let marks = self.0.lock().expect("marks");
        // The longest run of consecutive marks of one loop, as (first mark, laps).
        let (mut best, mut start) = ((0, 0), 0);
        for k in 1..marks.len() {
            let ((d0, t0, _), (d1, t1, _)) = (marks[k - 1], marks[k]);
            if !(t0 == t1 && d1 == d0 + 1) {
                start = k;
            }
            if k - start > best.1 {
                best = (start, k - start);
            }
        }
        marks[best.0..(best.0 + best.1 + 1).min(marks.len())]
            .windows(2)
            .map(|w| w[1].2.duration_since(w[0].2).as_secs_f64())
            .collect()
    }
}

/// The median of `laps` (the mean of the middle two for an even count); `None` if empty.
pub(crate) fn median(laps: &[f64]) -> Option<f64> {
    let mut l = laps.to_vec();
    l.sort_by(f64::total_cmp);
    let n = l.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(l[n / 2]),
        _ => Some((l[n / 2 - 1] + l[n / 2]) / 2.0),
    }
}

/// The slowest party's lap at each iteration, among the parties that ran the loop (a data
/// owner with nothing to do in it may not run it at all).
fn slowest(parties: &[Vec<f64>]) -> Vec<f64> {
    let parties: Vec<&Vec<f64>> = parties.iter().filter(|l| !l.is_empty()).collect();
    let n = parties.iter().map(|l| l.len()).min().unwrap_or(0);
    (0..n)
        .map(|i| parties.iter().map(|l| l[i]).fold(0.0, f64::max))
        .collect()
}

/// One iteration's figures: time, and the largest count of any party.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PerIteration {
    pub(crate) seconds: f64,
    pub(crate) rounds: u64,
    pub(crate) bytes: u64,
    pub(crate) wire: u64,
}

fn compile(src: &str) -> tfe_ir::Program {
    tfe_compiler::compile(src, &tfe_compiler::Options::default())
        .unwrap_or_else(|d| panic!("{d:?}"))
}

/// In a child: `--net-party PROGRAM DATA ME ADDRESSES EMULATION`.
pub fn party_child(args: &[String]) {
    let [file, data, me, addresses, emulation] = args else {
        panic!("--net-party PROGRAM DATA ME ADDRESSES EMULATION");
    };
    let src = std::fs::read_to_string(file).expect("the program");
    let ir = compile(&src);
    let me: usize = me.parse().expect("a party number");
    let marks = Marks::default();
    let config = tfe_net::link::NetConfig {
        me,
        names: ir.parties.clone(),
        addresses: addresses.split(',').map(String::from).collect(),
        program: ir.to_text().into_bytes(),
        tls: None,
        connect_timeout: Duration::from_secs(30),
        timeout: Duration::from_secs(120),
        seed: None,
        emulation: (emulation != "-").then(|| Emulation::parse(emulation).expect("a spec")),
        notice: Arc::new(|m: &str| eprintln!("{m}")),
    };
    let mut net = tfe_net::link::connect(config).expect("connect");
    let program = tfe_ir::project(&ir, me);
    let party = tfe_runtime::exec::PartyConfig {
        data_dir: Path::new(data).join(&ir.parties[me]),
        session: net.session(),
        seed: None,
        profile: false,
        progress: Some(marks.progress()),
    };
    let start = Instant::now();
    let report =
        tfe_runtime::exec::run_party(&program, me, &mut net, &party, &mut |_| {}).expect("the run");
    let seconds = start.elapsed().as_secs_f64();
    let stats = net.finish().expect("finish");
    println!(
        "REPORT {seconds} {} {} {}",
        report.net.rounds, stats.bytes_sent, stats.wire_bytes
    );
    let laps: Vec<String> = marks.laps().iter().map(f64::to_string).collect();
    println!("LAPS {}", laps.join(" "));
}

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("bound").port())
        .collect()
}

/// Runs `src` with every party a child process; the slowest party's time, the largest counts.
pub(crate) fn networked(src: &str, dir: &Path, emulation: Option<&str>) -> Report {
    let ir = compile(src);
    let file = dir.join("program.tfe");
    std::fs::write(&file, src).expect("writing the program");
    let addresses: Vec<String> = free_ports(ir.parties.len())
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let exe = std::env::current_exe().expect("this binary");
    let children: Vec<_> = (0..ir.parties.len())
        .map(|me| {
            Command::new(&exe)
                .arg("--net-party")
                .arg(&file)
                .arg(dir)
                .arg(me.to_string())
                .arg(addresses.join(","))
                .arg(emulation.unwrap_or("-"))
                .stdout(Stdio::piped())
                .spawn()
                .expect("a party process")
        })
        .collect();
    let mut all = Report::default();
    let mut laps = Vec::new();
    for child in children {
        let out = child.wait_with_output().expect("the party ends");
        assert!(out.status.success(), "a party failed");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with("REPORT "))
            .expect("a report");
        let v: Vec<f64> = line[7..]
            .split(' ')
            .map(|x| x.parse().expect("a number"))
            .collect();
        all.seconds = all.seconds.max(v[0]);
        all.rounds.push(v[1] as u64);
        all.bytes.push(v[2] as u64);
        all.wire.push(v[3] as u64);
        let line = text
            .lines()
            .find(|l| l.starts_with("LAPS"))
            .expect("the laps");
        laps.push(
            line[4..]
                .split_whitespace()
                .map(|x| x.parse().expect("a number"))
                .collect(),
        );
    }
    all.laps = slowest(&laps);
    all
}

/// In one process, with the same reporting.
pub(crate) fn embedded(src: &str, dir: &Path, emulation: Option<&str>) -> Report {
    let ir = compile(src);
    let programs: Vec<_> = (0..ir.parties.len())
        .map(|p| tfe_ir::project(&ir, p))
        .collect();
    let dirs: Vec<_> = ir.parties.iter().map(|p| dir.join(p)).collect();
    // The servers move in lockstep: one server's laps are every server's (a data owner may
    // have nothing to do in the loop, and its laps would be empty).
    let marks = Marks::default();
    let server = ir.secrets.first().map_or(0, |s| s.parties[0]);
    let reports = tfe_runtime::embedded::run(
        programs,
        dirs,
        tfe_runtime::embedded::Options {
            timeout: Duration::from_secs(120),
            seed: None,
            emulation: emulation.map(|e| Emulation::parse(e).expect("a spec")),
            profile: false,
            progress: Some((server, marks.progress())),
        },
        Arc::new(|_, _| {}),
    )
    .expect("run");
    Report {
        seconds: reports
            .iter()
            .map(|r| r.elapsed.as_secs_f64())
            .fold(0.0, f64::max),
        rounds: reports.iter().map(|r| r.net.rounds).collect(),
        bytes: reports.iter().map(|r| r.net.bytes_sent).collect(),
        wire: vec![0; reports.len()],
        laps: marks.laps(),
    }
}

/// Per iteration: (run with `1 + reps`) − (run with 1), over `reps`; medians of `runs`.
pub(crate) fn per_iteration(
    runs: usize,
    reps: usize,
    program: impl Fn(usize) -> String,
    go: impl Fn(&str) -> Report,
) -> PerIteration {
    let mut one = Vec::new();
    let mut many = Vec::new();
    for _ in 0..runs {
        one.push(go(&program(1)));
        many.push(go(&program(1 + reps)));
    }
    let median = |v: &mut Vec<Report>| {
        v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        v.swap_remove(v.len() / 2)
    };
    let (a, b) = (median(&mut one), median(&mut many));
    let per = |x: &[u64], y: &[u64]| {
        x.iter()
            .zip(y)
            .map(|(m, o)| m.saturating_sub(*o) / reps as u64)
            .max()
            .unwrap_or(0)
    };
    PerIteration {
        seconds: (b.seconds - a.seconds) / reps as f64,
        rounds: per(&b.rounds, &a.rounds),
        bytes: per(&b.bytes, &a.bytes),
        wire: per(&b.wire, &a.wire),
    }
}

/// One batch of a training in each setting of `settings`, taken in turn `runs` times so that
/// each sees the machine in the same state: the median lap of runs of `batches` batches for
/// the time, and the difference with a run of one batch, over `batches - 1`, for rounds and
/// bytes (the same in every run). Also the fastest and slowest lap.
pub(crate) fn per_batch(
    runs: usize,
    batches: usize,
    program: impl Fn(usize) -> String,
    settings: &[&dyn Fn(&str) -> Report],
) -> Vec<(PerIteration, f64, f64)> {
    assert!(batches >= 3, "a median needs two laps at least");
    let mut laps: Vec<Vec<f64>> = vec![Vec::new(); settings.len()];
    let mut counts: Vec<Option<PerIteration>> = vec![None; settings.len()];
    let many = program(batches);
    for _ in 0..runs {
        for (i, go) in settings.iter().enumerate() {
            let b = go(&many);
            laps[i].extend(&b.laps);
            if counts[i].is_none() {
                let a = go(&program(1));
                let per = |x: &[u64], y: &[u64]| {
                    x.iter()
                        .zip(y)
                        .map(|(m, o)| m.saturating_sub(*o) / (batches - 1) as u64)
                        .max()
                        .unwrap_or(0)
                };
                counts[i] = Some(PerIteration {
                    seconds: 0.0,
                    rounds: per(&b.rounds, &a.rounds),
                    bytes: per(&b.bytes, &a.bytes),
                    wire: per(&b.wire, &a.wire),
                });
            }
        }
    }
    laps.into_iter()
        .zip(counts)
        .map(|(mut l, c)| {
            assert!(!l.is_empty(), "the program's batch loop reported no laps");
            l.sort_by(f64::total_cmp);
            let c = c.expect("at least one run");
            (
                PerIteration {
                    seconds: median(&l).expect("laps"),
                    ..c
                },
                l[0],
                l[l.len() - 1],
            )
        })
        .collect()
}

fn matmul_program(reps: usize) -> String {
    format!(
        "party alice, bob, s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
         fn main() {{\n\
             let xa: fixed[128, 784] @alice = read_csv(\"x.csv\");\n\
             let wb: fixed[784, 10] @bob = read_csv(\"w.csv\");\n\
             let x: fixed[128, 784] @rep = xa;\n\
             let w: fixed[784, 10] @rep = wb;\n\
             let mut z: fixed[128, 10] @rep = zeros([128, 10]);\n\
             for i in 0..{reps} {{\n\
                 z = matmul(x, w);\n\
             }}\n\
             write_csv(reveal(z, to: alice), \"z.csv\");\n\
         }}\n"
    )
}

fn max_program(reps: usize) -> String {
    format!(
        "party alice, bob, s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
         fn main() {{\n\
             let xa: fixed[1000, 1] @alice = read_csv(\"x.csv\");\n\
             let x: fixed[1000, 1] @rep = xa;\n\
             let mut m: fixed @rep = 0.0;\n\
             for i in 0..{reps} {{\n\
                 m = max(x);\n\
             }}\n\
             print(reveal(m, to: bob));\n\
         }}\n"
    )
}

fn line(name: &str, r: PerIteration, note: &str) {
    print(
        name,
        &Measured {
            seconds: r.seconds,
            rounds: r.rounds,
            bytes_per_party: r.bytes,
            bytes_by_role: Vec::new(),
        },
        note,
    );
}

pub fn run_all(filter: &str) {
    let want = |name: &str| name.contains(filter);
    if want("grpc-matmul") {
        let dir = write_data(
            "net-matmul",
            &[
                ("alice", "x.csv", 128, 784, Kind::Unit),
                ("bob", "w.csv", 784, 10, Kind::Weight(0.1)),
            ],
        );
        let local = per_iteration(3, 20, matmul_program, |s| embedded(s, &dir, None));
        let grpc = per_iteration(3, 20, matmul_program, |s| networked(s, &dir, None));
        line(
            "grpc-matmul-128x784x10",
            grpc,
            &format!(
                "5 processes over gRPC on loopback; in-process {:.6} s, ratio {:.1}; {} B on the wire per party for {} B of payload (+{:.1}%)",
                local.seconds,
                grpc.seconds / local.seconds,
                grpc.wire,
                grpc.bytes,
                100.0 * (grpc.wire as f64 / grpc.bytes as f64 - 1.0)
            ),
        );
    }
    if want("grpc-lr-step") {
        let dir = lr_data();
        let local = per_iteration(3, 20, lr_program, |s| embedded(s, &dir, None));
        let grpc = per_iteration(3, 20, lr_program, |s| networked(s, &dir, None));
        line(
            "grpc-lr-step-128x784",
            grpc,
            &format!(
                "5 processes over gRPC on loopback; in-process {:.6} s, ratio {:.1}; {} B on the wire per party for {} B of payload (+{:.1}%); MP-SPDZ 15 ms, SPU 84 ms",
                local.seconds,
                grpc.seconds / local.seconds,
                grpc.wire,
                grpc.bytes,
                100.0 * (grpc.wire as f64 / grpc.bytes as f64 - 1.0)
            ),
        );
    }
    if want("grpc-max") {
        let dir = write_data(
            "net-max",
            &[("alice", "x.csv", 1000, 1, Kind::Weight(100.0))],
        );
        let local = per_iteration(3, 10, max_program, |s| embedded(s, &dir, None));
        let grpc = per_iteration(3, 10, max_program, |s| networked(s, &dir, None));
        line(
            "grpc-max-1000",
            grpc,
            &format!(
                "max of 1,000 secret values, 5 processes over gRPC on loopback; in-process {:.6} s, ratio {:.1}; MP-SPDZ 15 ms, SPU 161 ms",
                local.seconds,
                grpc.seconds / local.seconds
            ),
        );
    }
    if want("grpc-mlp") {
        let dir = mlp_data();
        let local = per_iteration(3, 5, mlp_program, |s| embedded(s, &dir, None));
        let grpc = per_iteration(3, 5, mlp_program, |s| networked(s, &dir, None));
        line(
            "grpc-mlp-784-128-128-10-inference-128",
            grpc,
            &format!(
                "5 processes over gRPC on loopback; in-process {:.6} s, ratio {:.1}; {} B on the wire per party for {} B of payload (+{:.1}%); MP-SPDZ 0.23 s, SPU 0.41 s",
                local.seconds,
                grpc.seconds / local.seconds,
                grpc.wire,
                grpc.bytes,
                100.0 * (grpc.wire as f64 / grpc.bytes as f64 - 1.0)
            ),
        );
    }
    for (name, spec, reps, theirs) in [
        ("lan-lr-step", "rtt=20us,bandwidth=40gbit", 20, "0.012 s"),
        ("wan-lr-step", "rtt=40ms,bandwidth=352mbit", 4, "0.760 s"),
    ] {
        if !want(name) {
            continue;
        }
        let dir = lr_data();
        let local = per_iteration(1, reps, lr_program, |s| embedded(s, &dir, Some(spec)));
        let grpc = per_iteration(1, reps, lr_program, |s| networked(s, &dir, Some(spec)));
        line(
            &format!("{name}-128x784-grpc"),
            grpc,
            &format!(
                "seconds per logistic-regression batch over an emulated {spec}, 5 processes over gRPC; in-process transport with the same emulation {:.4} s; TF Encrypted's table: {theirs}",
                local.seconds
            ),
        );
    }
}
