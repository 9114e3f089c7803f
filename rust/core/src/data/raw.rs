//! QuPath's `.raw` tile format, written for images that are not 8-bit with
//! at most 4 bands: a 12-byte header of little-endian `i32` height, width and
//! channels, then `H*W*C` little-endian `f32` in HWC order.

use std::path::Path;

use ndarray::Array3;

use crate::{Error, Result};

const HEADER_LEN: usize = 12;

/// Reads a `.raw` tile as a CHW image.
pub fn read_raw(path: impl AsRef<Path>) -> Result<Array3<f32>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes).map_err(|message| Error::data(path, message))
}

/// Writes a CHW image as a `.raw` tile.
pub fn write_raw(path: impl AsRef<Path>, image: &Array3<f32>) -> Result<()> {
    let path = path.as_ref();
    let (c, h, w) = image.dim();
    let mut bytes = Vec::with_capacity(HEADER_LEN + image.len() * 4);
    for dim in [h, w, c] {
        let dim = i32::try_from(dim)
            .map_err(|_| Error::data(path, format!("dimension {dim} does not fit the .raw header")))?;
        bytes.extend_from_slice(&dim.to_le_bytes());
    }
    // HWC order: channel varies fastest.
    for &v in image.view().permuted_axes([1, 2, 0]).iter() {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

fn decode(bytes: &[u8]) -> std::result::Result<Array3<f32>, String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!(".raw file is {} bytes, shorter than its {HEADER_LEN}-byte header", bytes.len()));
    }
    let field = |i: usize| i32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap());
    let (h, w, c) = (field(0), field(1), field(2));
    if h <= 0 || w <= 0 || c <= 0 {
        return Err(format!(".raw header has non-positive size {h}x{w}x{c} (height x width x channels)"));
    }
    let (h, w, c) = (h as usize, w as usize, c as usize);
    let expected = h
        .checked_mul(w)
        .and_then(|n| n.checked_mul(c))
        .and_then(|n| n.checked_mul(4))
        .and_then(|n| n.checked_add(HEADER_LEN));
    if expected != Some(bytes.len()) {
        let expected = expected.map_or_else(|| "too many".to_string(), |n| n.to_string());
        return Err(format!(
            ".raw header says {h}x{w}x{c} float32 ({expected} bytes with header) but the file has {} bytes",
            bytes.len()
        ));
    }
    let values: Vec<f32> =
        bytes[HEADER_LEN..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    let hwc = Array3::from_shape_vec((h, w, c), values).expect("length checked against header");
    Ok(hwc.permuted_axes([2, 0, 1]).as_standard_layout().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(h: i32, w: i32, c: i32) -> Vec<u8> {
        [h, w, c].iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn reads_hwc_float_little_endian() {
        // 1x2 pixels, 2 channels: pixel (0,0) = (1, 2), pixel (0,1) = (3, 4).
        let mut bytes = header(1, 2, 2);
        for v in [1.0f32, 2.0, 3.0, 4.0] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.raw");
        std::fs::write(&path, bytes).unwrap();
        let im = read_raw(&path).unwrap();
        assert_eq!(im, ndarray::array![[[1.0, 3.0]], [[2.0, 4.0]]]);
        assert!(im.is_standard_layout());
    }

    #[test]
    fn round_trips() {
        let im = Array3::from_shape_fn((3, 4, 5), |(c, y, x)| (c * 100 + y * 10 + x) as f32 - 0.5);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.raw");
        write_raw(&path, &im).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 12 + 3 * 4 * 5 * 4);
        assert_eq!(&std::fs::read(&path).unwrap()[..12], header(4, 5, 3).as_slice());
        assert_eq!(read_raw(&path).unwrap(), im);
    }

    #[test]
    fn bad_headers_are_reported_with_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.raw");
        let check = |bytes: Vec<u8>, needle: &str| {
            std::fs::write(&path, bytes).unwrap();
            let e = read_raw(&path).unwrap_err().to_string();
            assert!(e.contains("bad.raw") && e.contains(needle), "{e}");
        };
        check(vec![0; 5], "5 bytes, shorter than its 12-byte header");
        check(header(0, 4, 1), "non-positive size 0x4x1");
        check(header(2, -3, 1), "non-positive size 2x-3x1");
        let mut short = header(2, 2, 1);
        short.extend_from_slice(&[0; 12]);
        check(short, "2x2x1 float32 (28 bytes with header) but the file has 24 bytes");
        let mut huge = header(i32::MAX, i32::MAX, i32::MAX);
        huge.extend_from_slice(&[0; 4]);
        check(huge, "the file has 16 bytes");
    }

    #[test]
    fn missing_file_is_an_io_error() {
        assert!(matches!(read_raw("/nonexistent/x.raw"), Err(Error::Io { .. })));
    }
}
