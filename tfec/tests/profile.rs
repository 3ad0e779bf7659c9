//! `tfec run --profile` and `--trace`: each party's costliest source lines with the protocol ops
//! under them, and the same as Chrome trace events; and `--quiet`.

use std::path::PathBuf;
use std::process::Command;

const PROGRAM: &str = "party alice, analyst;
party s0, s1, s2;
secret rep = aby3(s0, s1, s2);

fn main() {
    let xa: fixed[64, 64] @alice = ones([64, 64]) * 0.5;
    let x: fixed[64, 64] @rep = xa;
    let mut y = x;
    for i in 0..5 {
        y = matmul(y, x) * 0.01;
        y = select(y > 0.1, y, x);
    }
    print(reveal(sum(y), to: analyst));
}
";

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tfe-profile-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("p.tfe"), PROGRAM).unwrap();
    dir
}

#[test]
fn the_profile_names_lines_and_ops_and_the_trace_is_chrome_json() {
    let dir = scratch("embedded");
    let trace = dir.join("trace.json");
    let out = Command::new(env!("CARGO_BIN_EXE_tfec"))
        .args(["run", "--profile", "--quiet", "--trace"])
        .arg(&trace)
        .arg(dir.join("p.tfe"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for party in ["s0", "s1", "s2"] {
        assert!(err.contains(&format!("profile of {party}: ")), "{err}");
    }
    // The loop's lines, with their ops: 5 runs of the product and of the comparison.
    assert!(err.contains("line 10: y = matmul(y, x) * 0.01;"), "{err}");
    assert!(err.contains("line 11: y = select(y > 0.1, y, x);"), "{err}");
    assert!(err.contains("gt @rep (op "), "{err}");
    assert!(err.contains(", 5 runs)"), "{err}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let names: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "analyst", "s0", "s1", "s2"]);
    let comparisons = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["name"].as_str().unwrap().starts_with("line 11: gt"))
        .count();
    // Five runs of the comparison at each of the three members.
    assert_eq!(comparisons, 15);
    for e in events.iter().filter(|e| e["ph"] == "X") {
        assert!(e["ts"].as_f64().unwrap() >= 0.0 && e["dur"].as_f64().unwrap() >= 0.0);
    }
}

#[test]
fn quiet_runs_print_no_progress() {
    let dir = scratch("quiet");
    let out = Command::new(env!("CARGO_BIN_EXE_tfec"))
        .args(["run", "--quiet"])
        .arg(dir.join("p.tfe"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("progress"), "{err}");
}
