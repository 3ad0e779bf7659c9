//! Independent products share a round (the executor runs them as one `Protocol::products`):
//! the results are those of plaintext arithmetic within the fixed-point bound, and four
//! independent products (two of shares, a matrix product, one by a public value) cost the round
//! of one. Under each protocol.

#[macro_use]
mod support;

use support::Protocol;

per_protocol!(independent_products_are_right_and_share_a_round);

/// Runs `body` on `x` and `y`; what bob printed as numbers, and s1's rounds.
fn run(protocol: Protocol, dir: &std::path::Path, body: &str) -> (Vec<Vec<f64>>, u64) {
    let (printed, rounds) = support::run_on_rep(protocol, dir, body);
    let values = printed
        .iter()
        .map(|line| line.iter().map(|v| v.parse().unwrap()).collect())
        .collect();
    (values, rounds["s1"])
}

fn independent_products_are_right_and_share_a_round(protocol: Protocol) {
    let dir = std::env::temp_dir().join(format!(
        "tfe-products-{}-{}",
        std::process::id(),
        protocol.name()
    ));
    std::fs::create_dir_all(dir.join("data/alice")).unwrap();
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 40) % 400) as f64 / 40.0 - 5.0
    };
    let x: Vec<f64> = (0..40).map(|_| next()).collect();
    let y: Vec<f64> = (0..40).map(|_| next()).collect();
    let csv = |v: &[f64]| {
        format!(
            "v\n{}",
            v.iter().map(|a| format!("{a}\n")).collect::<String>()
        )
    };
    std::fs::write(dir.join("data/alice/x.csv"), csv(&x)).unwrap();
    std::fs::write(dir.join("data/alice/y.csv"), csv(&y)).unwrap();

    let (four, rounds_four) = run(
        protocol,
        &dir,
        "let a = x * y;\n let b = y * y;\n let c = matmul(transpose(x), y);\n let d = x * 0.25;\n\
         print(reveal(a, to: bob));\n print(reveal(b, to: bob));\n\
         print(reveal(c, to: bob));\n print(reveal(d, to: bob));",
    );
    let dot: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
    let expected: Vec<Vec<f64>> = vec![
        x.iter().zip(&y).map(|(a, b)| a * b).collect(),
        y.iter().map(|b| b * b).collect(),
        vec![dot],
        x.iter().map(|a| a * 0.25).collect(),
    ];
    assert_eq!(four.len(), 4);
    for (k, (got, want)) in four.iter().zip(&expected).enumerate() {
        assert_eq!(got.len(), want.len(), "result {k}");
        for (g, w) in got.iter().zip(want) {
            // Encoding (2^-17 per factor, 40 terms for the dot product), one truncation and
            // the printed digits.
            assert!((g - w).abs() < 5e-3, "result {k}: {g} against {w}");
        }
    }

    let (_, rounds_one) = run(
        protocol,
        &dir,
        "let a = x * y;\n print(reveal(a, to: bob));",
    );
    assert_eq!(
        rounds_four, rounds_one,
        "four independent products cost one's round"
    );
    // Work of one member alone between the products (in s0's program only): every member still
    // batches alike, so the run neither stalls nor mixes up messages, and the round is shared.
    let (mixed, rounds_mixed) = run(
        protocol,
        &dir,
        "let a = x * y;\n let w: fixed[40, 1] @s0 = ones([40, 1]) * 2.0;\n print(w);\n\
         let b = y * y;\n print(reveal(a, to: bob));\n print(reveal(b, to: bob));",
    );
    assert_eq!(mixed.len(), 2);
    for (got, want) in mixed.iter().zip(&expected) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 5e-3, "{g} against {w}");
        }
    }
    assert_eq!(
        rounds_mixed, rounds_one,
        "s0's own work does not split the batch"
    );

    // A product that reads another is not run with it.
    let (chain, rounds_chain) = run(
        protocol,
        &dir,
        "let a = x * y;\n let b = a * y;\n print(reveal(b, to: bob));",
    );
    for ((g, a), b) in chain[0].iter().zip(&x).zip(&y) {
        assert!((g - a * b * b).abs() < 5e-2, "{g} against {}", a * b * b);
    }
    assert!(rounds_chain > rounds_one);
    let _ = std::fs::remove_dir_all(&dir);
}
