//! `read_npy` and `write_npy`: a party's files in NumPy's `.npy` format, the format users
//! have their models' parameters in (and what `tfec import` writes).
//!
//! Reading takes versions 1.0 to 3.0, C order, little- or big-endian floats (`f8`, `f4`,
//! `f2`), signed and unsigned integers of 1 to 8 bytes, and booleans. The array's rank must be
//! the declared one and each declared size must match, as for `read_csv`: a file that does not
//! fit is an error naming the file, the declared shape and the shape found. Nothing is trusted:
//! the header's length and the data's size are checked against the bytes present before
//! anything is allocated for them. Writing stores `fixed` and `float` as `<f8`, `int` as `<i8`
//! and `bool` as `|b1`, through a temporary file renamed into place, so that a reader never
//! sees half a file.

use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use tfe_ir::{Dim, Scalar};

use crate::RunError;
use crate::value::Value;

/// The element type of an array, from its `descr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Float,
    Signed,
    Unsigned,
    Bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Header {
    kind: Kind,
    width: usize,
    big_endian: bool,
    shape: Vec<usize>,
}

fn io(path: &Path, detail: impl std::fmt::Display) -> RunError {
    RunError::Io(format!("{}: {detail}", path.display()))
}

/// Reads a `.npy` file as a tensor of the declared kind and shape.
pub fn read(path: &Path, scalar: Scalar, shape: &[Dim]) -> Result<Value, RunError> {
    let bytes = std::fs::read(path)
        .map_err(|e| RunError::Io(format!("cannot read {}: {e}", path.display())))?;
    decode(path, &bytes, scalar, shape)
}

/// Decodes a `.npy` file's bytes (`path` names it in errors).
pub fn decode(path: &Path, bytes: &[u8], scalar: Scalar, shape: &[Dim]) -> Result<Value, RunError> {
    let (header, data) = parse(bytes).map_err(|e| io(path, e))?;
    if header.shape.len() != shape.len()
        || header
            .shape
            .iter()
            .zip(shape)
            .any(|(n, d)| matches!(d, Dim::Known(k) if *k as usize != *n))
    {
        return Err(io(
            path,
            format!(
                "holds an array of shape {}, which does not fit the declared shape {}",
                describe_usize(&header.shape),
                describe(shape)
            ),
        ));
    }
    let n: usize = header.shape.iter().product();
    let dims = IxDyn(&header.shape);
    let word = |i: usize| -> &[u8] { &data[i * header.width..(i + 1) * header.width] };
    // Each element as its bytes, little-endian first.
    let le = |i: usize| -> [u8; 8] {
        let mut b = [0u8; 8];
        let w = word(i);
        if header.big_endian {
            for (k, byte) in w.iter().rev().enumerate() {
                b[k] = *byte;
            }
        } else {
            b[..w.len()].copy_from_slice(w);
        }
        b
    };
    let as_f64 = |i: usize| -> f64 {
        let b = le(i);
        match (header.kind, header.width) {
            (Kind::Float, 8) => f64::from_le_bytes(b),
            (Kind::Float, 4) => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            (Kind::Float, _) => half(u16::from_le_bytes([b[0], b[1]])),
            (Kind::Signed, w) => {
                let shift = 64 - 8 * w as u32;
                ((u64::from_le_bytes(b) << shift) as i64 >> shift) as f64
            }
            (Kind::Unsigned, _) => u64::from_le_bytes(b) as f64,
            (Kind::Bool, _) => f64::from(u8::from(b[0] != 0)),
        }
    };
    Ok(match scalar {
        Scalar::Fixed | Scalar::Float => {
            let values: Vec<f64> = (0..n).map(as_f64).collect();
            if let Some(v) = values.iter().find(|v| !v.is_finite()) {
                return Err(io(
                    path,
                    format!("holds `{v}`, which is not a finite number"),
                ));
            }
            Value::F64(ArrayD::from_shape_vec(dims, values).expect("sizes match"))
        }
        Scalar::Int => {
            let values: Result<Vec<i64>, RunError> = (0..n)
                .map(|i| match header.kind {
                    Kind::Signed => {
                        let shift = 64 - 8 * header.width as u32;
                        Ok((u64::from_le_bytes(le(i)) << shift) as i64 >> shift)
                    }
                    Kind::Unsigned => i64::try_from(u64::from_le_bytes(le(i)))
                        .map_err(|_| io(path, "holds an integer above the largest `int`")),
                    Kind::Bool => Ok(i64::from(le(i)[0] != 0)),
                    Kind::Float => {
                        let v = as_f64(i);
                        if v.fract() != 0.0 || !v.is_finite() {
                            Err(io(
                                path,
                                format!("`{v}` is not an integer, and the data is declared `int`"),
                            ))
                        } else {
                            Ok(v as i64)
                        }
                    }
                })
                .collect();
            Value::I64(ArrayD::from_shape_vec(dims, values?).expect("sizes match"))
        }
        Scalar::Bool => Value::Bool(
            ArrayD::from_shape_vec(dims, (0..n).map(|i| as_f64(i) != 0.0).collect())
                .expect("sizes match"),
        ),
    })
}

/// The header and the data bytes of a `.npy` file.
fn parse(bytes: &[u8]) -> Result<(Header, &[u8]), String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("is not a NumPy .npy file (it does not start with \\x93NUMPY)".into());
    }
    let (len, start): (usize, usize) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("ends inside its header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => {
            return Err(format!(
                "is of .npy version {v}, which tfe does not read (1 to 3)"
            ));
        }
    };
    let end = start
        .checked_add(len)
        .filter(|e| *e <= bytes.len())
        .ok_or("ends inside its header")?;
    let text =
        std::str::from_utf8(&bytes[start..end]).map_err(|_| "has a header that is not text")?;
    let field = |key: &str| -> Result<&str, String> {
        let at = text
            .find(&format!("'{key}'"))
            .ok_or_else(|| format!("has no `{key}` in its header"))?;
        let rest = &text[at + key.len() + 2..];
        let rest = rest
            .trim_start()
            .strip_prefix(':')
            .ok_or("has a malformed header")?;
        Ok(rest.trim_start())
    };
    let descr = field("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or("has a malformed `descr`")?;
    let fortran = field("fortran_order")?;
    if fortran.starts_with("True") {
        return Err(
            "is in Fortran order; save it in C order (`np.save(path, np.ascontiguousarray(a))`)"
                .into(),
        );
    }
    let shape_text = field("shape")?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("has a malformed `shape`")?;
    let mut shape = Vec::new();
    for part in shape_text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let n = part
            .trim_end_matches('L')
            .parse::<usize>()
            .map_err(|_| format!("has a malformed `shape`: `{part}`"))?;
        shape.push(n);
    }
    let (order, code) = descr.split_at(1.min(descr.len()));
    let big_endian = match order {
        "<" | "|" | "=" => false,
        ">" => true,
        _ => return Err(format!("has an element type `{descr}` tfe does not read")),
    };
    let (kind, width) = match code {
        "f8" => (Kind::Float, 8),
        "f4" => (Kind::Float, 4),
        "f2" => (Kind::Float, 2),
        "i8" => (Kind::Signed, 8),
        "i4" => (Kind::Signed, 4),
        "i2" => (Kind::Signed, 2),
        "i1" => (Kind::Signed, 1),
        "u8" => (Kind::Unsigned, 8),
        "u4" => (Kind::Unsigned, 4),
        "u2" => (Kind::Unsigned, 2),
        "u1" => (Kind::Unsigned, 1),
        "b1" => (Kind::Bool, 1),
        _ => {
            return Err(format!(
                "holds elements of type `{descr}`; tfe reads floats (f8, f4, f2), integers and booleans"
            ));
        }
    };
    let n = shape
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d))
        .ok_or("has a shape too large")?;
    let size = n.checked_mul(width).ok_or("has a shape too large")?;
    let data = &bytes[end..];
    if data.len() != size {
        return Err(format!(
            "holds {} bytes of data, and its header says {} ({} elements of {} bytes)",
            data.len(),
            size,
            n,
            width
        ));
    }
    Ok((
        Header {
            kind,
            width,
            big_endian,
            shape,
        },
        data,
    ))
}

/// The bytes of a value as a `.npy` file.
pub fn encode(value: &Value) -> Result<Vec<u8>, RunError> {
    let (descr, data): (&str, Vec<u8>) = match value {
        Value::F64(t) => ("<f8", t.iter().flat_map(|v| v.to_le_bytes()).collect()),
        Value::I64(t) => ("<i8", t.iter().flat_map(|v| v.to_le_bytes()).collect()),
        Value::Bool(t) => ("|b1", t.iter().map(|v| u8::from(*v)).collect()),
        Value::Shares(_) | Value::Shares128(_) => {
            return Err(RunError::Internal("write_npy of shares".into()));
        }
    };
    let shape = value.shape();
    let shape = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let len = u16::try_from(header.len())
        .map_err(|_| RunError::Internal("a .npy header over 64 KiB".into()))?;
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    Ok(out)
}

/// Writes a value as a `.npy` file, atomically ([`crate::csvio::write_atomic`]: flushed to disk
/// before it is renamed into place, so a run stopped while writing leaves the old file or none).
pub fn write(path: &Path, value: &Value) -> Result<(), RunError> {
    let bytes = encode(value)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| RunError::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    crate::csvio::write_atomic(path, &bytes, false)
        .map_err(|e| RunError::Io(format!("cannot write {}: {e}", path.display())))
}

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

fn describe_usize(shape: &[usize]) -> String {
    format!(
        "[{}]",
        shape
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// An IEEE half-precision number from its bits.
fn half(bits: u16) -> f64 {
    let sign = if bits >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file as NumPy 1.x/2.x writes it (`np.save`), built by hand.
    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let unpadded = 10 + header.len() + 1;
        header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn p() -> &'static Path {
        Path::new("w.npy")
    }

    #[test]
    fn reads_each_element_type() {
        let f4: Vec<u8> = [1.5f32, -2.0, 3.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let v = decode(
            p(),
            &npy("<f4", "(3,)", &f4),
            Scalar::Fixed,
            &[Dim::Known(3)],
        )
        .unwrap();
        assert_eq!(
            v,
            Value::F64(ArrayD::from_shape_vec(IxDyn(&[3]), vec![1.5, -2.0, 3.25]).unwrap())
        );
        let f8: Vec<u8> = [1.0f64, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let v = decode(
            p(),
            &npy(">f8", "(2, 2)", &f8),
            Scalar::Fixed,
            &[Dim::Runtime, Dim::Known(2)],
        )
        .unwrap();
        assert_eq!(v.shape(), &[2, 2]);
        assert_eq!(
            v,
            Value::F64(ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1.0, 2.0, 3.0, 4.0]).unwrap())
        );
        let i8s: Vec<u8> = [-3i64, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        let v = decode(
            p(),
            &npy("<i8", "(2,)", &i8s),
            Scalar::Int,
            &[Dim::Known(2)],
        )
        .unwrap();
        assert_eq!(
            v,
            Value::I64(ArrayD::from_shape_vec(IxDyn(&[2]), vec![-3, 7]).unwrap())
        );
        let i1 = [0xffu8, 5];
        let v = decode(
            p(),
            &npy("|i1", "(2,)", &i1),
            Scalar::Fixed,
            &[Dim::Known(2)],
        )
        .unwrap();
        assert_eq!(
            v,
            Value::F64(ArrayD::from_shape_vec(IxDyn(&[2]), vec![-1.0, 5.0]).unwrap())
        );
        let b = [1u8, 0];
        let v = decode(p(), &npy("|b1", "(2,)", &b), Scalar::Bool, &[Dim::Runtime]).unwrap();
        assert_eq!(
            v,
            Value::Bool(ArrayD::from_shape_vec(IxDyn(&[2]), vec![true, false]).unwrap())
        );
        let scalar = decode(
            p(),
            &npy("<f8", "()", &2.5f64.to_le_bytes()),
            Scalar::Fixed,
            &[],
        )
        .unwrap();
        assert_eq!(scalar.shape(), &[] as &[usize]);
    }

    #[test]
    fn shape_and_content_errors_are_clear() {
        let f8: Vec<u8> = [1.0f64; 6].iter().flat_map(|v| v.to_le_bytes()).collect();
        let file = npy("<f8", "(2, 3)", &f8);
        let err = decode(p(), &file, Scalar::Fixed, &[Dim::Runtime, Dim::Known(4)]).unwrap_err();
        assert!(
            err.to_string().contains(
                "holds an array of shape [2, 3], which does not fit the declared shape [_, 4]"
            ),
            "{err}"
        );
        let err = decode(p(), &file, Scalar::Fixed, &[Dim::Known(6)]).unwrap_err();
        assert!(err.to_string().contains("[2, 3]"), "{err}");
        let err = decode(
            p(),
            &file[..file.len() - 3],
            Scalar::Fixed,
            &[Dim::Runtime, Dim::Runtime],
        )
        .unwrap_err();
        assert!(err.to_string().contains("45 bytes of data"), "{err}");
        let err = decode(p(), b"hello world", Scalar::Fixed, &[]).unwrap_err();
        assert!(err.to_string().contains("not a NumPy .npy file"), "{err}");
        let err = decode(
            p(),
            &npy("<c16", "(1,)", &[0; 16]),
            Scalar::Fixed,
            &[Dim::Known(1)],
        )
        .unwrap_err();
        assert!(err.to_string().contains("`<c16`"), "{err}");
        // The same header with `'fortran_order': True ` (the magic's \x93 is not UTF-8, so
        // the bytes are edited in place).
        let mut fortran = npy("<f8", "(1,)", &1.0f64.to_le_bytes());
        let at = fortran
            .windows(5)
            .position(|w| w == b"False")
            .expect("the header says False");
        fortran[at..at + 5].copy_from_slice(b"True ");
        let err = decode(p(), &fortran, Scalar::Fixed, &[Dim::Known(1)]).unwrap_err();
        assert!(err.to_string().contains("Fortran order"), "{err}");
        let err = decode(
            p(),
            &npy("<f8", "(1,)", &0.5f64.to_le_bytes()),
            Scalar::Int,
            &[Dim::Known(1)],
        )
        .unwrap_err();
        assert!(err.to_string().contains("not an integer"), "{err}");
        let nan = npy("<f8", "(1,)", &f64::NAN.to_le_bytes());
        assert!(decode(p(), &nan, Scalar::Fixed, &[Dim::Known(1)]).is_err());
        // A header that claims more than the file has.
        let mut short = npy("<f8", "(1,)", &[]);
        short[8] = 0xff;
        short[9] = 0xff;
        assert!(decode(p(), &short, Scalar::Fixed, &[Dim::Known(1)]).is_err());
    }

    #[test]
    fn writes_what_it_reads() {
        let v = Value::F64(
            ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![0.5, -1.0, 2.0, 3.0, 4.0, 5.25]).unwrap(),
        );
        let bytes = encode(&v).unwrap();
        assert_eq!(
            (10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))) % 64,
            0
        );
        assert_eq!(
            decode(p(), &bytes, Scalar::Fixed, &[Dim::Known(2), Dim::Known(3)]).unwrap(),
            v
        );
        let i = Value::I64(ArrayD::from_shape_vec(IxDyn(&[3]), vec![1, -2, 3]).unwrap());
        assert_eq!(
            decode(p(), &encode(&i).unwrap(), Scalar::Int, &[Dim::Runtime]).unwrap(),
            i
        );
        let dir = std::env::temp_dir().join(format!("tfe-npy-{}", std::process::id()));
        let path = dir.join("sub/x.npy");
        write(&path, &v).unwrap();
        assert_eq!(
            read(&path, Scalar::Fixed, &[Dim::Runtime, Dim::Runtime]).unwrap(),
            v
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
