//! `read_csv` and `write_csv`: a party's files, under its data directory.
//!
//! Reading skips a header row when the first row is not numeric, and reads a 1-D tensor from one
//! row or one column. A file whose shape disagrees with the declared type is an error that names
//! the file, the declared shape and what was found. Writing puts a 1-D tensor on one row and a
//! 2-D tensor row by row, through [`write_atomic`] (the one way tfe writes a file).

use std::fmt::Write as _;
use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use tfe_ir::{Dim, Scalar};

use crate::RunError;
use crate::value::Value;

fn describe(shape: &[Dim]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| match d {
            Dim::Known(n) => n.to_string(),
            Dim::Runtime => "_".to_string(),
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

/// A file's text; a name ending in `.gz` is gunzipped first (data sets ship compressed).
fn read_text(path: &Path) -> Result<String, RunError> {
    let cannot = |e: std::io::Error| RunError::Io(format!("cannot read {}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Read;
        let file = std::fs::File::open(path).map_err(cannot)?;
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file))
            .read_to_string(&mut text)
            .map_err(|e| {
                RunError::Io(format!(
                    "cannot read {} as gzip-compressed text: {e}",
                    path.display()
                ))
            })?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(cannot)
    }
}

/// Reads a CSV file as a tensor of the declared kind and shape (rank 0, 1 or 2).
pub fn read(path: &Path, scalar: Scalar, shape: &[Dim]) -> Result<Value, RunError> {
    let text = read_text(path)?;
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: Result<Vec<f64>, _> = cells.iter().map(|c| c.parse::<f64>()).collect();
        match parsed {
            Ok(values) => rows.push(values),
            // A header: a first row that is not numeric.
            Err(_) if rows.is_empty() && i == 0 => {}
            Err(_) => {
                return Err(RunError::Io(format!(
                    "{}: line {} is not a row of numbers: `{line}`",
                    path.display(),
                    i + 1
                )));
            }
        }
    }
    let n_cols = rows.first().map_or(0, Vec::len);
    if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != n_cols) {
        return Err(RunError::Io(format!(
            "{}: row {} has {} values, the first has {n_cols}",
            path.display(),
            i + 1,
            r.len()
        )));
    }
    let (dims, data): (Vec<usize>, Vec<f64>) = match shape.len() {
        0 => match rows.as_slice() {
            [r] if r.len() == 1 => (vec![], r.clone()),
            _ => return Err(mismatch(path, shape, rows.len(), n_cols)),
        },
        1 => {
            if rows.len() == 1 {
                (vec![n_cols], rows[0].clone())
            } else if n_cols == 1 {
                (vec![rows.len()], rows.iter().map(|r| r[0]).collect())
            } else {
                return Err(mismatch(path, shape, rows.len(), n_cols));
            }
        }
        2 => (vec![rows.len(), n_cols], rows.concat()),
        _ => return Err(RunError::Internal("read_csv of rank > 2".into())),
    };
    for (d, want) in dims.iter().zip(shape) {
        if let Dim::Known(n) = want
            && *n as usize != *d
        {
            return Err(mismatch(path, shape, rows.len(), n_cols));
        }
    }
    let shape = IxDyn(&dims);
    Ok(match scalar {
        Scalar::Fixed | Scalar::Float => {
            Value::F64(ArrayD::from_shape_vec(shape, data).expect("sizes match"))
        }
        Scalar::Int => {
            if let Some(v) = data.iter().find(|v| v.fract() != 0.0) {
                return Err(RunError::Io(format!(
                    "{}: `{v}` is not an integer, and the data is declared `int`",
                    path.display()
                )));
            }
            Value::I64(
                ArrayD::from_shape_vec(shape, data.iter().map(|v| *v as i64).collect())
                    .expect("sizes match"),
            )
        }
        Scalar::Bool => Value::Bool(
            ArrayD::from_shape_vec(shape, data.iter().map(|v| *v != 0.0).collect())
                .expect("sizes match"),
        ),
    })
}

fn mismatch(path: &Path, shape: &[Dim], rows: usize, cols: usize) -> RunError {
    RunError::Io(format!(
        "{} holds {rows} row{} of {cols} value{}, which does not fit the declared shape {}",
        path.display(),
        if rows == 1 { "" } else { "s" },
        if cols == 1 { "" } else { "s" },
        describe(shape)
    ))
}

/// The text of a value as a CSV file.
pub fn to_csv(value: &Value) -> Result<String, RunError> {
    let cells: Vec<String> = match value {
        Value::F64(t) => t.iter().map(|v| format!("{v}")).collect(),
        Value::I64(t) => t.iter().map(|v| v.to_string()).collect(),
        Value::Bool(t) => t
            .iter()
            .map(|v| if *v { "1".into() } else { "0".into() })
            .collect(),
        Value::Shares(_) | Value::Shares128(_) => {
            return Err(RunError::Internal("write_csv of shares".into()));
        }
    };
    let shape = value.shape();
    let mut out = String::new();
    match shape.len() {
        0 | 1 => {
            let _ = writeln!(out, "{}", cells.join(","));
        }
        2 => {
            for row in cells.chunks(shape[1].max(1)) {
                let _ = writeln!(out, "{}", row.join(","));
            }
        }
        _ => return Err(RunError::Internal("write_csv of rank > 2".into())),
    }
    Ok(out)
}

/// Writes a value as CSV, atomically ([`write_atomic`]): a run stopped while writing leaves the
/// previous file, never a truncated one.
pub fn write(path: &Path, value: &Value) -> Result<(), RunError> {
    let text = to_csv(value)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| RunError::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    write_atomic(path, text.as_bytes(), false)
        .map_err(|e| RunError::Io(format!("cannot write {}: {e}", path.display())))
}

/// Writes a file so that it is never seen half-written: the bytes go to a temporary file in the
/// same directory (`.NAME.tmp-PID-N`), which is flushed to disk and then renamed over `path`. A
/// reader, or a later run after this one was killed, finds the previous file whole, or the new
/// one whole, never a truncated one that looks like a result. (A run killed while writing leaves
/// its temporary file behind, under a name no program reads.) With `private`, the file is
/// created readable by its owner only (mode 0600 on Unix) from its first byte: a key is never
/// readable by others, not even between its creation and a `chmod`.
///
/// Every file tfe writes goes through here: `write_csv`'s results and `tfec certs`' certificates
/// and keys; `write_shares`' files through its two halves ([`Staged`]).
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    Staged::write(path, bytes, private)?.commit()
}

/// A file written to its temporary name and flushed, not yet renamed over its target: the first
/// half of [`write_atomic`], for writes that several parties commit together (`write_shares`:
/// each party renames only once every party has written). Dropped without [`Staged::commit`],
/// the temporary file is removed and the target left as it was.
#[derive(Debug)]
pub struct Staged {
    temp: std::path::PathBuf,
    path: std::path::PathBuf,
    committed: bool,
}

impl Staged {
    /// Writes `bytes` to a temporary file beside `path` and flushes it to disk.
    pub fn write(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<Staged> {
        use std::io::Write as _;
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);

        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path.file_name().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("`{}` is not a file name", path.display()),
            )
        })?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(
            ".tmp-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let staged = Staged {
            temp: dir.join(temp_name),
            path: path.to_path_buf(),
            committed: false,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(if private { 0o600 } else { 0o666 });
        }
        #[cfg(not(unix))]
        let _ = private;
        // On an error from here on, dropping `staged` removes what was written.
        let mut file = options.open(&staged.temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(staged)
    }

    /// Renames the temporary file over the target.
    pub fn commit(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.temp, &self.path)?;
        self.committed = true;
        // The rename itself reaches the disk with the directory (Unix); failing that changes
        // nothing for readers, so it is not an error.
        #[cfg(unix)]
        if let Some(dir) = self.path.parent()
            && let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// A value as text for `print`: a number, or nested brackets.
pub fn display(value: &Value) -> String {
    fn nested<T: Clone>(t: &ArrayD<T>, f: &dyn Fn(&T) -> String) -> String {
        if t.ndim() == 0 {
            return f(t.iter().next().expect("a scalar has one element"));
        }
        let parts: Vec<String> = t
            .outer_iter()
            .map(|sub| nested(&sub.to_owned(), f))
            .collect();
        format!("[{}]", parts.join(", "))
    }
    match value {
        Value::F64(t) => nested(t, &|v| format!("{v}")),
        Value::I64(t) => nested(t, &|v| v.to_string()),
        Value::Bool(t) => nested(t, &|v| v.to_string()),
        Value::Shares(_) | Value::Shares128(_) => "<shares>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tfe-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn header_rows_columns_and_shape_errors() {
        let p = temp("a.csv", "x,y\n1,2\n3,4.5\n");
        let v = read(&p, Scalar::Fixed, &[Dim::Runtime, Dim::Known(2)]).unwrap();
        assert_eq!(
            v,
            Value::F64(ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1.0, 2.0, 3.0, 4.5]).unwrap())
        );
        let err = read(&p, Scalar::Fixed, &[Dim::Runtime, Dim::Known(3)]).unwrap_err();
        assert!(
            err.to_string()
                .contains("holds 2 rows of 2 values, which does not fit the declared shape [_, 3]"),
            "{err}"
        );
        let col = temp("c.csv", "1\n0\n1\n");
        assert_eq!(
            read(&col, Scalar::Int, &[Dim::Runtime]).unwrap().shape(),
            &[3]
        );
        let bad = temp("b.csv", "1,2\nx,3\n");
        assert!(
            read(&bad, Scalar::Fixed, &[Dim::Runtime, Dim::Runtime])
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
        assert!(
            read(Path::new("/nonexistent/x.csv"), Scalar::Fixed, &[])
                .unwrap_err()
                .to_string()
                .contains("cannot read")
        );
    }

    #[test]
    fn gzipped_files_are_read_and_corrupt_ones_refused() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"a,b\n1,2\n3,4\n").unwrap();
        let bytes = gz.finish().unwrap();
        let dir = std::env::temp_dir().join(format!("tfe-csvgz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.csv.gz");
        std::fs::write(&p, &bytes).unwrap();
        let v = read(&p, Scalar::Int, &[Dim::Known(2), Dim::Known(2)]).unwrap();
        assert_eq!(v.shape(), &[2, 2]);
        let bad = dir.join("bad.csv.gz");
        std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
        let err = read(&bad, Scalar::Int, &[Dim::Runtime, Dim::Runtime]).unwrap_err();
        assert!(err.to_string().contains("gzip"), "{err}");
    }

    #[test]
    fn writing_and_reading_back() {
        let v = Value::F64(
            ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![0.5, -1.0, 2.0, 3.0, 4.0, 5.25]).unwrap(),
        );
        assert_eq!(to_csv(&v).unwrap(), "0.5,-1,2\n3,4,5.25\n");
        assert_eq!(display(&v), "[[0.5, -1, 2], [3, 4, 5.25]]");
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tfe-atomic-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    #[test]
    fn atomic_writes_replace_the_file_and_leave_nothing_behind() {
        let dir = scratch("replace");
        let path = dir.join("out.csv");
        write_atomic(&path, b"1,2\n", false).unwrap();
        write_atomic(&path, b"3,4\n", false).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"3,4\n");
        assert!(leftovers(&dir).is_empty());
        // A directory that does not exist: an error, and no file anywhere.
        let missing = dir.join("no/such/dir/out.csv");
        assert!(write_atomic(&missing, b"x", false).is_err());
        // A path that is a directory: refused, the directory untouched, nothing left over.
        std::fs::create_dir(dir.join("sub")).unwrap();
        assert!(write_atomic(&dir.join("sub"), b"x", false).is_err());
        assert!(dir.join("sub").is_dir());
        assert!(leftovers(&dir).is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let key = dir.join("party.key");
            write_atomic(&key, b"secret", true).unwrap();
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o077,
                0,
                "a private file is the owner's only: {mode:o}"
            );
        }
    }

    /// The writer of [`a_killed_writer_leaves_a_whole_file`], run as a child process: writes
    /// versions of a large file over and over until killed.
    #[test]
    #[ignore = "run by a_killed_writer_leaves_a_whole_file"]
    fn killed_writer_child() {
        let Some(path) = std::env::var_os("TFE_ATOMIC_CHILD_PATH") else {
            return;
        };
        let path = std::path::PathBuf::from(path);
        for version in 1u64.. {
            write_atomic(&path, &version_text(version), false).unwrap();
        }
    }

    /// Version `v` of the file: a first line, 4 MB of rows, a last line; whole only if both lines
    /// are there and agree.
    fn version_text(v: u64) -> Vec<u8> {
        let mut text = format!("version {v}\n");
        let row = format!("{v},{v},{v},{v},{v},{v},{v},{v}\n");
        while text.len() < 4 << 20 {
            text.push_str(&row);
        }
        text.push_str(&format!("end {v}\n"));
        text.into_bytes()
    }

    fn is_whole(bytes: &[u8]) -> bool {
        let text = String::from_utf8_lossy(bytes);
        let Some(v) = text
            .strip_prefix("version ")
            .and_then(|t| t.split('\n').next())
            .and_then(|v| v.parse::<u64>().ok())
        else {
            return false;
        };
        bytes == version_text(v).as_slice()
    }

    #[test]
    fn a_killed_writer_leaves_a_whole_file() {
        // A child process rewrites a 4 MB file in a loop; it is killed at moments spread over
        // its writes. The file is then the previous version or the new one, whole, never cut.
        // (With `std::fs::write`, most kills leave a truncated file.)
        let dir = scratch("killed");
        let path = dir.join("result.csv");
        for round in 0..12u64 {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "csvio::tests::killed_writer_child",
                    "--ignored",
                    "--quiet",
                ])
                .env("TFE_ATOMIC_CHILD_PATH", &path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            // Let it write a few versions, then kill it at a moment that varies with the round.
            let start = std::time::Instant::now();
            while !path.exists() && start.elapsed() < std::time::Duration::from_secs(60) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            std::thread::sleep(std::time::Duration::from_millis(20 + 13 * round));
            // Every read while it runs sees a whole file.
            assert!(
                is_whole(&std::fs::read(&path).unwrap()),
                "a partial file was visible"
            );
            child.kill().unwrap();
            child.wait().unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                is_whole(&bytes),
                "round {round}: the file is not whole after the kill ({} bytes)",
                bytes.len()
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
