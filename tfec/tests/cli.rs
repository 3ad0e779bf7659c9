//! The `tfec` command line as a user meets it: exit codes, where output goes, help texts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tfec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tfec"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("tfec runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn logreg() -> String {
    repo().join("examples/logreg.tfe").display().to_string()
}

/// A file in a fresh scratch directory.
fn scratch_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tfec-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_accepts_the_sketch_program() {
    let out = tfec(&["check", &logreg()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("logreg.tfe: ok"));
    assert!(out.stdout.is_empty());
}

#[test]
fn check_reports_every_error_and_exits_1() {
    let file = scratch_file(
        "two_errors.tfe",
        b"fn main() {\n    let x = 1\n    let y = 2;\n    let z = ;\n}\n",
    );
    let out = tfec(&["check", "--color", "never", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("[E0006]").count(), 2, "{stderr}");
    assert!(
        stderr.contains("expected `;` after this statement"),
        "{stderr}"
    );
    assert!(stderr.contains("has 2 errors"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no colour with --color never");
}

#[test]
fn color_always_colours_and_never_does_not() {
    let file = scratch_file("bad.tfe", b"fn main() { let = 1; }\n");
    let coloured = tfec(&["check", "--color", "always", file.to_str().unwrap()]);
    assert!(text(&coloured.stderr).contains('\u{1b}'));
    let plain = tfec(&["--color", "never", "check", file.to_str().unwrap()]);
    assert!(!text(&plain.stderr).contains('\u{1b}'));
}

#[test]
fn missing_file_is_a_usage_error() {
    let out = tfec(&["check", "/nonexistent/prog.tfe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read `/nonexistent/prog.tfe`"));
}

#[test]
fn non_utf8_source_is_a_program_error_with_its_line() {
    let file = scratch_file("latin1.tfe", b"party alice;\n// caf\xe9\n");
    let out = tfec(&["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not UTF-8 text: invalid byte 0xe9 on line 2"));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let src = format!(
        "fn main() {{ let x = {}1{}; }}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let file = scratch_file("deep.tfe", src.as_bytes());
    let out = tfec(&["check", "--color", "never", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("[E0009]"));
}

#[test]
fn build_emit_ast_prints_the_tree() {
    let out = tfec(&["build", &logreg(), "--emit", "ast"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    insta::assert_snapshot!("logreg_ast", text(&out.stdout));
}

#[test]
fn build_emit_ir_protocol_and_party_programs() {
    let ir = text(&tfec(&["build", &logreg(), "--emit", "ir"]).stdout);
    assert!(ir.contains("= share %0 from alice to rep"), "{ir}");
    assert!(ir.contains("matmul.trunc16"), "{ir}");
    assert!(ir.contains("for %"), "loops stay loops:\n{ir}");
    let protocol = text(&tfec(&["build", &logreg(), "--emit", "protocol"]).stdout);
    assert!(protocol.contains("round 1: s0 -> s2"), "{protocol}");
    let s0 = text(&tfec(&["build", &logreg(), "--emit", "party:s0"]).stdout);
    let alice = text(&tfec(&["build", &logreg(), "--emit", "party:alice"]).stdout);
    assert!(
        s0.contains("matmul.trunc16") && !alice.contains("matmul.trunc16"),
        "alice takes no part in the training"
    );
    assert!(alice.contains("read_csv \"alice_x.csv\"") && !s0.contains("read_csv"));
    let out = tfec(&["build", &logreg(), "--emit", "party:mallory"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`mallory` is not a party of this program"));
    let out = tfec(&["build", &logreg(), "--emit", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown stage `bogus`"));
}

#[test]
fn build_emit_shows_the_program_after_each_pass() {
    // A block with `relu(h)` and `relu_grad(h)`: the comparison `h > 0` twice before `cse`, once
    // after it.
    let dir = std::env::temp_dir().join(format!("tfe-emit-passes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("prog.tfe");
    std::fs::write(
        &file,
        "use std::nn::{relu, relu_grad};\nparty a, b, c;\nsecret rep = aby3(a, b, c);\n\
         fn main() {\n    let x: fixed[4] @a = ones([4]);\n    let h: fixed[4] @rep = x;\n    \
         print(reveal(relu(h) * relu_grad(h), to: a));\n}\n",
    )
    .unwrap();
    let file = file.display().to_string();
    let stage = |pass: &str| {
        let out = tfec(&["build", &file, "--emit", pass]);
        assert_eq!(out.status.code(), Some(0), "{pass}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    assert!(stage("parse").contains("Call"), "the syntax tree");
    assert!(stage("check").contains("fn#"), "the checked program");
    let count = |ir: &str| ir.matches(" gt ").count();
    assert_eq!(count(&stage("lower")), 2, "{}", stage("lower"));
    assert_eq!(count(&stage("cse")), 1, "{}", stage("cse"));
    assert_eq!(
        stage("dce"),
        stage("ir"),
        "the last pass gives the IR that runs"
    );
    assert!(
        stage("gradients").contains("fn#"),
        "the checked program, gradients derived"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_prints_a_wrong_and_a_right_example() {
    let out = tfec(&["explain", "E0006"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("E0006: unexpected token"));
    assert!(stdout.contains("Wrong:") && stdout.contains("Right:"));
    let list = text(&tfec(&["explain"]).stdout);
    assert!(list.lines().any(|l| l.starts_with("E0001")));
    let unknown = tfec(&["explain", "E9999"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn help_texts_describe_the_commands() {
    let out = tfec(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for word in ["check", "build", "explain", "--color"] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    let build = text(&tfec(&["build", "--help"]).stdout);
    assert!(build.contains("--emit"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(tfec(&[]).status.code(), Some(2));
    assert_eq!(tfec(&["check"]).status.code(), Some(2));
    assert_eq!(tfec(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn policy_of_the_sketch_program() {
    let out = tfec(&["policy", &logreg()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let policy = text(&out.stdout).replace(&logreg(), "examples/logreg.tfe");
    // The acceptance: alice's and bob's data reach only `rep`, and `w` and `b` are
    // revealed to `analyst` alone.
    for party in ["alice", "bob"] {
        let section: String = policy
            .lines()
            .skip_while(|l| !l.starts_with(&format!("  {party} reads")))
            .take(3)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(section.contains("is secret-shared into rep"), "{section}");
        assert!(
            section.contains("reaches analyst only through the declassifications at lines 38, 39"),
            "{section}"
        );
    }
    assert!(policy.contains("line 38: `w` (secret at rep) is revealed to analyst"));
    assert!(policy.contains("line 39: `b` (secret at rep) is revealed to analyst"));
    insta::assert_snapshot!("logreg_policy", policy);
}

#[test]
fn policy_of_a_program_with_errors_reports_them() {
    let file = scratch_file("leaky.tfe", b"party alice, bob;\nfn main() {\n    let a: fixed @alice = 1.0;\n    let b: fixed @bob = a;\n}\n");
    let out = tfec(&["policy", "--color", "never", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("[E0302]"));
    assert!(out.stdout.is_empty());
}

#[test]
fn check_format_json_is_valid_json_with_codes_and_spans() {
    let file = scratch_file("json.tfe", b"party alice, bob;\nfn main() {\n    let a: fixed @alice = 1.0;\n    let b: fixed @bob = 2.0;\n    let c = a + b;\n}\n");
    let out = tfec(&["check", "--format", "json", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json["errors"], 1);
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "E0303");
    assert_eq!(d["primary"]["line"], 5);
    assert_eq!(d["primary"]["column"], 13);
    assert_eq!(d["secondary"].as_array().unwrap().len(), 2);
    assert!(d["help"].as_str().unwrap().contains("secret placement"));
    let ok = tfec(&["check", "--format", "json", &logreg()]);
    assert_eq!(ok.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("valid JSON");
    assert_eq!(json["errors"], 0);
}

#[test]
fn build_emit_hir_shows_types_and_placements() {
    let out = tfec(&["build", &logreg(), "--emit", "hir"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let hir = text(&out.stdout);
    assert!(hir.contains("let x: fixed[_, 30] @rep"));
    assert!(
        hir.contains("let xi: fixed[32, 30] @rep"),
        "slices by the loop variable have a static length"
    );
    insta::assert_snapshot!("logreg_hir", hir);
}
