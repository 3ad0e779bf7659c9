//! The small examples run as their comments say, under each protocol.

#[macro_use]
mod support;

use std::path::Path;

use support::{Protocol, run_example, scratch_data};

per_protocol!(salaries_reveals_the_mean_and_the_maximum);

fn salaries_reveals_the_mean_and_the_maximum(protocol: Protocol) {
    let data = scratch_data(&format!("salaries-{}", protocol.name()));
    let stdout = run_example(protocol, "salaries.tfe", &data, &[]);
    let values: Vec<f64> = stdout
        .lines()
        .map(|l| l.trim_start_matches("[alice] ").parse().unwrap())
        .collect();
    let mean = (61.25 + 58.9 + 73.4) / 3.0;
    assert_eq!(
        values.len(),
        2,
        "printed once each (public values print at one party)"
    );
    assert!(
        (values[0] - mean).abs() < 0.002,
        "{}: mean {} vs {mean}",
        protocol.name(),
        values[0]
    );
    assert!(
        (values[1] - 73.4).abs() <= 2f64.powi(-16),
        "{}: max {}",
        protocol.name(),
        values[1]
    );
}

/// The README shows network A's training program in full: it is the file, word for word.
#[test]
fn the_readme_shows_mnist_train_as_it_is() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let program = std::fs::read_to_string(root.join("examples/mnist_train.tfe")).unwrap();
    assert!(
        readme.contains(&format!("```tfe\n{program}```")),
        "README.md's copy of examples/mnist_train.tfe differs from the file"
    );
}
