//! Helpers shared by the example tests: the examples' data copied to a scratch directory (the
//! runs write their outputs there, not into the repository), and CSV files read as matrices.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::Array2;

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// A fresh copy of examples/data for one test.
pub fn scratch_data(name: &str) -> PathBuf {
    let data = std::env::temp_dir().join(format!("tfe-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    copy_dir(&examples().join("data"), &data);
    data
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A CSV file (gzip-compressed when its name ends in `.gz`) as a matrix; one column for a
/// file of one value per line; a header row is skipped.
pub fn read_matrix(path: &Path) -> Array2<f64> {
    let mut text = String::new();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
    } else {
        text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        // A header: a first row that is not numeric (as `read_csv` skips it).
        .filter(|(i, l)| *i > 0 || l.split(',').all(|v| v.trim().parse::<f64>().is_ok()))
        .map(|(_, l)| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect();
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).unwrap()
}

/// Runs an example with its data in `data`; returns its standard output.
pub fn run_example(name: &str, data: &Path, extra: &[&str]) -> String {
    let mut args: Vec<std::ffi::OsString> = ["run", "--seed", "3", "--data"]
        .iter()
        .map(Into::into)
        .collect();
    args.push(data.into());
    args.extend(extra.iter().map(Into::into));
    args.push(examples().join(name).into());
    tfec(&args)
}

/// Runs `tfec` with `args`; returns its standard output, or fails the test with its errors.
pub fn tfec<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tfec"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tfec {:?}: {}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The tensors `party` printed (`[party] [[1, 2], [3, 4]]`), one flattened row per line.
pub fn printed(stdout: &str, party: &str) -> Vec<Vec<f64>> {
    let prefix = format!("[{party}] ");
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|l| {
            l.replace(['[', ']'], "")
                .split(", ")
                .map(|v| v.trim().parse().unwrap())
                .collect()
        })
        .collect()
}
