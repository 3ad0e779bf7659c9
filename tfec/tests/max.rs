//! `max` through the whole stack: a party's secret-shared matrix, its maximum along each axis
//! and over all elements revealed to another party, against the plaintext maximum of the same
//! values (exact up to the fixed-point encoding of the inputs: 2^-17). Under each protocol.

#[macro_use]
mod support;

use std::process::Command;

use support::Protocol;

per_protocol!(secret_max_matches_plaintext_max_on_random_matrices);

fn secret_max_matches_plaintext_max_on_random_matrices(protocol: Protocol) {
    let dir = std::env::temp_dir().join(format!(
        "tfe-max-{}-{}",
        std::process::id(),
        protocol.name()
    ));
    std::fs::create_dir_all(dir.join("data/alice")).unwrap();
    std::fs::write(
        dir.join("max.tfe"),
        protocol.switch(
            "party alice, bob, s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
         fn main() {\n\
             let xa: fixed[37, 5] @alice = read_csv(\"x.csv\");\n\
             let x: fixed[37, 5] @rep = xa;\n\
             print(reveal(max(x, axis: 0), to: bob));\n\
             print(reveal(max(x, axis: 1), to: bob));\n\
             print(reveal(max(x), to: bob));\n\
             print(reveal(argmax(x, axis: 0), to: bob));\n\
         }\n",
        ),
    )
    .unwrap();
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..4 {
        let rows: Vec<Vec<f64>> = (0..37)
            .map(|_| {
                (0..5)
                    .map(|_| {
                        s ^= s << 13;
                        s ^= s >> 7;
                        s ^= s << 17;
                        // Values of both signs, up to ±30000 (near the 2^14 magnitude a product
                        // may not exceed, but comparisons allow far more).
                        ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 60_000.0
                    })
                    .map(|v| (v * 1000.0).round() / 1000.0)
                    .collect()
            })
            .collect();
        let csv: String = rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
                    + "\n"
            })
            .collect();
        std::fs::write(dir.join("data/alice/x.csv"), format!("a,b,c,d,e\n{csv}")).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_tfec"))
            .arg("run")
            .arg(dir.join("max.tfe"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<Vec<f64>> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                l.trim_start_matches("[bob] ")
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(", ")
                    .map(|v| v.parse().unwrap())
                    .collect()
            })
            .collect();
        let by_col: Vec<f64> = (0..5)
            .map(|j| rows.iter().map(|r| r[j]).fold(f64::MIN, f64::max))
            .collect();
        let by_row: Vec<f64> = rows
            .iter()
            .map(|r| r.iter().copied().fold(f64::MIN, f64::max))
            .collect();
        let all = by_col.iter().copied().fold(f64::MIN, f64::max);
        // argmax along the columns points at each column's maximum.
        for (j, idx) in lines[3].iter().enumerate() {
            let i = *idx as usize;
            assert!(
                (rows[i][j] - by_col[j]).abs() <= 2f64.powi(-17),
                "round {round}: argmax {i} of column {j}"
            );
        }
        for (got, want) in lines.iter().take(3).zip([by_col, by_row, vec![all]]) {
            assert_eq!(got.len(), want.len(), "round {round}");
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 2f64.powi(-17), "round {round}: {g} vs {w}");
            }
        }
    }
}
