//! Streaming assembly of tile predictions: weighted sums are kept only for a
//! band of full-width rows, one tile high, and rows leave the band as soon as
//! no later tile can touch them.

use super::ProbabilitySink;
use crate::Result;
use ndarray::{s, Array2, Array3, ArrayView2, ArrayView3, Zip};

/// Weighted probability sums `Σ w·p` and weight sums `Σ w` for image rows
/// `top .. top + band` (memory: `(classes + 1) * band * width * 4` bytes).
pub struct Stitcher {
    sums: Array3<f32>,
    weights: Array2<f32>,
    top: usize,
    height: usize,
}

impl Stitcher {
    /// A band of `band` rows (the tile size) of an image `width` wide and
    /// `height` high, starting at row 0.
    pub fn new(classes: usize, height: usize, width: usize, band: usize) -> Stitcher {
        Stitcher { sums: Array3::zeros((classes, band, width)), weights: Array2::zeros((band, width)), top: 0, height }
    }

    /// Adds the `[classes, tile, tile]` prediction of the tile at `(x, y)`,
    /// weighted by `window`; the parts outside the image are dropped. The
    /// tile's rows inside the image must lie in the band.
    pub fn add(&mut self, x: isize, y: isize, probs: ArrayView3<f32>, window: ArrayView2<f32>) {
        let (band, width) = self.weights.dim();
        let (rows, tile_rows) = clip(y, window.nrows(), self.height);
        let (cols, tile_cols) = clip(x, window.ncols(), width);
        assert!(rows.start >= self.top && rows.end <= self.top + band, "tile rows {rows:?} outside the band");
        let band_rows = rows.start - self.top..rows.end - self.top;
        let w = window.slice(s![tile_rows.clone(), tile_cols.clone()]);
        Zip::from(self.sums.slice_mut(s![.., band_rows.clone(), cols.clone()]))
            .and(probs.slice(s![.., tile_rows, tile_cols]))
            .and_broadcast(&w)
            .for_each(|sum, &p, &w| *sum += w * p);
        let mut weights = self.weights.slice_mut(s![band_rows, cols]);
        weights += &w;
    }

    /// Normalises the rows above `until` (clamped to the image), writes them
    /// to `sink` and slides the band down past them.
    pub fn flush(&mut self, until: usize, sink: &mut dyn ProbabilitySink) -> Result<()> {
        let n = until.min(self.height).saturating_sub(self.top);
        if n == 0 {
            return Ok(());
        }
        let mut done = self.sums.slice_mut(s![.., ..n, ..]);
        // Pixels of skipped tiles have no weight: zero, not 0/0.
        Zip::from(&mut done).and_broadcast(&self.weights.slice(s![..n, ..])).for_each(|s, &w| *s = if w > 0.0 { *s / w } else { 0.0 });
        sink.write_rows(self.top, done.view())?;
        let band = self.weights.nrows();
        for i in 0..band - n {
            let (mut to, from) = self.sums.multi_slice_mut((s![.., i, ..], s![.., i + n, ..]));
            to.assign(&from);
            let (mut to, from) = self.weights.multi_slice_mut((s![i, ..], s![i + n, ..]));
            to.assign(&from);
        }
        self.sums.slice_mut(s![.., band - n.., ..]).fill(0.0);
        self.weights.slice_mut(s![band - n.., ..]).fill(0.0);
        self.top += n;
        Ok(())
    }
}

/// The image range `start .. start + size` clipped to `0..len`, and the
/// matching range inside the tile.
fn clip(start: isize, size: usize, len: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let a = start.clamp(0, len as isize);
    let b = (start + size as isize).clamp(a, len as isize);
    (a as usize..b as usize, (a - start) as usize..(b - start) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiling::ProbabilityMap;
    use ndarray::Array;

    #[test]
    fn overlapping_tiles_average_by_weight_and_rows_stream_in_order() {
        // A 1-class 3x5 image from two 4x4 tiles at x = -1 and x = 2, both at y = -1.
        let mut st = Stitcher::new(1, 3, 5, 4);
        let ones = Array2::<f32>::ones((4, 4));
        st.add(-1, -1, Array::from_elem((1, 4, 4), 1.0).view(), ones.view());
        st.add(2, -1, Array::from_elem((1, 4, 4), 4.0).view(), (&ones * 2.0).view());
        let mut map = ProbabilityMap::new(1, 3, 5);
        st.flush(2, &mut map).unwrap();
        assert_eq!(st.top, 2);
        // Columns 0..1 from the first tile only, column 2 from both (1·1 + 2·4) / 3, 3..4 from the second.
        assert_eq!(map.0.slice(s![0, 0, ..]).to_vec(), [1.0, 1.0, 3.0, 4.0, 4.0]);
        assert_eq!(map.0.slice(s![0, 1, ..]), map.0.slice(s![0, 0, ..]));
        // Row 2 was slid to the top of the band and is finished by the last flush.
        st.flush(usize::MAX, &mut map).unwrap();
        assert_eq!(map.0.slice(s![0, 2, ..]), map.0.slice(s![0, 0, ..]));
        assert!(st.weights.iter().all(|&w| w == 0.0));
    }

    #[test]
    fn clipping_keeps_matching_ranges() {
        assert_eq!(clip(-3, 8, 4), (0..4, 3..7));
        assert_eq!(clip(2, 8, 20), (2..10, 0..8));
        assert_eq!(clip(18, 8, 20), (18..20, 0..2));
    }
}
