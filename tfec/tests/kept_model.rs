//! The example of models kept as shares: two hospitals train a digit classifier on shares and
//! keep it as shares (`examples/keep_model.tfe`); in a later run a clinic scores its 200 images
//! with it and learns only its scores (`examples/score_later.tfe`). In one process and with one
//! process per party over gRPC; and the design sketch's contract programs, verbatim, on the same
//! data under the names they read.
//!
//! The reference is the same training in f64 (below: the same network, loss, gradients, batches
//! and starting weights): the clinic's scores must classify its digits within one point of it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::files;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn examples_data() -> PathBuf {
    repo().join("examples/data")
}

fn read(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect()
}

/// The data the programs read, copied into `dir/<party>/` under the names `names` gives
/// (`(party, example's file, program's file)`).
fn scratch(tag: &str, names: &[(&str, &str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tfe-kept-model-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (party, from, to) in names {
        std::fs::create_dir_all(dir.join(party)).unwrap();
        std::fs::copy(
            examples_data().join(party).join(from),
            dir.join(party).join(to),
        )
        .unwrap();
    }
    dir
}

const EXAMPLE_FILES: &[(&str, &str, &str)] = &[
    ("alice", "digits_x.csv", "digits_x.csv"),
    ("alice", "digits_y.csv", "digits_y.csv"),
    ("alice", "digits_w1_init.csv", "digits_w1_init.csv"),
    ("alice", "digits_w2_init.csv", "digits_w2_init.csv"),
    ("bob", "digits_x.csv", "digits_x.csv"),
    ("bob", "digits_y.csv", "digits_y.csv"),
    ("clinic", "digits_images.csv", "digits_images.csv"),
];

/// The contract programs' names for the same files.
const CONTRACT_FILES: &[(&str, &str, &str)] = &[
    ("alice", "digits_x.csv", "x.csv"),
    ("alice", "digits_y.csv", "y.csv"),
    ("alice", "digits_w1_init.csv", "w1_init.csv"),
    ("alice", "digits_w2_init.csv", "w2_init.csv"),
    ("bob", "digits_x.csv", "x.csv"),
    ("bob", "digits_y.csv", "y.csv"),
    ("clinic", "digits_images.csv", "images.csv"),
];

fn tfec(args: &[&std::ffi::OsStr]) {
    let out = Command::new(env!("CARGO_BIN_EXE_tfec"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tfec {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_embedded(program: &Path, data: &Path) {
    tfec(&[
        "run".as_ref(),
        program.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
    ]);
}

fn argmax(row: &[f64]) -> usize {
    (0..row.len()).fold(0, |best, k| if row[k] > row[best] { k } else { best })
}

/// How many of the clinic's digits `scores` gets right.
fn correct(scores: &[Vec<f64>]) -> usize {
    let labels = read(&examples_data().join("heldout/digits_clinic_y.csv"));
    assert_eq!(scores.len(), labels.len());
    scores
        .iter()
        .zip(&labels)
        .filter(|(s, y)| argmax(s) == y[0] as usize)
        .count()
}

/// The training of `keep_model.tfe` in f64: 64-16-10, ReLU, softmax cross-entropy (gradient
/// (p - y) / n), SGD with rate 0.1 on batches of 32 of alice's rows then bob's; then the
/// clinic's images scored. Returns how many are right.
fn f64_reference() -> usize {
    let d = examples_data();
    let mut x = read(&d.join("alice/digits_x.csv"));
    x.extend(read(&d.join("bob/digits_x.csv")));
    let mut y = read(&d.join("alice/digits_y.csv"));
    y.extend(read(&d.join("bob/digits_y.csv")));
    let mut w1 = read(&d.join("alice/digits_w1_init.csv"));
    let mut w2 = read(&d.join("alice/digits_w2_init.csv"));
    let (mut b1, mut b2) = (vec![0.0; 16], vec![0.0; 10]);
    let forward = |w1: &[Vec<f64>], b1: &[f64], w2: &[Vec<f64>], b2: &[f64], xr: &[f64]| {
        let h: Vec<f64> = (0..16)
            .map(|j| (0..64).map(|k| xr[k] * w1[k][j]).sum::<f64>() + b1[j])
            .map(|v: f64| v.max(0.0))
            .collect();
        let z: Vec<f64> = (0..10)
            .map(|j| (0..16).map(|k| h[k] * w2[k][j]).sum::<f64>() + b2[j])
            .collect();
        (h, z)
    };
    for batch in 0..x.len() / 32 {
        let rows = batch * 32..(batch + 1) * 32;
        let (mut g1, mut gb1) = (vec![vec![0.0; 16]; 64], vec![0.0; 16]);
        let (mut g2, mut gb2) = (vec![vec![0.0; 10]; 16], vec![0.0; 10]);
        for r in rows {
            let (h, z) = forward(&w1, &b1, &w2, &b2, &x[r]);
            let top = z.iter().cloned().fold(f64::MIN, f64::max);
            let e: Vec<f64> = z.iter().map(|v| (v - top).exp()).collect();
            let s: f64 = e.iter().sum();
            let dz: Vec<f64> = (0..10).map(|j| (e[j] / s - y[r][j]) / 32.0).collect();
            for k in 0..16 {
                for j in 0..10 {
                    g2[k][j] += h[k] * dz[j];
                }
            }
            for j in 0..10 {
                gb2[j] += dz[j];
            }
            for k in 0..16 {
                if h[k] > 0.0 {
                    let dh: f64 = (0..10).map(|j| dz[j] * w2[k][j]).sum();
                    for a in 0..64 {
                        g1[a][k] += x[r][a] * dh;
                    }
                    gb1[k] += dh;
                }
            }
        }
        for a in 0..64 {
            for k in 0..16 {
                w1[a][k] -= 0.1 * g1[a][k];
            }
        }
        for k in 0..16 {
            b1[k] -= 0.1 * gb1[k];
            for j in 0..10 {
                w2[k][j] -= 0.1 * g2[k][j];
            }
        }
        for j in 0..10 {
            b2[j] -= 0.1 * gb2[j];
        }
    }
    let images = read(&d.join("clinic/digits_images.csv"));
    let scores: Vec<Vec<f64>> = images
        .iter()
        .map(|xr| forward(&w1, &b1, &w2, &b2, xr).1)
        .collect();
    correct(&scores)
}

/// The clinic's scores in `dir` are probabilities and classify within one point of f64.
fn check_scores(dir: &Path) -> Vec<Vec<f64>> {
    let scores = read(&dir.join("clinic/scores.csv"));
    for row in &scores {
        assert_eq!(row.len(), 10);
        let total: f64 = row.iter().sum();
        assert!((total - 1.0).abs() < 0.02, "probabilities sum to {total}");
    }
    let (got, want) = (correct(&scores), f64_reference());
    assert!(
        got.abs_diff(want) <= 2,
        "the clinic's digits: {got} of 200 right on shares, {want} in f64"
    );
    scores
}

/// After storing: s0, s1 and s2 hold one file each, their share; nobody else got anything.
fn check_store(dir: &Path, inputs: &[(&str, &str, &str)], name: &str) {
    let mut expected: Vec<String> = inputs.iter().map(|(p, _, f)| format!("{p}/{f}")).collect();
    for s in ["s0", "s1", "s2"] {
        expected.push(format!("{s}/{name}.shares"));
    }
    expected.sort();
    let got: Vec<String> = files(dir)
        .into_iter()
        .filter(|f| !f.ends_with(".tfe") && !f.ends_with(".toml"))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn the_example_in_one_process() {
    let dir = scratch("embedded", EXAMPLE_FILES);
    run_embedded(&repo().join("examples/keep_model.tfe"), &dir);
    check_store(&dir, EXAMPLE_FILES, "digits_model");
    run_embedded(&repo().join("examples/score_later.tfe"), &dir);
    check_scores(&dir);
}

#[test]
fn the_contract_programs_verbatim() {
    let dir = scratch("contract", CONTRACT_FILES);
    run_embedded(&repo().join("tests/contract/keep_model.tfe"), &dir);
    check_store(&dir, CONTRACT_FILES, "digits_model");
    run_embedded(&repo().join("tests/contract/score_later.tfe"), &dir);
    check_scores(&dir);
}

/// A players.toml for `parties` with fresh ports and data directories under `dir`.
fn players(dir: &Path, file: &str, parties: &[&str]) -> PathBuf {
    let listeners: Vec<_> = parties
        .iter()
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut text = String::new();
    for (p, l) in parties.iter().zip(&listeners) {
        text.push_str(&format!(
            "[parties.{p}]\naddress = \"127.0.0.1:{}\"\ndata = \"{p}\"\n",
            l.local_addr().unwrap().port()
        ));
    }
    drop(listeners);
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_example_with_one_process_per_party_over_grpc() {
    let dir = scratch("grpc", EXAMPLE_FILES);
    let keep = players(&dir, "keep.toml", &["alice", "bob", "s0", "s1", "s2"]);
    tfec(&[
        "run".as_ref(),
        repo().join("examples/keep_model.tfe").as_os_str(),
        "--players".as_ref(),
        keep.as_os_str(),
    ]);
    check_store(&dir, EXAMPLE_FILES, "digits_model");
    let score = players(
        &dir,
        "score.toml",
        &["alice", "bob", "clinic", "s0", "s1", "s2"],
    );
    tfec(&[
        "run".as_ref(),
        repo().join("examples/score_later.tfe").as_os_str(),
        "--players".as_ref(),
        score.as_os_str(),
    ]);
    check_scores(&dir);
}
