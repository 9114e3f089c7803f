//! The grid of square tiles that covers an image.
//!
//! Tiles of size `T` overlap their neighbours by `O` pixels, so origins are
//! `step = T - O` apart. Along each axis, tile `k` starts at
//! `k * step - margin` and *owns* the pixels `k * step .. (k + 1) * step`:
//! the owned regions partition the image, each lies `margin` pixels inside
//! its tile's start and `O - margin` inside its end, so every pixel has
//! context on both sides (and the image's own edge pixels get reflected
//! context).
//!
//! The margin is `O / 2` (owned region centred), rounded down to a multiple
//! of the models' total stride (32) when `T` and `O` are multiples of it.
//! Then every tile origin is a multiple of 32 relative to the image origin:
//! a network that downsamples by 32 sees each pixel at the same phase of its
//! pooling grid in every tile and in a whole-image pass, which is what makes
//! tiled and whole-image predictions agree.

use crate::models::OUTPUT_STRIDE;
use crate::{Error, Result};

const ALIGN: usize = OUTPUT_STRIDE as usize;

/// A quarter of a tile of overlap, in whole multiples of the models' stride
/// so that the grid stays aligned.
pub fn default_overlap(tile: usize) -> usize {
    tile / 4 / ALIGN * ALIGN
}

/// Checks a tile size and overlap, independently of any image.
pub fn validate(tile: usize, overlap: usize) -> Result<()> {
    if tile == 0 {
        return Err(Error::config("tile size must be positive"));
    }
    if overlap >= tile {
        return Err(Error::config(format!("tile overlap ({overlap}) must be smaller than the tile size ({tile})")));
    }
    if !overlap.is_multiple_of(2) {
        return Err(Error::config(format!("tile overlap must be even, got {overlap}")));
    }
    Ok(())
}

/// Tile origins along both axes of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileGrid {
    pub tile: usize,
    pub overlap: usize,
    /// How far the first tile starts before the image (`0 <= margin <= overlap`).
    pub margin: usize,
    /// Tiles per column and per row.
    pub rows: usize,
    pub cols: usize,
}

impl TileGrid {
    pub fn new(height: usize, width: usize, tile: usize, overlap: usize) -> Result<TileGrid> {
        validate(tile, overlap)?;
        if height == 0 || width == 0 {
            return Err(Error::config(format!("cannot tile an empty {width}x{height} image")));
        }
        let step = tile - overlap;
        Ok(TileGrid { tile, overlap, margin: TileGrid::margin_for(tile, overlap), rows: height.div_ceil(step), cols: width.div_ceil(step) })
    }

    /// The margin of every grid of these tiles (see [`TileGrid::margin`]).
    pub fn margin_for(tile: usize, overlap: usize) -> usize {
        let half = overlap / 2;
        if tile.is_multiple_of(ALIGN) && overlap.is_multiple_of(ALIGN) {
            half - half % ALIGN
        } else {
            half
        }
    }

    pub fn step(&self) -> usize {
        self.tile - self.overlap
    }

    /// Where tile `k` starts along an axis (negative before the image).
    pub fn origin(&self, k: usize) -> isize {
        (k * self.step()) as isize - self.margin as isize
    }

    /// Number of tiles.
    pub fn count(&self) -> usize {
        self.rows * self.cols
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_tiles_are_rejected_with_reasons() {
        let e = |t, o| TileGrid::new(10, 10, t, o).unwrap_err().to_string();
        assert!(e(0, 0).contains("tile size must be positive"));
        assert!(e(64, 64).contains("must be smaller than the tile size"));
        assert!(e(64, 3).contains("must be even"));
        assert!(TileGrid::new(0, 5, 64, 0).unwrap_err().to_string().contains("empty 5x0 image"));
    }

    #[test]
    fn aligned_sizes_give_origins_on_the_stride() {
        for (tile, overlap) in [(512, 64), (512, 32), (256, 96), (256, 128), (64, 0), (96, 32)] {
            let g = TileGrid::new(1000, 700, tile, overlap).unwrap();
            assert!(g.margin <= overlap && overlap / 2 - g.margin < ALIGN, "{tile}/{overlap}");
            for k in 0..g.rows.max(g.cols) {
                assert_eq!(g.origin(k).rem_euclid(ALIGN as isize), 0, "{tile}/{overlap} tile {k}");
            }
        }
        assert_eq!(TileGrid::new(1, 1, 512, 128).unwrap().margin, 64);
        assert_eq!(TileGrid::new(1, 1, 100, 20).unwrap().margin, 10);
    }

    #[test]
    fn owned_regions_cover_the_image_inside_their_tiles() {
        for (len, tile, overlap) in [(1, 64, 32), (63, 64, 32), (64, 64, 32), (1000, 256, 64), (77, 10, 4)] {
            let g = TileGrid::new(len, len, tile, overlap).unwrap();
            assert_eq!(g.rows, len.div_ceil(g.step()));
            let last = g.rows - 1;
            assert!(g.origin(0) <= 0 && g.origin(last) + tile as isize >= len as isize);
            assert!(g.margin + g.step() <= tile, "owned region inside the tile");
        }
    }
}
