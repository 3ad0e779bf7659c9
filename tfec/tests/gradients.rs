//! Derived gradients against central finite differences, and on shares against f64.
//!
//! For each differentiable builtin and library function `f`, the loss `sum(f(x) * w)` (random
//! weights `w`, so that every output's gradient differs) is differentiated with `grad` three
//! ways, in one program:
//! - at a party, where `fixed` values are f64: the derived gradient;
//! - at the party, by central finite differences (x ± h e_i, h = 1e-3) of the same f64 loss;
//! - on shares (under each protocol), revealed: the derived gradient in fixed point.
//!
//! The derived gradient must match the finite differences within `fd` (relative to the largest
//! gradient entry, or absolute below 1): tight where the gradient rule is exact; looser where a
//! library function gives the derivative of the function it approximates, not of the
//! approximation (the finite differences see the approximation: `sigmoid`'s polynomial, the
//! clamps of `exp` inside `softmax`). The gradient on shares must match the f64 one within
//! `shares`: the fixed-point error of 16 fractional bits over the chain of products.

#[macro_use]
mod support;

use std::fmt::Write;
use std::path::Path;

use support::Protocol;

per_protocol!(
    builtins_and_operators,
    std_math,
    std_nn,
    structs_value_and_grad_and_optimizers,
);

/// One function under test.
struct Case {
    name: &'static str,
    /// The library functions it uses: `std::nn::{sigmoid}`, or "".
    uses: &'static str,
    /// The input's shape (rows, columns) and the scale of its random entries.
    input: (usize, usize),
    scale: f64,
    /// `f(x)`, an expression of `x: fixed[rows, cols]`.
    expr: &'static str,
    /// The shape of `f(x)`, as a type's dimensions: `4, 3` or `1` for a number.
    output: (usize, usize),
    /// Tolerances: derived vs finite differences (f64), shares vs f64.
    fd: f64,
    shares: f64,
}

fn random(seed: u64, n: usize, scale: f64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            (u * 2.0 * scale * 1000.0).round() / 1000.0
        })
        .collect()
}

fn csv(rows: usize, cols: usize, values: &[f64]) -> String {
    let mut out = String::new();
    for r in 0..rows {
        let row: Vec<String> = (0..cols)
            .map(|c| values[r * cols + c].to_string())
            .collect();
        let _ = writeln!(out, "{}", row.join(","));
    }
    out
}

fn read(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .split([',', '\n'])
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.trim().parse().unwrap())
        .collect()
}

const H: f64 = 1e-3;

/// Runs one case; returns (derived at the party, finite differences, derived on shares).
fn run(protocol: Protocol, case: &Case, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let dir = std::env::temp_dir().join(format!(
        "tfe-grad-{}-{}-{}",
        case.name,
        std::process::id(),
        protocol.name()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data/alice")).unwrap();
    let (r, c) = case.input;
    let (ro, co) = case.output;
    let n = r * c;
    let x = random(seed, n, case.scale);
    let w = random(seed ^ 0x9e37_79b9, ro * co, 1.0);
    let mut plus = Vec::new();
    let mut minus = Vec::new();
    for i in 0..n {
        for (j, v) in x.iter().enumerate() {
            plus.push(if i == j { v + H } else { *v });
            minus.push(if i == j { v - H } else { *v });
        }
    }
    let eye: Vec<f64> = (0..n * n)
        .map(|k| if k / n == k % n { 1.0 } else { 0.0 })
        .collect();
    let data = dir.join("data/alice");
    std::fs::write(data.join("x.csv"), csv(r, c, &x)).unwrap();
    std::fs::write(data.join("w.csv"), csv(ro, co, &w)).unwrap();
    std::fs::write(data.join("xp.csv"), csv(n * r, c, &plus)).unwrap();
    std::fs::write(data.join("xm.csv"), csv(n * r, c, &minus)).unwrap();
    std::fs::write(data.join("eye.csv"), csv(n, n, &eye)).unwrap();
    let uses = if case.uses.is_empty() {
        String::new()
    } else {
        format!("use {};\n", case.uses)
    };
    let program = format!(
        "{uses}party alice, s0, s1, s2;\n{}\n\
         fn loss(x: fixed[{r}, {c}], w: fixed[{ro}, {co}]) -> fixed {{\n    sum(({}) * w)\n}}\n\
         fn main() {{\n\
             let x: fixed[{r}, {c}] @alice = read_csv(\"x.csv\");\n\
             let w: fixed[{ro}, {co}] @alice = read_csv(\"w.csv\");\n\
             write_csv(grad(loss, x, w), \"derived.csv\");\n\
             let xp: fixed[{}, {c}] @alice = read_csv(\"xp.csv\");\n\
             let xm: fixed[{}, {c}] @alice = read_csv(\"xm.csv\");\n\
             let eye: fixed[{n}, {n}] @alice = read_csv(\"eye.csv\");\n\
             let mut fd: fixed[{n}] @alice = zeros([{n}]);\n\
             for i in 0..{n} {{\n\
                 let d = loss(xp[i * {r} .. (i + 1) * {r}], w) - loss(xm[i * {r} .. (i + 1) * {r}], w);\n\
                 fd = fd + eye[i] * (d / {});\n\
             }}\n\
             write_csv(fd, \"fd.csv\");\n\
             let xs: fixed[{r}, {c}] @rep = x;\n\
             let ws: fixed[{ro}, {co}] @rep = w;\n\
             write_csv(reveal(grad(loss, xs, ws), to: alice), \"shares.csv\");\n\
         }}\n",
        protocol.secret_line(),
        case.expr,
        n * r,
        n * r,
        2.0 * H,
    );
    std::fs::write(dir.join("grad.tfe"), &program).unwrap();
    support::tfec(&[
        "run".as_ref(),
        "--seed".as_ref(),
        "5".as_ref(),
        dir.join("grad.tfe").as_os_str(),
    ]);
    let out = (
        read(&data.join("derived.csv")),
        read(&data.join("fd.csv")),
        read(&data.join("shares.csv")),
    );
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// The largest difference, relative to the largest entry of `b` (absolute below 1).
fn error(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

fn check(protocol: Protocol, cases: &[Case]) {
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let (derived, fd, shares) = run(protocol, case, 0x5eed_0000 + i as u64 * 7919);
        let (e_fd, e_shares) = (error(&derived, &fd), error(&shares, &derived));
        println!(
            "{}: {:<28} derived vs finite differences {e_fd:.2e} (tolerance {:.0e}), shares vs f64 {e_shares:.2e} (tolerance {:.0e})",
            protocol.name(),
            case.name,
            case.fd,
            case.shares
        );
        if e_fd > case.fd || e_shares > case.shares || derived.iter().all(|v| *v == 0.0) {
            failures.push(format!(
                "{}: derived {derived:?}\n  finite differences {fd:?}\n  shares {shares:?}",
                case.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn builtins_and_operators(protocol: Protocol) {
    check(
        protocol,
        &[
            Case {
                name: "add_mul_sub_neg",
                uses: "",
                input: (3, 4),
                scale: 2.0,
                expr: "-(x * x - x + 0.5) * 3.0",
                output: (3, 4),
                fd: 1e-6,
                shares: 1e-3,
            },
            Case {
                name: "divide_by_public",
                uses: "",
                input: (3, 4),
                scale: 2.0,
                expr: "x * x / 4.0",
                output: (3, 4),
                fd: 1e-6,
                shares: 1e-3,
            },
            Case {
                name: "broadcast_bias",
                uses: "",
                input: (1, 4),
                scale: 2.0,
                expr: "ones([3, 4]) * 0.5 + x * x",
                output: (3, 4),
                fd: 1e-6,
                shares: 1e-3,
            },
            Case {
                name: "matmul_left",
                uses: "",
                input: (3, 4),
                scale: 1.0,
                expr: "matmul(x, transpose(x) + 1.0)",
                output: (3, 3),
                fd: 1e-6,
                shares: 2e-3,
            },
            Case {
                name: "matmul_vector",
                uses: "",
                input: (3, 4),
                scale: 1.0,
                expr: "reshape(matmul(x, reshape(x, [12])[0 .. 4] * 1.0), [3, 1])",
                output: (3, 1),
                fd: 1e-6,
                shares: 2e-3,
            },
            Case {
                name: "transpose_reshape",
                uses: "",
                input: (3, 4),
                scale: 2.0,
                expr: "reshape(transpose(x * x), [2, 6])",
                output: (2, 6),
                fd: 1e-6,
                shares: 1e-3,
            },
            Case {
                name: "sum_all_and_axes",
                uses: "",
                input: (3, 4),
                scale: 2.0,
                expr: "reshape(sum(x * x, axis: 0), [1, 4]) + reshape(sum(x, axis: 1), [3, 1]) * sum(x)",
                output: (3, 4),
                fd: 1e-6,
                shares: 2e-3,
            },
            Case {
                name: "max_axis_1",
                uses: "",
                input: (3, 4),
                scale: 2.0,
                expr: "reshape(max(x * 2.0, axis: 1), [3, 1])",
                output: (3, 1),
                fd: 1e-6,
                shares: 1e-3,
            },
            Case {
                name: "max_axis_0",
                uses: "",
                input: (3, 4),
                scale: 2.0,
                expr: "reshape(max(x, axis: 0), [1, 4])",
                output: (1, 4),
                fd: 1e-6,
                shares: 1e-3,
            },
            Case {
                name: "select",
                uses: "",
                input: (3, 4),
                scale: 2.0,
                expr: "select(x > 0.3, x * x, x * 0.5)",
                output: (3, 4),
                fd: 1e-6,
                shares: 1e-3,
            },
            Case {
                name: "im2col_col2im",
                uses: "",
                input: (2, 16),
                scale: 1.0,
                expr: "col2im(im2col(x, image: [4, 4, 1], window: [2, 2]) * 2.0, image: [4, 4, 1], window: [2, 2]) * x",
                output: (2, 16),
                fd: 1e-6,
                shares: 2e-3,
            },
        ],
    );
}

fn std_math(protocol: Protocol) {
    check(
        protocol,
        &[
            Case {
                name: "exp",
                uses: "std::math::exp",
                input: (2, 4),
                scale: 2.0,
                expr: "exp(x)",
                output: (2, 4),
                fd: 1e-6,
                shares: 3e-3,
            },
            Case {
                name: "log",
                uses: "std::math::log",
                input: (2, 4),
                scale: 2.0,
                expr: "log(x * x + 0.5)",
                output: (2, 4),
                fd: 1e-3,
                shares: 3e-3,
            },
            Case {
                name: "reciprocal",
                uses: "std::math::reciprocal",
                input: (2, 4),
                scale: 2.0,
                expr: "reciprocal(x * x + 0.5)",
                output: (2, 4),
                fd: 5e-6,
                shares: 3e-3,
            },
            Case {
                name: "sqrt",
                uses: "std::math::sqrt",
                input: (2, 4),
                scale: 2.0,
                expr: "sqrt(x * x + 0.5)",
                output: (2, 4),
                fd: 1e-3,
                shares: 3e-3,
            },
            Case {
                name: "inv_sqrt",
                uses: "std::math::inv_sqrt",
                input: (2, 4),
                scale: 2.0,
                expr: "inv_sqrt(x * x + 0.5)",
                output: (2, 4),
                fd: 2e-5,
                shares: 3e-3,
            },
        ],
    );
}

fn std_nn(protocol: Protocol) {
    check(
        protocol,
        &[
            Case {
                name: "sigmoid",
                uses: "std::nn::sigmoid",
                input: (2, 4),
                scale: 3.0,
                expr: "sigmoid(x)",
                output: (2, 4),
                fd: 1e-2,
                shares: 1e-3,
            },
            Case {
                name: "relu",
                uses: "std::nn::relu",
                input: (3, 4),
                scale: 2.0,
                expr: "relu(x) * x",
                output: (3, 4),
                fd: 1e-6,
                shares: 1e-3,
            },
            Case {
                name: "softmax_axis_1",
                uses: "std::nn::softmax",
                input: (3, 4),
                scale: 2.0,
                expr: "softmax(x, axis: 1)",
                output: (3, 4),
                fd: 1e-5,
                shares: 1e-3,
            },
            Case {
                name: "softmax_axis_0",
                uses: "std::nn::softmax",
                input: (3, 4),
                scale: 2.0,
                expr: "softmax(x, axis: 0)",
                output: (3, 4),
                fd: 1e-5,
                shares: 1e-3,
            },
            Case {
                name: "softmax_cross_entropy",
                uses: "std::nn::softmax_cross_entropy",
                input: (3, 4),
                scale: 2.0,
                expr: "softmax_cross_entropy(x, ones([3, 4]) * 0.25)",
                output: (1, 1),
                fd: 2e-5,
                shares: 1e-3,
            },
            Case {
                name: "sigmoid_cross_entropy",
                uses: "std::nn::sigmoid_cross_entropy",
                input: (3, 2),
                scale: 3.0,
                expr: "sigmoid_cross_entropy(x, ones([3, 2]) * 0.5)",
                output: (1, 1),
                fd: 2e-3,
                shares: 1e-3,
            },
            Case {
                name: "mse",
                uses: "std::nn::mse",
                input: (3, 2),
                scale: 2.0,
                expr: "mse(x, ones([3, 2]))",
                output: (1, 1),
                fd: 1e-6,
                shares: 1e-3,
            },
            Case {
                name: "dense",
                uses: "std::nn::dense",
                input: (3, 4),
                scale: 1.0,
                expr: "dense(x, transpose(x), ones([3]))",
                output: (3, 3),
                fd: 1e-6,
                shares: 2e-3,
            },
            Case {
                name: "conv2d",
                uses: "std::nn::conv2d",
                input: (2, 16),
                scale: 1.0,
                expr: "conv2d(x, ones([4, 2]) * 0.5 + 0.25, ones([2]), height: 4, width: 4, channels: 1, size: 2, stride: 1, pad: 1) * 2.0",
                output: (2, 50),
                fd: 1e-6,
                shares: 2e-3,
            },
            Case {
                name: "max_pool2d",
                uses: "std::nn::max_pool2d",
                input: (2, 16),
                scale: 2.0,
                expr: "max_pool2d(x * x, height: 4, width: 4, channels: 1, size: 2)",
                output: (2, 4),
                fd: 1e-6,
                shares: 1e-3,
            },
            Case {
                name: "avg_pool2d",
                uses: "std::nn::avg_pool2d",
                input: (2, 16),
                scale: 2.0,
                expr: "avg_pool2d(x * x, height: 4, width: 4, channels: 1, size: 2)",
                output: (2, 4),
                fd: 1e-6,
                shares: 1e-3,
            },
            Case {
                name: "batch_norm",
                uses: "std::nn::batch_norm",
                input: (3, 4),
                scale: 1.0,
                expr: "batch_norm(x, ones([4]) * 0.1, x[0] * x[0] + 0.5, ones([4]) * 2.0, ones([4]), 0.001)",
                output: (3, 4),
                fd: 2e-4,
                shares: 1e-3,
            },
        ],
    );
}

/// The gradient with respect to a struct is its fields' gradients; `value_and_grad`'s value is
/// the function's; the optimizers of `std::optim` apply to a struct field by field; and the
/// struct's gradient on shares matches f64.
fn structs_value_and_grad_and_optimizers(protocol: Protocol) {
    let dir = std::env::temp_dir().join(format!(
        "tfe-grad-struct-{}-{}",
        std::process::id(),
        protocol.name()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data/alice");
    std::fs::create_dir_all(&data).unwrap();
    for (name, rows, cols, seed) in [
        ("x", 4, 3, 1),
        ("w", 4, 2, 2),
        ("a", 3, 2, 3),
        ("b", 1, 2, 4),
    ] {
        let v = random(seed, rows * cols, 1.5);
        std::fs::write(data.join(format!("{name}.csv")), csv(rows, cols, &v)).unwrap();
    }
    let program = "use std::nn::sigmoid;\n\
        use std::optim::{sgd, momentum, adam, adam_moment, adam_second_moment};\n\
        party alice, s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
        struct P { a: fixed[3, 2], b: fixed[2] }\n\
        fn loss(m: P, x: fixed[4, 3], w: fixed[4, 2]) -> fixed { sum(sigmoid(matmul(x, m.a) + m.b) * w) }\n\
        fn loss_a(a: fixed[3, 2], b: fixed[2], x: fixed[4, 3], w: fixed[4, 2]) -> fixed { loss(P { a: a, b: b }, x, w) }\n\
        fn loss_b(b: fixed[2], a: fixed[3, 2], x: fixed[4, 3], w: fixed[4, 2]) -> fixed { loss(P { a: a, b: b }, x, w) }\n\
        fn main() {\n\
            let x: fixed[4, 3] @alice = read_csv(\"x.csv\");\n\
            let w: fixed[4, 2] @alice = read_csv(\"w.csv\");\n\
            let a: fixed[3, 2] @alice = read_csv(\"a.csv\");\n\
            let b: fixed[2] @alice = read_csv(\"b.csv\");\n\
            let m: P @alice = P { a: a, b: b };\n\
            let (l, g) = value_and_grad(loss, m, x, w);\n\
            write_csv(g.a - grad(loss_a, a, b, x, w), \"da.csv\");\n\
            write_csv(g.b - grad(loss_b, b, a, x, w), \"db.csv\");\n\
            write_csv(l - loss(m, x, w), \"dl.csv\");\n\
            let s = sgd(m, momentum(zeros_like(m), g, 0.9), 0.1);\n\
            write_csv(s.a - sgd(m.a, momentum(zeros_like(a), g.a, 0.9), 0.1), \"dsgd.csv\");\n\
            let q = adam(m, adam_moment(zeros_like(m), g, 0.9, 1), adam_second_moment(zeros_like(m), g, 0.999, 1), 0.01);\n\
            write_csv(q.b - adam(b, adam_moment(zeros_like(b), g.b, 0.9, 1), adam_second_moment(zeros_like(b), g.b, 0.999, 1), 0.01), \"dadam.csv\");\n\
            write_csv(g.a, \"ga.csv\");\n\
            write_csv(g.b, \"gb.csv\");\n\
            let ms: P @rep = m;\n\
            let xs: fixed[4, 3] @rep = x;\n\
            let ws: fixed[4, 2] @rep = w;\n\
            let gs = grad(loss, ms, xs, ws);\n\
            let gr: P @alice = reveal(gs, to: alice);\n\
            write_csv(gr.a, \"gsa.csv\");\n\
            write_csv(gr.b, \"gsb.csv\");\n\
        }\n";
    std::fs::write(dir.join("structs.tfe"), protocol.switch(program)).unwrap();
    support::tfec(&["run".as_ref(), dir.join("structs.tfe").as_os_str()]);
    for f in ["da", "db", "dl", "dsgd", "dadam"] {
        let v = read(&data.join(format!("{f}.csv")));
        assert!(v.iter().all(|x| x.abs() < 1e-12), "{f}: {v:?}");
    }
    for (f64_file, shares_file) in [("ga", "gsa"), ("gb", "gsb")] {
        let e = error(
            &read(&data.join(format!("{shares_file}.csv"))),
            &read(&data.join(format!("{f64_file}.csv"))),
        );
        assert!(e < 1e-3, "{shares_file}: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Max-pooling's gradient goes to one entry of each window, the first maximal one in the
/// window's order (row by row), as PyTorch's and TensorFlow's do: where a window ties (a black
/// background, a convolution's bias over an empty window), the others get nothing. The choice
/// is the forward tournament's: the gradient compares nothing again.
#[test]
fn max_pooling_sends_each_window_gradient_to_its_first_maximal_entry() {
    let dir = std::env::temp_dir().join(format!("tfe-grad-ties-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data/alice");
    std::fs::create_dir_all(&data).unwrap();
    // Four 2x2 windows of a 4x4 image: all four tied; two of four tied; the lower two tied;
    // all four tied below zero.
    #[rustfmt::skip]
    let x = [
        2.0, 2.0, 1.0, 3.0,
        2.0, 2.0, 3.0, 0.0,
        0.0, 0.0, -1.0, -1.0,
        5.0, 5.0, -1.0, -1.0,
    ];
    let w = [0.5, -1.25, 2.0, 0.75];
    std::fs::write(data.join("x.csv"), csv(1, 16, &x)).unwrap();
    std::fs::write(data.join("w.csv"), csv(1, 4, &w)).unwrap();
    let program = "use std::nn::max_pool2d;\nparty alice, s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
        fn loss(x: fixed[1, 16], w: fixed[1, 4]) -> fixed {\n\
            sum(max_pool2d(x, height: 4, width: 4, channels: 1, size: 2) * w)\n\
        }\n\
        fn main() {\n\
            let x: fixed[1, 16] @alice = read_csv(\"x.csv\");\n\
            let w: fixed[1, 4] @alice = read_csv(\"w.csv\");\n\
            write_csv(grad(loss, x, w), \"party.csv\");\n\
            let xs: fixed[1, 16] @rep = x;\n\
            let ws: fixed[1, 4] @rep = w;\n\
            write_csv(reveal(grad(loss, xs, ws), to: alice), \"shares.csv\");\n\
        }\n";
    std::fs::write(dir.join("ties.tfe"), program).unwrap();
    support::tfec(&["run".as_ref(), dir.join("ties.tfe").as_os_str()]);
    let mut expected = [0.0; 16];
    // The first maximal entry of each window, in (row, column) order within it.
    expected[0] = w[0];
    expected[3] = w[1];
    expected[12] = w[2];
    expected[10] = w[3];
    for file in ["party", "shares"] {
        let g = read(&data.join(format!("{file}.csv")));
        for (i, (a, b)) in g.iter().zip(&expected).enumerate() {
            assert!(
                (a - b).abs() < 1e-4,
                "{file}: pixel {i}: {a} vs {b}; all: {g:?}"
            );
        }
    }
    // The derived gradient reuses the forward tournament: no comparison beyond its two levels.
    let ir = support::tfec(&[
        "build".as_ref(),
        dir.join("ties.tfe").as_os_str(),
        "--emit".as_ref(),
        "ir".as_ref(),
    ]);
    let compares = ir
        .lines()
        .filter(|l| l.contains("@rep = ge ") || l.contains("@rep = gt "))
        .count();
    assert_eq!(compares, 0, "{ir}");
    assert_eq!(ir.matches("@rep = max_onehot").count(), 1, "{ir}");
    let _ = std::fs::remove_dir_all(&dir);
}
