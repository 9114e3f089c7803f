//! Per-object measurements: shape from the polygon, intensities and class
//! probabilities gathered from the pixels as their rows stream by, and the
//! caller's own measurements, named as QuPath names its own.

use super::components::{uncovered, Accumulator, Run};
use crate::geometry::{Polygon, Rect};
use crate::Result;
use ndarray::{s, Array2, Array3, ArrayView1};

/// Sums over one channel of an object's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelStats {
    pub sum: f64,
    pub sum_squares: f64,
    pub min: f32,
    pub max: f32,
}

impl Default for ChannelStats {
    fn default() -> Self {
        ChannelStats { sum: 0.0, sum_squares: 0.0, min: f32::INFINITY, max: f32::NEG_INFINITY }
    }
}

impl ChannelStats {
    fn add(&mut self, values: ArrayView1<f32>) {
        for &v in values {
            self.sum += f64::from(v);
            self.sum_squares += f64::from(v) * f64::from(v);
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    fn merge(&mut self, o: &ChannelStats) {
        self.sum += o.sum;
        self.sum_squares += o.sum_squares;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }
}

/// What an object gathers from its pixels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PixelStats {
    pub pixels: u64,
    /// Sums of the pixel centres' coordinates.
    pub sum_x: f64,
    pub sum_y: f64,
    /// Of the object's class, when probabilities are given.
    pub probability_sum: f64,
    pub probability_max: f32,
    /// One per image channel, when the image is given.
    pub channels: Vec<ChannelStats>,
}

impl Accumulator for PixelStats {
    fn merge(&mut self, o: PixelStats) {
        self.pixels += o.pixels;
        self.sum_x += o.sum_x;
        self.sum_y += o.sum_y;
        self.probability_sum += o.probability_sum;
        self.probability_max = self.probability_max.max(o.probability_max);
        if self.channels.is_empty() {
            self.channels = o.channels;
        } else {
            for (a, b) in self.channels.iter_mut().zip(&o.channels) {
                a.merge(b);
            }
        }
    }
}

impl PixelStats {
    /// Adds the pixels of `run`; `probabilities` and `channels` are the
    /// run's row of the class's probability and of each image channel.
    pub fn add(&mut self, run: Run, probabilities: Option<ArrayView1<f32>>, channels: &[ArrayView1<f32>]) {
        let (x0, x1) = (run.x0 as usize, run.x1 as usize);
        let n = run.len() as f64;
        self.pixels += u64::from(run.len());
        self.sum_x += n * (run.x0 + run.x1) as f64 / 2.0;
        self.sum_y += n * (run.y as f64 + 0.5);
        if let Some(p) = probabilities {
            for &v in p.slice(s![x0..x1]) {
                self.probability_sum += f64::from(v);
                self.probability_max = self.probability_max.max(v);
            }
        }
        if self.channels.len() != channels.len() {
            self.channels = vec![ChannelStats::default(); channels.len()];
        }
        for (stats, row) in self.channels.iter_mut().zip(channels) {
            stats.add(row.slice(s![x0..x1]));
        }
    }
}

/// The physical size of a pixel, for measurements in calibrated units.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Units per pixel, the same along both axes.
    pub pixel_size: f64,
    /// e.g. `µm`.
    pub unit: String,
}

/// An object's pixels, for caller-defined measurements: its bounding box
/// of the image (`[channels, h, w]`, origin `(x, y)`) and which of those
/// pixels are the object's.
pub struct ObjectPixels {
    pub x: usize,
    pub y: usize,
    pub image: Array3<f32>,
    pub mask: Array2<bool>,
}

/// A caller's own per-object measurement, as MultiCellPose's analyzers:
/// fixed names, and one value per name for each object.
pub trait Measurement: Send + Sync {
    fn names(&self) -> Vec<String>;
    fn measure(&self, polygon: &Polygon, class: &str, pixels: &ObjectPixels) -> Result<Vec<f64>>;
}

/// The names of the built-in measurements, in their order.
pub fn builtin_names(calibration: Option<&Calibration>, probabilities: bool, channel_names: &[String]) -> Vec<String> {
    let mut names: Vec<String> = ["Area px^2", "Perimeter px", "Circularity", "Centroid X px", "Centroid Y px"]
        .iter()
        .chain(&["Bounds X px", "Bounds Y px", "Bounds width px", "Bounds height px"])
        .map(|s| s.to_string())
        .collect();
    if let Some(c) = calibration {
        let u = &c.unit;
        names.extend([format!("Area {u}^2"), format!("Perimeter {u}"), format!("Centroid X {u}"), format!("Centroid Y {u}")]);
    }
    if probabilities {
        names.extend(["Mean probability".to_string(), "Max probability".to_string()]);
    }
    for c in channel_names {
        names.extend(["Mean", "Std.Dev.", "Min", "Max"].map(|s| format!("{c}: {s}")));
    }
    names
}

/// The built-in measurements, in [`builtin_names`]'s order.
/// `perimeter` comes from [`perimeter`].
pub fn builtin_values(polygon: &Polygon, perimeter: f64, stats: &PixelStats, calibration: Option<&Calibration>, probabilities: bool) -> Vec<f64> {
    let area = polygon.area();
    let circularity = if perimeter > 0.0 { (4.0 * std::f64::consts::PI * area / (perimeter * perimeter)).min(1.0) } else { 0.0 };
    let n = stats.pixels.max(1) as f64;
    let (cx, cy) = (stats.sum_x / n, stats.sum_y / n);
    let Rect { x, y, width, height } = polygon.bounds();
    let mut values = vec![area, perimeter, circularity, cx, cy, x, y, width, height];
    if let Some(c) = calibration {
        let s = c.pixel_size;
        values.extend([area * s * s, perimeter * s, cx * s, cy * s]);
    }
    if probabilities {
        values.extend([stats.probability_sum / n, f64::from(stats.probability_max)]);
    }
    for c in &stats.channels {
        let mean = c.sum / n;
        let variance = (c.sum_squares / n - mean * mean).max(0.0);
        values.extend([mean, variance.sqrt(), f64::from(c.min), f64::from(c.max)]);
    }
    values
}

/// The perimeter as scikit-image's `regionprops` (and `perimeter` with
/// 4-neighbourhood) estimates it from the pixels: each boundary pixel (one
/// with a 4-neighbour outside the object) is weighted by how its 8
/// neighbours continue the boundary (1 along a row or column, sqrt 2 along a
/// diagonal, (1 + sqrt 2) / 2 at a bend). Only boundary pixels are visited.
pub fn perimeter(runs: &[Run]) -> f64 {
    let rows: Vec<&[Run]> = runs.chunk_by(|a, b| a.y == b.y).collect();
    // The index of the row `dy` rows from row `i`, when the object has one there.
    let adjacent = |i: usize, dy: i64| -> Option<usize> {
        let j = usize::try_from(i as i64 + dy).ok().filter(|&j| j < rows.len())?;
        (rows[j][0].y as i64 == rows[i][0].y as i64 + dy).then_some(j)
    };
    let row_at = |i: usize, dy: i64| adjacent(i, dy).map_or(&[][..], |j| rows[j]);
    let border: Vec<Vec<u32>> = (0..rows.len()).map(|i| border_pixels(rows[i], row_at(i, -1), row_at(i, 1))).collect();
    let border_at = |i: usize, dy: i64| adjacent(i, dy).map_or(&[][..], |j| border[j].as_slice());
    let has = |set: &[u32], x: i64| x >= 0 && set.binary_search(&(x as u32)).is_ok();
    let mut total = 0.0;
    for i in 0..rows.len() {
        let (above, here, below) = (border_at(i, -1), border_at(i, 0), border_at(i, 1));
        for &x in here {
            let x = x as i64;
            let edge = [has(here, x - 1), has(here, x + 1), has(above, x), has(below, x)].iter().filter(|&&b| b).count();
            let corner = [has(above, x - 1), has(above, x + 1), has(below, x - 1), has(below, x + 1)].iter().filter(|&&b| b).count();
            total += match 1 + 2 * edge + 10 * corner {
                5 | 7 | 15 | 17 | 25 | 27 => 1.0,
                21 | 33 => std::f64::consts::SQRT_2,
                13 | 23 => (1.0 + std::f64::consts::SQRT_2) / 2.0,
                _ => 0.0,
            };
        }
    }
    total
}

/// The sorted columns of the pixels of `row` that have a 4-neighbour outside the object.
fn border_pixels(row: &[Run], above: &[Run], below: &[Run]) -> Vec<u32> {
    let mut xs = Vec::new();
    for r in row {
        xs.extend([r.x0, r.x1 - 1]);
    }
    for (a, b) in uncovered(row, above).into_iter().chain(uncovered(row, below)) {
        xs.extend(a..b);
    }
    xs.sort_unstable();
    xs.dedup();
    xs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(side: f64) -> Polygon {
        Polygon { exterior: vec![[0.0, 0.0], [side, 0.0], [side, side], [0.0, side], [0.0, 0.0]], holes: vec![] }
    }

    #[test]
    fn statistics_of_two_runs_merge_into_the_whole() {
        let row0 = [1.0f32, 2.0, 3.0, 4.0];
        let row1 = [5.0f32, 6.0, 7.0, 8.0];
        let mut a = PixelStats::default();
        a.add(Run { y: 0, x0: 1, x1: 3 }, Some(ArrayView1::from(&[0.5, 0.6, 0.9, 0.1])), &[ArrayView1::from(&row0)]);
        let mut b = PixelStats::default();
        b.add(Run { y: 1, x0: 0, x1: 1 }, Some(ArrayView1::from(&[0.7, 0.0, 0.0, 0.0])), &[ArrayView1::from(&row1)]);
        a.merge(b);
        assert_eq!((a.pixels, a.sum_x, a.sum_y), (3, 1.5 + 2.5 + 0.5, 0.5 + 0.5 + 1.5));
        assert_eq!(a.channels[0], ChannelStats { sum: 10.0, sum_squares: 4.0 + 9.0 + 25.0, min: 2.0, max: 5.0 });
        assert_eq!(a.probability_max, 0.9);
        let values = builtin_values(&square(2.0), 8.0, &a, None, true);
        let names = builtin_names(None, true, &["DAPI".into()]);
        assert_eq!(values.len(), names.len());
        let get = |n: &str| values[names.iter().position(|m| m == n).unwrap()];
        assert!((get("DAPI: Mean") - 10.0 / 3.0).abs() < 1e-12);
        assert!((get("Mean probability") - 2.2 / 3.0).abs() < 1e-6);
        assert_eq!((get("Area px^2"), get("Bounds width px")), (4.0, 2.0));
    }

    fn block(x0: u32, x1: u32, rows: std::ops::Range<u32>) -> Vec<Run> {
        rows.map(|y| Run { y, x0, x1 }).collect()
    }

    #[test]
    fn perimeters_weigh_boundary_pixels_as_scikit_image_does() {
        // skimage.measure.perimeter(np.ones((10, 10)), 4) == 36: each of the 36 boundary pixels counts 1.
        assert_eq!(perimeter(&block(0, 10, 0..10)), 36.0);
        // Four 2x2 blocks touching at corners: skimage gives 16 (every pixel is on the boundary).
        let stairs: Vec<Run> = (0..4u32).flat_map(|i| block(2 * i, 2 * i + 2, 2 * i..2 * i + 2)).collect();
        assert_eq!(perimeter(&stairs), 16.0);
        // An L of width 3: its inner bend weighs sqrt 2 (skimage: 27.414213562373096).
        let mut l = block(0, 3, 0..6);
        l.extend(block(0, 7, 6..9));
        l.sort_unstable();
        assert!((perimeter(&l) - 27.414213562373096).abs() < 1e-9, "{}", perimeter(&l));
        assert_eq!(perimeter(&block(3, 4, 5..6)), 0.0, "a lone pixel, as scikit-image");
    }

    #[test]
    fn calibrated_measurements_scale_by_the_pixel_size() {
        let cal = Calibration { pixel_size: 0.5, unit: "µm".into() };
        let stats = PixelStats { pixels: 100, sum_x: 500.0, sum_y: 500.0, ..Default::default() };
        let values = builtin_values(&square(10.0), 40.0, &stats, Some(&cal), false);
        let names = builtin_names(Some(&cal), false, &[]);
        assert_eq!(values[names.iter().position(|n| n == "Area µm^2").unwrap()], 25.0);
        assert_eq!(values[names.iter().position(|n| n == "Centroid X µm").unwrap()], 2.5);
    }
}
