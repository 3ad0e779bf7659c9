//! examples/secure_aggregation.tfe against federated averaging in f64: the same rounds, the same
//! local gradients (with std::nn::sigmoid's polynomial, which the hospitals run in plaintext),
//! averaged in the clear. The only secret-shared step is the average, so the models agree to
//! within the fixed-point encoding of the shared gradients (2^-16 per value, per round). Under
//! each protocol.

#[macro_use]
mod support;

use ndarray::Array2;
use support::{Protocol, examples, read_matrix, run_example, scratch_data};

per_protocol!(averaged_model_matches_federated_averaging_in_f64);

/// std::nn::sigmoid as written in stdlib/std/nn.tfe, in f64.
fn sigmoid(x: f64) -> f64 {
    let t = x / 6.0;
    let t2 = t * t;
    let p =
        0.5 + t * (1.45481 + t2 * (-3.302547 + t2 * (5.534561 + t2 * (-4.835171 + t2 * 1.647594))));
    if x < -6.0 {
        0.0
    } else if x > 6.0 {
        1.0
    } else {
        p
    }
}

fn averaged_model_matches_federated_averaging_in_f64(protocol: Protocol) {
    let data = scratch_data(&format!("secure-aggregation-{}", protocol.name()));
    run_example(protocol, "secure_aggregation.tfe", &data, &[]);
    let w_secure = read_matrix(&data.join("owner/aggregated_w.csv"));
    let b_secure = read_matrix(&data.join("owner/aggregated_b.csv"))[[0, 0]];

    let parts: Vec<(Array2<f64>, Array2<f64>)> = (1..=5)
        .map(|k| {
            let dir = examples().join(format!("data/h{k}"));
            (
                read_matrix(&dir.join("fl_x.csv")),
                read_matrix(&dir.join("fl_y.csv")),
            )
        })
        .collect();
    let source = std::fs::read_to_string(examples().join("secure_aggregation.tfe")).unwrap();
    assert!(
        source.contains("const ROUNDS: int = 30;") && source.contains("const LR: fixed = 1.0;")
    );
    let mut w = Array2::<f64>::zeros((30, 1));
    let mut b = 0.0;
    for _ in 0..30 {
        let mut gw = Array2::<f64>::zeros((30, 1));
        let mut gb = 0.0;
        for (x, y) in &parts {
            let e = (x.dot(&w) + b).mapv(sigmoid) - y;
            gw = gw + x.t().dot(&e) / x.nrows() as f64;
            gb += e.sum() / x.nrows() as f64;
        }
        w = w - gw / 5.0;
        b -= gb / 5.0;
    }
    let worst = w
        .iter()
        .zip(w_secure.iter())
        .map(|(a, b)| (a - b).abs())
        .fold((b - b_secure).abs(), f64::max);
    eprintln!(
        "{}: largest difference from f64 federated averaging: {worst:.2e}",
        protocol.name()
    );
    assert_eq!(w_secure.len(), 30);
    assert!(worst < 2e-3, "{worst}");
}
