//! Files tfec writes are never seen half-written: a run killed while it writes a result leaves the
//! previous result whole (or the new one whole), and `tfec certs` writes keys readable by their
//! owner only, with nothing left over.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tfec-atomic-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const ROWS: usize = 4000;
const COLS: usize = 400;

/// The program: party `a` writes a 4000 × 400 matrix of 2.5s (about 6 MB of text).
fn program(dir: &Path) -> PathBuf {
    let src = format!(
        "party a;\nfn main() {{\n    let x: fixed[{ROWS}, {COLS}] @a = ones([{ROWS}, {COLS}]) * 2.5;\n    write_csv(x, \"big.csv\");\n}}\n"
    );
    let path = dir.join("big.tfe");
    std::fs::write(&path, src).unwrap();
    path
}

/// The result of a finished run: every row of `COLS` 2.5s.
fn is_new_result(text: &str) -> bool {
    let rows: Vec<&str> = text.lines().collect();
    rows.len() == ROWS
        && rows
            .iter()
            .all(|r| r.split(',').count() == COLS && r.split(',').all(|v| v == "2.5"))
}

const PREVIOUS: &str = "previous,result\n1,2\n";

#[test]
fn a_run_killed_while_writing_its_result_leaves_a_whole_file() {
    let dir = scratch("killed");
    let prog = program(&dir);
    let out_dir = dir.join("data/a");
    std::fs::create_dir_all(&out_dir).unwrap();
    let result = out_dir.join("big.csv");
    let mut caught = 0;
    for attempt in 0..10 {
        std::fs::write(&result, PREVIOUS).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tfec"))
            .args(["run", "--data"])
            .arg(dir.join("data"))
            .arg(&prog)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill it the moment its temporary file appears: while the result is being written.
        let start = Instant::now();
        let mut writing = false;
        while start.elapsed() < Duration::from_secs(120) {
            writing = std::fs::read_dir(&out_dir)
                .unwrap()
                .any(|e| e.unwrap().file_name().to_string_lossy().contains(".tmp-"));
            if writing || child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(300));
        }
        let _ = child.kill();
        child.wait().unwrap();
        caught += usize::from(writing);
        let text = std::fs::read_to_string(&result).unwrap();
        assert!(
            text == PREVIOUS || is_new_result(&text),
            "attempt {attempt}: the result is neither the previous one nor the new one whole ({} bytes)",
            text.len()
        );
        // What a killed run leaves is a hidden temporary file, never read as a result.
        for e in std::fs::read_dir(&out_dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                name == "big.csv" || name.starts_with(".big.csv.tmp-"),
                "{name}"
            );
        }
        if caught >= 3 {
            break;
        }
    }
    assert!(caught > 0, "no run was caught while writing");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn certificates_are_written_whole_and_keys_private() {
    let dir = scratch("certs");
    let players = dir.join("players.toml");
    std::fs::write(
        &players,
        "[parties.a]\naddress = \"127.0.0.1:7401\"\n[parties.b]\naddress = \"127.0.0.1:7402\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tfec"))
        .arg("certs")
        .arg(&players)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let certs = dir.join("certs");
    let mut names: Vec<String> = std::fs::read_dir(&certs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["a.key", "a.pem", "b.key", "b.pem", "ca.key", "ca.pem"]
    );
    #[cfg(unix)]
    for key in ["a.key", "b.key", "ca.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(certs.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{key} is readable by others: {mode:o}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
