//! std::nn's layers for imported models (`tfec import`) on secret shares against f64: tanh and
//! the precise sigmoid, leaky ReLU and clipping, depthwise convolution, pooling with stride and
//! padding, global pooling, per-channel scaling, the NCHW layout changes and row normalisation.
//! Each test states its bound; the worst error measured is printed (`--nocapture`). Under each
//! protocol.

#[macro_use]
mod support;

use support::Protocol;

per_protocol!(
    tanh_and_precise_sigmoid_on_shares,
    leaky_relu_and_clip_on_shares,
    depthwise_convolution_and_pooling_on_shares,
    channel_scaling_and_layout_changes_on_shares,
    row_normalisation_on_shares,
);

/// A seeded matrix with entries uniform in [-scale, scale], rounded to 1e-3.
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

/// Runs `body` after reading each `(party, name, rows)` as a matrix shared into `rep` under
/// `name` (and at its party as `name_at`); returns alice's printed lines.
fn run(
    protocol: Protocol,
    name: &str,
    uses: &str,
    inputs: &[(&str, &str, &[Vec<f64>])],
    body: &str,
) -> Vec<Vec<f64>> {
    let dir = std::env::temp_dir().join(format!(
        "tfe-layers-{name}-{}-{}",
        std::process::id(),
        protocol.name()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data/alice")).unwrap();
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
        let (r, c) = (rows.len(), rows[0].len());
        lets += &format!(
            "let {var}_at: fixed[{r}, {c}] @{party} = read_csv(\"{var}.csv\");\n\
             let {var}: fixed[{r}, {c}] @rep = {var}_at;\n"
        );
    }
    let program = dir.join("p.tfe");
    std::fs::write(
        &program,
        format!(
            "use std::nn::{{{uses}}};\nparty alice, bob, s0, s1, s2;\n\
             {}\nfn main() {{\n{lets}{body}\n}}\n",
            protocol.secret_line()
        ),
    )
    .unwrap();
    let stdout = support::tfec(&["run".as_ref(), program.as_os_str()]);
    let lines = support::printed(&stdout, "alice");
    let _ = std::fs::remove_dir_all(&dir);
    lines
}

fn worst(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "sizes");
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

/// tanh within 2e-4 and sigmoid_precise within 1e-4 of f64, over [-10, 10] in steps of 0.005
/// (every interval of tanh's pieces, both signs, and beyond the clamp at 6).
fn tanh_and_precise_sigmoid_on_shares(protocol: Protocol) {
    let xs: Vec<f64> = (0..=4000).map(|i| -10.0 + i as f64 * 0.005).collect();
    let x = vec![xs.clone()];
    let out = run(
        protocol,
        "tanh",
        "tanh, sigmoid_precise",
        &[("alice", "x", &x)],
        "print(reveal(tanh(x), to: alice));\nprint(reveal(sigmoid_precise(x), to: alice));",
    );
    let t: Vec<f64> = xs.iter().map(|v| v.tanh()).collect();
    let s: Vec<f64> = xs.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect();
    let (wt, ws) = (worst(&out[0], &t), worst(&out[1], &s));
    eprintln!("tanh: worst absolute error {wt:.2e}; sigmoid_precise: {ws:.2e}");
    assert!(wt < 2e-4, "tanh: {wt}");
    assert!(ws < 1e-4, "sigmoid_precise: {ws}");
}

/// leaky_relu and clip: exact up to the encoding and one truncation (1e-4).
fn leaky_relu_and_clip_on_shares(protocol: Protocol) {
    let x = random_matrix(5, 6, 20, 8.0);
    let out = run(
        protocol,
        "leaky",
        "leaky_relu, clip",
        &[("alice", "x", &x)],
        "print(reveal(leaky_relu(x, alpha: 0.1), to: alice));\n\
         print(reveal(clip(x, low: -1.5, high: 6.0), to: alice));",
    );
    let flat = x.concat();
    let l: Vec<f64> = flat
        .iter()
        .map(|v| if *v > 0.0 { *v } else { 0.1 * v })
        .collect();
    let c: Vec<f64> = flat.iter().map(|v| v.clamp(-1.5, 6.0)).collect();
    let (wl, wc) = (worst(&out[0], &l), worst(&out[1], &c));
    eprintln!("leaky_relu: {wl:.2e}; clip: {wc:.2e}");
    assert!(wl < 1e-4 && wc < 1e-4, "{wl} {wc}");
}

/// Channel-last images [n, h * w * c] as f64 arrays, with a reference window walk.
struct Images {
    x: Vec<Vec<f64>>,
    h: usize,
    w: usize,
    c: usize,
}

impl Images {
    fn at(&self, n: usize, y: isize, x: isize, ch: usize) -> Option<f64> {
        if y < 0 || x < 0 || y >= self.h as isize || x >= self.w as isize {
            return None;
        }
        Some(self.x[n][(y as usize * self.w + x as usize) * self.c + ch])
    }

    /// For each image, output position and channel (channel-last), `f` of the window's values
    /// (`None` for padding).
    fn windows(
        &self,
        size: usize,
        stride: usize,
        pad: usize,
        f: impl Fn(usize, &[Option<f64>]) -> f64,
    ) -> Vec<f64> {
        let oh = (self.h + 2 * pad - size) / stride + 1;
        let ow = (self.w + 2 * pad - size) / stride + 1;
        let mut out = Vec::new();
        for n in 0..self.x.len() {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ch in 0..self.c {
                        let vals: Vec<Option<f64>> = (0..size * size)
                            .map(|p| {
                                let y = (oy * stride + p / size) as isize - pad as isize;
                                let x = (ox * stride + p % size) as isize - pad as isize;
                                self.at(n, y, x, ch)
                            })
                            .collect();
                        out.push(f(ch, &vals));
                    }
                }
            }
        }
        out
    }
}

/// depthwise_conv2d (stride 1 without padding, stride 2 with) within 1e-3; max_pool2d_strided
/// with padding on values of both signs, exact up to the encoding (1e-4); avg_pool2d_strided
/// counting the padding and not (1e-3); global average and max pooling (1e-3, 1e-4).
fn depthwise_convolution_and_pooling_on_shares(protocol: Protocol) {
    let (h, w, c, n) = (7usize, 7usize, 3usize, 2usize);
    let imgs = Images {
        x: random_matrix(41, n, h * w * c, 3.0),
        h,
        w,
        c,
    };
    let k = random_matrix(42, 9, c, 0.7);
    let b = random_matrix(43, 1, c, 1.0);
    let out = run(
        protocol,
        "pools",
        "depthwise_conv2d, max_pool2d_strided, avg_pool2d_strided, global_avg_pool2d, global_max_pool2d",
        &[
            ("alice", "x", &imgs.x),
            ("bob", "k", &k),
            ("bob", "bias", &b),
        ],
        "let b = reshape(bias, [3]);\n\
         print(reveal(depthwise_conv2d(x, k, b, height: 7, width: 7, channels: 3, size: 3, stride: 1, pad: 0), to: alice));\n\
         print(reveal(depthwise_conv2d(x, k, b, height: 7, width: 7, channels: 3, size: 3, stride: 2, pad: 1), to: alice));\n\
         print(reveal(max_pool2d_strided(x, height: 7, width: 7, channels: 3, size: 3, stride: 2, pad: 1), to: alice));\n\
         print(reveal(avg_pool2d_strided(x, height: 7, width: 7, channels: 3, size: 3, stride: 2, pad: 1, include_pad: true), to: alice));\n\
         print(reveal(avg_pool2d_strided(x, height: 7, width: 7, channels: 3, size: 3, stride: 2, pad: 1, include_pad: false), to: alice));\n\
         print(reveal(global_avg_pool2d(x, height: 7, width: 7, channels: 3), to: alice));\n\
         print(reveal(global_max_pool2d(x, height: 7, width: 7, channels: 3), to: alice));",
    );
    let conv = |ch: usize, v: &[Option<f64>]| {
        b[0][ch]
            + v.iter()
                .enumerate()
                .map(|(p, x)| x.unwrap_or(0.0) * k[p][ch])
                .sum::<f64>()
    };
    let max = |_: usize, v: &[Option<f64>]| v.iter().flatten().cloned().fold(f64::MIN, f64::max);
    let avg_in = |_: usize, v: &[Option<f64>]| v.iter().flatten().sum::<f64>() / v.len() as f64;
    let avg_ex = |_: usize, v: &[Option<f64>]| {
        v.iter().flatten().sum::<f64>() / v.iter().flatten().count() as f64
    };
    let global = |max: bool| -> Vec<f64> {
        let mut out = Vec::new();
        for img in &imgs.x {
            for ch in 0..c {
                let vals = (0..h * w).map(|p| img[p * c + ch]);
                out.push(if max {
                    vals.fold(f64::MIN, f64::max)
                } else {
                    vals.sum::<f64>() / (h * w) as f64
                });
            }
        }
        out
    };
    let wants = [
        (imgs.windows(3, 1, 0, conv), 1e-3, "depthwise, stride 1"),
        (
            imgs.windows(3, 2, 1, conv),
            1e-3,
            "depthwise, stride 2, pad 1",
        ),
        (
            imgs.windows(3, 2, 1, max),
            1e-4,
            "max pool 3, stride 2, pad 1",
        ),
        (
            imgs.windows(3, 2, 1, avg_in),
            1e-3,
            "average pool, padding counted",
        ),
        (
            imgs.windows(3, 2, 1, avg_ex),
            1e-3,
            "average pool, padding not counted",
        ),
        (global(false), 1e-3, "global average pool"),
        (global(true), 1e-4, "global max pool"),
    ];
    for (i, (want, bound, what)) in wants.iter().enumerate() {
        let e = worst(&out[i], want);
        eprintln!("{what}: worst absolute error {e:.2e}");
        assert!(e < *bound, "{what}: {e}");
    }
}

/// scale_channels within 1e-3; from_nchw, to_nchw and swap_blocks move every element exactly
/// where NumPy's transposes put it (the values survive up to their encoding, 1e-5).
fn channel_scaling_and_layout_changes_on_shares(protocol: Protocol) {
    let (c, h, w) = (3usize, 2usize, 4usize);
    let nchw = random_matrix(51, 2, c * h * w, 5.0);
    let s = random_matrix(52, 2, c, 2.0);
    let out = run(
        protocol,
        "layouts",
        "from_nchw, to_nchw, swap_blocks, scale_channels",
        &[("alice", "x", &nchw), ("bob", "st", &s)],
        "let cl = from_nchw(x, channels: 3, height: 2, width: 4);\n\
         print(reveal(cl, to: alice));\n\
         print(reveal(to_nchw(cl, channels: 3, height: 2, width: 4), to: alice));\n\
         print(reveal(swap_blocks(x, 3, 2, 2, 2), to: alice));\n\
         print(reveal(scale_channels(cl, st[0], st[1], channels: 3), to: alice));",
    );
    let mut cl = Vec::new();
    let mut swapped = Vec::new();
    let mut scaled = Vec::new();
    for img in &nchw {
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    let v = img[(ch * h + y) * w + x];
                    cl.push(v);
                    scaled.push(v * s[0][ch] + s[1][ch]);
                }
            }
        }
        // [3, 2, 2, 2] -> [3, 2, 2, 2] with the middle two axes swapped.
        for o in 0..3 {
            for j in 0..2 {
                for i in 0..2 {
                    for k in 0..2 {
                        swapped.push(img[((o * 2 + i) * 2 + j) * 2 + k]);
                    }
                }
            }
        }
    }
    let checks = [
        (worst(&out[0], &cl), 1e-5, "from_nchw"),
        (
            worst(&out[1], &nchw.concat()),
            1e-5,
            "to_nchw(from_nchw(x))",
        ),
        (worst(&out[2], &swapped), 1e-5, "swap_blocks"),
        (worst(&out[3], &scaled), 1e-3, "scale_channels"),
    ];
    for (e, bound, what) in checks {
        eprintln!("{what}: worst absolute error {e:.2e}");
        assert!(e < bound, "{what}: {e}");
    }
}

/// normalize_l1, normalize_l2 and normalize_max on rows whose sums, norms and maxima are in
/// [0.5, 16]: relative 2e-4 (the reciprocal's and inverse square root's) plus 2^-15 absolute
/// (the rounding of the factor and the truncation of the final product, each at most 2^-16 here).
/// A relative bound alone does not hold: an entry of 0.02 is off by 2^-16 = 7.6e-4 of itself
/// whenever its product's truncation rounds the other way.
fn row_normalisation_on_shares(protocol: Protocol) {
    let x: Vec<Vec<f64>> = random_matrix(61, 8, 5, 1.0)
        .into_iter()
        .map(|r| r.into_iter().map(|v| v.abs() + 0.1).collect())
        .collect();
    let out = run(
        protocol,
        "normalize",
        "normalize_l1, normalize_l2, normalize_max",
        &[("alice", "x", &x)],
        "print(reveal(normalize_l1(x), to: alice));\n\
         print(reveal(normalize_l2(x), to: alice));\n\
         print(reveal(normalize_max(x), to: alice));",
    );
    let by = |f: &dyn Fn(&[f64]) -> f64| -> Vec<f64> {
        x.iter()
            .flat_map(|r| {
                let d = f(r);
                r.iter().map(move |v| v / d)
            })
            .collect()
    };
    let l1 = by(&|r| r.iter().map(|v| v.abs()).sum());
    let l2 = by(&|r| r.iter().map(|v| v * v).sum::<f64>().sqrt());
    let mx = by(&|r| r.iter().cloned().fold(f64::MIN, f64::max));
    for (i, (want, what)) in [(l1, "L1"), (l2, "L2"), (mx, "MAX")].iter().enumerate() {
        assert_eq!(out[i].len(), want.len(), "{what}: sizes");
        let (mut worst, mut worst_relative) = (0.0f64, 0.0f64);
        for (a, b) in out[i].iter().zip(want) {
            let e = (a - b).abs();
            worst = worst.max(e / (2e-4 * b.abs() + 2f64.powi(-15)));
            worst_relative = worst_relative.max(e / b.abs());
            assert!(
                e <= 2e-4 * b.abs() + 2f64.powi(-15),
                "{what}: {a} vs {b}, error {e:.2e}"
            );
        }
        eprintln!(
            "normalize {what}: worst relative error {worst_relative:.2e}; {worst:.2} of the bound"
        );
    }
}
