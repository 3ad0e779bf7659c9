//! examples/mnist_train.tfe (network A on secret shares, SGD with momentum) and
//! examples/mnist_train_adam.tfe (the same with Adam) against the same training in f64: the same
//! initial weights, batches and hyperparameters, with exact softmax and no rounding (Adam as Keras
//! and TF Encrypted write it, epsilon 1e-7). The analyst's held-out accuracy must be within one
//! point of the f64 model's, under each protocol.
//!
//! Each test trains network A for a minute or more in a debug build, so CI (`cargo test`) runs
//! each on one protocol, every protocol's example among them (module `ci`: both examples on pond,
//! AMSGrad on aby3); `cargo test --test mnist_train -- --ignored` runs each on every protocol
//! (modules `aby3`, `pond`). The optimizers themselves are checked on every protocol in
//! tfec/tests/stdlib_optim.rs.

#[macro_use]
mod support;

use std::path::Path;

use ndarray::{Array1, Array2, Axis};
use support::{Protocol, examples, read_matrix, scratch_data};

per_protocol!(
    #[ignore = "minutes in debug: CI runs it on one protocol (module `ci`)"]
    network_a_with_momentum_on_shares_is_within_one_point_of_f64_training,
    network_a_with_adam_on_shares_is_within_one_point_of_f64_training,
    network_a_with_amsgrad_on_shares_is_within_one_point_of_f64_training,
);

/// Each training on one protocol, so that CI's time grows by none of them.
mod ci {
    use super::support::Protocol;

    #[test]
    fn network_a_with_momentum_on_shares_is_within_one_point_of_f64_training() {
        super::network_a_with_momentum_on_shares_is_within_one_point_of_f64_training(Protocol::Pond)
    }

    #[test]
    fn network_a_with_adam_on_shares_is_within_one_point_of_f64_training() {
        super::network_a_with_adam_on_shares_is_within_one_point_of_f64_training(Protocol::Pond)
    }

    #[test]
    fn network_a_with_amsgrad_on_shares_is_within_one_point_of_f64_training() {
        super::network_a_with_amsgrad_on_shares_is_within_one_point_of_f64_training(Protocol::Aby3)
    }
}

/// A constant of the program, as written in its source (`const NAME: TYPE = VALUE;`).
fn constant(source: &str, name: &str) -> f64 {
    let line = source
        .lines()
        .find(|l| l.starts_with(&format!("const {name}:")))
        .unwrap_or_else(|| panic!("no constant {name}"));
    let value = line.split('=').nth(1).unwrap().trim().trim_end_matches(';');
    value.parse().unwrap()
}

fn relu(x: &Array2<f64>) -> Array2<f64> {
    x.mapv(|v| v.max(0.0))
}

fn step(x: &Array2<f64>) -> Array2<f64> {
    x.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 })
}

fn softmax(z: &Array2<f64>) -> Array2<f64> {
    let mut p = z.clone();
    for mut row in p.rows_mut() {
        let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| (v - m).exp());
        let s = row.sum();
        row.mapv_inplace(|v| v / s);
    }
    p
}

struct Model {
    w: [Array2<f64>; 3],
    b: [Array1<f64>; 3],
}

impl Model {
    fn accuracy(&self, x: &Array2<f64>, labels: &[usize]) -> usize {
        let a1 = relu(&(x.dot(&self.w[0]) + &self.b[0]));
        let a2 = relu(&(a1.dot(&self.w[1]) + &self.b[1]));
        let z = a2.dot(&self.w[2]) + &self.b[2];
        z.rows()
            .into_iter()
            .zip(labels)
            .filter(|(r, l)| {
                let best = (0..r.len())
                    .max_by(|&i, &j| r[i].partial_cmp(&r[j]).unwrap())
                    .unwrap();
                best == **l
            })
            .count()
    }
}

/// How the program updates its parameters.
#[derive(Clone, Copy)]
enum Optimizer {
    /// SGD with momentum (the form of TF Encrypted): v = beta v + g; w -= lr v.
    Momentum { lr: f64, beta: f64 },
    /// Adam with bias correction and epsilon 1e-7; with `amsgrad`, the denominator is the
    /// running maximum of the bias-corrected second moment (std::optim's AMSGrad).
    Adam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        amsgrad: bool,
    },
}

/// One parameter's optimiser state: the velocity, or Adam's two moments (and AMSGrad's maximum).
struct State {
    first: ndarray::ArrayD<f64>,
    second: ndarray::ArrayD<f64>,
    max: ndarray::ArrayD<f64>,
}

impl Optimizer {
    /// Steps `w` by its gradient `g` at step `t` (from 1).
    fn step(&self, w: &mut ndarray::ArrayD<f64>, g: &ndarray::ArrayD<f64>, s: &mut State, t: i32) {
        match *self {
            Optimizer::Momentum { lr, beta } => {
                s.first = &s.first * beta + g;
                *w = &*w - &(&s.first * lr);
            }
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                amsgrad,
            } => {
                s.first = &s.first * beta1 + &(g * (1.0 - beta1));
                s.second = &s.second * beta2 + &(g.mapv(|v| v * v) * (1.0 - beta2));
                let (c1, c2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
                s.max.zip_mut_with(&s.second, |u, v| *u = u.max(v / c2));
                let denominator = if amsgrad {
                    s.max.clone()
                } else {
                    s.second.mapv(|v| v / c2)
                };
                let update = ndarray::Zip::from(&s.first)
                    .and(&denominator)
                    .map_collect(|m, v| lr * (m / c1) / (v.sqrt() + 1e-7));
                *w = &*w - &update;
            }
        }
    }
}

/// Network A trained in f64 exactly as the program trains it on shares.
fn train_f64(source: &str, data: &Path, optimizer: Optimizer) -> Model {
    let (epochs, batch) = (
        constant(source, "EPOCHS") as usize,
        constant(source, "BATCH") as usize,
    );
    let x = ndarray::concatenate(
        Axis(0),
        &[
            (read_matrix(&data.join("alice/mnist_x.csv.gz")) / 255.0).view(),
            (read_matrix(&data.join("bob/mnist_x.csv.gz")) / 255.0).view(),
        ],
    )
    .unwrap();
    let y = ndarray::concatenate(
        Axis(0),
        &[
            read_matrix(&data.join("alice/mnist_y.csv.gz")).view(),
            read_matrix(&data.join("bob/mnist_y.csv.gz")).view(),
        ],
    )
    .unwrap();
    let mut m = Model {
        w: [1, 2, 3].map(|k| read_matrix(&data.join(format!("analyst/mnist_init_w{k}.csv.gz")))),
        b: [128, 128, 10].map(Array1::zeros),
    };
    let state = |shape: &[usize]| State {
        first: ndarray::ArrayD::zeros(shape),
        second: ndarray::ArrayD::zeros(shape),
        max: ndarray::ArrayD::zeros(shape),
    };
    let mut sw: Vec<State> = m.w.iter().map(|w| state(w.shape())).collect();
    let mut sb: Vec<State> = m.b.iter().map(|b| state(b.shape())).collect();
    let mut t = 0;
    for _ in 0..epochs {
        for i in 0..x.nrows() / batch {
            let xi = x
                .slice(ndarray::s![i * batch..(i + 1) * batch, ..])
                .to_owned();
            let yi = y.slice(ndarray::s![i * batch..(i + 1) * batch, ..]);
            t += 1;
            let h1 = xi.dot(&m.w[0]) + &m.b[0];
            let a1 = relu(&h1);
            let h2 = a1.dot(&m.w[1]) + &m.b[1];
            let a2 = relu(&h2);
            let z = a2.dot(&m.w[2]) + &m.b[2];
            let dz = (softmax(&z) - yi) / batch as f64;
            let dh2 = dz.dot(&m.w[2].t()) * step(&h2);
            let dh1 = dh2.dot(&m.w[1].t()) * step(&h1);
            let gw = [xi.t().dot(&dh1), a1.t().dot(&dh2), a2.t().dot(&dz)];
            let gb = [
                dh1.sum_axis(Axis(0)),
                dh2.sum_axis(Axis(0)),
                dz.sum_axis(Axis(0)),
            ];
            for k in 0..3 {
                let mut w = m.w[k].clone().into_dyn();
                optimizer.step(&mut w, &gw[k].clone().into_dyn(), &mut sw[k], t);
                m.w[k] = w.into_dimensionality().unwrap();
                let mut b = m.b[k].clone().into_dyn();
                optimizer.step(&mut b, &gb[k].clone().into_dyn(), &mut sb[k], t);
                m.b[k] = b.into_dimensionality().unwrap();
            }
        }
    }
    m
}

/// Runs `example` switched to `protocol` (and with `edit`, a text and its replacement, applied to
/// its source), which writes its model as `analyst/{prefix}_w1.csv` and so on, and compares its
/// accuracy with f64 training by `optimizer`.
fn within_one_point_of_f64(
    protocol: Protocol,
    example: &str,
    edit: Option<(&str, &str)>,
    prefix: &str,
    optimizer: Optimizer,
) {
    let mut source = protocol.switch(&std::fs::read_to_string(examples().join(example)).unwrap());
    if let Some((from, to)) = edit {
        assert!(source.contains(from), "{example} has `{from}`");
        source = source.replace(from, to);
    }
    assert_eq!(constant(&source, "BATCH"), 128.0, "network A's batch");
    let data = scratch_data(&format!(
        "{prefix}-{}-{}",
        if edit.is_some() { "edited" } else { "shipped" },
        protocol.name()
    ));
    let program = data.join(example);
    std::fs::write(&program, &source).unwrap();
    let stdout = support::tfec(&[
        "run".as_ref(),
        "--seed".as_ref(),
        "3".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        program.as_os_str(),
    ]);
    let secure: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("[analyst] "))
        .expect("the analyst prints its count of correct predictions")
        .trim()
        .parse()
        .unwrap();

    let model = train_f64(&source, &examples().join("data"), optimizer);
    let test_x = read_matrix(&examples().join("data/analyst/mnist_test_x.csv.gz")) / 255.0;
    let labels: Vec<usize> = read_matrix(&examples().join("data/analyst/mnist_test_y.csv"))
        .iter()
        .map(|v| *v as usize)
        .collect();
    let plain = model.accuracy(&test_x, &labels);
    // The trained weights the analyst wrote agree with the f64 model's accuracy too.
    let written = Model {
        w: [1, 2, 3].map(|k| read_matrix(&data.join(format!("analyst/{prefix}_w{k}.csv")))),
        b: [1, 2, 3].map(|k| {
            read_matrix(&data.join(format!("analyst/{prefix}_b{k}.csv")))
                .row(0)
                .to_owned()
        }),
    };
    let from_file = written.accuracy(&test_x, &labels);
    eprintln!(
        "{}: {example}: held-out accuracy: shares {secure}/1000 (weights as written: {from_file}/1000), f64 {plain}/1000",
        protocol.name()
    );
    assert_eq!(
        from_file, secure,
        "the printed score is the written model's"
    );
    assert!(
        secure.abs_diff(plain) <= 10,
        "shares {secure} vs f64 {plain}: more than one point apart"
    );
}

fn network_a_with_momentum_on_shares_is_within_one_point_of_f64_training(protocol: Protocol) {
    let source = std::fs::read_to_string(examples().join("mnist_train.tfe")).unwrap();
    let (lr, beta) = (constant(&source, "LR"), constant(&source, "BETA"));
    assert_eq!(
        (lr, beta),
        (0.01, 0.9),
        "the issue's learning rate and momentum"
    );
    within_one_point_of_f64(
        protocol,
        "mnist_train.tfe",
        None,
        "mnist_trained",
        Optimizer::Momentum { lr, beta },
    );
}

fn network_a_with_adam_on_shares_is_within_one_point_of_f64_training(protocol: Protocol) {
    let source = std::fs::read_to_string(examples().join("mnist_train_adam.tfe")).unwrap();
    let lr = constant(&source, "LR");
    let (beta1, beta2) = (constant(&source, "BETA1"), constant(&source, "BETA2"));
    assert_eq!(lr, 0.001, "the issue's learning rate for Adam");
    within_one_point_of_f64(
        protocol,
        "mnist_train_adam.tfe",
        None,
        "mnist_adam",
        Optimizer::Adam {
            lr,
            beta1,
            beta2,
            amsgrad: false,
        },
    );
}

fn network_a_with_amsgrad_on_shares_is_within_one_point_of_f64_training(protocol: Protocol) {
    let source = std::fs::read_to_string(examples().join("mnist_train_adam.tfe")).unwrap();
    let lr = constant(&source, "LR");
    let (beta1, beta2) = (constant(&source, "BETA1"), constant(&source, "BETA2"));
    within_one_point_of_f64(
        protocol,
        "mnist_train_adam.tfe",
        Some((
            "const AMSGRAD: bool = false;",
            "const AMSGRAD: bool = true;",
        )),
        "mnist_adam",
        Optimizer::Adam {
            lr,
            beta1,
            beta2,
            amsgrad: true,
        },
    );
}
