//! The small examples run as their comments say.

use std::path::Path;
use std::process::Command;

#[test]
fn salaries_reveals_the_mean_and_the_maximum() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/salaries.tfe");
    let out = Command::new(env!("CARGO_BIN_EXE_tfec"))
        .arg("run")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let values: Vec<f64> = String::from_utf8_lossy(&out.stdout)
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
        "mean {} vs {mean}",
        values[0]
    );
    assert!(
        (values[1] - 73.4).abs() <= 2f64.powi(-16),
        "max {}",
        values[1]
    );
}
