//! std::optim on shares: logistic regression trained with `momentum` and `sgd` from std::optim
//! gives the weights of the same algorithm in f64 (same data, batches, rates and sigmoid).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read_matrix(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect()
}

/// std::nn::sigmoid: the clamped degree-9 polynomial.
fn sigmoid(v: f64) -> f64 {
    if v < -6.0 {
        return 0.0;
    }
    if v > 6.0 {
        return 1.0;
    }
    let c = [1.45481, -3.302547, 5.534561, -4.835171, 1.647594];
    let t = v / 6.0;
    let t2 = t * t;
    0.5 + t * (c[0] + t2 * (c[1] + t2 * (c[2] + t2 * (c[3] + t2 * c[4]))))
}

const PROGRAM: &str = "
use std::optim::{sgd, momentum};
use std::nn::sigmoid;
party alice, analyst, s0, s1, s2;
secret rep = aby3(s0, s1, s2);
fn main() {
    let xa: fixed[_, 30] @alice = read_csv(\"alice_x.csv\");
    let ya: fixed[_, 1] @alice = read_csv(\"alice_y.csv\");
    let x: fixed[_, 30] @rep = xa;
    let y: fixed[_, 1] @rep = ya;
    let mut w: fixed[30, 1] @rep = zeros([30, 1]);
    let mut v: fixed[30, 1] @rep = zeros([30, 1]);
    for epoch in 0..3 {
        for i in 0..rows(x) / 32 {
            let xi = x[i * 32 .. (i + 1) * 32];
            let yi = y[i * 32 .. (i + 1) * 32];
            let g = matmul(transpose(xi), sigmoid(matmul(xi, w)) - yi) / 32;
            v = momentum(v, g, 0.9);
            w = sgd(w, v, 0.05);
        }
    }
    write_csv(reveal(w, to: analyst), \"w.csv\");
}
";

#[test]
fn momentum_training_on_shares_matches_f64() {
    let dir = std::env::temp_dir().join(format!("tfe-optim-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("data/alice")).unwrap();
    for k in ["x", "y"] {
        let name = format!("alice_{k}.csv");
        std::fs::copy(
            repo().join("examples/data/alice").join(&name),
            dir.join("data/alice").join(&name),
        )
        .unwrap();
    }
    std::fs::write(dir.join("optim.tfe"), PROGRAM).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tfec"))
        .arg("run")
        .arg(dir.join("optim.tfe"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w: Vec<f64> = std::fs::read_to_string(dir.join("data/analyst/w.csv"))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();

    let x = read_matrix(&repo().join("examples/data/alice/alice_x.csv"));
    let y: Vec<f64> = read_matrix(&repo().join("examples/data/alice/alice_y.csv"))
        .into_iter()
        .map(|r| r[0])
        .collect();
    let (mut pw, mut pv) = (vec![0.0; 30], vec![0.0; 30]);
    for _ in 0..3 {
        for i in 0..x.len() / 32 {
            let rows = i * 32..(i + 1) * 32;
            let err: Vec<f64> = rows
                .clone()
                .map(|r| sigmoid(x[r].iter().zip(&pw).map(|(a, b)| a * b).sum::<f64>()) - y[r])
                .collect();
            for j in 0..30 {
                let g: f64 = rows
                    .clone()
                    .zip(&err)
                    .map(|(r, e)| x[r][j] * e)
                    .sum::<f64>()
                    / 32.0;
                pv[j] = 0.9 * pv[j] + g;
                pw[j] -= 0.05 * pv[j];
            }
        }
    }
    let diff = w
        .iter()
        .zip(&pw)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    eprintln!("largest difference between secure and f64 weights: {diff:.2e}");
    // 21 steps of fixed-point arithmetic with 16 fractional bits, momentum amplifying rounding by
    // up to 1 / (1 - 0.9); measured 5.5e-5.
    assert!(diff < 1e-3, "secure and f64 weights differ by {diff}");
}
