//! Running a model at its own resolution: a reader that yields the image
//! downsampled by a factor, region by region, and a sink that brings the
//! predicted probabilities back to full resolution, row by row.
//!
//! Downsampled pixel `(i, j)` covers the full-resolution square
//! `[i·f, (i+1)·f) x [j·f, (j+1)·f)`, clipped to the image, so the
//! downsampled image is `ceil(W / f) x ceil(H / f)` and a downsampled
//! coordinate times `f` is a full-resolution one. For `f >= 1` a pixel is
//! the area average of what it covers: a plain block mean for integer
//! factors, fractional weights at the block edges otherwise (a box filter,
//! as QuPath's area-averaged downsampling). For `f < 1` (an image coarser
//! than the model's pixels) it is sampled bilinearly at its centre.
//! Probabilities come back bilinearly, sampled at each full-resolution
//! pixel's centre and clamped at the edges, so that they still sum to one.

use super::reader::RegionReader;
use super::scale::{centre, downsampled_len};
use super::window::Window;
use super::ProbabilitySink;
use crate::{Error, Result};
use ndarray::{s, Array2, Array3, ArrayView2, ArrayView3, Axis};

/// Factors this close to 1 run at full resolution, as the Python extension
/// treats pixel sizes within 1% as equal.
const IDENTITY_TOLERANCE: f64 = 0.01;

/// Where the downsample of a run comes from, most specific first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolution {
    /// Given by the caller: wins over everything else.
    pub explicit: Option<f64>,
    /// µm per full-resolution pixel of the image, when known.
    pub image_pixel_size: Option<f64>,
    /// µm per full-resolution pixel of the images the model was trained on.
    pub model_pixel_size: Option<f64>,
    /// The downsample the model was trained at.
    pub model_downsample: f64,
}

impl Resolution {
    /// The factor to run at: the explicit one; else, with both pixel sizes,
    /// the µm of one model pixel (`model_pixel_size × model_downsample`)
    /// over the µm of one image pixel; else the model's downsample. Factors
    /// within 1% of 1 become 1.
    pub fn downsample(&self) -> Result<f64> {
        let positive = |what: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(Error::config(format!("{what} must be a positive number, got {v}")))
            }
        };
        let image = self.image_pixel_size.map(|v| positive("the image's pixel size", v)).transpose()?;
        let model = self.model_pixel_size.map(|v| positive("the model's pixel size", v)).transpose()?;
        let model_downsample = positive("the model's downsample", self.model_downsample)?;
        let factor = match (self.explicit, image, model) {
            (Some(d), _, _) => positive("downsample", d)?,
            (None, Some(image), Some(model)) => model * model_downsample / image,
            _ => model_downsample,
        };
        Ok(if (factor - 1.0).abs() < IDENTITY_TOLERANCE { 1.0 } else { factor })
    }
}

/// Source indices and weights (summing to 1) of downsampled pixel `i` along
/// an axis of `len` full-resolution pixels; see the module documentation.
fn taps(i: usize, factor: f64, len: usize) -> Vec<(usize, f32)> {
    if factor >= 1.0 {
        let (lo, hi) = (i as f64 * factor, ((i + 1) as f64 * factor).min(len as f64));
        let first = lo.floor() as usize;
        let last = (hi.ceil() as usize).min(len);
        let weights: Vec<(usize, f64)> = (first..last).map(|j| (j, hi.min(j as f64 + 1.0) - lo.max(j as f64))).filter(|&(_, w)| w > 0.0).collect();
        let total: f64 = weights.iter().map(|&(_, w)| w).sum();
        weights.into_iter().map(|(j, w)| (j, (w / total) as f32)).collect()
    } else {
        let (j, t) = centre(i, factor, len);
        if t > 0.0 {
            vec![(j, 1.0 - t), (j + 1, t)]
        } else {
            vec![(j, 1.0)]
        }
    }
}

/// The image of `reader` downsampled by `factor`; see the module documentation.
pub struct Downsampled<'a> {
    reader: &'a dyn RegionReader,
    factor: f64,
    width: usize,
    height: usize,
}

impl<'a> Downsampled<'a> {
    pub fn new(reader: &'a dyn RegionReader, factor: f64) -> Result<Downsampled<'a>> {
        let width = downsampled_len(reader.width(), factor, "width")?;
        let height = downsampled_len(reader.height(), factor, "height")?;
        Ok(Downsampled { reader, factor, width, height })
    }
}

impl RegionReader for Downsampled<'_> {
    fn width(&self) -> usize {
        self.width
    }

    fn height(&self) -> usize {
        self.height
    }

    fn channels(&self) -> usize {
        self.reader.channels()
    }

    fn pixel_size(&self) -> Option<f64> {
        self.reader.pixel_size().map(|p| p * self.factor)
    }

    fn read(&self, x: usize, y: usize, w: usize, h: usize) -> Result<Array3<f32>> {
        if x + w > self.width || y + h > self.height || w == 0 || h == 0 {
            return Err(Error::config(format!("region {w}x{h} at ({x}, {y}) is outside the {}x{} downsampled image", self.width, self.height)));
        }
        let cols: Vec<_> = (x..x + w).map(|i| taps(i, self.factor, self.reader.width())).collect();
        let rows: Vec<_> = (y..y + h).map(|j| taps(j, self.factor, self.reader.height())).collect();
        let span = |t: &[Vec<(usize, f32)>]| (t[0][0].0, t[t.len() - 1].last().expect("a tap").0 + 1);
        let ((x0, x1), (y0, y1)) = (span(&cols), span(&rows));
        let source = self.reader.read(x0, y0, x1 - x0, y1 - y0)?;
        // Columns first, then rows: both passes are separable weighted sums.
        let mut narrow = Array3::<f32>::zeros((source.dim().0, y1 - y0, w));
        for (i, taps) in cols.iter().enumerate() {
            let mut out = narrow.slice_mut(s![.., .., i]);
            for &(j, weight) in taps {
                out.scaled_add(weight, &source.slice(s![.., .., j - x0]));
            }
        }
        let mut region = Array3::<f32>::zeros((source.dim().0, h, w));
        for (i, taps) in rows.iter().enumerate() {
            let mut out = region.slice_mut(s![.., i, ..]);
            for &(j, weight) in taps {
                out.scaled_add(weight, &narrow.slice(s![.., j - y0, ..]));
            }
        }
        Ok(region)
    }
}

/// Full-resolution rows written per call to the inner sink, so that memory
/// stays a few rows of the full width whatever the factor.
const ROWS_PER_WRITE: usize = 32;

/// Takes probability rows of the image downsampled by `factor` and passes
/// `inner` the same probabilities at full resolution (`width x height`),
/// bilinearly interpolated; see the module documentation.
pub struct Upsampling<'a> {
    inner: &'a mut dyn ProbabilitySink,
    width: usize,
    height: usize,
    down_height: usize,
    /// Per full-resolution column: the downsampled column before it and the weight of the next.
    columns: Vec<(usize, f32)>,
    /// Per full-resolution row: the downsampled row before it and the weight of the next.
    rows: Vec<(usize, f32)>,
    /// The last downsampled row received, `[K, down_width]`, and its index.
    previous: Option<(usize, Array2<f32>)>,
    /// Downsampled rows received so far, and full-resolution rows written.
    received: usize,
    written: usize,
}

impl<'a> Upsampling<'a> {
    pub fn new(inner: &'a mut dyn ProbabilitySink, factor: f64, width: usize, height: usize) -> Result<Upsampling<'a>> {
        let full = Window::whole(width, height);
        Upsampling::window(inner, factor, (width, height), full, full.downsampled(factor, width, height)?)
    }

    /// For the rows of window `full` of an image `size` (width, height) at
    /// full resolution, from the rows of window `down` of the image
    /// downsampled (see [`Window::downsampled`]); rows count from the
    /// windows' tops.
    pub fn window(inner: &'a mut dyn ProbabilitySink, factor: f64, size: (usize, usize), full: Window, down: Window) -> Result<Upsampling<'a>> {
        let down_width = downsampled_len(size.0, factor, "width")?;
        let down_height = downsampled_len(size.1, factor, "height")?;
        let relative = |(j, t): (usize, f32), origin: usize| (j - origin, t);
        let columns = (full.x..full.x + full.width).map(|x| relative(centre(x, 1.0 / factor, down_width), down.x)).collect();
        let rows = (full.y..full.y + full.height).map(|y| relative(centre(y, 1.0 / factor, down_height), down.y)).collect();
        Ok(Upsampling {
            inner,
            width: full.width,
            height: full.height,
            down_height: down.height,
            columns,
            rows,
            previous: None,
            received: 0,
            written: 0,
        })
    }

    /// The downsampled row a full-resolution row starts from, and the weight of the next.
    fn source_row(&self, y: usize) -> (usize, f32) {
        self.rows[y]
    }

    /// One full-resolution row from downsampled rows `a` and `b` mixed by `t`.
    fn interpolate(&self, a: ArrayView2<f32>, b: ArrayView2<f32>, t: f32, mut out: ndarray::ArrayViewMut2<f32>) {
        for ((a, b), mut out) in a.outer_iter().zip(b.outer_iter()).zip(out.outer_iter_mut()) {
            for (o, &(c, u)) in out.iter_mut().zip(&self.columns) {
                let next = if u > 0.0 { c + 1 } else { c };
                let top = a[c] * (1.0 - u) + a[next] * u;
                let bottom = b[c] * (1.0 - u) + b[next] * u;
                *o = top * (1.0 - t) + bottom * t;
            }
        }
    }
}

impl ProbabilitySink for Upsampling<'_> {
    fn write_rows(&mut self, y: usize, probs: ArrayView3<f32>) -> Result<()> {
        let (classes, rows, _) = probs.dim();
        if y != self.received || y + rows > self.down_height {
            return Err(Error::config(format!("downsampled rows {y}..{} arrive out of order (expected row {})", y + rows, self.received)));
        }
        self.received += rows;
        while self.written < self.height {
            let ready = (self.written..self.height.min(self.written + ROWS_PER_WRITE))
                .take_while(|&r| {
                    let (a, t) = self.source_row(r);
                    (if t > 0.0 { a + 1 } else { a }) < self.received
                })
                .count();
            if ready == 0 {
                break;
            }
            let mut chunk = Array3::<f32>::zeros((classes, ready, self.width));
            for i in 0..ready {
                let (a, t) = self.source_row(self.written + i);
                let b = if t > 0.0 { a + 1 } else { a };
                let row_at = |r: usize| match &self.previous {
                    _ if r >= y => probs.index_axis(Axis(1), r - y),
                    Some((i, p)) if *i == r => p.view(),
                    _ => unreachable!("rows before this band are consumed but the last"),
                };
                self.interpolate(row_at(a), row_at(b), t, chunk.index_axis_mut(Axis(1), i));
            }
            self.inner.write_rows(self.written, chunk.view())?;
            self.written += ready;
        }
        if rows > 0 {
            self.previous = Some((self.received - 1, probs.index_axis(Axis(1), rows - 1).to_owned()));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.written != self.height {
            return Err(Error::config(format!("only {} of {} full-resolution rows were written", self.written, self.height)));
        }
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiling::{InMemoryImage, ProbabilityMap};
    use ndarray::Array;

    fn ramp(c: usize, h: usize, w: usize) -> InMemoryImage {
        InMemoryImage(Array::from_shape_fn((c, h, w), |(c, y, x)| (c * 1000 + y * 10 + x) as f32))
    }

    #[test]
    fn integer_factors_average_blocks_and_partial_edge_blocks() {
        let image = ramp(2, 5, 7);
        for factor in [2.0, 4.0] {
            let f = factor as usize;
            let down = Downsampled::new(&image, factor).unwrap();
            let (w, h) = (7usize.div_ceil(f), 5usize.div_ceil(f));
            assert_eq!((down.width(), down.height(), down.channels()), (w, h, 2));
            let all = down.read(0, 0, w, h).unwrap();
            for ((c, j, i), &v) in all.indexed_iter() {
                let block = image.0.slice(s![c, j * f..((j + 1) * f).min(5), i * f..((i + 1) * f).min(7)]);
                assert!((v - block.mean().unwrap()).abs() < 1e-4, "factor {factor} ({c}, {j}, {i}): {v}");
            }
            // A region reads the same values as the whole.
            assert_eq!(down.read(1, 1, w - 1, h - 1).unwrap(), all.slice(s![.., 1.., 1..]));
        }
    }

    #[test]
    fn fractional_factors_weigh_the_pixels_they_cover() {
        // Two equal rows, so that only the columns' weights show.
        let image = InMemoryImage(Array::from_shape_fn((1, 2, 3), |(_, _, x)| x as f32));
        let down = Downsampled::new(&image, 1.5).unwrap();
        // Pixel 0 covers [0, 1.5): 1 of x=0 and 0.5 of x=1; pixel 1 covers [1.5, 3).
        let got = down.read(0, 0, 2, 1).unwrap();
        assert!((got[[0, 0, 0]] - 1.0 / 3.0).abs() < 1e-6 && (got[[0, 0, 1]] - 5.0 / 3.0).abs() < 1e-6, "{got}");
        let up = Downsampled::new(&image, 0.5).unwrap();
        assert_eq!(up.width(), 6);
        let got = up.read(0, 0, 6, 1).unwrap();
        assert_eq!(got.iter().copied().collect::<Vec<_>>(), [0.0, 0.25, 0.75, 1.25, 1.75, 2.0]);
    }

    #[test]
    fn upsampled_rows_interpolate_and_keep_constants() {
        for (factor, width, height) in [(2.0, 9, 7), (4.0, 13, 11), (4.0, 4, 4), (2.5, 10, 6)] {
            let (dw, dh) = (downsampled_len(width, factor, "w").unwrap(), downsampled_len(height, factor, "h").unwrap());
            // Two classes: a plane and its complement; bilinear interpolation
            // reproduces a plane between the outermost pixel centres.
            let plane = |x: f32, y: f32| x + 10.0 * y;
            let down = Array::from_shape_fn((2, dh, dw), |(k, y, x)| if k == 0 { plane(x as f32, y as f32) } else { 100.0 - plane(x as f32, y as f32) });
            let mut map = ProbabilityMap::new(2, height, width);
            let mut sink = Upsampling::new(&mut map, factor, width, height).unwrap();
            // Rows arrive in uneven bands, as the stitcher flushes them.
            let mut y = 0;
            for band in [1, 2, dh] {
                let band = band.min(dh - y);
                sink.write_rows(y, down.slice(s![.., y..y + band, ..])).unwrap();
                y += band;
                if y == dh {
                    break;
                }
            }
            sink.finish().unwrap();
            let at = |i: usize, len: usize| ((i as f64 + 0.5) / factor - 0.5).clamp(0.0, (len - 1) as f64) as f32;
            for ((k, y, x), &v) in map.0.indexed_iter() {
                let p = plane(at(x, dw), at(y, dh));
                let expected = if k == 0 { p } else { 100.0 - p };
                assert!((v - expected).abs() < 1e-3, "factor {factor} {width}x{height}: ({k}, {y}, {x}) = {v}, expected {expected}");
            }
        }
    }

    #[test]
    fn unfinished_or_disordered_rows_are_refused() {
        let mut map = ProbabilityMap::new(1, 8, 8);
        let mut sink = Upsampling::new(&mut map, 2.0, 8, 8).unwrap();
        let rows = Array3::<f32>::zeros((1, 2, 4));
        let e = sink.write_rows(1, rows.view()).unwrap_err().to_string();
        assert!(e.contains("out of order"), "{e}");
        sink.write_rows(0, rows.view()).unwrap();
        let e = sink.finish().unwrap_err().to_string();
        assert!(e.contains("of 8 full-resolution rows were written"), "{e}");
    }

    #[test]
    fn the_downsample_comes_from_the_caller_then_pixel_sizes_then_the_model() {
        let r = Resolution { explicit: None, image_pixel_size: Some(0.25), model_pixel_size: Some(0.5), model_downsample: 2.0 };
        assert_eq!(r.downsample().unwrap(), 4.0, "model pixels are 1 µm, image pixels 0.25 µm");
        assert_eq!(Resolution { explicit: Some(3.0), ..r }.downsample().unwrap(), 3.0);
        assert_eq!(Resolution { image_pixel_size: None, ..r }.downsample().unwrap(), 2.0);
        assert_eq!(Resolution { model_pixel_size: None, ..r }.downsample().unwrap(), 2.0);
        assert_eq!(Resolution { image_pixel_size: Some(0.998), model_downsample: 2.0, ..r }.downsample().unwrap(), 1.0, "within 1%");
        for (bad, message) in [
            (Resolution { explicit: Some(0.0), ..r }, "downsample must be a positive number, got 0"),
            (Resolution { explicit: Some(-2.0), ..r }, "downsample must be a positive number, got -2"),
            (Resolution { image_pixel_size: Some(0.0), ..r }, "the image's pixel size must be a positive number, got 0"),
            (Resolution { image_pixel_size: Some(f64::NAN), ..r }, "the image's pixel size must be a positive number, got NaN"),
            (Resolution { model_pixel_size: Some(-1.0), ..r }, "the model's pixel size must be a positive number"),
        ] {
            let e = bad.downsample().unwrap_err().to_string();
            assert!(e.contains(message), "{e}");
        }
        let e = Downsampled::new(&ramp(1, 3, 5), 4.0).err().expect("refused").to_string();
        assert!(e.contains("downsample 4 leaves the height of 3 pixels smaller than one pixel"), "{e}");
    }
}
