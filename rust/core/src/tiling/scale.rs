//! How the pixels of an image and of the image downsampled by a factor
//! correspond: the downsampled size, and where a pixel's centre falls on
//! the other grid, for resampling and for windows of both.

use crate::{Error, Result};

/// The side of a `len`-pixel axis downsampled by `factor`, refusing a
/// factor that leaves less than one pixel.
pub fn downsampled_len(len: usize, factor: f64, what: &str) -> Result<usize> {
    if !(factor.is_finite() && factor > 0.0) {
        return Err(Error::config(format!("downsample must be a positive number, got {factor}")));
    }
    let scaled = len as f64 / factor;
    if scaled < 1.0 {
        return Err(Error::config(format!("downsample {factor} leaves the {what} of {len} pixels smaller than one pixel")));
    }
    Ok(scaled.ceil() as usize)
}

/// Where the centre of pixel `i` of a grid `scale` times finer falls on an
/// axis of `len` pixels: the pixel before it and the fraction towards the
/// next, clamped to the axis.
pub(super) fn centre(i: usize, scale: f64, len: usize) -> (usize, f32) {
    let v = ((i as f64 + 0.5) * scale - 0.5).clamp(0.0, (len - 1) as f64);
    let j = (v.floor() as usize).min(len - 1);
    (j, if j + 1 < len { (v - j as f64) as f32 } else { 0.0 })
}
