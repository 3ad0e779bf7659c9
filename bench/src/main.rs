//! `bench`: the benchmark harness. Each workload prints one line,
//! `bench NAME SECONDS ROUNDS BYTES-PER-PARTY  (details)`, so runs can be compared;
//! `-` stands where a column does not apply (front-end work sends no messages).
//!
//! Run: `cargo run --release -p tfe-bench` (all), or with a filter: `… -- parse`.

mod programs;

use std::time::{Duration, Instant};

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; figures are only meaningful with --release");
    }
    let benches: &[(&str, fn())] = &[("parse", parse_bench), ("lex", lex_bench)];
    for (name, run) in benches {
        if name.contains(filter.as_str()) {
            run();
        }
    }
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
