//! Independent comparisons share their rounds (the executor batches them into one sign
//! protocol): the results are those of plaintext comparison, and four comparisons cost the rounds
//! of one. Under each protocol.

#[macro_use]
mod support;

use support::Protocol;

per_protocol!(batched_comparisons_are_right_and_share_rounds);

/// Runs `body` on `x` and `y`; what bob printed as booleans, and s0's rounds.
fn run(protocol: Protocol, dir: &std::path::Path, body: &str) -> (Vec<Vec<bool>>, u64) {
    let (printed, rounds) = support::run_on_rep(protocol, dir, body);
    let values = printed
        .iter()
        .map(|line| line.iter().map(|v| v == "true").collect())
        .collect();
    (values, rounds["s0"])
}

fn batched_comparisons_are_right_and_share_rounds(protocol: Protocol) {
    let dir = std::env::temp_dir().join(format!(
        "tfe-cmp-{}-{}",
        std::process::id(),
        protocol.name()
    ));
    std::fs::create_dir_all(dir.join("data/alice")).unwrap();
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        // Multiples of 1/4 in [-5, 5): ties with each other and with the constants happen.
        ((s >> 40) % 40) as f64 / 4.0 - 5.0
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
        "let a = x < y;\n let b = x > 0.5;\n let c = y <= x;\n let d = y >= -1.0;\n\
         print(reveal(a, to: bob));\n print(reveal(b, to: bob));\n\
         print(reveal(c, to: bob));\n print(reveal(d, to: bob));",
    );
    let expected: Vec<Vec<bool>> = vec![
        x.iter().zip(&y).map(|(a, b)| a < b).collect(),
        x.iter().map(|a| *a > 0.5).collect(),
        x.iter().zip(&y).map(|(a, b)| b <= a).collect(),
        y.iter().map(|b| *b >= -1.0).collect(),
    ];
    assert_eq!(four, expected);

    let (one, rounds_one) = run(
        protocol,
        &dir,
        "let a = x < y;\n print(reveal(a, to: bob));",
    );
    assert_eq!(one[0], expected[0]);
    // The reveal adds no wait at s0 (it only sends); the comparisons' waits are shared.
    assert_eq!(
        rounds_four, rounds_one,
        "four independent comparisons cost one's rounds"
    );

    // A comparison that depends on another is not batched with it, and is still right.
    let (chain, rounds_chain) = run(
        protocol,
        &dir,
        "let m = select(x < y, x, y);\n let c = m > 0.0;\n print(reveal(c, to: bob));",
    );
    let want: Vec<bool> = x
        .iter()
        .zip(&y)
        .map(|(a, b)| if a < b { *a > 0.0 } else { *b > 0.0 })
        .collect();
    assert_eq!(chain[0], want);
    assert!(rounds_chain > rounds_one);
}
