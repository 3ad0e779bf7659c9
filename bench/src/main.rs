//! `bench`: the benchmark harness. Each workload prints one line,
//! `bench NAME SECONDS ROUNDS BYTES-PER-PARTY  (details)`, so runs can be compared;
//! `-` stands where a column does not apply (front-end work sends no messages).
//!
//! Run: `cargo run --release -p tfe-bench` (all), or with a filter: `… -- parse`.

mod compile;
mod derived;
mod jit;
mod mpc;
mod network;
mod networks;
mod programs;
mod resnet;
mod shapes;
mod wide;
mod workloads;

use std::time::{Duration, Instant};

/// The allocator tfec runs with (see tfec/src/main.rs), so that the figures are the product's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    tfe_runtime::memory::keep_freed_memory();
    let filter = std::env::args().nth(1).unwrap_or_default();
    if filter == "--net-party" {
        let args: Vec<String> = std::env::args().skip(2).collect();
        network::party_child(&args);
        return;
    }
    if filter == "--run-child" {
        let args: Vec<String> = std::env::args().skip(2).collect();
        workloads::run_child(&args);
        return;
    }
    if filter == "--memory-child" {
        workloads::memory_child(&std::env::args().nth(2).unwrap_or_default());
        return;
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; figures are only meaningful with --release");
    }
    let benches: &[(&str, fn())] = &[
        ("parse", parse_bench),
        ("lex", lex_bench),
        ("check", check_bench),
        ("compile", compile::compile),
        ("scaling", compile::scaling),
        ("jit", jit::run),
        ("jit-wide", jit::run_wide),
        ("ring-matmul", ring_matmul),
        ("examples", workloads::examples),
        ("ring128", wide::run),
    ];
    for (name, run) in benches {
        if name.contains(filter.as_str()) {
            run();
        }
    }
    mpc::run_all(&filter);
    network::run_all(&filter);
    networks::run_all(&filter);
    derived::run_all(&filter);
    resnet::run_all(&filter);
}

/// Runs `f` until at least `min_runs` runs and 1 s have passed; returns the median time.
/// What `f` returns is dropped after the clock stops: freeing a result is not part of making it.
fn median_time<T>(min_runs: usize, mut f: impl FnMut() -> T) -> (Duration, usize) {
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < min_runs || start.elapsed() < Duration::from_secs(1) {
        let t = Instant::now();
        let result = std::hint::black_box(f());
        times.push(t.elapsed());
        drop(result);
    }
    times.sort();
    (times[times.len() / 2], times.len())
}

fn parse_bench() {
    for lines in [10_000, 100_000] {
        let src = programs::generate(lines);
        let n_lines = src.lines().count();
        let (time, runs) = median_time(10, || {
            tfe_grammar::parse(&src).expect("the generated program parses")
        });
        let secs = time.as_secs_f64();
        println!(
            "bench parse-{n_lines}-lines {secs:.6} - -  ({:.2}M lines/s, {:.0} MB/s, median of {runs} runs)",
            n_lines as f64 / secs / 1e6,
            src.len() as f64 / secs / 1e6,
        );
    }
}

fn lex_bench() {
    let src = programs::generate(10_000);
    let n_lines = src.lines().count();
    let (time, runs) = median_time(10, || {
        let (tokens, errors) = tfe_grammar::token::lex(&src);
        assert!(errors.is_empty());
        tokens
    });
    let secs = time.as_secs_f64();
    println!(
        "bench lex-{n_lines}-lines {secs:.6} - -  ({:.2}M lines/s, {:.0} MB/s, median of {runs} runs)",
        n_lines as f64 / secs / 1e6,
        src.len() as f64 / secs / 1e6,
    );
}

fn check_bench() {
    let src = programs::generate(10_000);
    let n_lines = src.lines().count();
    let program = tfe_grammar::parse(&src).expect("the generated program parses");
    if let Err(d) = tfe_compiler::check::check(&program) {
        panic!(
            "the generated program does not check: {}",
            tfe_compiler::render(
                &d,
                "generated.tfe",
                &src,
                tfe_compiler::RenderOptions { color: false }
            )
        );
    }
    let (time, runs) = median_time(10, || tfe_compiler::check::check(&program).expect("checks"));
    let secs = time.as_secs_f64();
    println!(
        "bench check-{n_lines}-lines {secs:.6} - -  ({:.2}M lines/s, names, types, placements and flow of a parsed program; median of {runs} runs)",
        n_lines as f64 / secs / 1e6,
    );
    let (time, runs) = median_time(10, || {
        let program = tfe_grammar::parse(&src).expect("parses");
        tfe_compiler::check::check(&program).expect("checks")
    });
    let secs = time.as_secs_f64();
    println!(
        "bench parse+check-{n_lines}-lines {secs:.6} - -  ({:.2}M lines/s, what `tfec check` does after reading the file; median of {runs} runs)",
        n_lines as f64 / secs / 1e6,
    );
}

/// The ring's matrix product alone (one party's local work), with the AVX-512 kernel where the
/// CPU has it and with the scalar one, alternating in one run: shapes of the benchmarks (256³,
/// the MLP's first layer) and of network B's convolutions (im2col rows times the filters).
fn ring_matmul() {
    use ndarray::{ArrayD, IxDyn};
    for (m, k, n) in [
        (256, 256, 256),
        (128, 784, 10),
        (73_728, 25, 16),
        (8_192, 400, 16),
    ] {
        let tensor = |rows: usize, cols: usize, salt: u64| {
            let words = (0..(rows * cols) as u64)
                .map(|i| (i ^ salt).wrapping_mul(0x9e37_79b9_7f4a_7c15))
                .collect();
            ArrayD::from_shape_vec(IxDyn(&[rows, cols]), words).expect("rows × cols")
        };
        let (a, b) = (tensor(m, k, 1), tensor(k, n, 2));
        let mut best = [f64::MAX; 2];
        for _ in 0..2 {
            for (slot, wide) in [(0, true), (1, false)] {
                tfe_runtime::ring::set_wide_lanes(wide);
                let (t, _) = median_time(5, || tfe_runtime::ring::matmul(&a, &b).expect("shapes"));
                best[slot] = best[slot].min(t.as_secs_f64());
            }
        }
        tfe_runtime::ring::set_wide_lanes(true);
        let macs = (m * k * n) as f64;
        println!(
            "bench ring-matmul-{m}x{k}x{n} {:.6} - -  (one party's local product, u64; AVX-512 where the CPU has it: {:.2} G multiply-adds/s; the scalar kernel {:.6} s, {:.2} G/s; ratio {:.2})",
            best[0],
            macs / best[0] / 1e9,
            best[1],
            macs / best[1] / 1e9,
            best[1] / best[0]
        );
    }
}
