//! The tile buffer contract: N tiles in one contiguous native-endian buffer,
//! normalized inside the engine exactly as in training, and results written
//! into caller-owned buffers.

use crate::limits;
use crate::non_finite::{self, NonFinite};
use crate::normalization::Normalizer;
use crate::tiling::reader::reflect;
use crate::{Error, Result};
use ndarray::{Array4, ArrayView3, ArrayView4};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Element type of an input buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    U8,
    U16,
    F32,
}

impl Dtype {
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::U16 => 2,
            Dtype::F32 => 4,
        }
    }
}

/// Memory order of one tile: channels last (`HWC`, as images are stored) or first (`CHW`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Hwc,
    Chw,
}

/// Shape and encoding of a tile batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileLayout {
    pub count: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub order: Order,
    pub dtype: Dtype,
}

impl TileLayout {
    pub fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// Bytes the input buffer must hold.
    pub fn input_bytes(&self) -> usize {
        self.count * self.channels * self.pixels() * self.dtype.size()
    }

    fn check(&self, channels: usize) -> Result<()> {
        if self.count == 0 || self.height == 0 || self.width == 0 {
            return Err(Error::config(format!("tile batch must not be empty, got {} tiles of {}x{}", self.count, self.height, self.width)));
        }
        if self.channels != channels {
            return Err(Error::config(format!("model expects {channels} input channels, tiles have {}", self.channels)));
        }
        // Sizes come from C and Java callers; a product that wraps could match a small buffer.
        let bytes = [self.channels, self.height, self.width, self.dtype.size()].iter().try_fold(self.count, |n, &f| n.checked_mul(f));
        if bytes.is_none_or(|b| b > isize::MAX as usize) {
            return Err(Error::config(format!("{} tiles of {}x{}x{} are too large to address", self.count, self.channels, self.height, self.width)));
        }
        Ok(())
    }
}

/// Element type of a probability output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbabilityFormat {
    /// Probabilities in [0, 1].
    F32,
    /// Probabilities scaled to 0..=255 and rounded.
    U8,
}

impl ProbabilityFormat {
    /// Bytes per value.
    pub fn size(self) -> usize {
        match self {
            ProbabilityFormat::F32 => 4,
            ProbabilityFormat::U8 => 1,
        }
    }

    /// Stores `p` as value `index` of `buf`.
    fn put(self, buf: &mut [u8], index: usize, p: f32) {
        match self {
            ProbabilityFormat::F32 => buf[4 * index..4 * index + 4].copy_from_slice(&p.to_ne_bytes()),
            ProbabilityFormat::U8 => buf[index] = (p * 255.0).round() as u8,
        }
    }
}

/// Caller-owned destinations; at least one must be given. Probabilities use
/// the input's order (`[N,H,W,K]` for HWC, `[N,K,H,W]` for CHW); the class
/// map is `[N,H,W]` bytes holding the argmax class.
pub struct Outputs<'a> {
    pub probabilities: Option<(&'a mut [u8], ProbabilityFormat)>,
    pub class_map: Option<&'a mut [u8]>,
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::F32 => "float32",
        })
    }
}

/// How far tiles are reflection-padded before they reach a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Padding {
    /// Sides become multiples of this (the model's stride).
    pub multiple: usize,
    /// ... and at least this (architectures with a minimum input size).
    pub min: usize,
}

impl Padding {
    pub fn to_multiple(multiple: usize) -> Padding {
        Padding { multiple, min: 0 }
    }

    fn side(&self, n: usize) -> usize {
        (n.div_ceil(self.multiple) * self.multiple).max(self.min)
    }
}

/// Decodes and normalizes the tiles into a model input `[N, C, H', W']`
/// whose height and width are padded up by reflection as `padding` says, so
/// that any tile size can be predicted. Non-finite values are handled as
/// `non_finite` says.
pub fn decode(bytes: &[u8], layout: &TileLayout, norm: &Normalizer, padding: Padding, non_finite: NonFinite) -> Result<Array4<f32>> {
    layout.check(norm.channels())?;
    if bytes.len() != layout.input_bytes() {
        return Err(Error::config(format!(
            "tile buffer holds {} bytes but {} {}x{}x{} {} tiles need {}",
            bytes.len(),
            layout.count,
            layout.channels,
            layout.height,
            layout.width,
            layout.dtype,
            layout.input_bytes()
        )));
    }
    match layout.dtype {
        Dtype::U8 => decode_with(layout, norm, padding, |i| bytes[i] as f32),
        Dtype::U16 => decode_with(layout, norm, padding, |i| u16::from_ne_bytes([bytes[2 * i], bytes[2 * i + 1]]) as f32),
        Dtype::F32 => {
            let value = |i: usize| f32::from_ne_bytes([bytes[4 * i], bytes[4 * i + 1], bytes[4 * i + 2], bytes[4 * i + 3]]);
            finite_values(layout, non_finite, value)?;
            decode_with(layout, norm, padding, |i| finite_or_zero(value(i)))
        }
    }
}

/// Normalizes raw CHW tiles (the tiling engine's path) into a padded model input.
pub fn decode_array(tiles: ArrayView4<f32>, norm: &Normalizer, padding: Padding, non_finite: NonFinite) -> Result<Array4<f32>> {
    let (count, channels, height, width) = tiles.dim();
    let layout = TileLayout { count, channels, height, width, order: Order::Chw, dtype: Dtype::F32 };
    layout.check(norm.channels())?;
    let tiles = tiles.as_standard_layout();
    let flat = tiles.as_slice().expect("standard layout");
    finite_values(&layout, non_finite, |i| flat[i])?;
    decode_with(&layout, norm, padding, |i| finite_or_zero(flat[i]))
}

/// Refuses non-finite values unless the policy reads them as zero (which
/// [`finite_or_zero`] then does).
fn finite_values(layout: &TileLayout, non_finite: NonFinite, value: impl Fn(usize) -> f32) -> Result<()> {
    if non_finite == NonFinite::Zero {
        return Ok(());
    }
    let Some((count, first)) = non_finite::find((0..layout.input_bytes() / 4).map(value)) else { return Ok(()) };
    let (h, w, c) = (layout.height, layout.width, layout.channels);
    let (n, rest) = (first / (h * w * c), first % (h * w * c));
    let (ch, y, x) = match layout.order {
        Order::Hwc => (rest % c, rest / (w * c), rest / c % w),
        Order::Chw => (rest / (h * w), rest / w % h, rest % w),
    };
    Err(non_finite::refusal("the tiles", count, &format!("tile {n}, channel {ch}, row {y}, column {x}")))
}

fn finite_or_zero(value: f32) -> f32 {
    if value.is_finite() { value } else { 0.0 }
}

fn decode_with(layout: &TileLayout, norm: &Normalizer, padding: Padding, value: impl Fn(usize) -> f32) -> Result<Array4<f32>> {
    let (h, w, c) = (layout.height, layout.width, layout.channels);
    let (ph, pw) = (padding.side(h), padding.side(w));
    let what = format!("{} {c}-channel {ph}x{pw} model inputs", layout.count);
    limits::check_memory(&what, limits::product(&[layout.count, c, ph, pw, 4]))?;
    let rows: Vec<usize> = (0..ph).map(|y| reflect(y as isize, h)).collect();
    let cols: Vec<usize> = (0..pw).map(|x| reflect(x as isize, w)).collect();
    // Element index of (tile, channel, y, x) in the caller's buffer.
    let (tile_stride, chan_stride, row_stride, col_stride) = match layout.order {
        Order::Hwc => (h * w * c, 1, w * c, c),
        Order::Chw => (h * w * c, h * w, w, 1),
    };
    let mut out = Array4::<f32>::zeros((layout.count, c, ph, pw));
    let planes = out.as_slice_mut().expect("fresh array").chunks_exact_mut(ph * pw);
    for (i, plane) in planes.enumerate() {
        let (n, ch) = (i / c, i % c);
        let (scale, offset) = norm.affine(ch);
        let base = n * tile_stride + ch * chan_stride;
        for (row, &y) in plane.chunks_exact_mut(pw).zip(&rows) {
            let row_base = base + y * row_stride;
            for (dst, &x) in row.iter_mut().zip(&cols) {
                *dst = norm.clip(value(row_base + x * col_stride) * scale + offset);
            }
        }
    }
    Ok(out)
}

/// Softmax over classes of `logits` `[N, K, H', W']`, cropped to the layout's
/// tile size, written to the caller's buffers.
pub fn write_outputs(logits: ArrayView4<f32>, layout: &TileLayout, outputs: Outputs) -> Result<()> {
    let k = logits.dim().1;
    let pixels = layout.pixels();
    let Outputs { mut probabilities, mut class_map } = outputs;
    if probabilities.is_none() && class_map.is_none() {
        return Err(Error::config("no output buffer given: ask for probabilities, a class map or both"));
    }
    if k > 256 && class_map.is_some() {
        return Err(Error::config(format!("a byte class map cannot hold {k} classes")));
    }
    if let Some((buf, format)) = &probabilities {
        expect_len("probability", buf.len(), layout.count * k * pixels * format.size())?;
    }
    if let Some(buf) = &class_map {
        expect_len("class map", buf.len(), layout.count * pixels)?;
    }
    for_each_pixel(logits, layout.height, layout.width, probabilities.is_some(), |t, pixel, probs, best| {
        if let Some(buf) = class_map.as_deref_mut() {
            buf[t * pixels + pixel] = best as u8;
        }
        if let Some((buf, format)) = probabilities.as_mut() {
            for (c, &p) in probs.iter().enumerate() {
                let index = match layout.order {
                    Order::Hwc => (t * pixels + pixel) * k + c,
                    Order::Chw => (t * k + c) * pixels + pixel,
                };
                format.put(buf, index, p);
            }
        }
    });
    Ok(())
}

/// `[K, H, W]` probabilities into `outputs`: the probabilities planar,
/// `[K][H][W]`, and the class map `[H][W]` (the first most probable class).
pub fn write_planar(probs: ArrayView3<f32>, outputs: Outputs) -> Result<()> {
    let (k, h, w) = probs.dim();
    let Outputs { probabilities, class_map } = outputs;
    // Every size checked before anything is written.
    let labels = class_map.as_ref().map(|_| super::outputs::argmax(probs)).transpose()?;
    if let Some(buf) = &class_map {
        expect_len("class map", buf.len(), h * w)?;
    }
    if let Some((buf, format)) = &probabilities {
        expect_len("probability", buf.len(), k * h * w * format.size())?;
    }
    if let (Some(buf), Some(labels)) = (class_map, labels) {
        buf[..h * w].copy_from_slice(labels.as_standard_layout().as_slice().expect("standard layout"));
    }
    if let Some((buf, format)) = probabilities {
        for (i, &p) in probs.iter().enumerate() {
            format.put(buf, i, p);
        }
    }
    Ok(())
}

/// Class probabilities `[N, K, height, width]` from padded logits.
pub fn probabilities(logits: ArrayView4<f32>, height: usize, width: usize) -> Array4<f32> {
    let (n, k, _, _) = logits.dim();
    let mut out = Array4::<f32>::zeros((n, k, height, width));
    let flat = out.as_slice_mut().expect("fresh array");
    let pixels = height * width;
    for_each_pixel(logits, height, width, true, |t, pixel, probs, _| {
        for (c, &p) in probs.iter().enumerate() {
            flat[(t * k + c) * pixels + pixel] = p;
        }
    });
    out
}

/// Calls `visit(tile, pixel, values, argmax)` for every pixel of the
/// `height`x`width` top-left crop of each tile's logits; `values` are the
/// class probabilities when `softmax`, else the logits (argmax alone needs no exp).
fn for_each_pixel(logits: ArrayView4<f32>, height: usize, width: usize, softmax: bool, mut visit: impl FnMut(usize, usize, &[f32], usize)) {
    let (_, k, ph, pw) = logits.dim();
    let logits = logits.as_standard_layout();
    let flat = logits.as_slice().expect("standard layout");
    let mut values = vec![0f32; k];
    for t in 0..logits.dim().0 {
        for y in 0..height {
            for x in 0..width {
                let first = t * k * ph * pw + y * pw + x;
                for (c, v) in values.iter_mut().enumerate() {
                    *v = flat[first + c * ph * pw];
                }
                // The first class wins ties, as argmax does.
                let (best, max) = values.iter().enumerate().fold((0, f32::NEG_INFINITY), |(b, m), (i, &v)| if v > m { (i, v) } else { (b, m) });
                if softmax {
                    let mut sum = 0.0;
                    for v in values.iter_mut() {
                        *v = (*v - max).exp();
                        sum += *v;
                    }
                    values.iter_mut().for_each(|v| *v /= sum);
                }
                visit(t, y * width + x, &values, best);
            }
        }
    }
}

fn expect_len(what: &str, got: usize, need: usize) -> Result<()> {
    if got < need {
        return Err(Error::config(format!("{what} output buffer holds {got} bytes, needs {need}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_whose_size_overflows_are_refused() {
        let layout = TileLayout { count: usize::MAX / 2, channels: 1, height: 4, width: 4, order: Order::Hwc, dtype: Dtype::F32 };
        let err = layout.check(1).unwrap_err().to_string();
        assert!(err.contains("too large"), "{err}");
        TileLayout { count: 2, ..layout }.check(1).unwrap();
    }
}
