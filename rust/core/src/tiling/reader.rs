//! Reading image regions, and tile windows that reach past the image edge.

use super::window::Window;
use crate::non_finite::{self, NonFinite};
use crate::{Error, Result};
use ndarray::{s, Array3, Axis};

/// A source of raw pixel intensities that can be read region by region, so
/// that an image never has to be in memory as a whole.
pub trait RegionReader: Send + Sync {
    fn width(&self) -> usize;
    fn height(&self) -> usize;
    fn channels(&self) -> usize;
    /// µm per full-resolution pixel, when the image is calibrated; inference
    /// then runs the model at the model's own pixel size (see
    /// [`super::resample::Resolution`]).
    fn pixel_size(&self) -> Option<f64> {
        None
    }
    /// The `[channels, h, w]` region at `(x, y)`; the region lies inside the image.
    fn read(&self, x: usize, y: usize, w: usize, h: usize) -> Result<Array3<f32>>;
    /// The names of the channels in order, if the image has them; a model
    /// that knows its channels' names then picks them by name (see
    /// [`super::channel_names::Picked`]) instead of by position.
    fn channel_names(&self) -> Option<Vec<String>> {
        None
    }
}

/// A whole `[channels, height, width]` image held in memory.
#[derive(Debug, Clone)]
pub struct InMemoryImage(pub Array3<f32>);

impl RegionReader for InMemoryImage {
    fn width(&self) -> usize {
        self.0.dim().2
    }

    fn height(&self) -> usize {
        self.0.dim().1
    }

    fn channels(&self) -> usize {
        self.0.dim().0
    }

    fn read(&self, x: usize, y: usize, w: usize, h: usize) -> Result<Array3<f32>> {
        if x + w > self.width() || y + h > self.height() {
            return Err(Error::config(format!(
                "region {w}x{h} at ({x}, {y}) is outside the {}x{} image",
                self.width(),
                self.height()
            )));
        }
        Ok(self.0.slice(s![.., y..y + h, x..x + w]).to_owned())
    }
}

/// A reader whose regions come with non-finite values handled as the
/// policy says; a refusal names the image position of the first.
pub struct FiniteRegions<'a> {
    pub reader: &'a dyn RegionReader,
    pub policy: NonFinite,
}

impl RegionReader for FiniteRegions<'_> {
    fn width(&self) -> usize {
        self.reader.width()
    }

    fn height(&self) -> usize {
        self.reader.height()
    }

    fn channels(&self) -> usize {
        self.reader.channels()
    }

    fn pixel_size(&self) -> Option<f64> {
        self.reader.pixel_size()
    }

    fn read(&self, x: usize, y: usize, w: usize, h: usize) -> Result<Array3<f32>> {
        let mut region = self.reader.read(x, y, w, h)?.as_standard_layout().into_owned();
        let values = region.as_slice_mut().expect("standard layout");
        non_finite::enforce(self.policy, values, "the image", |i| {
            format!("x={}, y={}, channel {}", x + i % w, y + i / w % h, i / (w * h))
        })?;
        Ok(region)
    }

    fn channel_names(&self) -> Option<Vec<String>> {
        self.reader.channel_names()
    }
}

/// The pixels of `window` of another reader, as an image of their own.
pub struct Cropped<'a> {
    pub reader: &'a dyn RegionReader,
    pub window: Window,
}

impl RegionReader for Cropped<'_> {
    fn width(&self) -> usize {
        self.window.width
    }

    fn height(&self) -> usize {
        self.window.height
    }

    fn channels(&self) -> usize {
        self.reader.channels()
    }

    fn pixel_size(&self) -> Option<f64> {
        self.reader.pixel_size()
    }

    fn read(&self, x: usize, y: usize, w: usize, h: usize) -> Result<Array3<f32>> {
        if x + w > self.window.width || y + h > self.window.height {
            return Err(Error::config(format!("region {w}x{h} at ({x}, {y}) is outside the {}x{} window", self.window.width, self.window.height)));
        }
        self.reader.read(self.window.x + x, self.window.y + y, w, h)
    }

    fn channel_names(&self) -> Option<Vec<String>> {
        self.reader.channel_names()
    }
}

/// Maps any coordinate onto `0..len` by mirroring at the edges without
/// repeating the edge pixel (numpy's `reflect`), as often as needed.
pub fn reflect(i: isize, len: usize) -> usize {
    if len == 1 {
        return 0;
    }
    let period = 2 * (len as isize - 1);
    let j = i.rem_euclid(period);
    (if j < len as isize { j } else { period - j }) as usize
}

/// The `[channels, h, w]` window at `(x, y)`, which may extend beyond the
/// image on any side; outside pixels are reflected back into it. Reads only
/// the part of the image that the window needs.
pub fn read_reflected(reader: &dyn RegionReader, x: isize, y: isize, w: usize, h: usize) -> Result<Array3<f32>> {
    let (width, height) = (reader.width(), reader.height());
    if x >= 0 && y >= 0 && x as usize + w <= width && y as usize + h <= height {
        return reader.read(x as usize, y as usize, w, h);
    }
    let cols: Vec<usize> = (x..x + w as isize).map(|i| reflect(i, width)).collect();
    let rows: Vec<usize> = (y..y + h as isize).map(|i| reflect(i, height)).collect();
    let span = |v: &[usize]| (*v.iter().min().unwrap(), *v.iter().max().unwrap() + 1);
    let ((x0, x1), (y0, y1)) = (span(&cols), span(&rows));
    let region = reader.read(x0, y0, x1 - x0, y1 - y0)?;
    let cols: Vec<usize> = cols.iter().map(|c| c - x0).collect();
    let rows: Vec<usize> = rows.iter().map(|r| r - y0).collect();
    Ok(region.select(Axis(1), &rows).select(Axis(2), &cols))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array;

    #[test]
    fn reflect_matches_numpy() {
        let pad = |len: usize, before: isize, after: isize| -> Vec<usize> {
            (-before..len as isize + after).map(|i| reflect(i, len)).collect()
        };
        // np.pad(np.arange(n), (before, after), mode='reflect')
        assert_eq!(pad(3, 7, 7), [1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1]);
        assert_eq!(pad(1, 3, 3), [0; 7]);
        assert_eq!(pad(4, 5, 9), [1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
        assert_eq!(pad(2, 5, 4), [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    }

    fn image(c: usize, h: usize, w: usize) -> InMemoryImage {
        InMemoryImage(Array::from_shape_fn((c, h, w), |(c, y, x)| (c * 10_000 + y * 100 + x) as f32))
    }

    #[test]
    fn windows_are_reflected_on_every_side() {
        let img = image(2, 3, 4);
        let w = read_reflected(&img, -2, -1, 8, 6).unwrap();
        assert_eq!(w.dim(), (2, 6, 8));
        // np.pad(a[c], ((1, 2), (2, 2)), mode='reflect') for a 3x4 image
        let rows = [1, 0, 1, 2, 1, 0];
        let cols = [2, 1, 0, 1, 2, 3, 2, 1];
        for c in 0..2 {
            for (i, &r) in rows.iter().enumerate() {
                for (j, &col) in cols.iter().enumerate() {
                    assert_eq!(w[[c, i, j]], img.0[[c, r, col]]);
                }
            }
        }
        assert_eq!(read_reflected(&img, 1, 1, 2, 2).unwrap(), img.0.slice(s![.., 1..3, 1..3]));
    }

    #[test]
    fn one_pixel_images_fill_the_window() {
        let img = image(1, 1, 1);
        assert_eq!(read_reflected(&img, -3, -3, 5, 4).unwrap(), Array3::<f32>::zeros((1, 4, 5)));
    }

    #[test]
    fn reading_outside_the_image_is_an_error() {
        let e = image(1, 3, 4).read(2, 0, 3, 1).unwrap_err().to_string();
        assert!(e.contains("outside the 4x3 image"), "{e}");
    }
}
