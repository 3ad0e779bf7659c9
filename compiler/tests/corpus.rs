//! The program corpus under tests/programs/, sorted by expected outcome:
//!
//! - `syntax_fail/NAME.tfe`: must be rejected. Its first line, `// expect: E0006 E0006`, lists
//!   the error codes in order; the full rendered diagnostics, with the source, are a snapshot
//!   (`syntax_fail/snapshots/NAME.snap`).
//! - `parse_ok/NAME.tfe`: must parse; its AST dump is a snapshot.
//!
//! To accept changed snapshots after reviewing them: `INSTA_UPDATE=always cargo test`
//! (or `cargo insta review`).

use std::path::{Path, PathBuf};

use tfe_compiler::RenderOptions;

fn corpus_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/programs")
        .join(kind)
}

fn programs(kind: &str) -> Vec<(String, String)> {
    let dir = corpus_dir(kind);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tfe"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no programs in {}", dir.display());
    out
}

fn snapshot_settings(kind: &str) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(corpus_dir(kind).join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings
}

fn plain() -> RenderOptions {
    RenderOptions { color: false }
}

#[test]
fn syntax_fail_programs_are_rejected_with_their_codes() {
    let settings = snapshot_settings("syntax_fail");
    let mut failures = Vec::new();
    for (name, src) in programs("syntax_fail") {
        let expected: Vec<&str> = src
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// expect:"))
            .unwrap_or_else(|| panic!("{name}.tfe must start with `// expect: CODE…`"))
            .split_whitespace()
            .collect();
        let diagnostics = match tfe_compiler::check(&src) {
            Ok(_) => {
                failures.push(format!("{name}: accepted, expected {expected:?}"));
                continue;
            }
            Err(d) => d,
        };
        let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
        if codes != expected {
            failures.push(format!("{name}: codes {codes:?}, expected {expected:?}"));
        }
        let file = format!("{name}.tfe");
        let rendered = tfe_compiler::render(&diagnostics, &file, &src, plain());
        settings.bind(|| {
            insta::assert_snapshot!(
                name.as_str(),
                format!("{src}\n---- diagnostics ----\n{rendered}")
            );
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn parse_ok_programs_parse_and_their_trees_are_snapshots() {
    let settings = snapshot_settings("parse_ok");
    for (name, src) in programs("parse_ok") {
        let program = tfe_compiler::parse(&src).unwrap_or_else(|d| {
            panic!("{name}: {}", tfe_compiler::render(&d, &name, &src, plain()))
        });
        let dump = tfe_grammar::dump::program(&program, &src);
        settings.bind(|| insta::assert_snapshot!(name.as_str(), dump));
    }
}

#[test]
fn every_code_the_compiler_emits_is_explained() {
    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, _) in text.match_indices("\"E0") {
            let code = &text[i + 1..i + 6];
            assert!(
                tfe_compiler::explain::lookup(code).is_some(),
                "{code} is emitted but `tfec explain {code}` knows nothing of it"
            );
        }
    }
}
