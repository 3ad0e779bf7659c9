//! `tfec import`: each fixture of import/tests/fixtures (ONNX models from PyTorch's two
//! exporters and scikit-learn's converter, made by import/tools/make_fixtures.py) is imported,
//! run on secret shares with `tfec run`, and compared with onnxruntime's outputs saved beside
//! it. Refusals exit 1, name each operator and node, and write nothing. Also `read_npy` and
//! `write_npy`, which imported programs read their parameters with, at parties on their own.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../import/tests/fixtures")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tfe-import-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn tfec(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tfec"))
        .args(args)
        .output()
        .unwrap()
}

/// Imports a fixture, runs it on shares, and returns (tfe's outputs, onnxruntime's).
fn import_and_run(name: &str) -> (ndarray::Array2<f64>, ndarray::Array2<f64>) {
    let out = scratch(name);
    let model = fixture(name).join("model.onnx");
    let stdout = support::tfec(&[
        "import".as_ref(),
        model.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(stdout.contains("wrote"), "{stdout}");
    std::fs::copy(
        fixture(name).join("input.csv"),
        out.join("data/client/input.csv"),
    )
    .unwrap();
    support::tfec(&["run".as_ref(), out.join("model.tfe").as_os_str()]);
    let got = support::read_matrix(&out.join("data/client/output.csv"));
    let want = support::read_matrix(&fixture(name).join("expected.csv"));
    let _ = std::fs::remove_dir_all(&out);
    (got, want)
}

/// Every fixture's outputs on shares are within 1e-3 + 1e-3 |y| of onnxruntime's (measured:
/// at most 7.3e-5; the error of the layers is in docs/language.md).
#[test]
fn fixtures_run_on_shares_and_match_onnxruntime() {
    for name in [
        "mlp",
        "lenet",
        "resblock",
        "mobile",
        "sklearn_logreg",
        "sklearn_mlp",
    ] {
        let (got, want) = import_and_run(name);
        assert_eq!(got.dim(), want.dim(), "{name}: shape");
        let worst = got
            .iter()
            .zip(want.iter())
            .map(|(g, w)| (g - w).abs())
            .fold(0.0, f64::max);
        eprintln!("{name}: worst absolute error {worst:.2e} against onnxruntime");
        for (g, w) in got.iter().zip(want.iter()) {
            assert!((g - w).abs() <= 1e-3 + 1e-3 * w.abs(), "{name}: {g} vs {w}");
        }
    }
}

/// A model with operators tfe lacks: exit 1, each operator and node named, nothing written.
#[test]
fn unsupported_operators_are_refused_and_nothing_is_written() {
    let out = scratch("refused");
    let model = fixture("unsupported").join("model.onnx");
    let result = tfec(&[
        "import".as_ref(),
        model.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("2 operators that tfe does not support"),
        "{stderr}"
    );
    assert!(stderr.contains("Gelu (node `/Gelu`)"), "{stderr}");
    assert!(
        stderr.contains("LayerNormalization (node `/norm/LayerNormalization`)"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(!out.exists(), "{} was created", out.display());
}

/// Files already there are kept unless `--force`; bad party names and files are usage errors
/// (exit 2); other names and protocols reach the program, which runs.
#[test]
fn options_and_existing_files() {
    let out = scratch("options");
    let model = fixture("mlp").join("model.onnx");
    let args = |extra: &[&str]| -> Vec<std::ffi::OsString> {
        let mut a: Vec<std::ffi::OsString> = vec![
            "import".into(),
            model.clone().into(),
            "--out".into(),
            out.clone().into(),
        ];
        a.extend(extra.iter().map(Into::into));
        a
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        let refs: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
        tfec(&refs)
    };
    assert!(run(&[]).status.success());
    let again = run(&[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("pass --force"));
    let named = run(&[
        "--force",
        "--owner",
        "bank",
        "--client",
        "customer",
        "--servers",
        "a,b,c",
        "--protocol",
        "pond",
    ]);
    assert!(
        named.status.success(),
        "{}",
        String::from_utf8_lossy(&named.stderr)
    );
    let program = std::fs::read_to_string(out.join("model.tfe")).unwrap();
    assert!(program.contains("party bank, customer;"), "{program}");
    assert!(
        program.contains("secret rep = pond(a, b, dealer = c);"),
        "{program}"
    );
    assert!(out.join("data/bank/fc1_weight.npy").exists());
    assert!(out.join("data/customer").is_dir());
    // `tfec check` agrees, and the program runs on pond's shares as on aby3's.
    support::tfec(&["check".as_ref(), out.join("model.tfe").as_os_str()]);
    std::fs::copy(
        fixture("mlp").join("input.csv"),
        out.join("data/customer/input.csv"),
    )
    .unwrap();
    support::tfec(&["run".as_ref(), out.join("model.tfe").as_os_str()]);
    let got = support::read_matrix(&out.join("data/customer/output.csv"));
    let want = support::read_matrix(&fixture("mlp").join("expected.csv"));
    assert_eq!(got.dim(), want.dim());
    for (g, w) in got.iter().zip(want.iter()) {
        assert!((g - w).abs() <= 1e-3 + 1e-3 * w.abs(), "pond: {g} vs {w}");
    }
    for bad in [
        &["--servers", "a,b"][..],
        &["--owner", "fn", "--force"],
        &["--client", "s0", "--force"],
    ] {
        let r = run(bad);
        assert_eq!(r.status.code(), Some(2), "{bad:?}");
    }
    let missing = tfec(&[
        "import".as_ref(),
        "no-such.onnx".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(missing.status.code(), Some(2));
    let not_onnx = tfec(&[
        "import".as_ref(),
        fixture("mlp").join("input.csv").as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(not_onnx.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&not_onnx.stderr).contains("cannot import"));
    let _ = std::fs::remove_dir_all(&out);
}

/// examples/onnx: the committed program and parameters are what `tfec import` makes of
/// `digits.onnx` today, and running them on shares gives onnxruntime's probabilities (within
/// 1e-3; measured 6e-5) and its predictions for the 100 held-out digits.
#[test]
fn the_imported_example_is_current_and_agrees_with_onnxruntime() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/onnx");
    let out = scratch("example");
    support::tfec(&[
        "import".as_ref(),
        example.join("digits.onnx").as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let committed = std::fs::read_to_string(example.join("digits/model.tfe")).unwrap();
    let made = std::fs::read_to_string(out.join("model.tfe")).unwrap();
    assert_eq!(
        made, committed,
        "examples/onnx/digits/model.tfe is not what `tfec import examples/onnx/digits.onnx` makes; re-run it (README there)"
    );
    for entry in std::fs::read_dir(out.join("data/owner")).unwrap() {
        let name = entry.unwrap().file_name();
        assert_eq!(
            std::fs::read(out.join("data/owner").join(&name)).unwrap(),
            std::fs::read(example.join("digits/data/owner").join(&name)).unwrap(),
            "{name:?} differs"
        );
    }
    std::fs::copy(
        example.join("digits/data/client/input.csv"),
        out.join("data/client/input.csv"),
    )
    .unwrap();
    support::tfec(&["run".as_ref(), out.join("model.tfe").as_os_str()]);
    let got = support::read_matrix(&out.join("data/client/output.csv"));
    let want = support::read_matrix(&example.join("digits_expected.csv"));
    let labels = support::read_matrix(&example.join("digits_labels.csv"));
    let argmax = |row: ndarray::ArrayView1<f64>| {
        row.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0
    };
    let mut correct = 0;
    for i in 0..got.nrows() {
        for j in 0..got.ncols() {
            assert!((got[[i, j]] - want[[i, j]]).abs() < 1e-3, "({i}, {j})");
        }
        assert_eq!(argmax(got.row(i)), argmax(want.row(i)), "example {i}");
        correct += usize::from(argmax(got.row(i)) == labels[[i, 0]] as usize);
    }
    assert_eq!(correct, 96, "held-out digits classified correctly");
    let _ = std::fs::remove_dir_all(&out);
}

/// A `.npy` file of version 1.0 (what NumPy's `np.save` writes for small headers).
fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// `read_npy` and `write_npy` at parties, outside imported models: a file read, shared,
/// computed on and written back at another party; a file of another shape or not a `.npy`
/// file ends the run at every party with exit 3 and a message naming the file.
#[test]
fn npy_files_are_read_and_written_at_parties() {
    let dir = scratch("npy");
    std::fs::create_dir_all(dir.join("data/alice")).unwrap();
    let program = dir.join("p.tfe");
    std::fs::write(
        &program,
        "party alice, bob;\nparty s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\n\
         fn main() {\n    let w: fixed[3, 2] @alice = read_npy(\"w.npy\");\n    \
         let x: fixed[3, 2] @rep = w;\n    write_npy(reveal(x * 2.0 - 1.0, to: bob), \"y.npy\");\n}\n",
    )
    .unwrap();
    let w: Vec<f32> = vec![0.5, -1.25, 2.0, 3.75, -4.5, 100.0];
    let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join("data/alice/w.npy"), npy("<f4", &[3, 2], &bytes)).unwrap();
    support::tfec(&["run".as_ref(), program.as_os_str()]);
    let y = std::fs::read(dir.join("data/bob/y.npy")).unwrap();
    assert!(y.starts_with(b"\x93NUMPY"));
    let header_len = u16::from_le_bytes([y[8], y[9]]) as usize;
    let header = std::str::from_utf8(&y[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<f8'"), "{header}");
    assert!(header.contains("'shape': (3, 2)"), "{header}");
    let got: Vec<f64> = y[10 + header_len..]
        .chunks(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(got.len(), 6);
    for (g, v) in got.iter().zip(&w) {
        let want = 2.0 * f64::from(*v) - 1.0;
        assert!((g - want).abs() < 1e-4, "{g} vs {want}");
    }
    for (file, message) in [
        (
            npy("<f4", &[4, 2], &[0; 32]),
            "holds an array of shape [4, 2], which does not fit the declared shape [3, 2]",
        ),
        (b"not numpy at all".to_vec(), "is not a NumPy .npy file"),
    ] {
        std::fs::write(dir.join("data/alice/w.npy"), file).unwrap();
        let r = tfec(&["run".as_ref(), program.as_os_str()]);
        assert_eq!(r.status.code(), Some(3));
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(
            stderr.contains("w.npy") && stderr.contains(message),
            "{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
