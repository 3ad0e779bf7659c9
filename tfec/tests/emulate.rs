//! `tfec run --emulate`: the cleartext emulation reveals what the secure run reveals (within the
//! fixed point's error), and reports, by line, the operations whose results do not fit their
//! placement's ring and frac: a sum of squared salaries overflows a 64-bit ring with 16
//! fractional bits (and the secure run's result is indeed wrong) and is exact with 128 and 32 (in
//! the emulation and in the secure runs of aby3 and pond); a constant below the resolution is
//! reported as lost (and the secure run indeed loses it).

#[macro_use]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Protocol;

per_protocol!(emulation_reveals_what_the_secure_run_reveals);

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tfe-emulate-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for p in ["alice", "bob", "analyst"] {
        std::fs::create_dir_all(dir.join(p)).unwrap();
    }
    dir
}

/// Runs tfec with `args` then the program (written into `dir`) and the data under `dir`:
/// (exit code, stdout, stderr).
fn tfec(dir: &Path, name: &str, source: &str, args: &[&str]) -> (i32, String, String) {
    let program = dir.join(name);
    std::fs::write(&program, source).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tfec"))
        .arg("run")
        .args(args)
        .arg("--data")
        .arg(dir)
        .arg(&program)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn numbers(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .split([',', '\n'])
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.trim().parse().unwrap())
        .collect()
}

/// 50 salaries between 30,000 and 250,000.
fn salaries() -> Vec<f64> {
    (0..50u64)
        .map(|i| (30_000 + (i * 7_919 + 13) * 104_729 % 220_000) as f64)
        .collect()
}

fn salary_program(secret: &str) -> String {
    format!(
        "party alice, bob, analyst;\n\
         party s0, s1, s2;\n\
         {secret}\n\
         fn main() {{\n\
             let xa: fixed[_] @alice = read_csv(\"salaries.csv\");\n\
             let x: fixed[_] @rep = xa;\n\
             let squares = x * x;\n\
             write_csv(reveal(sum(squares), to: analyst), \"sum.csv\");\n\
             write_csv(reveal(x * 0.000001, to: analyst), \"millionths.csv\");\n\
         }}\n"
    )
}

fn salary_dir(tag: &str) -> PathBuf {
    let dir = scratch(tag);
    let text: Vec<String> = salaries().iter().map(|v| v.to_string()).collect();
    std::fs::write(dir.join("alice/salaries.csv"), text.join("\n")).unwrap();
    dir
}

#[test]
fn a_sum_of_squares_overflows_64_bits_and_fits_128() {
    let exact: f64 = salaries().iter().map(|v| v * v).sum();
    // 64 bits, 16 fractional: the report names line 7's product and line 9's constant.
    let dir = salary_dir("narrow");
    let narrow = salary_program("secret rep = aby3(s0, s1, s2);");
    let (code, _, report) = tfec(&dir, "narrow.tfe", &narrow, &["--emulate"]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("rep = aby3, ring 64, frac 16: values within ±2^47"),
        "{report}"
    );
    assert!(
        report.contains("line 7: `x * x`: overflow: ")
            && report.contains("of 50 results in its one run wrapped around the ring"),
        "{report}"
    );
    assert!(
        report.contains("line 9: `x * 0.000001`: underflow: the public operand 1.0000e-6 is 0"),
        "{report}"
    );
    // What it needs: squares up to 2^35.8 before truncation, so 1 + 36 + 32 = 69 bits at frac 16;
    // the constant 1e-6 needs frac 20, and then 1 + 36 + 40 = 77 bits.
    assert!(
        report.contains("a ring of >= 69 bits at frac 16 (89 for truncations that fail under 1 in 10^6 products); its smallest nonzero value, 1.0e-6, needs frac >= 20 (then a ring of >= 77 bits, 97)"),
        "{report}"
    );
    let emulated = numbers(&dir.join("analyst/sum.csv"))[0];
    assert!(
        (emulated - exact).abs() > 1e6,
        "the emulation wraps as the ring does: {emulated} vs {exact}"
    );
    assert!(
        numbers(&dir.join("analyst/millionths.csv"))
            .iter()
            .all(|v| *v == 0.0)
    );
    // The secure run is wrong where the report says it would be.
    let (code, _, err) = tfec(&dir, "narrow.tfe", &narrow, &[]);
    assert_eq!(code, 0, "{err}");
    let secure = numbers(&dir.join("analyst/sum.csv"))[0];
    assert!(
        (secure - exact).abs() > 1e6,
        "64 bits cannot hold the squares: {secure} vs {exact}"
    );
    assert!(
        numbers(&dir.join("analyst/millionths.csv"))
            .iter()
            .all(|v| *v == 0.0),
        "the constant is 0 in the secure run too"
    );

    // 128 bits, 32 fractional: everything fits, and the sum is exact.
    let dir = salary_dir("wide");
    let wide = salary_program("secret rep = aby3(s0, s1, s2, ring = 128, frac = 32);");
    let (code, _, report) = tfec(&dir, "wide.tfe", &wide, &["--emulate"]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("rep = aby3, ring 128, frac 32: values within ±2^95, resolution 2^-32, products within ±2^63 before truncation\n  every operation fits"),
        "{report}"
    );
    let emulated = numbers(&dir.join("analyst/sum.csv"))[0];
    assert!(
        (emulated - exact).abs() <= exact * 1e-12,
        "{emulated} vs {exact}"
    );
    let millionths = numbers(&dir.join("analyst/millionths.csv"));
    for (got, x) in millionths.iter().zip(salaries()) {
        // The constant encoded with 32 fractional bits, the product truncated: 2^-32 each.
        assert!((got - x * 1e-6).abs() <= x * 2f64.powi(-32) + 2f64.powi(-31));
    }
    // The secure run at 128 bits, under aby3 and pond, reveals the exact sum too, and the
    // millionths within the same bound plus one truncation's error.
    for secret in [
        "secret rep = aby3(s0, s1, s2, ring = 128, frac = 32);",
        "secret rep = pond(s0, s1, dealer = s2, ring = 128, frac = 32);",
    ] {
        let dir = salary_dir("wide-secure");
        let (code, _, err) = tfec(&dir, "wide.tfe", &salary_program(secret), &[]);
        assert_eq!(code, 0, "{secret}: {err}");
        let secure = numbers(&dir.join("analyst/sum.csv"))[0];
        assert!(
            (secure - exact).abs() <= exact * 1e-12,
            "{secret}: {secure} vs {exact}"
        );
        for (got, x) in numbers(&dir.join("analyst/millionths.csv"))
            .iter()
            .zip(salaries())
        {
            assert!(
                (got - x * 1e-6).abs() <= x * 2f64.powi(-32) + 2f64.powi(-30),
                "{secret}: {got} vs {}",
                x * 1e-6
            );
        }
    }
}

/// Products, a matrix product, comparisons and selections, a division by a public value and the
/// standard library's sigmoid and softmax, on values that fit: the emulation's outputs are the
/// secure run's within 1e-3 (each op's truncation is off by at most 2^-16 on shares, exact in the
/// emulation; the library's approximations are the same arithmetic in both).
fn emulation_reveals_what_the_secure_run_reveals(protocol: Protocol) {
    let source = protocol.switch(
        "use std::nn::{sigmoid, softmax};\n\
         party alice, bob, analyst;\n\
         party s0, s1, s2;\n\
         secret rep = aby3(s0, s1, s2);\n\
         fn main() {\n\
             let a: fixed[_, 4] @alice = read_csv(\"a.csv\");\n\
             let w: fixed[4, 3] @bob = read_csv(\"w.csv\");\n\
             let x: fixed[_, 4] @rep = a;\n\
             let h = matmul(x, w) / 4.0;\n\
             let g = select(h > 0.5, h * h, sigmoid(h));\n\
             let p = softmax(g, axis: 1);\n\
             write_csv(reveal(p, to: analyst), \"p.csv\");\n\
             write_csv(reveal(max(g, axis: 1) - h[0 .. 4, 0], to: analyst), \"m.csv\");\n\
         }\n",
    );
    let dir = scratch(&format!("same-{}", protocol.name()));
    std::fs::write(
        dir.join("alice/a.csv"),
        "1,2,-0.5,3\n0.25,-1,2,1.5\n-2,0.5,1,-1\n3,1,1,0.125\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("bob/w.csv"),
        "0.5,-1,2\n1.5,0.25,-0.75\n-1,1,0.5\n2,0.5,1\n",
    )
    .unwrap();
    let (code, _, report) = tfec(&dir, "p.tfe", &source, &["--emulate"]);
    assert_eq!(code, 0, "{report}");
    // (softmax's smallest probabilities, below 2^-16, round to 0: an underflow, reported.)
    assert!(!report.contains("overflow"), "{report}");
    let emulated = [
        numbers(&dir.join("analyst/p.csv")),
        numbers(&dir.join("analyst/m.csv")),
    ];
    let (code, _, err) = tfec(&dir, "p.tfe", &source, &[]);
    assert_eq!(code, 0, "{err}");
    let secure = [
        numbers(&dir.join("analyst/p.csv")),
        numbers(&dir.join("analyst/m.csv")),
    ];
    let mut worst = 0.0f64;
    for (e, s) in emulated.iter().zip(&secure) {
        assert_eq!(e.len(), s.len());
        for (a, b) in e.iter().zip(s) {
            worst = worst.max((a - b).abs());
            assert!((a - b).abs() <= 1e-3, "emulated {a}, secure {b}");
        }
    }
    eprintln!(
        "{}: the emulation and the secure run differ by at most {worst:.2e}",
        protocol.name()
    );
}

#[test]
fn the_emulation_stores_no_shares_and_loads_none() {
    let dir = scratch("shares");
    let store = "party alice, bob, analyst;\nparty s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
                 fn main() {\n    let w: fixed[3] @rep = ones([3]);\n    write_shares(w, \"w\");\n}\n";
    let (code, _, err) = tfec(&dir, "store.tfe", store, &["--emulate"]);
    assert_eq!(code, 0, "{err}");
    for s in ["s0", "s1", "s2"] {
        assert!(!dir.join(s).join("w.shares").exists());
    }
    let load = "party alice, bob, analyst;\nparty s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
                fn main() {\n    let w: fixed[3] @rep = read_shares(\"w\");\n    print(reveal(w, to: analyst));\n}\n";
    let (code, _, err) = tfec(&dir, "load.tfe", load, &["--emulate"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("`--emulate` does not load stored shares (`w`)"),
        "{err}"
    );
}

#[test]
fn the_emulation_runs_in_this_process_only() {
    let dir = scratch("usage");
    let (code, _, err) = tfec(
        &dir,
        "p.tfe",
        "party a;\nfn main() { }\n",
        &["--emulate", "--players", "players.toml"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--emulate") && err.contains("--players"),
        "{err}"
    );
}

/// The design sketch's contract program with three placements, one of them 128 bits wide: its
/// emulation gives each placement's results, and so does its secure run (within one truncation
/// per product).
#[test]
fn the_contract_program_with_three_placements_emulates() {
    let dir = scratch("contract");
    let a = [1.5, -2.25, 3.0, 100.0];
    let b = [0.5, 4.0, -3.0, 90.0];
    let csv = |v: &[f64]| v.iter().map(f64::to_string).collect::<Vec<_>>().join("\n");
    std::fs::write(dir.join("alice/a.csv"), csv(&a)).unwrap();
    std::fs::write(dir.join("bob/b.csv"), csv(&b)).unwrap();
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/contract/protocols.tfe"),
    )
    .unwrap();
    let (code, _, report) = tfec(&dir, "protocols.tfe", &source, &["--emulate"]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("wide = aby3, ring 128, frac 32"),
        "{report}"
    );
    let products = numbers(&dir.join("alice/products.csv"));
    let maxima = numbers(&dir.join("alice/maxima.csv"));
    let wide = numbers(&dir.join("bob/wide.csv"));
    for i in 0..4 {
        assert_eq!(products[i], a[i] * b[i]);
        assert_eq!(maxima[i], a[i].max(b[i]));
        assert_eq!(wide[i], a[i] * a[i] * b[i]);
    }
    let (code, _, err) = tfec(&dir, "protocols.tfe", &source, &[]);
    assert_eq!(code, 0, "{err}");
    let secure = [
        numbers(&dir.join("alice/products.csv")),
        numbers(&dir.join("alice/maxima.csv")),
        numbers(&dir.join("bob/wide.csv")),
    ];
    for i in 0..4 {
        assert!((secure[0][i] - a[i] * b[i]).abs() <= 2f64.powi(-15));
        assert_eq!(secure[1][i], a[i].max(b[i]));
        assert!((secure[2][i] - a[i] * a[i] * b[i]).abs() <= 2f64.powi(-30));
    }
}

/// Secret integers that leave the ring are reported at their line (and wrapped), not refused.
#[test]
fn integer_overflows_are_reported_by_line() {
    let dir = scratch("int");
    std::fs::write(dir.join("alice/n.csv"), "3000000000\n7\n").unwrap();
    let source = "party alice, bob, analyst;\nparty s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
                  fn main() {\n    let na: int[_] @alice = read_csv(\"n.csv\");\n    let n: int[_] @rep = na;\n\
                  let sq = n * n * 2;\n    print(reveal(sq, to: analyst));\n}\n";
    let (code, out, report) = tfec(&dir, "n.tfe", source, &["--emulate"]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("line 7: `n * n * 2`: overflow: 1 of 2 results"),
        "{report}"
    );
    // 3e9 · 3e9 · 2 = 1.8e19 wraps to 1.8e19 - 2^64; 7 · 7 · 2 = 98.
    let wrapped = 18_000_000_000_000_000_000f64 - 2f64.powi(64);
    assert!(
        out.contains(&format!("{}", wrapped as i64)) && out.contains("98"),
        "{out}"
    );
}

/// The standard library's math in both fixed points, emulated: each function's error against
/// f64 over its documented range, at 64/16 and at 128/32, within the bound docs/language.md
/// states for 64/16 (the approximations dominate; 32 fractional bits only shrink the rounding).
#[test]
fn std_math_at_64_16_and_128_32() {
    // (function, inputs, relative error?, bound)
    let cases: [(&str, Vec<f64>, bool, f64); 5] = [
        (
            "exp",
            (0..=160).map(|i| -4.0 + i as f64 * 0.1).collect(),
            true,
            1e-3,
        ),
        (
            "reciprocal",
            (0..=120)
                .map(|i| 2f64.powf(-10.0 + i as f64 / 8.6))
                .collect(),
            true,
            2e-4,
        ),
        (
            "inv_sqrt",
            (0..=120)
                .map(|i| 2f64.powf(-8.0 + i as f64 / 7.5))
                .collect(),
            true,
            2e-4,
        ),
        (
            "sqrt",
            (0..=120)
                .map(|i| 2f64.powf(-8.0 + i as f64 / 5.1))
                .collect(),
            true,
            2e-4,
        ),
        (
            "log",
            (0..=120)
                .map(|i| 2f64.powf(-16.0 + i as f64 / 3.8))
                .collect(),
            false,
            2e-4,
        ),
    ];
    for (f, inputs, relative, bound) in cases {
        let dir = scratch(&format!("math-{f}"));
        let text: Vec<String> = inputs.iter().map(|v| format!("{v:.12}")).collect();
        std::fs::write(dir.join("alice/x.csv"), text.join("\n")).unwrap();
        let source = format!(
            "use std::math::{f};\n\
             party alice, bob, analyst;\nparty s0, s1, s2;\n\
             secret narrow = aby3(s0, s1, s2);\n\
             secret wide = aby3(s0, s1, s2, ring = 128, frac = 32);\n\
             fn main() {{\n\
                 let xa: fixed[_] @alice = read_csv(\"x.csv\");\n\
                 let xn: fixed[_] @narrow = xa;\n\
                 let xw: fixed[_] @wide = xa;\n\
                 write_csv(reveal({f}(xn), to: analyst), \"n.csv\");\n\
                 write_csv(reveal({f}(xw), to: analyst), \"w.csv\");\n\
             }}\n"
        );
        let (code, _, report) = tfec(&dir, "m.tfe", &source, &["--emulate"]);
        assert_eq!(code, 0, "{f}: {report}");
        let exact = |x: f64| match f {
            "exp" => x.exp(),
            "reciprocal" => 1.0 / x,
            "inv_sqrt" => 1.0 / x.sqrt(),
            "sqrt" => x.sqrt(),
            _ => x.ln(),
        };
        // The inputs as each placement encodes them.
        let at = |x: f64, frac: i32| (x * 2f64.powi(frac)).round() / 2f64.powi(frac);
        let mut worst = [0.0f64; 2];
        for (k, (file, frac)) in [("n.csv", 16), ("w.csv", 32)].iter().enumerate() {
            let got = numbers(&dir.join("analyst").join(file));
            for (x, g) in inputs.iter().zip(&got) {
                let want = exact(at(*x, *frac));
                let err = if relative {
                    (g - want).abs() / want.abs()
                } else {
                    (g - want).abs()
                };
                worst[k] = worst[k].max(err);
            }
        }
        eprintln!(
            "{f}: worst {} error at 64/16 {:.2e}, at 128/32 {:.2e}",
            if relative { "relative" } else { "absolute" },
            worst[0],
            worst[1]
        );
        assert!(
            worst[0] <= bound && worst[1] <= bound,
            "{f}: {worst:?} > {bound}"
        );
    }
}

/// `frac = 48` in a 128-bit ring: products of values near 1e-6 keep their significant bits
/// (2^-48 ≈ 3.6e-15 resolution), under aby3 and pond, and the emulation agrees; at 64/16 the
/// same products are 0.
#[test]
fn frac_48_at_128_bits_resolves_small_products() {
    let xs = [1.5e-6, -2.25e-6, 3.0e-7, 0.75];
    let source = |secret: &str| {
        format!(
            "party alice, bob, analyst;\nparty s0, s1, s2;\n{secret}\n\
             fn main() {{\n\
                 let xa: fixed[_] @alice = read_csv(\"x.csv\");\n\
                 let x: fixed[_] @rep = xa;\n\
                 write_csv(reveal(x * x, to: analyst), \"squares.csv\");\n\
             }}\n"
        )
    };
    for secret in [
        "secret rep = aby3(s0, s1, s2, ring = 128, frac = 48);",
        "secret rep = pond(s0, s1, dealer = s2, ring = 128, frac = 48);",
        "secret rep = aby3(s0, s1, s2);",
    ] {
        let wide = secret.contains("128");
        for args in [&[][..], &["--emulate"][..]] {
            let dir = scratch(&format!("frac48-{}-{}", secret.len(), args.len()));
            let text: Vec<String> = xs.iter().map(|v| format!("{v:e}")).collect();
            std::fs::write(dir.join("alice/x.csv"), text.join("\n")).unwrap();
            let (code, _, err) = tfec(&dir, "p.tfe", &source(secret), args);
            assert_eq!(code, 0, "{secret} {args:?}: {err}");
            let got = numbers(&dir.join("analyst/squares.csv"));
            for (g, x) in got.iter().zip(xs) {
                if wide {
                    // Each factor rounded to 2^-49, the product truncated: 2^-47 in all.
                    assert!(
                        (g - x * x).abs() <= 2f64.powi(-47) + (x * x).abs() * 1e-12,
                        "{secret} {args:?}: {g} vs {}",
                        x * x
                    );
                } else if x.abs() < 1e-3 {
                    // 64/16: squares below 2^-17 are lost.
                    assert!(g.abs() <= 2f64.powi(-16), "{secret} {args:?}: {g}");
                }
            }
        }
    }
}

/// A secret integer past 64 bits in a 128-bit ring is revealed as the emulation reveals it: its
/// low 64 bits (plaintext integers are 64-bit), under aby3 and pond.
#[test]
fn revealed_wide_integers_wrap_as_in_the_emulation() {
    for secret in [
        "secret rep = aby3(s0, s1, s2, ring = 128, frac = 32);",
        "secret rep = pond(s0, s1, dealer = s2, ring = 128, frac = 32);",
    ] {
        let source = format!(
            "party alice, bob, analyst;\nparty s0, s1, s2;\n{secret}\n\
             fn main() {{\n    let na: int[_] @alice = read_csv(\"n.csv\");\n    let n: int[_] @rep = na;\n\
             print(reveal(n * n, to: analyst));\n}}\n"
        );
        let mut outs = Vec::new();
        for args in [&[][..], &["--emulate"][..]] {
            let dir = scratch(&format!("wideint-{}-{}", secret.len(), args.len()));
            // 2^40 squared is 2^80 (low 64 bits 0); 3e9 squared is 9e18 (fits); -7 squared 49.
            std::fs::write(dir.join("alice/n.csv"), "1099511627776\n3000000000\n-7\n").unwrap();
            let (code, out, err) = tfec(&dir, "n.tfe", &source, args);
            assert_eq!(code, 0, "{secret} {args:?}: {err}");
            outs.push(out);
        }
        assert_eq!(
            outs[0], outs[1],
            "{secret}: the secure run and the emulation"
        );
        assert!(
            outs[0].contains("9000000000000000000") && outs[0].contains("49"),
            "{}",
            outs[0]
        );
    }
}
