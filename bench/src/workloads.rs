//! Whole programs through the whole stack: a generated `.tfe` program is checked, lowered,
//! projected and run by every party in this process, as `tfec run` does.
//!
//! Each workload runs its loop body once and `1 + REPS` times; the difference over `REPS` is the
//! time of one iteration (reading files, sharing inputs and agreeing keys cancel out). The peak
//! resident memory of the longer run is printed next to the bytes of the parties' shares of the
//! inputs (issue #4 asks that it stay under 3x those bytes plus ~50 MB).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::mpc::{Measured, print};

/// Iterations of the longer run.
const REPS: usize = 20;

/// A directory of random CSV files: `(party, file, rows, cols, kind)`.
pub fn write_data(tag: &str, files: &[(&str, &str, usize, usize, Kind)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tfe-bench-{tag}-{}", std::process::id()));
    let mut s = 0x2545_f491_4f6c_dd1du64;
    for &(party, name, rows, cols, kind) in files {
        std::fs::create_dir_all(dir.join(party)).unwrap();
        let mut text = String::new();
        for _ in 0..rows {
            let row: Vec<String> = (0..cols)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    let u = (s >> 11) as f64 / (1u64 << 53) as f64;
                    match kind {
                        Kind::Bit => ((s >> 63) as u8).to_string(),
                        Kind::Unit => format!("{u:.4}"),
                        Kind::Weight(scale) => format!("{:.5}", (2.0 * u - 1.0) * scale),
                    }
                })
                .collect();
            text.push_str(&row.join(","));
            text.push('\n');
        }
        std::fs::write(dir.join(party).join(name), text).unwrap();
    }
    dir
}

#[derive(Clone, Copy)]
pub enum Kind {
    Bit,
    Unit,
    Weight(f64),
}

pub(crate) struct Run {
    pub(crate) seconds: f64,
    pub(crate) rounds: Vec<u64>,
    pub(crate) bytes: Vec<u64>,
    pub(crate) peak_rss: Option<u64>,
    /// What the parties printed, as (party name, line).
    pub(crate) printed: Vec<(String, String)>,
    /// The laps of the program's outermost loop at the first member of its first placement
    /// (see `network::Marks`).
    pub(crate) laps: Vec<f64>,
}

pub(crate) fn run(src: &str, dir: &Path) -> Run {
    let ir = tfe_compiler::compile(src, &tfe_compiler::Options::default())
        .unwrap_or_else(|d| panic!("{d:?}"));
    let programs: Vec<_> = (0..ir.parties.len())
        .map(|p| tfe_ir::project(&ir, p))
        .collect();
    let dirs: Vec<_> = ir.parties.iter().map(|p| dir.join(p)).collect();
    let names = ir.parties.clone();
    let marks = crate::network::Marks::default();
    let server = ir.secrets.first().map_or(0, |s| s.parties[0]);
    let printed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = printed.clone();
    memory::reset_peak();
    let start = Instant::now();
    let reports = tfe_runtime::embedded::run(
        programs,
        dirs,
        tfe_runtime::embedded::Options {
            timeout: Duration::from_secs(120),
            seed: None,
            emulation: None,
            profile: false,
            progress: Some((server, marks.progress())),
        },
        Arc::new(move |party, line: &str| {
            if let Ok(mut lines) = sink.lock() {
                lines.push((names[party].clone(), line.to_string()));
            }
        }),
    )
    .expect("run");
    let seconds = start.elapsed().as_secs_f64();
    let printed = printed.lock().map(|l| l.clone()).unwrap_or_default();
    Run {
        seconds,
        rounds: reports.iter().map(|r| r.net.rounds).collect(),
        bytes: reports.iter().map(|r| r.net.bytes_sent).collect(),
        peak_rss: memory::peak_bytes(),
        printed,
        laps: marks.laps(),
    }
}

/// Runs `program(1)` and `program(1 + REPS)` three times each and prints the per-iteration line
/// and the memory line.
fn measure(
    name: &str,
    note: &str,
    dir: &Path,
    input_share_bytes: u64,
    program: impl Fn(usize) -> String,
) {
    let mut one = Vec::new();
    let mut many = Vec::new();
    for _ in 0..3 {
        one.push(run(&program(1), dir));
        many.push(run(&program(1 + REPS), dir));
    }
    let median = |v: &mut Vec<Run>| {
        v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        v.swap_remove(v.len() / 2)
    };
    let (a, b) = (median(&mut one), median(&mut many));
    let per = |x: &[u64], y: &[u64]| {
        x.iter()
            .zip(y)
            .map(|(m, o)| (m - o) / REPS as u64)
            .max()
            .unwrap()
    };
    let by_party: Vec<u64> = b
        .bytes
        .iter()
        .zip(&a.bytes)
        .map(|(m, o)| (m - o) / REPS as u64)
        .collect();
    let m = Measured {
        seconds: (b.seconds - a.seconds) / REPS as f64,
        rounds: per(&b.rounds, &a.rounds),
        bytes_per_party: per(&b.bytes, &a.bytes),
        bytes_by_role: by_party,
    };
    print(name, &m, note);
    // Memory is measured in a fresh process: this one keeps the heap of earlier benchmarks.
    let peak = child_peak(name);
    match peak {
        Some(p) => println!(
            "memory {name} {p} {input_share_bytes}  (peak resident bytes of a {}-iteration run, all parties in one process; bytes of all parties' shares of the inputs; ratio {:.1}; limit 3x + 50 MB = {})",
            1 + REPS,
            p as f64 / input_share_bytes as f64,
            3 * input_share_bytes + 50_000_000,
        ),
        None => println!(
            "memory {name} - {input_share_bytes}  (peak resident memory is not known on this system)"
        ),
    }
}

/// Runs `src` on `dir` as [`run`] does, in a child process (`bench --run-child FILE DIR`): its
/// peak memory is then the program's alone. In this process, memory a party freed stays with the
/// allocator (tfec's setting: see tfec/src/main.rs), and the peak of an earlier, larger program
/// would show again.
pub(crate) fn run_in_child(src: &str, dir: &Path) -> Run {
    let file = std::env::temp_dir().join(format!("tfe-bench-child-{}.tfe", std::process::id()));
    std::fs::write(&file, src).expect("writing the program");
    let exe = std::env::current_exe().expect("this binary");
    let out = std::process::Command::new(exe)
        .arg("--run-child")
        .arg(&file)
        .arg(dir)
        .output()
        .expect("the child runs");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "the child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> Vec<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_default()
            .split_whitespace()
            .map(|x| x.parse().expect("a number"))
            .collect()
    };
    Run {
        seconds: field("SECONDS ")[0],
        rounds: field("ROUNDS ").iter().map(|x| *x as u64).collect(),
        bytes: field("BYTES ").iter().map(|x| *x as u64).collect(),
        peak_rss: field("PEAK ").first().map(|x| *x as u64).filter(|p| *p > 0),
        printed: text
            .lines()
            .filter_map(|l| l.strip_prefix("PRINTED "))
            .filter_map(|l| l.split_once('\t'))
            .map(|(p, l)| (p.to_string(), l.to_string()))
            .collect(),
        laps: field("LAPS "),
    }
}

/// In a child: `--run-child FILE DIR`, the figures of [`run`] for [`run_in_child`].
pub fn run_child(args: &[String]) {
    let [file, dir] = args else {
        panic!("--run-child FILE DIR");
    };
    let src = std::fs::read_to_string(file).expect("the program");
    let r = run(&src, Path::new(dir));
    let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(" ");
    println!("SECONDS {}", r.seconds);
    println!("ROUNDS {}", list(&r.rounds));
    println!("BYTES {}", list(&r.bytes));
    println!("PEAK {}", r.peak_rss.unwrap_or(0));
    let laps: Vec<String> = r.laps.iter().map(f64::to_string).collect();
    println!("LAPS {}", laps.join(" "));
    for (party, line) in &r.printed {
        println!("PRINTED {party}\t{}", line.replace('\n', " "));
    }
}

/// Runs `bench --memory-child NAME` and reads the peak it prints.
fn child_peak(name: &str) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .args(["--memory-child", name])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// In a child process: runs workload `name` with `1 + REPS` iterations once and prints the
/// peak resident bytes.
pub fn memory_child(name: &str) {
    let (protocol, base) = PROTOCOLS[1..]
        .iter()
        .find_map(|p| Some((*p, name.strip_prefix(&format!("{p}-"))?)))
        .unwrap_or(("aby3", name));
    let (src, dir) = match base {
        "lr-step-128x784" => (lr_program(1 + REPS), lr_data()),
        "mlp-784-128-128-10-inference-128" => (mlp_program(1 + REPS), mlp_data()),
        other => panic!("no workload {other}"),
    };
    let src = on_protocol(&src, protocol);
    let r = run(&src, &dir);
    println!("{}", r.peak_rss.unwrap_or(0));
}

/// Bytes of replicated shares of `elements` ring elements held by all three servers.
fn share_bytes(elements: usize) -> u64 {
    (3 * 2 * 8 * elements) as u64
}

/// The protocols the whole-program workloads run on, in the order they are printed.
pub const PROTOCOLS: [&str; 3] = ["aby3", "pond", "securenn"];

/// A program of these workloads (`secret rep = aby3(s0, s1, s2);`) switched to `protocol` by its
/// `secret` line alone, with s2 as pond's dealer or securenn's helper.
pub fn on_protocol(src: &str, protocol: &str) -> String {
    let line = "secret rep = aby3(s0, s1, s2);";
    assert!(src.contains(line), "the program declares `{line}`");
    match protocol {
        "aby3" => src.to_string(),
        other => src.replace(line, &format!("secret rep = {other}(s0, s1, dealer = s2);")),
    }
}

/// A workload's name under `protocol`: aby3's unprefixed, the others' prefixed.
fn named(protocol: &str, base: &str) -> String {
    match protocol {
        "aby3" => base.to_string(),
        other => format!("{other}-{base}"),
    }
}

/// One logistic-regression training step (batch 128, 784 features, the original system's
/// "LR (SGD)" row), under each protocol.
pub fn lr_step() {
    let dir = lr_data();
    for protocol in PROTOCOLS {
        let note = match protocol {
            "aby3" => {
                "one SGD step of logistic regression, the whole stack, 5 parties in one process"
                    .to_string()
            }
            other => format!(
                "the same under {other} (s2 deals); bytes by party: alice, analyst, s0, s1, s2"
            ),
        };
        measure(
            &named(protocol, "lr-step-128x784"),
            &note,
            &dir,
            share_bytes(128 * 784 + 128),
            |steps| on_protocol(&lr_program(steps), protocol),
        );
    }
}

/// The logistic-regression step with 128-bit rings (frac 32), under aby3 and pond, after the
/// same step at 64 bits in the same run.
pub fn lr_step_wide() {
    let dir = lr_data();
    for (protocol, wide) in [
        (
            "aby3",
            "secret rep = aby3(s0, s1, s2, ring = 128, frac = 32);",
        ),
        (
            "pond",
            "secret rep = pond(s0, s1, dealer = s2, ring = 128, frac = 32);",
        ),
    ] {
        measure(
            &format!("{protocol}-lr-step-128x784-at-64"),
            "the 64-bit step, for the ratio of the next line",
            &dir,
            share_bytes(128 * 784 + 128),
            |steps| on_protocol(&lr_program(steps), protocol),
        );
        measure(
            &format!("{protocol}-128-lr-step-128x784"),
            "one SGD step of logistic regression with ring = 128, frac = 32",
            &dir,
            2 * share_bytes(128 * 784 + 128),
            |steps| lr_program(steps).replace("secret rep = aby3(s0, s1, s2);", wide),
        );
    }
}

pub fn lr_data() -> PathBuf {
    write_data(
        "lr",
        &[
            ("alice", "x.csv", 128, 784, Kind::Unit),
            ("alice", "y.csv", 128, 1, Kind::Bit),
        ],
    )
}

pub fn lr_program(steps: usize) -> String {
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
}

/// Inference of a 784-128-128-10 ReLU network on 128 images: a model owner's weights and a
/// client's images, both secret-shared; the prediction goes to the client.
pub fn mlp_inference() {
    let weights = 784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10;
    let dir = mlp_data();
    for protocol in PROTOCOLS {
        let note = match protocol {
            "aby3" => {
                "private inference of 128 images, the whole stack; theory per inference: 3 products of 1 round + 2 ReLUs of 11"
            }
            "pond" => {
                "the same under pond (s2 deals); theory per inference: 3 products of 1 round + 2 ReLUs of 9"
            }
            _ => {
                "the same under securenn (s2 deals and helps compare); theory per inference: 3 products of 1 round + 2 ReLUs of 9"
            }
        };
        measure(
            &named(protocol, "mlp-784-128-128-10-inference-128"),
            note,
            &dir,
            share_bytes(128 * 784 + weights),
            |reps| on_protocol(&mlp_program(reps), protocol),
        );
    }
}

pub fn mlp_data() -> PathBuf {
    write_data(
        "mlp",
        &[
            ("client", "x.csv", 128, 784, Kind::Unit),
            ("owner", "w1.csv", 784, 128, Kind::Weight(0.087)),
            ("owner", "b1.csv", 1, 128, Kind::Weight(0.1)),
            ("owner", "w2.csv", 128, 128, Kind::Weight(0.21)),
            ("owner", "b2.csv", 1, 128, Kind::Weight(0.1)),
            ("owner", "w3.csv", 128, 10, Kind::Weight(0.21)),
            ("owner", "b3.csv", 1, 10, Kind::Weight(0.1)),
        ],
    )
}

pub fn mlp_program(reps: usize) -> String {
    format!(
        "use std::nn::relu;\nparty client, owner, s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
             fn main() {{\n\
                 let xc: fixed[128, 784] @client = read_csv(\"x.csv\");\n\
                 let w1o: fixed[784, 128] @owner = read_csv(\"w1.csv\");\n\
                 let b1o: fixed[1, 128] @owner = read_csv(\"b1.csv\");\n\
                 let w2o: fixed[128, 128] @owner = read_csv(\"w2.csv\");\n\
                 let b2o: fixed[1, 128] @owner = read_csv(\"b2.csv\");\n\
                 let w3o: fixed[128, 10] @owner = read_csv(\"w3.csv\");\n\
                 let b3o: fixed[1, 10] @owner = read_csv(\"b3.csv\");\n\
                 let x: fixed[128, 784] @rep = xc;\n\
                 let w1: fixed[784, 128] @rep = w1o;\n\
                 let b1: fixed[1, 128] @rep = b1o;\n\
                 let w2: fixed[128, 128] @rep = w2o;\n\
                 let b2: fixed[1, 128] @rep = b2o;\n\
                 let w3: fixed[128, 10] @rep = w3o;\n\
                 let b3: fixed[1, 10] @rep = b3o;\n\
                 let mut out: fixed[128, 10] @rep = zeros([128, 10]);\n\
                 for i in 0..{reps} {{\n\
                     let h1 = relu(matmul(x, w1) + b1);\n\
                     let h2 = relu(matmul(h1, w2) + b2);\n\
                     out = matmul(h2, w3) + b3;\n\
                 }}\n\
                 write_csv(reveal(out, to: client), \"out.csv\");\n\
             }}\n"
    )
}

/// Peak resident memory of this process (Linux).
mod memory {
    /// Resets the peak to the current resident size (Linux 4.0+: `5` to /proc/self/clear_refs).
    pub fn reset_peak() {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }

    /// `VmHWM` of /proc/self/status, in bytes.
    pub fn peak_bytes() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }
}

/// The LR step with the fused kernels compiled, interpreted (`--no-jit`) and not used, in one
/// run (alternating; each keeps its best).
pub fn lr_step_jit() {
    let dir = lr_data();
    let configs = [(true, false), (false, false), (true, true)];
    let mut best = [f64::MAX; 3];
    for _ in 0..3 {
        for (c, &(jit, unfused)) in configs.iter().enumerate() {
            tfe_runtime::fused::set_jit(jit);
            tfe_runtime::fused::set_unfused(unfused);
            let one = run(&lr_program(1), &dir).seconds;
            let many = run(&lr_program(1 + REPS), &dir).seconds;
            best[c] = best[c].min((many - one) / REPS as f64);
        }
    }
    tfe_runtime::fused::set_jit(true);
    tfe_runtime::fused::set_unfused(false);
    println!(
        "bench jit-e2e-lr-step-128x784 {:.6} - -  (fused kernels compiled; interpreted (--no-jit) {:.6} s, {:.2}x; op by op {:.6} s, {:.2}x)",
        best[0],
        best[1],
        best[1] / best[0],
        best[2],
        best[2] / best[0]
    );
}

/// An example: (file, batches per run, the original system's figure, a variant: (name suffix,
/// source text, replacement)).
type Example = (
    &'static str,
    f64,
    &'static str,
    Option<(&'static str, &'static str, &'static str)>,
);

/// The examples as shipped (`examples/*.tfe` with `examples/data/`, copied to a scratch
/// directory): for each, the compile time (check, lower and project every party; median of 5) and
/// one run's time, rounds and bytes per party, and the run's peak resident memory.
/// `mnist_train` runs first, so its peak is its own (about 0.5 GB; the limit is 2 GB);
/// later peaks are the largest so far.
pub fn examples() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let scratch = std::env::temp_dir().join(format!("tfe-bench-examples-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    copy_dir(&root.join("data"), &scratch);
    // (file, batches per run for seconds per batch, the original system's figure, an edit of the
    // source: a variant the example's constants select, named by the suffix)
    let list: &[Example] = &[
        (
            "mnist_train.tfe",
            31.0,
            "network A training, SGD with momentum; the original system's table, seconds per batch of 128 on three 4-core machines: 0.098 (MP-SPDZ), 0.138 (TF Encrypted)",
            None,
        ),
        (
            "mnist_train.tfe",
            31.0,
            "network A training, SGD with momentum, on pond (s2 deals)",
            Some((
                "-pond",
                "secret rep = aby3(s0, s1, s2);",
                "secret rep = pond(s0, s1, dealer = s2);",
            )),
        ),
        (
            "mnist_train.tfe",
            31.0,
            "network A training, SGD with momentum, on securenn (s2 deals and helps compare)",
            Some((
                "-securenn",
                "secret rep = aby3(s0, s1, s2);",
                "secret rep = securenn(s0, s1, dealer = s2);",
            )),
        ),
        (
            "mnist_train_adam.tfe",
            31.0,
            "network A training, Adam; the original system's table: 0.221 (MP-SPDZ), 0.463 (TF Encrypted)",
            None,
        ),
        (
            "mnist_train_adam.tfe",
            31.0,
            "network A training, AMSGrad (AMSGRAD = true); the original system's table: 0.228 (MP-SPDZ), 0.567 (TF Encrypted)",
            Some((
                "-amsgrad",
                "const AMSGRAD: bool = false;",
                "const AMSGRAD: bool = true;",
            )),
        ),
        (
            "mnist_predict.tfe",
            1.0,
            "784-128-128-10 inference on 100 images",
            None,
        ),
        ("digits_cnn.tfe", 1.0, "CNN inference on 297 images", None),
        (
            "secure_aggregation.tfe",
            30.0,
            "30 rounds of five hospitals' gradients averaged",
            None,
        ),
        (
            "sort_max.tfe",
            1.0,
            "sort of 1,000 (TF Encrypted 0.9.1 here: 0.13 s), max of 1,000 (15 ms), max of 1,000 2x2 windows",
            None,
        ),
        (
            "logreg.tfe",
            150.0,
            "logistic regression, 10 epochs of 15 batches",
            None,
        ),
        ("salaries.tfe", 1.0, "mean and max of three salaries", None),
    ];
    for (file, batches, note, edit) in list {
        let mut src = std::fs::read_to_string(root.join(file)).expect("example");
        if let Some((_, from, to)) = edit {
            assert!(src.contains(from), "{file} has `{from}`");
            src = src.replace(from, to);
        }
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let ir = tfe_compiler::compile(&src, &tfe_compiler::Options::default())
                .unwrap_or_else(|d| panic!("{d:?}"));
            let programs: Vec<_> = (0..ir.parties.len())
                .map(|p| tfe_ir::project(&ir, p))
                .collect();
            times.push(t.elapsed().as_secs_f64());
            drop(programs);
        }
        times.sort_by(f64::total_cmp);
        let r = run(&src, &scratch);
        println!(
            "bench example-{}{} {:.6} {} {}  (one run; {:.4} s per batch over {batches} batches; compile {:.2} ms; peak resident {}; {note})",
            file.trim_end_matches(".tfe"),
            edit.map_or("", |e| e.0),
            r.seconds,
            r.rounds.iter().max().unwrap(),
            r.bytes.iter().max().unwrap(),
            r.seconds / batches,
            times[2] * 1e3,
            r.peak_rss.map_or("unknown".to_string(), |p| format!(
                "{:.0} MB",
                p as f64 / 1e6
            )),
        );
    }
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
