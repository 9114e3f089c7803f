//! A rectangle of an image to predict, and which tiles of its grid a
//! region needs.
//!
//! A window is tiled like a whole image (see [`TileGrid`]), with its tiles
//! placed relative to the window's corner; their context outside the window
//! is read from the image, and reflected only at the image's own edges, so a
//! window predicts what the whole image would there.

use super::plan::TileGrid;
use super::resample::{centre, downsampled_len};
use crate::{Error, Result};
use serde::Serialize;

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
}

/// The tiles of a grid over `window` (of an image `factor` times smaller
/// than the full resolution, `size` = its width and height) that own a
/// downsampled pixel some chosen full-resolution pixel interpolates from.
pub struct TileSelection {
    grid: TileGrid,
    window: Window,
    scale: f64,
    size: (usize, usize),
    selected: Vec<bool>,
}

impl TileSelection {
    pub fn new(grid: TileGrid, window: Window, factor: f64, size: (usize, usize)) -> TileSelection {
        TileSelection { grid, window, scale: 1.0 / factor, size, selected: vec![false; grid.count()] }
    }

    /// Chooses the full-resolution pixels `x0..x1` of row `y`.
    pub fn add_span(&mut self, y: usize, x0: usize, x1: usize) {
        if x0 >= x1 {
            return;
        }
        let step = self.grid.step();
        // The downsampled pixels before and after a full-resolution centre.
        let needed = |i: usize, len: usize| {
            let (j, t) = centre(i, self.scale, len);
            (j, if t > 0.0 { j + 1 } else { j })
        };
        let (rows, cols) = ((needed(y, self.size.1)), (needed(x0, self.size.0).0, needed(x1 - 1, self.size.0).1));
        let tile = |v: usize, origin: usize, count: usize| (v.saturating_sub(origin) / step).min(count - 1);
        let (r0, r1) = (tile(rows.0, self.window.y, self.grid.rows), tile(rows.1, self.window.y, self.grid.rows));
        let (c0, c1) = (tile(cols.0, self.window.x, self.grid.cols), tile(cols.1, self.window.x, self.grid.cols));
        for r in r0..=r1 {
            self.selected[r * self.grid.cols + c0..=r * self.grid.cols + c1].fill(true);
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
        let mut selection = TileSelection::new(grid, window, 1.0, (200, 200));
        // Window pixels x 40..42 of row 70: tile column 1 (owns 32..64), tile row 2 (owns 64..96).
        selection.add_span(90, 50, 52);
        let chosen: Vec<usize> = selection.into_selected().iter().enumerate().filter(|(_, &s)| s).map(|(i, _)| i).collect();
        assert_eq!(chosen, [2 * grid.cols + 1]);
    }
}
