//! The front end grows linearly with its input, whatever the input's shape: each program shape
//! of bench/src/shapes.rs (repeated names, long argument lists, long lines, deep nesting within
//! the limits, chains of calls and constants, files full of errors, …) is compiled at two sizes,
//! eight times apart, and the larger may take at most [`MAX_GROWTH`] times as long per unit.
//! Linear work gives about 1, quadratic work 8. The `scaling` benchmark (`cargo run --release
//! -p tfe-bench -- scaling`) prints the same measurements at larger sizes.

#[path = "../../bench/src/shapes.rs"]
#[allow(dead_code, reason = "shared with the benchmark, which uses all of it")]
mod shapes;

use std::time::{Duration, Instant};

use shapes::SHAPES;

/// How much more a unit may cost in the program eight times larger. Generous: the test runs in
/// debug builds on a busy machine, and must only tell linear from quadratic.
const MAX_GROWTH: f64 = 3.0;

/// Everything `tfec check` and `tfec build --emit party:NAME` do with a program: parse, check,
/// lower, project one party, or render the errors both ways. Returns the number of errors.
fn front_end(src: &str) -> usize {
    let result = tfe_compiler::check(src).and_then(|hir| {
        let ir = tfe_compiler::lower::lower(&hir)?;
        // One party, as `tfec build --emit party:NAME` and each process of a run do.
        std::hint::black_box(tfe_ir::project(&ir, 0));
        Ok(())
    });
    match result {
        Ok(()) => 0,
        Err(diagnostics) => {
            let options = tfe_compiler::RenderOptions { color: false };
            std::hint::black_box(tfe_compiler::render(&diagnostics, "p.tfe", src, options));
            std::hint::black_box(tfe_compiler::diagnostics::to_json(
                &diagnostics,
                "p.tfe",
                src,
            ));
            diagnostics.len()
        }
    }
}

/// The shapes whose programs are wrong on purpose.
const WITH_ERRORS: &[&str] = &[
    "same-party",
    "same-const",
    "same-fn",
    "bad-line",
    "bad-lines",
    "type-errors",
];

#[test]
fn each_shape_compiles_or_fails_as_intended() {
    with_tfec_stack(compiles_or_fails);
}

fn compiles_or_fails() {
    for (name, _, generate, _) in SHAPES {
        let src = generate(6);
        let result = tfe_compiler::check(&src).and_then(|hir| tfe_compiler::lower::lower(&hir));
        match result {
            Ok(_) => assert!(!WITH_ERRORS.contains(name), "{name} compiled:\n{src}"),
            Err(d) => assert!(
                WITH_ERRORS.contains(name),
                "{name}:\n{src}\n{}",
                tfe_compiler::render(
                    &d,
                    "p.tfe",
                    &src,
                    tfe_compiler::RenderOptions { color: false }
                )
            ),
        }
    }
}

fn fastest(src: &str) -> Duration {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            front_end(src);
            t.elapsed()
        })
        .min()
        .expect("three runs")
}

/// Runs `f` on a thread with tfec's stack (tfec compiles on a thread of 256 MB).
fn with_tfec_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .expect("a thread")
        .join()
        .expect("no panic")
}

#[test]
fn every_shape_compiles_in_linear_time() {
    with_tfec_stack(linear_time);
}

fn linear_time() {
    let mut report = Vec::new();
    let mut failed = false;
    for (name, unit, generate, base) in SHAPES {
        // Small enough for a debug build, large enough to measure.
        let n = (base / 8).max(4);
        let (small_src, large_src) = (generate(n), generate(8 * n));
        // On a busy machine one measurement can be unlucky: a shape gets three tries.
        let (mut small, mut large, mut growth) = (Duration::MAX, Duration::MAX, f64::MAX);
        for _ in 0..3 {
            let (s, l) = (fastest(&small_src), fastest(&large_src));
            let g = (l.as_secs_f64() / 8.0) / s.as_secs_f64().max(1e-6);
            if g < growth {
                (small, large, growth) = (s, l, g);
            }
            if growth <= MAX_GROWTH {
                break;
            }
        }
        let ok = growth <= MAX_GROWTH;
        failed |= !ok;
        report.push(format!(
            "{name}: {n} {} in {:.1} ms, {} in {:.1} ms: ×{growth:.2} per {unit}{}",
            shapes::plural(unit),
            small.as_secs_f64() * 1e3,
            8 * n,
            large.as_secs_f64() * 1e3,
            if ok { "" } else { "  <-- too much" }
        ));
    }
    eprintln!("{}", report.join("\n"));
    assert!(!failed, "{}", report.join("\n"));
}
