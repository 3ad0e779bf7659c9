//! The program corpus under tests/programs/, sorted by expected outcome:
//!
//! - `syntax_fail/NAME.tfe`: must be rejected. Its first line, `// expect: E0006 E0006`, lists
//!   the error codes in order; the full rendered diagnostics, with the source, are a snapshot
//!   (`syntax_fail/snapshots/NAME.snap`).
//! - `parse_ok/NAME.tfe`: must parse; its AST dump is a snapshot.
//! - `check_fail/NAME.tfe`: must be rejected by the checker with exactly the errors its
//!   annotations mark. An annotation is a comment line under the code it marks:
//!   `//      ^^^^^ E0303` (the carets sit under the primary span; for a span over several
//!   lines, under its first line), `//~ E0105 col 1` (the span starts at column 1 of the line
//!   above), or `//~ E0111 end` (at the end of the file). The rendered errors are snapshots.
//! - `check_ok/NAME.tfe`: must pass the checker; each sits beside a `check_fail` program that
//!   differs from it in the one respect the rule is about.
//!
//! To accept changed snapshots after reviewing them: `INSTA_UPDATE=always cargo test`
//! (or `cargo insta review`).

use std::path::{Path, PathBuf};

use tfe_compiler::RenderOptions;
use tfe_grammar::LineIndex;

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

/// An expected error: its code, and where its primary span starts (1-based line and column)
/// and, for a span on one line, where it ends.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Expectation {
    code: String,
    line: usize,
    col: usize,
    end_col: Option<usize>,
}

fn annotations(src: &str) -> Vec<Expectation> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = Vec::new();
    let mut code_line = 0;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_end();
        if let Some(rest) = trimmed.strip_prefix("//~ ") {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            match parts.as_slice() {
                [code, "col", n] => out.push(Expectation {
                    code: code.to_string(),
                    line: code_line + 1,
                    col: n.parse().expect("a column number"),
                    end_col: None,
                }),
                [code, "end"] => {
                    let n_lines = src.lines().count();
                    out.push(Expectation {
                        code: code.to_string(),
                        line: n_lines + 1,
                        col: 1,
                        end_col: None,
                    })
                }
                _ => panic!("bad annotation: {line}"),
            }
            continue;
        }
        if let Some(body) = trimmed.strip_prefix("//")
            && let Some(start) = body.find('^')
            && body[..start].chars().all(|c| c == ' ')
        {
            let carets = body[start..].chars().take_while(|&c| c == '^').count();
            let code = body[start + carets..].trim();
            if code.starts_with('E') {
                let col = 2 + start + 1;
                out.push(Expectation {
                    code: code.to_string(),
                    line: code_line + 1,
                    col,
                    end_col: Some(col + carets),
                });
                continue;
            }
        }
        code_line = i;
    }
    out.sort();
    out
}

#[test]
fn check_fail_programs_are_rejected_where_their_annotations_say() {
    let settings = snapshot_settings("check_fail");
    let mut failures = Vec::new();
    let mut n_codes = std::collections::BTreeSet::new();
    for (name, src) in programs("check_fail") {
        let expected = annotations(&src);
        assert!(!expected.is_empty(), "{name}.tfe has no annotations");
        let diagnostics = match tfe_compiler::check(&src) {
            Ok(_) => {
                failures.push(format!("{name}: accepted, expected {expected:?}"));
                continue;
            }
            Err(d) => d,
        };
        let index = LineIndex::new(&src);
        let mut actual: Vec<Expectation> = diagnostics
            .iter()
            .map(|d| {
                let (line, col) = index.line_col(&src, d.primary.span.start);
                let (end_line, end_col) = index.line_col(&src, d.primary.span.end);
                Expectation {
                    code: d.code.to_string(),
                    line,
                    col,
                    end_col: (end_line == line).then_some(end_col),
                }
            })
            .collect();
        actual.sort();
        // A multi-line expected span is matched on its start alone.
        let matches = expected.len() == actual.len()
            && expected.iter().zip(&actual).all(|(e, a)| {
                e.code == a.code
                    && e.line == a.line
                    && e.col == a.col
                    && (e.end_col.is_none() || a.end_col.is_none() || e.end_col == a.end_col)
            });
        if !matches {
            failures.push(format!(
                "{name}:\n  expected {expected:?}\n  actual   {actual:?}"
            ));
        }
        n_codes.extend(diagnostics.iter().map(|d| d.code));
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
    // Every code of the checker and the gradient pass has a program that triggers it.
    for e in tfe_compiler::explain::all() {
        if matches!(e.code.as_bytes()[2], b'1'..=b'3' | b'5') {
            assert!(
                n_codes.contains(e.code),
                "no check_fail program triggers {}",
                e.code
            );
        }
    }
}

#[test]
fn check_ok_programs_pass_the_checker() {
    let mut failures = Vec::new();
    for (name, src) in programs("check_ok") {
        if let Err(d) = tfe_compiler::check(&src) {
            failures.push(format!(
                "{name}:\n{}",
                tfe_compiler::render(&d, &name, &src, plain())
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
