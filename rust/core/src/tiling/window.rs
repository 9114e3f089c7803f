//! A rectangle of an image to predict, and which tiles of its grid a
//! region needs.
//!
//! A window is tiled like a whole image (see [`TileGrid`]), with its tiles
//! placed relative to the window's corner; their context outside the window
//! is read from the image, and reflected only at the image's own edges. A
//! window widened by [`Window::tiled_for`] has the tiles of the whole
//! image's grid at its pixels, every one that weighs in on them, so it
//! predicts exactly what the whole image does there: a region's results and
//! neighbouring live-overlay tiles agree with a whole-image run.

use super::plan::TileGrid;
use super::scale::{centre, downsampled_len};
use super::ProbabilitySink;
use crate::{Error, Result};
use ndarray::{s, ArrayView3};
use serde::Serialize;
use std::ops::Range;

/// A rectangle of pixels of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

impl Window {
    pub fn whole(width: usize, height: usize) -> Window {
        Window { x: 0, y: 0, width, height }
    }

    /// Refuses an empty window or one that reaches past a `width` x `height` image.
    pub fn check_inside(&self, width: usize, height: usize) -> Result<()> {
        let Window { x, y, width: w, height: h } = *self;
        if w == 0 || h == 0 {
            return Err(Error::config(format!("the region {w}x{h} at ({x}, {y}) is empty")));
        }
        if x.checked_add(w).is_none_or(|r| r > width) || y.checked_add(h).is_none_or(|b| b > height) {
            return Err(Error::config(format!("the region {w}x{h} at ({x}, {y}) reaches outside the {width}x{height} image")));
        }
        Ok(())
    }

    /// The window of the image (`width` x `height`) downsampled by `factor`
    /// whose probabilities interpolate back to every pixel of this one: the
    /// pixels it covers and one more on each side where the image has them.
    pub fn downsampled(&self, factor: f64, width: usize, height: usize) -> Result<Window> {
        let (down_w, down_h) = (downsampled_len(width, factor, "width")?, downsampled_len(height, factor, "height")?);
        let axis = |start: usize, len: usize, down: usize| {
            let first = ((start as f64 / factor).floor() as usize).saturating_sub(1).min(down - 1);
            let end = ((((start + len) as f64) / factor).ceil() as usize + 1).min(down);
            (first, end - first)
        };
        let ((x, w), (y, h)) = (axis(self.x, self.width, down_w), axis(self.y, self.height, down_h));
        Ok(Window { x, y, width: w, height: h })
    }

    /// The window to tile for the pixels of `self` in an image of `size`:
    /// widened to start on the whole image's tile grid, early enough that
    /// the tile before it cannot reach them, and to end where no later tile
    /// can.
    pub fn tiled_for(&self, tile: usize, overlap: usize, size: (usize, usize)) -> Window {
        let margin = TileGrid::margin_for(tile, overlap);
        let step = tile - overlap;
        let axis = |start: usize, len: usize, total: usize| {
            // Tile k covers [k·step - margin, k·step - margin + tile).
            let first = start.saturating_sub(overlap - margin) / step * step;
            (first, (start + len + margin).min(total) - first)
        };
        let ((x, width), (y, height)) = (axis(self.x, self.width, size.0), axis(self.y, self.height, size.1));
        Window { x, y, width, height }
    }
}

/// Passes on the rows and columns of `inner` from rows of `outer` (both
/// windows of one image, `inner` inside `outer`), numbered from `inner`'s top.
pub struct Cropping<'a> {
    pub sink: &'a mut dyn ProbabilitySink,
    pub outer: Window,
    pub inner: Window,
}

impl ProbabilitySink for Cropping<'_> {
    fn write_rows(&mut self, y: usize, probs: ArrayView3<f32>) -> Result<()> {
        let (top, rows) = (self.outer.y + y, probs.dim().1);
        let (first, end) = (top.max(self.inner.y), (top + rows).min(self.inner.y + self.inner.height));
        if first >= end {
            return Ok(());
        }
        let left = self.inner.x - self.outer.x;
        self.sink.write_rows(first - self.inner.y, probs.slice(s![.., first - top..end - top, left..left + self.inner.width]))
    }

    fn finish(&mut self) -> Result<()> {
        self.sink.finish()
    }
}

/// The tiles of a grid over `window` (of an image `factor` times smaller
/// than the full resolution, `size` = its width and height) whose weight
/// reaches (`support`, see [`super::BlendMode::support`]) a downsampled
/// pixel that some chosen full-resolution pixel interpolates from.
pub struct TileSelection {
    grid: TileGrid,
    window: Window,
    scale: f64,
    size: (usize, usize),
    support: Range<usize>,
    selected: Vec<bool>,
}

impl TileSelection {
    pub fn new(grid: TileGrid, window: Window, factor: f64, size: (usize, usize), support: Range<usize>) -> TileSelection {
        TileSelection { grid, window, scale: 1.0 / factor, size, support, selected: vec![false; grid.count()] }
    }

    /// The tiles along an axis of `count` whose support holds the pixels
    /// `first..=last` (relative to the window).
    fn tiles(&self, first: usize, last: usize, count: usize) -> Option<(usize, usize)> {
        let (step, margin) = (self.grid.step(), self.grid.margin);
        let (lo, hi) = (self.support.start, self.support.end);
        // Tile k holds pixel v when k·step - margin + lo <= v < k·step - margin + hi.
        let from = (first + margin + 1).saturating_sub(hi).div_ceil(step);
        let to = ((last + margin - lo) / step).min(count - 1);
        (from <= to).then_some((from, to))
    }

    /// Chooses the full-resolution pixels `x0..x1` of row `y`.
    pub fn add_span(&mut self, y: usize, x0: usize, x1: usize) {
        if x0 >= x1 {
            return;
        }
        // The downsampled pixels before and after a full-resolution centre.
        let needed = |i: usize, len: usize| {
            let (j, t) = centre(i, self.scale, len);
            (j, if t > 0.0 { j + 1 } else { j })
        };
        let (rows, cols) = ((needed(y, self.size.1)), (needed(x0, self.size.0).0, needed(x1 - 1, self.size.0).1));
        let (w, g) = (self.window, self.grid);
        let rows = self.tiles(rows.0.saturating_sub(w.y), rows.1.saturating_sub(w.y), g.rows);
        let cols = self.tiles(cols.0.saturating_sub(w.x), cols.1.saturating_sub(w.x), g.cols);
        if let (Some((r0, r1)), Some((c0, c1))) = (rows, cols) {
            for r in r0..=r1 {
                self.selected[r * g.cols + c0..=r * g.cols + c1].fill(true);
            }
        }
    }

    /// One flag per tile, row by row.
    pub fn into_selected(self) -> Vec<bool> {
        self.selected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_outside_the_image_or_empty_are_refused() {
        let e = |w: Window| w.check_inside(100, 50).unwrap_err().to_string();
        assert!(e(Window { x: 90, y: 0, width: 20, height: 5 }).contains("reaches outside the 100x50 image"));
        assert!(e(Window { x: 0, y: 0, width: 0, height: 5 }).contains("is empty"));
        assert!(e(Window { x: usize::MAX, y: 0, width: 2, height: 5 }).contains("outside"));
        Window { x: 10, y: 10, width: 90, height: 40 }.check_inside(100, 50).unwrap();
    }

    #[test]
    fn a_downsampled_window_covers_every_interpolation_source() {
        for factor in [1.5, 2.0, 3.0, 4.0, 0.5] {
            let (w, h) = (97usize, 61usize);
            let (dw, dh) = (downsampled_len(w, factor, "").unwrap(), downsampled_len(h, factor, "").unwrap());
            for full in [Window { x: 0, y: 0, width: w, height: h }, Window { x: 13, y: 7, width: 30, height: 41 }, Window { x: 96, y: 60, width: 1, height: 1 }] {
                let down = full.downsampled(factor, w, h).unwrap();
                assert!(down.x + down.width <= dw && down.y + down.height <= dh, "{factor} {full:?} -> {down:?}");
                for x in full.x..full.x + full.width {
                    let (j, t) = centre(x, 1.0 / factor, dw);
                    assert!(j >= down.x && (if t > 0.0 { j + 1 } else { j }) < down.x + down.width, "{factor} x={x} {down:?}");
                }
            }
        }
    }

    #[test]
    fn at_full_resolution_the_selected_tiles_are_those_owning_the_pixels() {
        let window = Window { x: 10, y: 20, width: 100, height: 100 };
        let grid = TileGrid::new(100, 100, 32, 0).unwrap();
        let mut selection = TileSelection::new(grid, window, 1.0, (200, 200), 0..32);
        // Window pixels x 40..42 of row 70: tile column 1 (owns 32..64), tile row 2 (owns 64..96).
        selection.add_span(90, 50, 52);
        let chosen: Vec<usize> = selection.into_selected().iter().enumerate().filter(|(_, &s)| s).map(|(i, _)| i).collect();
        assert_eq!(chosen, [2 * grid.cols + 1]);
    }
}
