//! Compile time as programs grow.
//!
//! - `compile`: realistic generated programs (programs.rs) of 1,000 to 100,000 lines, through
//!   every phase of the front end — parse, check, lower, project (every party) — with the time
//!   per line of each, so that growth shows from run to run: flat microseconds per line is
//!   linear.
//! - `scaling`: each shape of shapes.rs (repeated names, long argument lists, long lines, deep
//!   nesting, chains of calls, files full of errors, …) at 1, 4 and 16 times its base size, doing
//!   what `tfec check` and `tfec build --emit party:NAME` do (one party projected; errors rendered
//!   both ways when there are any), with the time per unit and its growth from the smallest size to the largest (1.0 is
//!   linear; quadratic work would show 16).

use std::time::{Duration, Instant};

use crate::programs;
use crate::shapes::{SHAPES, plural};

/// The time of each phase of one front-end run over a program.
#[derive(Default, Clone, Copy)]
struct Phases {
    parse: Duration,
    check: Duration,
    lower: Duration,
    project: Duration,
    /// Rendering the errors, for a person and as JSON (zero for a program without errors).
    report: Duration,
}

impl Phases {
    fn total(&self) -> Duration {
        self.parse + self.check + self.lower + self.project + self.report
    }
}

/// Runs the front end over `src` as tfec would, timing each phase: the projection of every party
/// (as an embedded run does) or of the first (as each process of a networked run, and `tfec build
/// --emit party:NAME`, do). Returns the phases and the number of errors.
fn front_end(src: &str, every_party: bool) -> (Phases, usize) {
    let mut phases = Phases::default();
    let t = Instant::now();
    let parsed = tfe_compiler::parse(src);
    phases.parse = t.elapsed();
    let result = parsed.and_then(|program| {
        let t = Instant::now();
        let checked = tfe_compiler::check::check(&program);
        phases.check = t.elapsed();
        let hir = checked?;
        let t = Instant::now();
        let ir = tfe_compiler::lower::lower(&hir)?;
        phases.lower = t.elapsed();
        let t = Instant::now();
        let parties = if every_party { ir.parties.len() } else { 1 };
        for party in 0..parties {
            std::hint::black_box(tfe_ir::project(&ir, party));
        }
        phases.project = t.elapsed();
        Ok(())
    });
    match result {
        Ok(()) => (phases, 0),
        Err(diagnostics) => {
            let t = Instant::now();
            let options = tfe_compiler::RenderOptions { color: false };
            std::hint::black_box(tfe_compiler::render(&diagnostics, "p.tfe", src, options));
            std::hint::black_box(tfe_compiler::diagnostics::to_json(
                &diagnostics,
                "p.tfe",
                src,
            ));
            phases.report = t.elapsed();
            (phases, diagnostics.len())
        }
    }
}

/// The fastest of `runs` front-end runs (the least disturbed by other work on the machine).
fn fastest(src: &str, runs: usize, every_party: bool) -> (Phases, usize) {
    (0..runs)
        .map(|_| front_end(src, every_party))
        .min_by_key(|(p, _)| p.total())
        .expect("at least one run")
}

fn micros_per(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

pub fn compile() {
    for lines in [1_000, 10_000, 100_000] {
        let src = programs::generate(lines);
        let n = src.lines().count();
        let (p, errors) = fastest(&src, if lines >= 100_000 { 1 } else { 3 }, true);
        assert_eq!(errors, 0, "the generated program compiles");
        println!(
            "bench compile-{n}-lines {:.6} - -  ({:.2} µs/line: parse {:.2}, check {:.2}, lower {:.2}, project {:.2}; fastest of {})",
            p.total().as_secs_f64(),
            micros_per(p.total(), n),
            micros_per(p.parse, n),
            micros_per(p.check, n),
            micros_per(p.lower, n),
            micros_per(p.project, n),
            if lines >= 100_000 { 1 } else { 3 },
        );
    }
}

pub fn scaling() {
    for (name, unit, generate, base) in SHAPES {
        let mut first = None;
        for factor in [1, 4, 16] {
            let n = base * factor;
            let src = generate(n);
            let (p, errors) = fastest(&src, if factor == 16 { 1 } else { 2 }, false);
            let per_unit = micros_per(p.total(), n);
            let growth = per_unit / *first.get_or_insert(per_unit);
            println!(
                "bench scaling-{name}-{n} {:.6} - -  ({per_unit:.2} µs/{unit}, ×{growth:.2} of the smallest; {n} {}, {} lines, {} bytes, {errors} errors; parse {:.3} s, check {:.3}, lower {:.3}, project {:.3}, report {:.3})",
                p.total().as_secs_f64(),
                plural(unit),
                src.lines().count(),
                src.len(),
                p.parse.as_secs_f64(),
                p.check.as_secs_f64(),
                p.lower.as_secs_f64(),
                p.project.as_secs_f64(),
                p.report.as_secs_f64(),
            );
        }
    }
}
