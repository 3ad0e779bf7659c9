//! std::math against f64 over each function's documented range, on secret-shared inputs (under
//! each protocol, with its truncation) and on a party's plaintext, with the documented error
//! bounds.

#[macro_use]
mod support;

use support::Protocol;

/// Runs `f` on `xs` at a secret placement under `protocol` and at alice; returns (secret,
/// plaintext) results.
fn run(protocol: Protocol, f: &str, xs: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let dir = std::env::temp_dir().join(format!(
        "tfe-math-{}-{f}-{}",
        std::process::id(),
        protocol.name()
    ));
    std::fs::create_dir_all(dir.join("data/alice")).unwrap();
    let csv: String = xs.iter().map(|x| format!("{x}\n")).collect();
    std::fs::write(dir.join("data/alice/x.csv"), format!("x\n{csv}")).unwrap();
    let n = xs.len();
    std::fs::write(
        dir.join("m.tfe"),
        format!(
            "use std::math::{f};\nparty alice, bob, s0, s1, s2;\n{}\n\
             fn main() {{\n\
                 let xa: fixed[{n}, 1] @alice = read_csv(\"x.csv\");\n\
                 let x: fixed[{n}, 1] @rep = xa;\n\
                 print(reveal({f}(x), to: bob));\n\
                 let local: fixed[{n}, 1] @alice = {f}(xa);\n\
                 print(local);\n\
             }}\n",
            protocol.secret_line()
        ),
    )
    .unwrap();
    let stdout = support::tfec(&["run".as_ref(), dir.join("m.tfe").as_os_str()]);
    let parse = |prefix: &str| -> Vec<f64> {
        let line = stdout.lines().find(|l| l.starts_with(prefix)).unwrap();
        line[prefix.len()..]
            .split(", ")
            .map(|v| v.trim_matches(|c| c == '[' || c == ']').parse().unwrap())
            .collect()
    };
    (parse("[bob] "), parse("[alice] "))
}

per_protocol!(
    exp_within_its_documented_error,
    reciprocal_within_its_documented_error,
    reciprocal_1_to_16_within_its_documented_error,
    inv_sqrt_and_sqrt_within_their_documented_error,
    log_within_its_documented_error,
);

fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((lo + (hi - lo) * i as f64 / (n - 1) as f64) * 1e4).round() / 1e4)
        .collect()
}

/// Checks `got` against `want(x)`: relative error at most `rel` where `rel_from(x)` (or two units
/// of the last fractional bit, 2^-15, where that is larger: a result in fixed point may be half a
/// unit from the real value by its encoding and a unit more by the last truncation, and at the
/// ranges' ends, e.g. 1 / sqrt(2^8) = 1/16, 2e-4 relative is less than a unit), absolute at most
/// `abs` elsewhere. Returns the worst relative error seen.
fn check(
    name: &str,
    xs: &[f64],
    got: &[f64],
    want: impl Fn(f64) -> f64,
    rel: f64,
    abs: f64,
    relative_at: impl Fn(f64) -> bool,
) -> f64 {
    assert_eq!(got.len(), xs.len());
    let mut worst = 0.0f64;
    for (x, g) in xs.iter().zip(got) {
        let w = want(*x);
        if relative_at(*x) {
            let e = (g - w).abs() / w.abs();
            worst = worst.max(e);
            assert!(
                e <= rel || (g - w).abs() <= 2f64.powi(-15),
                "{name}({x}) = {g}, want {w}: relative error {e:.2e} > {rel:.0e}, and more than \
                 two units of the last bit"
            );
        } else {
            assert!(
                (g - w).abs() <= abs,
                "{name}({x}) = {g}, want {w}: absolute error above {abs:.0e}"
            );
        }
    }
    worst
}

fn exp_within_its_documented_error(protocol: Protocol) {
    let xs = grid(-16.0, 12.0, 113);
    let (secret, plain) = run(protocol, "exp", &xs);
    for got in [&secret, &plain] {
        check("exp", &xs, got, f64::exp, 1e-3, 5e-4, |x| x >= -4.0);
    }
}

/// `n` values spread evenly in log scale over [2^lo, 2^hi), each a multiple of 2^-16 (so that the
/// fixed-point encoding of the input is exact and the reference sees the same input).
fn log_grid(lo: i32, hi: i32, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let e = f64::from(lo) + f64::from(hi - lo) * i as f64 / n as f64;
            (e.exp2() * 65536.0).round().max(1.0) / 65536.0
        })
        .collect()
}

fn reciprocal_within_its_documented_error(protocol: Protocol) {
    let xs = log_grid(-10, 16, 104);
    let (secret, plain) = run(protocol, "reciprocal", &xs);
    for got in [&secret, &plain] {
        let worst = check(
            "reciprocal",
            &xs,
            got,
            |x| 1.0 / x,
            2e-4,
            2f64.powi(-15),
            |x| x <= 16.0,
        );
        eprintln!(
            "{}: reciprocal: worst relative error {worst:.1e} for x <= 16",
            protocol.name()
        );
    }
}

/// The reciprocal without a lookup, on its range [1, 16] (a softmax's sums): absolute error at
/// most 1e-4, on a grid with both ends.
fn reciprocal_1_to_16_within_its_documented_error(protocol: Protocol) {
    let xs = grid(1.0, 16.0, 97);
    let (secret, plain) = run(protocol, "reciprocal_1_to_16", &xs);
    for got in [&secret, &plain] {
        let worst = xs
            .iter()
            .zip(got.iter())
            .map(|(x, g)| (g - 1.0 / x).abs())
            .fold(0.0f64, f64::max);
        eprintln!(
            "{}: reciprocal_1_to_16: worst absolute error {worst:.1e}",
            protocol.name()
        );
        assert!(worst <= 1e-4, "reciprocal_1_to_16: {worst:.2e} > 1e-4");
    }
}

fn inv_sqrt_and_sqrt_within_their_documented_error(protocol: Protocol) {
    let xs = log_grid(-16, 16, 128);
    let (secret, plain) = run(protocol, "inv_sqrt", &xs);
    for got in [&secret, &plain] {
        let worst = check(
            "inv_sqrt",
            &xs,
            got,
            |x| 1.0 / x.sqrt(),
            2e-4,
            2f64.powi(-14),
            |x| x <= 256.0,
        );
        eprintln!(
            "{}: inv_sqrt: worst relative error {worst:.1e} for x <= 2^8",
            protocol.name()
        );
    }
    let (secret, plain) = run(protocol, "sqrt", &xs);
    for got in [&secret, &plain] {
        let worst = check("sqrt", &xs, got, f64::sqrt, 2e-4, 2f64.powi(-13), |x| {
            x >= 2f64.powi(-8)
        });
        eprintln!(
            "{}: sqrt: worst relative error {worst:.1e} for x >= 2^-8",
            protocol.name()
        );
    }
}

fn log_within_its_documented_error(protocol: Protocol) {
    let xs = log_grid(-16, 16, 128);
    let (secret, plain) = run(protocol, "log", &xs);
    for got in [&secret, &plain] {
        let worst = xs
            .iter()
            .zip(got.iter())
            .map(|(x, g)| (g - x.ln()).abs())
            .fold(0.0, f64::max);
        eprintln!("{}: log: worst absolute error {worst:.1e}", protocol.name());
        check("log", &xs, got, f64::ln, 0.0, 2e-4, |_| false);
    }
}
