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
mod workloads;

use std::time::{Duration, Instant};

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    if filter == "--net-party" {
        let args: Vec<String> = std::env::args().skip(2).collect();
        network::party_child(&args);
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
        ("examples", workloads::examples),
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
