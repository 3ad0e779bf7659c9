//! examples/mnist_predict.tfe: the client's predictions on shares against the plaintext model's
//! (examples/tools/train_mnist_mlp.py): at most one image in a hundred may differ, and the
//! accuracy on the client's labels is the plaintext model's within that one image. Under each
//! protocol.

#[macro_use]
mod support;

use support::{Protocol, read_matrix, run_example, scratch_data};

per_protocol!(
    private_predictions_match_the_plaintext_model,
    private_cnn_predictions_match_the_plaintext_model,
);

fn private_predictions_match_the_plaintext_model(protocol: Protocol) {
    let data = scratch_data(&format!("mnist-predict-{}", protocol.name()));
    let stdout = run_example(protocol, "mnist_predict.tfe", &data, &[]);
    assert!(
        stdout.starts_with("[client] "),
        "only the client prints: {stdout}"
    );
    let secure = read_matrix(&data.join("client/mnist_predicted.csv"));
    let plain = read_matrix(&data.join("heldout/mnist_client_pred_plain.csv"));
    let labels = read_matrix(&data.join("heldout/mnist_client_y.csv"));
    let secure: Vec<f64> = secure.iter().copied().collect();
    assert_eq!(secure.len(), 100);
    let differ = secure
        .iter()
        .zip(plain.iter())
        .filter(|(a, b)| a != b)
        .count();
    let right = |p: &[f64]| p.iter().zip(labels.iter()).filter(|(a, b)| a == b).count();
    let plain: Vec<f64> = plain.iter().copied().collect();
    eprintln!(
        "{}: {differ} of 100 predictions differ; accuracy: shares {}%, plaintext {}%",
        protocol.name(),
        right(&secure),
        right(&plain)
    );
    assert!(
        differ <= 1,
        "{differ} predictions differ from the plaintext model's"
    );
    assert!(right(&secure).abs_diff(right(&plain)) <= 1);
}

/// examples/digits_cnn.tfe: conv2d, max_pool2d and dense on shares; the client's predictions
/// against the plaintext CNN's (examples/tools/train_digits_cnn.py), at most one in a hundred
/// differing.
fn private_cnn_predictions_match_the_plaintext_model(protocol: Protocol) {
    let data = scratch_data(&format!("digits-cnn-{}", protocol.name()));
    run_example(protocol, "digits_cnn.tfe", &data, &[]);
    let secure: Vec<f64> = read_matrix(&data.join("client/digits_predicted.csv"))
        .iter()
        .copied()
        .collect();
    let plain: Vec<f64> = read_matrix(&data.join("heldout/digits_pred_plain.csv"))
        .iter()
        .copied()
        .collect();
    let labels: Vec<f64> = read_matrix(&data.join("heldout/digits_y.csv"))
        .iter()
        .copied()
        .collect();
    assert_eq!(secure.len(), 297);
    let differ = secure.iter().zip(&plain).filter(|(a, b)| a != b).count();
    let right = |p: &[f64]| p.iter().zip(&labels).filter(|(a, b)| a == b).count();
    eprintln!(
        "{}: {differ} of 297 predictions differ; correct: shares {}, plaintext {}",
        protocol.name(),
        right(&secure),
        right(&plain)
    );
    assert!(
        differ <= 2,
        "{differ} predictions differ from the plaintext model's"
    );
    assert!(right(&secure).abs_diff(right(&plain)) <= 2);
}
