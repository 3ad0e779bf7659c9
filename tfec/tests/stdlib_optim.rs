//! std::optim on shares: logistic regression trained with `momentum` and `sgd` from std::optim
//! gives the weights of the same algorithm in f64 (same data, batches, rates and sigmoid), under
//! each protocol.

#[macro_use]
mod support;

use std::path::{Path, PathBuf};

use support::Protocol;

per_protocol!(
    momentum_training_on_shares_matches_f64,
    adam_and_amsgrad_on_shares_match_f64,
);

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

fn momentum_training_on_shares_matches_f64(protocol: Protocol) {
    let dir = std::env::temp_dir().join(format!(
        "tfe-optim-{}-{}",
        std::process::id(),
        protocol.name()
    ));
    std::fs::create_dir_all(dir.join("data/alice")).unwrap();
    for k in ["x", "y"] {
        let name = format!("alice_{k}.csv");
        std::fs::copy(
            repo().join("examples/data/alice").join(&name),
            dir.join("data/alice").join(&name),
        )
        .unwrap();
    }
    std::fs::write(dir.join("optim.tfe"), protocol.switch(PROGRAM)).unwrap();
    support::tfec(&["run".as_ref(), dir.join("optim.tfe").as_os_str()]);
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
    eprintln!(
        "{}: largest difference between secure and f64 weights: {diff:.2e}",
        protocol.name()
    );
    // 21 steps of fixed-point arithmetic with 16 fractional bits, momentum amplifying rounding by
    // up to 1 / (1 - 0.9); measured 5.5e-5.
    assert!(diff < 1e-3, "secure and f64 weights differ by {diff}");
}

/// Runs Adam (and AMSGrad) from std::optim on shares over a sequence of gradients given as the
/// rows of a CSV, and returns the final weights of each.
fn run_adam(protocol: Protocol, grads: &[Vec<f64>], lr: f64) -> (Vec<f64>, Vec<f64>) {
    let dir = std::env::temp_dir().join(format!(
        "tfe-adam-{}-{}",
        std::process::id(),
        protocol.name()
    ));
    std::fs::create_dir_all(dir.join("data/alice")).unwrap();
    let n = grads[0].len();
    let csv: String = grads
        .iter()
        .map(|r| {
            let row: Vec<String> = r.iter().map(|v| format!("{v}")).collect();
            row.join(",") + "\n"
        })
        .collect();
    let header: Vec<String> = (0..n).map(|j| format!("g{j}")).collect();
    std::fs::write(dir.join("data/alice/g.csv"), header.join(",") + "\n" + &csv).unwrap();
    let program = format!(
        "use std::optim::{{adam_moment, adam_second_moment, adam, amsgrad_max}};\n\
         party alice, analyst, s0, s1, s2;\n\
         {secret}\n\
         fn main() {{\n\
             let ga: fixed[_, {n}] @alice = read_csv(\"g.csv\");\n\
             let gs: fixed[_, {n}] @rep = ga;\n\
             let mut w: fixed[{n}] @rep = zeros([{n}]);\n\
             let mut z: fixed[{n}] @rep = zeros([{n}]);\n\
             let mut m: fixed[{n}] @rep = zeros([{n}]);\n\
             let mut v: fixed[{n}] @rep = zeros([{n}]);\n\
             let mut u: fixed[{n}] @rep = zeros([{n}]);\n\
             for i in 0..rows(gs) {{\n\
                 let g = gs[i];\n\
                 m = adam_moment(m, g, 0.9, i + 1);\n\
                 v = adam_second_moment(v, g, 0.999, i + 1);\n\
                 u = amsgrad_max(u, v);\n\
                 w = adam(w, m, v, {lr:?});\n\
                 z = adam(z, m, u, {lr:?});\n\
             }}\n\
             write_csv(reveal(w, to: analyst), \"adam.csv\");\n\
             write_csv(reveal(z, to: analyst), \"amsgrad.csv\");\n\
         }}\n",
        secret = protocol.secret_line()
    );
    let path = dir.join("adam.tfe");
    std::fs::write(&path, program).unwrap();
    support::tfec(&["run".as_ref(), path.as_os_str()]);
    let read = |name: &str| -> Vec<f64> {
        std::fs::read_to_string(dir.join("data/analyst").join(name))
            .unwrap()
            .trim()
            .split([',', '\n'])
            .map(|v| v.trim().parse().unwrap())
            .collect()
    };
    (read("adam.csv"), read("amsgrad.csv"))
}

/// Adam as Keras and TF Encrypted write it (epsilon 1e-7), and AMSGrad as std::optim defines it
/// (the running maximum of the bias-corrected second moment), in f64.
fn adam_f64(grads: &[Vec<f64>], lr: f64, amsgrad: bool) -> Vec<f64> {
    let n = grads[0].len();
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-7);
    let (mut w, mut m, mut v, mut u) = (
        vec![0.0f64; n],
        vec![0.0f64; n],
        vec![0.0f64; n],
        vec![0.0f64; n],
    );
    for (t, g) in grads.iter().enumerate() {
        let t = t as i32 + 1;
        for j in 0..n {
            m[j] = b1 * m[j] + (1.0 - b1) * g[j];
            v[j] = b2 * v[j] + (1.0 - b2) * g[j] * g[j];
            let (mh, vh) = (m[j] / (1.0 - b1.powi(t)), v[j] / (1.0 - b2.powi(t)));
            u[j] = u[j].max(vh);
            let d = if amsgrad { u[j] } else { vh };
            w[j] -= lr * mh / (d.sqrt() + eps);
        }
    }
    w
}

fn adam_and_amsgrad_on_shares_match_f64(protocol: Protocol) {
    // Gradients of magnitudes 1e-4 to 0.1 (log-uniform per column), noisy around a column mean
    // of either sign, as a layer's gradients are; one column of zeros. A fixed xorshift stream.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = move |lo: f64, hi: f64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        lo + (hi - lo) * (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (steps, n) = (40, 24);
    let scales: Vec<f64> = (0..n).map(|_| 10f64.powf(uniform(-4.0, -1.0))).collect();
    let grads: Vec<Vec<f64>> = (0..steps)
        .map(|_| {
            (0..n)
                .map(|j| {
                    if j == n - 1 {
                        return 0.0;
                    }
                    let g = scales[j] * (if j % 2 == 0 { 0.5 } else { -0.5 } + uniform(-1.0, 1.0));
                    (g * 1e6).round() / 1e6
                })
                .collect()
        })
        .collect();
    let lr = 0.001;
    let (adam, amsgrad) = run_adam(protocol, &grads, lr);
    for (name, got, want) in [
        ("adam", &adam, adam_f64(&grads, lr, false)),
        ("amsgrad", &amsgrad, adam_f64(&grads, lr, true)),
    ] {
        let diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let moved = want.iter().map(|v| v.abs()).fold(0.0, f64::max);
        eprintln!(
            "{}: {name}: weights moved up to {moved:.2e}; largest difference from f64 {diff:.2e}",
            protocol.name()
        );
        // Each step moves a weight by about lr; 40 steps of fixed-point error (the moments'
        // rounding, inv_sqrt's 2e-4, the last fractional bit of w).
        assert!(
            diff < 0.05 * steps as f64 * lr,
            "{name} differs from f64 by {diff}"
        );
        assert_eq!(got[n - 1], 0.0, "{name}: a zero gradient moves nothing");
    }
}
