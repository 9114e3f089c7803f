//! A region's row masks over a window, and the tiles those rows need.

use super::Region;
use crate::geometry::raster::Rasterizer;
use crate::tiling::{TileSelection, Window};
use crate::{Error, Result};

/// Row masks of a region over a window, top to bottom.
pub struct RegionRows<'r> {
    source: Source<'r>,
    window: Window,
    next: usize,
}

enum Source<'r> {
    Raster(Rasterizer),
    Mask(&'r ndarray::Array2<bool>),
}

impl<'r> RegionRows<'r> {
    pub fn new(region: &'r Region, window: Window) -> RegionRows<'r> {
        let source = match region {
            Region::Polygons(p) => Source::Raster(Rasterizer::new(p, window.x as i64, window.y as i64, window.width, window.height)),
            Region::Mask(m) => Source::Mask(m),
        };
        RegionRows { source, window, next: 0 }
    }

    /// Fills `row` (the window's width) with the next row; false past the window's bottom.
    pub fn next_row(&mut self, row: &mut [bool]) -> bool {
        if self.next >= self.window.height {
            return false;
        }
        let y = self.window.y + self.next;
        self.next += 1;
        match &mut self.source {
            Source::Raster(r) => r.next_row(row),
            Source::Mask(m) => {
                for (out, &v) in row.iter_mut().zip(m.row(y).iter().skip(self.window.x)) {
                    *out = v;
                }
                true
            }
        }
    }
}

/// Chooses the region's pixels in `bounds` (full resolution) for
/// `selection`, counting them; refuses a region without a pixel.
pub fn add_pixels(region: &Region, bounds: Window, selection: &mut TileSelection) -> Result<u64> {
    let mut rows = region.rows(bounds);
    let mut row = vec![false; bounds.width];
    let mut pixels = 0u64;
    let mut y = bounds.y;
    while rows.next_row(&mut row) {
        let mut x = 0;
        while x < row.len() {
            let Some(start) = row[x..].iter().position(|&v| v).map(|s| x + s) else { break };
            let end = row[start..].iter().position(|&v| !v).map_or(row.len(), |e| start + e);
            selection.add_span(y, bounds.x + start, bounds.x + end);
            pixels += (end - start) as u64;
            x = end;
        }
        y += 1;
    }
    if pixels == 0 {
        return Err(Error::config("the region covers no pixel centre of the image"));
    }
    Ok(pixels)
}
