//! Raw intensities shown as 8-bit RGB, for overlays drawn over the image.
//!
//! One channel is shown grey, three as RGB, any other count by its first
//! channel in grey. Each shown channel is stretched linearly from its
//! display minimum (black) to its maximum (full brightness); by default the
//! range is the 0.5th to 99.5th percentile of a strided sample of the image,
//! so that 16-bit and float images display as well as 8-bit ones.

use crate::tiling::RegionReader;
use crate::{Error, Result};
use ndarray::{ArrayView3, Axis};

/// Percentiles of the default display range.
const LOW_PERCENTILE: f64 = 0.5;
const HIGH_PERCENTILE: f64 = 99.5;
/// Bounds of the sample behind a default range: rows read, and values kept per row and channel.
const SAMPLE_ROWS: usize = 256;
const SAMPLE_COLUMNS: usize = 4096;

/// The image channels that are shown, and how each is stretched.
#[derive(Debug, Clone, PartialEq)]
pub struct Display {
    /// The image channel behind red, green and blue.
    rgb: [usize; 3],
    /// `(min, max)` of each image channel; only the shown ones matter.
    ranges: Vec<(f32, f32)>,
}

impl Display {
    /// The display of `reader` with the given `(min, max)` per image channel,
    /// or, where `ranges` is `None`, ranges sampled from the image.
    pub fn for_image(reader: &dyn RegionReader, ranges: Option<&[(f32, f32)]>) -> Result<Display> {
        let channels = reader.channels();
        let rgb = if channels == 3 { [0, 1, 2] } else { [0; 3] };
        let ranges = match ranges {
            Some(r) if r.len() == channels => r.to_vec(),
            Some(r) => return Err(Error::config(format!("{} display ranges given for an image of {channels} channels", r.len()))),
            None => sampled_ranges(reader)?,
        };
        if let Some((c, &(lo, hi))) = ranges.iter().enumerate().find(|(_, (lo, hi))| !(lo.is_finite() && hi.is_finite() && lo <= hi)) {
            return Err(Error::config(format!("the display range of channel {c} is ({lo}, {hi}); expected finite min <= max")));
        }
        Ok(Display { rgb, ranges })
    }

    /// The `(min, max)` of each image channel.
    pub fn ranges(&self) -> &[(f32, f32)] {
        &self.ranges
    }

    /// The RGB of each pixel of a `[C, rows, W]` region, rows first. Values
    /// below the minimum and non-finite ones are black; a channel whose
    /// range is a single value shows values above it at full brightness.
    pub fn rgb(&self, region: ArrayView3<f32>) -> Vec<[u8; 3]> {
        let planes = self.rgb.map(|c| region.index_axis(Axis(0), c));
        let scales = self.rgb.map(|c| {
            let (lo, hi) = self.ranges[c];
            (lo, if hi > lo { 255.0 / (hi - lo) } else { f32::INFINITY })
        });
        let shown = |v: f32, (lo, scale): (f32, f32)| {
            let t = (v - lo) * scale;
            // NaN compares false and falls through to black; so does 0 * inf.
            if t >= 255.0 {
                255
            } else if t > 0.0 {
                t.round() as u8
            } else {
                0
            }
        };
        let (rows, width) = (region.len_of(Axis(1)), region.len_of(Axis(2)));
        let mut pixels = Vec::with_capacity(rows * width);
        for y in 0..rows {
            for x in 0..width {
                pixels.push([0, 1, 2].map(|i| shown(planes[i][[y, x]], scales[i])));
            }
        }
        pixels
    }
}

/// Each channel's display range from a sample of at most [`SAMPLE_ROWS`]
/// evenly spaced rows, each read whole and thinned to at most
/// [`SAMPLE_COLUMNS`] values: memory stays bounded on any image size.
fn sampled_ranges(reader: &dyn RegionReader) -> Result<Vec<(f32, f32)>> {
    let (width, height, channels) = (reader.width(), reader.height(), reader.channels());
    let rows = height.min(SAMPLE_ROWS);
    let column_step = width.div_ceil(SAMPLE_COLUMNS).max(1);
    let mut samples = vec![Vec::with_capacity(rows * width.div_ceil(column_step)); channels];
    for i in 0..rows {
        // Row centres of `rows` equal bands.
        let y = (2 * i + 1) * height / (2 * rows);
        let row = reader.read(0, y, width, 1)?;
        for (c, sample) in samples.iter_mut().enumerate() {
            sample.extend(row.index_axis(Axis(0), c).iter().step_by(column_step).copied().filter(|v| v.is_finite()));
        }
    }
    Ok(samples.into_iter().map(|mut s| (percentile(&mut s, LOW_PERCENTILE), percentile(&mut s, HIGH_PERCENTILE))).collect())
}

/// The nearest-rank `p`th percentile of `values` (reordered); 0 if empty.
fn percentile(values: &mut [f32], p: f64) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    *values.select_nth_unstable_by(rank, f32::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiling::InMemoryImage;
    use ndarray::{array, Array, Array3};

    #[test]
    fn default_ranges_are_percentiles_of_the_image() {
        // 0..=999 in one channel, and the same times 60 in another.
        let img = InMemoryImage(Array::from_shape_fn((2, 10, 100), |(c, y, x)| ((y * 100 + x) * if c == 0 { 1 } else { 60 }) as f32));
        let display = Display::for_image(&img, None).unwrap();
        assert_eq!(display.ranges(), [(5.0, 994.0), (300.0, 59_640.0)]);
    }

    #[test]
    fn sampling_is_bounded_on_large_images() {
        let img = InMemoryImage(Array3::from_elem((1, 1000, 10_000), 7.0));
        assert_eq!(Display::for_image(&img, None).unwrap().ranges(), [(7.0, 7.0)]);
    }

    #[test]
    fn values_are_stretched_over_the_range() {
        let img = InMemoryImage(Array3::zeros((1, 1, 4)));
        let display = Display::for_image(&img, Some(&[(1000.0, 3000.0)])).unwrap();
        let region = array![[[0.0f32, 1000.0, 2200.0, 9000.0]]];
        assert_eq!(display.rgb(region.view()), [[0; 3], [0; 3], [153; 3], [255; 3]]);
        let rgb = Display::for_image(&InMemoryImage(Array3::zeros((3, 1, 1))), Some(&[(0.0, 255.0), (0.0, 510.0), (10.0, 10.0)])).unwrap();
        assert_eq!(rgb.rgb(array![[[100.0f32]], [[100.0]], [[11.0]]].view()), [[100, 50, 255]]);
        assert_eq!(rgb.rgb(array![[[f32::NAN]], [[-1.0]], [[10.0]]].view()), [[0, 0, 0]]);
    }

    #[test]
    fn other_channel_counts_show_the_first_in_grey() {
        let img = InMemoryImage(Array3::zeros((2, 1, 1)));
        let display = Display::for_image(&img, Some(&[(0.0, 255.0), (0.0, 1.0)])).unwrap();
        assert_eq!(display.rgb(array![[[40.0f32]], [[1.0]]].view()), [[40; 3]]);
    }

    #[test]
    fn bad_ranges_are_refused() {
        let img = InMemoryImage(Array3::zeros((2, 1, 1)));
        let e = Display::for_image(&img, Some(&[(0.0, 1.0)])).unwrap_err().to_string();
        assert!(e.contains("1 display ranges given for an image of 2 channels"), "{e}");
        let e = Display::for_image(&img, Some(&[(0.0, 1.0), (5.0, 1.0)])).unwrap_err().to_string();
        assert!(e.contains("the display range of channel 1 is (5, 1)"), "{e}");
    }
}
