//! NumPy's `.npy` format, version 1.0, as the parameter files are written: a magic string,
//! a header dictionary padded to a multiple of 64 bytes, then the elements little-endian in C
//! order. (The runtime's reader, `tfe_runtime::npyio`, reads what this writes and what NumPy
//! writes.)

/// A `<f4` array (f32, little-endian) of the given dims.
pub fn write_f32(dims: &[usize], data: &[f64]) -> Vec<u8> {
    let shape = match dims {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + header length (2) + header + '\n', padded to 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&(*v as f32).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_is_aligned_and_data_follows() {
        let bytes = super::write_f32(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
        assert!(header.contains("'shape': (2, 3)"), "{header}");
        assert!(header.ends_with('\n'));
        let last = &bytes[bytes.len() - 4..];
        assert_eq!(f32::from_le_bytes(last.try_into().unwrap()), 6.5);
        assert_eq!(bytes.len(), 10 + len + 24);
    }
}
