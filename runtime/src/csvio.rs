//! `read_csv` and `write_csv`: a party's files, under its data directory.
//!
//! Reading skips a header row when the first row is not numeric, and reads a 1-D tensor from one
//! row or one column. A file whose shape disagrees with the declared type is an error that names
//! the file, the declared shape and what was found. Writing puts a 1-D tensor on one row and a
//! 2-D tensor row by row.

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
        Value::Shares(_) => return Err(RunError::Internal("write_csv of shares".into())),
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

pub fn write(path: &Path, value: &Value) -> Result<(), RunError> {
    let text = to_csv(value)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| RunError::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| RunError::Io(format!("cannot write {}: {e}", path.display())))
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
        Value::Shares(_) => "<shares>".to_string(),
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
}
