//! std::nn's `dense` and `relu_grad` on shares against f64.

use std::process::Command;

#[test]
fn dense_and_relu_grad_on_shares_match_f64() {
    let dir = std::env::temp_dir().join(format!("tfe-nn-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("data/alice")).unwrap();
    std::fs::create_dir_all(dir.join("data/bob")).unwrap();
    let mut s = 0x1234_5678_9abc_def1u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 8.0
    };
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let x: Vec<Vec<f64>> = (0..20)
        .map(|_| (0..5).map(|_| round(next())).collect())
        .collect();
    let w: Vec<Vec<f64>> = (0..5)
        .map(|_| (0..3).map(|_| round(next() / 4.0)).collect())
        .collect();
    let b: Vec<f64> = (0..3).map(|_| round(next())).collect();
    let csv = |rows: &[Vec<f64>]| -> String {
        let body: String = rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
                    + "\n"
            })
            .collect();
        format!("{}\n{body}", vec!["c"; rows[0].len()].join(","))
    };
    std::fs::write(dir.join("data/alice/x.csv"), csv(&x)).unwrap();
    std::fs::write(dir.join("data/bob/w.csv"), csv(&w)).unwrap();
    std::fs::write(dir.join("data/bob/b.csv"), csv(std::slice::from_ref(&b))).unwrap();
    std::fs::write(
        dir.join("nn.tfe"),
        "use std::nn::{dense, relu_grad};\nparty alice, bob, s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
         fn main() {\n\
             let xa: fixed[20, 5] @alice = read_csv(\"x.csv\");\n\
             let wb: fixed[5, 3] @bob = read_csv(\"w.csv\");\n\
             let bb: fixed[1, 3] @bob = read_csv(\"b.csv\");\n\
             let x: fixed[20, 5] @rep = xa;\n\
             let w: fixed[5, 3] @rep = wb;\n\
             let b: fixed[3] @rep = reshape(bb, [3]);\n\
             let h = dense(x, w, b);\n\
             print(reveal(h, to: alice));\n\
             print(reveal(relu_grad(h), to: alice));\n\
         }\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tfec"))
        .arg("run")
        .arg(dir.join("nn.tfe"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Vec<f64>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            l.trim_start_matches("[alice] ")
                .split(", ")
                .map(|v| v.trim_matches(|c| c == '[' || c == ']').parse().unwrap())
                .collect()
        })
        .collect();
    let mut k = 0;
    for r in &x {
        for (j, bj) in b.iter().enumerate() {
            let h: f64 = r.iter().zip(&w).map(|(a, wr)| a * wr[j]).sum::<f64>() + bj;
            // Encoding (2^-17 per input) and one truncation: far below 1e-3 at these sizes.
            assert!(
                (lines[0][k] - h).abs() < 1e-3,
                "dense {k}: {} vs {h}",
                lines[0][k]
            );
            if h.abs() > 1e-3 {
                assert_eq!(
                    lines[1][k],
                    if h > 0.0 { 1.0 } else { 0.0 },
                    "relu_grad {k}"
                );
            }
            k += 1;
        }
    }
    assert_eq!(k, lines[0].len());
}
