//! std::nn on shares against f64: dense and its gradients, relu_grad, softmax and its
//! cross-entropy gradient, convolution, pooling and their gradients, batch normalisation; under
//! each protocol.

#[macro_use]
mod support;

use support::Protocol;

per_protocol!(
    dense_and_relu_grad_on_shares_match_f64,
    softmax_on_shares_matches_f64,
    softmax_cross_entropy_grad_on_shares_matches_f64,
    convolution_and_pooling_on_shares_match_f64,
    batch_norm_on_shares_matches_f64,
    dense_gradients_on_shares_match_f64,
    convolution_and_pooling_gradients_on_shares_match_f64,
);

fn dense_and_relu_grad_on_shares_match_f64(protocol: Protocol) {
    let dir =
        std::env::temp_dir().join(format!("tfe-nn-{}-{}", std::process::id(), protocol.name()));
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
        protocol.switch("use std::nn::{dense, relu_grad};\nparty alice, bob, s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
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
         }\n"),
    )
    .unwrap();
    let stdout = support::tfec(&["run".as_ref(), dir.join("nn.tfe").as_os_str()]);
    let lines = support::printed(&stdout, "alice");
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

/// Runs `body` (which prints revealed values at alice, one `print` per line) with alice's
/// matrix `x` and bob's `y`, returning the printed lines flattened.
fn run_with(
    protocol: Protocol,
    name: &str,
    x: &[Vec<f64>],
    y: &[Vec<f64>],
    body: &str,
) -> Vec<Vec<f64>> {
    run_files(
        protocol,
        name,
        "softmax, softmax_cross_entropy_grad, batch_norm, dense_grad_input, dense_grad_weights, dense_grad_bias",
        &[("alice", "x", x), ("bob", "y", y)],
        body,
    )
}

fn softmax_rows(x: &[Vec<f64>]) -> Vec<Vec<f64>> {
    x.iter()
        .map(|r| {
            let m = r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = r.iter().map(|v| (v - m).exp()).collect();
            let s: f64 = e.iter().sum();
            e.iter().map(|v| v / s).collect()
        })
        .collect()
}

fn random_matrix(seed: u64, n: usize, m: usize, scale: f64) -> Vec<Vec<f64>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            (0..m)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    let u = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                    (u * 2.0 * scale * 1000.0).round() / 1000.0
                })
                .collect()
        })
        .collect()
}

/// Softmax on shares along both axes, for slices of 10 and of 80 values,
/// with logits spread over [-20, 20]: every probability within 5e-4 of f64 (measured: 7e-5).
fn softmax_on_shares_matches_f64(protocol: Protocol) {
    for (n, m, seed) in [(40, 10, 3u64), (6, 80, 5)] {
        let x = random_matrix(seed, n, m, 20.0);
        let y = random_matrix(seed + 1, n, m, 1.0);
        let out = run_with(
            protocol,
            &format!("softmax{m}"),
            &x,
            &y,
            "print(reveal(softmax(x, axis: 1), to: alice));\n\
             print(reveal(softmax(transpose(x), axis: 0), to: alice));",
        );
        let want: Vec<f64> = softmax_rows(&x).concat();
        let mut worst = 0.0f64;
        for (k, w) in want.iter().enumerate() {
            worst = worst.max((out[0][k] - w).abs());
            // axis 0 of the transpose is axis 1 of x: compare element (j, i) with (i, j).
            let (i, j) = (k / m, k % m);
            worst = worst.max((out[1][j * n + i] - w).abs());
        }
        eprintln!(
            "{}: softmax over {m} values: worst absolute error {worst:.2e}",
            protocol.name()
        );
        assert!(worst < 5e-4, "softmax over {m}: {worst}");
    }
}

/// The softmax cross-entropy gradient on shares: (softmax(x) - y) / n, within 2e-3 / n.
fn softmax_cross_entropy_grad_on_shares_matches_f64(protocol: Protocol) {
    let (n, m) = (32, 10);
    let x = random_matrix(11, n, m, 8.0);
    let y: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..m)
                .map(|j| if (i * 7) % m == j { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
    let out = run_with(
        protocol,
        "xent",
        &x,
        &y,
        "print(reveal(softmax_cross_entropy_grad(x, y), to: alice));",
    );
    let p = softmax_rows(&x);
    for i in 0..n {
        for j in 0..m {
            let want = (p[i][j] - y[i][j]) / n as f64;
            let got = out[0][i * m + j];
            assert!(
                (got - want).abs() < 2e-3 / n as f64 + 2e-5,
                "({i}, {j}): {got} vs {want}"
            );
        }
    }
}

/// Direct f64 convolution (no im2col) of channel-last images, for reference.
#[allow(clippy::too_many_arguments)]
fn conv_f64(
    x: &[Vec<f64>],
    k: &[Vec<f64>],
    b: &[f64],
    (h, w, c): (usize, usize, usize),
    size: usize,
    stride: usize,
    pad: usize,
) -> Vec<Vec<f64>> {
    let f = b.len();
    let oh = (h + 2 * pad - size) / stride + 1;
    let ow = (w + 2 * pad - size) / stride + 1;
    x.iter()
        .map(|img| {
            let mut out = vec![0.0; oh * ow * f];
            for oy in 0..oh {
                for ox in 0..ow {
                    for (j, bj) in b.iter().enumerate() {
                        let mut acc = *bj;
                        for ky in 0..size {
                            for kx in 0..size {
                                let y = (oy * stride + ky) as isize - pad as isize;
                                let xx = (ox * stride + kx) as isize - pad as isize;
                                if y < 0 || xx < 0 || y >= h as isize || xx >= w as isize {
                                    continue;
                                }
                                for ch in 0..c {
                                    acc += img[(y as usize * w + xx as usize) * c + ch]
                                        * k[(ky * size + kx) * c + ch][j];
                                }
                            }
                        }
                        out[(oy * ow + ox) * f + j] = acc;
                    }
                }
            }
            out
        })
        .collect()
}

/// Pooling of channel-last images over non-overlapping size × size windows, for reference.
fn pool_f64(
    x: &[Vec<f64>],
    (h, w, c): (usize, usize, usize),
    size: usize,
    max: bool,
) -> Vec<Vec<f64>> {
    let (oh, ow) = (h / size, w / size);
    x.iter()
        .map(|img| {
            let mut out = vec![0.0; oh * ow * c];
            for oy in 0..oh {
                for ox in 0..ow {
                    for ch in 0..c {
                        let vals: Vec<f64> = (0..size * size)
                            .map(|p| {
                                let (y, xx) = (oy * size + p / size, ox * size + p % size);
                                img[(y * w + xx) * c + ch]
                            })
                            .collect();
                        out[(oy * ow + ox) * c + ch] = if max {
                            vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                        } else {
                            vals.iter().sum::<f64>() / (size * size) as f64
                        };
                    }
                }
            }
            out
        })
        .collect()
}

/// conv2d (valid, and strided with "same" padding as network D's first layer), max_pool2d and
/// avg_pool2d on shares against direct f64 loops, on random multi-channel images. Error bound:
/// a product's truncation and the input encoding, below 1e-3 at these sizes; pooling by max is
/// exact on the shared values (error 0 beyond the encoding of the inputs, 2^-17).
fn convolution_and_pooling_on_shares_match_f64(protocol: Protocol) {
    let (h, w, c, f) = (6usize, 6usize, 2usize, 3usize);
    let n = 4;
    let x = random_matrix(21, n, h * w * c, 2.0);
    let k = random_matrix(22, 9 * c, f, 0.5);
    let k5 = random_matrix(23, 25 * c, f, 0.3);
    let b = random_matrix(24, 1, f, 1.0);
    let lines = run_files(
        protocol,
        "conv",
        "conv2d, max_pool2d, avg_pool2d",
        &[
            ("alice", "x", &x),
            ("bob", "k", &k),
            ("bob", "k5", &k5),
            ("bob", "bias", &b),
        ],
        &format!(
            "let b = reshape(bias, [{f}]);\n\
             print(reveal(conv2d(x, k, b, height: 6, width: 6, channels: 2, size: 3, stride: 1, pad: 0), to: alice));\n\
             print(reveal(conv2d(x, k5, b, height: 6, width: 6, channels: 2, size: 5, stride: 2, pad: 2), to: alice));\n\
             print(reveal(max_pool2d(x, height: 6, width: 6, channels: 2, size: 2), to: alice));\n\
             print(reveal(avg_pool2d(x, height: 6, width: 6, channels: 2, size: 3), to: alice));"
        ),
    );
    let wants = [
        conv_f64(&x, &k, &b[0], (h, w, c), 3, 1, 0),
        conv_f64(&x, &k5, &b[0], (h, w, c), 5, 2, 2),
        pool_f64(&x, (h, w, c), 2, true),
        pool_f64(&x, (h, w, c), 3, false),
    ];
    for (i, (want, bound)) in wants.iter().zip([1e-3, 1e-3, 1e-4, 1e-3]).enumerate() {
        let want = want.concat();
        assert_eq!(lines[i].len(), want.len(), "layer {i}: size");
        let worst = want
            .iter()
            .zip(&lines[i])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        eprintln!(
            "{}: layer {i}: worst absolute error {worst:.2e}",
            protocol.name()
        );
        assert!(worst < bound, "layer {i}: {worst}");
    }
}

/// Batch normalisation at inference on shares, with statistics spread over three orders of
/// magnitude of variance: within 2e-4 relative (the scale's error) plus 1e-3 of f64.
fn batch_norm_on_shares_matches_f64(protocol: Protocol) {
    let (n, m) = (16, 6);
    let x = random_matrix(21, n, m, 4.0);
    // Row 0 of y: means; row 1: variances; row 2: gammas; row 3: betas.
    let mean = [0.5, -1.0, 0.0, 2.0, -0.25, 1.5];
    let variance = [0.01, 0.25, 1.0, 4.0, 9.0, 0.04];
    let gamma = [1.0, 0.5, 2.0, -1.0, 1.5, 0.8];
    let beta = [0.0, 0.1, -0.3, 1.0, 0.0, -2.0];
    let mut y = vec![
        mean.to_vec(),
        variance.to_vec(),
        gamma.to_vec(),
        beta.to_vec(),
    ];
    y.resize(n, vec![0.0; m]);
    let out = run_with(
        protocol,
        "batchnorm",
        &x,
        &y,
        "print(reveal(batch_norm(x, y[0], y[1], y[2], y[3], 0.001), to: alice));",
    );
    let mut worst = 0.0f64;
    for i in 0..n {
        for j in 0..m {
            let want = gamma[j] * (x[i][j] - mean[j]) / (variance[j] + 0.001f64).sqrt() + beta[j];
            let err = (out[0][i * m + j] - want).abs();
            worst = worst.max(err / (1.0 + want.abs()));
            assert!(
                err < 2e-4 * want.abs() + 1e-3,
                "({i}, {j}): {} vs {want}",
                out[0][i * m + j]
            );
        }
    }
    eprintln!(
        "{}: batch_norm: worst error {worst:.2e} relative to 1 + |result|",
        protocol.name()
    );
}

/// The dense layer's backward helpers on shares against f64: dy w^T, x^T dy and the column sums.
fn dense_gradients_on_shares_match_f64(protocol: Protocol) {
    let (n, m) = (12, 5);
    let x = random_matrix(31, n, m, 2.0);
    let dy = random_matrix(32, n, m, 0.5);
    let out = run_with(
        protocol,
        "densegrad",
        &x,
        &dy,
        "let w = transpose(x[0 .. 5]);\n\
         print(reveal(dense_grad_input(y, w), to: alice));\n\
         print(reveal(dense_grad_weights(x, y), to: alice));\n\
         print(reveal(dense_grad_bias(y), to: alice));",
    );
    // w = (first 5 rows of x)^T, so (dy w^T)[i][k] = sum_j dy[i][j] x[j][k].
    let mut worst = 0.0f64;
    for i in 0..n {
        for k in 0..m {
            let want: f64 = (0..m).map(|j| dy[i][j] * x[j][k]).sum();
            worst = worst.max((out[0][i * m + k] - want).abs());
        }
    }
    for k in 0..m {
        for j in 0..m {
            let want: f64 = (0..n).map(|i| x[i][k] * dy[i][j]).sum();
            worst = worst.max((out[1][k * m + j] - want).abs());
        }
        let want: f64 = (0..n).map(|i| dy[i][k]).sum();
        worst = worst.max((out[2][k] - want).abs());
    }
    eprintln!(
        "{}: dense gradients: worst absolute error {worst:.2e}",
        protocol.name()
    );
    assert!(worst < 1e-3, "dense gradients: {worst}");
}

/// Runs `body` after reading each `(party, name, rows, declared type)` as `let name ... =
/// read_csv("name.csv")` at its party (the files are written first), with `uses` imported; returns
/// alice's printed lines.
fn run_files(
    protocol: Protocol,
    name: &str,
    uses: &str,
    inputs: &[(&str, &str, &[Vec<f64>])],
    body: &str,
) -> Vec<Vec<f64>> {
    run_files_with(protocol, name, uses, "", inputs, body)
}

/// [`run_files`] with `items` (functions) before `main`.
fn run_files_with(
    protocol: Protocol,
    name: &str,
    uses: &str,
    items: &str,
    inputs: &[(&str, &str, &[Vec<f64>])],
    body: &str,
) -> Vec<Vec<f64>> {
    let dir = std::env::temp_dir().join(format!(
        "tfe-nn-{name}-{}-{}",
        std::process::id(),
        protocol.name()
    ));
    let mut lets = String::new();
    for (party, var, rows) in inputs {
        std::fs::create_dir_all(dir.join("data").join(party)).unwrap();
        let csv: String = rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| format!("{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
                    + "\n"
            })
            .collect();
        std::fs::write(dir.join("data").join(party).join(format!("{var}.csv")), csv).unwrap();
        lets += &format!(
            "let {var}_at: fixed[{}, {}] @{party} = read_csv(\"{var}.csv\");\n\
             let {var}: fixed[{}, {}] @rep = {var}_at;\n",
            rows.len(),
            rows[0].len(),
            rows.len(),
            rows[0].len()
        );
    }
    let program = dir.join("p.tfe");
    std::fs::write(
        &program,
        format!(
            "use std::nn::{{{uses}}};\nparty alice, bob, s0, s1, s2;\n\
             {}\n{items}\nfn main() {{\n{lets}{body}\n}}\n",
            protocol.secret_line()
        ),
    )
    .unwrap();
    let stdout = support::tfec(&[
        "run".as_ref(),
        "--seed".as_ref(),
        "7".as_ref(),
        program.as_os_str(),
    ]);
    support::printed(&stdout, "alice")
}

/// The backward helpers of convolution and max pooling on shares against f64. The convolution's
/// gradients are checked through linearity: sum(dy * conv(x, k)) is linear in k and in x, so its
/// gradient entry for k[r][j] (x[i][p]) is its value at the unit filter (image) e_rj (e_ip),
/// computed with the direct f64 convolution. Max pooling's derived gradient goes to each
/// window's first maximal entry.
fn convolution_and_pooling_gradients_on_shares_match_f64(protocol: Protocol) {
    let (h, w, c, f, size, stride, pad) = (6usize, 6usize, 2usize, 3usize, 3usize, 2usize, 1usize);
    let n = 3;
    let (oh, ow) = (
        (h + 2 * pad - size) / stride + 1,
        (w + 2 * pad - size) / stride + 1,
    );
    let x = random_matrix(41, n, h * w * c, 2.0);
    let k = random_matrix(42, size * size * c, f, 0.5);
    let dy = random_matrix(43, n, oh * ow * f, 1.0);
    let pooled_dy = random_matrix(44, n, (h / 2) * (w / 2) * c, 1.0);
    let geometry = format!(
        "height: {h}, width: {w}, channels: {c}, size: {size}, stride: {stride}, pad: {pad}"
    );
    let out = run_files_with(
        protocol,
        "convgrad",
        "conv2d_grad_kernel, conv2d_grad_input, conv2d_grad_bias, max_pool2d",
        &format!(
            "fn pooled(x: fixed[{n}, {}], dy: fixed[{n}, {}]) -> fixed {{\n    \
             sum(max_pool2d(x, height: {h}, width: {w}, channels: {c}, size: 2) * dy)\n}}",
            h * w * c,
            (h / 2) * (w / 2) * c
        ),
        &[
            ("alice", "x", &x),
            ("bob", "k", &k),
            ("bob", "dy", &dy),
            ("bob", "pdy", &pooled_dy),
        ],
        &format!(
            "print(reveal(conv2d_grad_kernel(x, dy, {geometry}), to: alice));\n\
             print(reveal(conv2d_grad_input(dy, k, {geometry}), to: alice));\n\
             print(reveal(conv2d_grad_bias(dy, filters: {f}), to: alice));\n\
             print(reveal(grad(pooled, x, pdy), to: alice));"
        ),
    );
    let zero_b = vec![0.0; f];
    let loss = |x: &[Vec<f64>], k: &[Vec<f64>]| -> f64 {
        conv_f64(x, k, &zero_b, (h, w, c), size, stride, pad)
            .iter()
            .zip(&dy)
            .map(|(a, b)| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>())
            .sum()
    };
    // Filters.
    let mut worst = 0.0f64;
    for r in 0..size * size * c {
        for j in 0..f {
            let mut unit = vec![vec![0.0; f]; size * size * c];
            unit[r][j] = 1.0;
            worst = worst.max((out[0][r * f + j] - loss(&x, &unit)).abs());
        }
    }
    eprintln!(
        "{}: conv2d_grad_kernel: worst absolute error {worst:.2e}",
        protocol.name()
    );
    assert!(worst < 2e-3, "conv2d_grad_kernel: {worst}");
    // Input.
    let mut worst = 0.0f64;
    for i in 0..n {
        for p in 0..h * w * c {
            let mut unit = vec![vec![0.0; h * w * c]; n];
            unit[i][p] = 1.0;
            worst = worst.max((out[1][i * h * w * c + p] - loss(&unit, &k)).abs());
        }
    }
    eprintln!(
        "{}: conv2d_grad_input: worst absolute error {worst:.2e}",
        protocol.name()
    );
    assert!(worst < 2e-3, "conv2d_grad_input: {worst}");
    // Bias.
    for j in 0..f {
        let want: f64 = dy
            .iter()
            .map(|r| (0..oh * ow).map(|q| r[q * f + j]).sum::<f64>())
            .sum();
        assert!(
            (out[2][j] - want).abs() < 1e-3,
            "bias {j}: {} vs {want}",
            out[2][j]
        );
    }
    // Max pooling: each 2x2 window's gradient to its first maximal entry.
    let mut want = vec![vec![0.0; h * w * c]; n];
    for i in 0..n {
        for oy in 0..h / 2 {
            for ox in 0..w / 2 {
                for ch in 0..c {
                    let at = |p: usize| ((oy * 2 + p / 2) * w + ox * 2 + p % 2) * c + ch;
                    let first =
                        (0..4).fold(0, |b, p| if x[i][at(p)] > x[i][at(b)] { p } else { b });
                    want[i][at(first)] += pooled_dy[i][(oy * (w / 2) + ox) * c + ch];
                }
            }
        }
    }
    let worst = want
        .concat()
        .iter()
        .zip(&out[3])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "{}: max-pooling's derived gradient: worst absolute error {worst:.2e}",
        protocol.name()
    );
    assert!(worst < 1e-4, "max-pooling's gradient: {worst}");
}
