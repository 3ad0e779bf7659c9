//! A party's data files by format: comma-separated text (`csvio`) or NumPy's `.npy` (`npyio`).

use std::path::Path;

use tfe_ir::{Dim, FileFormat, Scalar};

use crate::value::Value;
use crate::{RunError, csvio, npyio};

/// Reads a file of the declared kind and shape.
pub fn read(
    format: FileFormat,
    path: &Path,
    scalar: Scalar,
    shape: &[Dim],
) -> Result<Value, RunError> {
    match format {
        FileFormat::Csv => csvio::read(path, scalar, shape),
        FileFormat::Npy => npyio::read(path, scalar, shape),
    }
}

/// Writes a value.
pub fn write(format: FileFormat, path: &Path, value: &Value) -> Result<(), RunError> {
    match format {
        FileFormat::Csv => csvio::write(path, value),
        FileFormat::Npy => npyio::write(path, value),
    }
}
