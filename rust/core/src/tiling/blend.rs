//! How overlapping tile predictions are combined: each tile contributes its
//! probabilities with a per-pixel weight, and a pixel's result is
//! `Σ w·p / Σ w` over the tiles that cover it.

use super::plan::TileGrid;
use crate::{Error, Result};
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The weight window of a tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlendMode {
    /// Weights ramp up linearly from the tile edge over the overlap width, so
    /// neighbouring tiles cross-fade (their weights sum to one in the overlap).
    #[default]
    Linear,
    /// A Gaussian bump centred on the tile, σ = tile / 8 (as MONAI's sliding
    /// window): tile edges weigh e^-8 of the centre, so they leave no seam.
    /// (σ = tile / 4 leaves 13% at the edge, which shows as seams.)
    Gaussian,
    /// Each pixel comes only from the tile that owns it (see [`TileGrid`]):
    /// no blending at all, tile borders are never used.
    CenterCrop,
    /// A plain average of all predictions that cover a pixel.
    None,
}

impl BlendMode {
    pub const ALL: [BlendMode; 4] = [BlendMode::Linear, BlendMode::Gaussian, BlendMode::CenterCrop, BlendMode::None];

    pub fn name(self) -> &'static str {
        match self {
            BlendMode::Linear => "linear",
            BlendMode::Gaussian => "gaussian",
            BlendMode::CenterCrop => "center_crop",
            BlendMode::None => "none",
        }
    }

    /// The `[tile, tile]` weights of every tile of `grid`; positive wherever a
    /// tile's prediction may be used.
    pub fn window(self, grid: &TileGrid) -> Array2<f32> {
        let profile = self.profile(grid);
        let column = profile.view().insert_axis(Axis(1));
        let row = profile.view().insert_axis(Axis(0));
        &column * &row
    }

    /// Where along an axis a tile's weight is positive: its owned range
    /// for [`BlendMode::CenterCrop`], the whole tile otherwise.
    pub fn support(self, grid: &TileGrid) -> std::ops::Range<usize> {
        match self {
            BlendMode::CenterCrop => grid.margin..grid.margin + grid.step(),
            _ => 0..grid.tile,
        }
    }

    /// The window along one axis; windows are separable.
    fn profile(self, grid: &TileGrid) -> Array1<f32> {
        let (t, o) = (grid.tile, grid.overlap);
        let owned = grid.margin..grid.margin + grid.step();
        Array1::from_shape_fn(t, |i| match self {
            BlendMode::Linear if o > 0 => ((i.min(t - 1 - i) as f32 + 0.5) / o as f32).min(1.0),
            BlendMode::Gaussian => {
                let (d, sigma) = (i as f32 - (t as f32 - 1.0) / 2.0, t as f32 / 8.0);
                (-d * d / (2.0 * sigma * sigma)).exp()
            }
            BlendMode::CenterCrop if !owned.contains(&i) => 0.0,
            _ => 1.0,
        })
    }
}

impl fmt::Display for BlendMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BlendMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        BlendMode::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let known: Vec<_> = BlendMode::ALL.iter().map(|m| m.name()).collect();
            Error::config(format!("unknown blend mode '{s}'; choose one of {}", known.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(tile: usize, overlap: usize) -> TileGrid {
        TileGrid::new(1000, 1000, tile, overlap).unwrap()
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for m in BlendMode::ALL {
            assert_eq!(m.name().parse::<BlendMode>().unwrap(), m);
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{m}\""));
        }
        let e = "feather".parse::<BlendMode>().unwrap_err().to_string();
        assert!(e.contains("linear, gaussian, center_crop, none"), "{e}");
    }

    #[test]
    fn linear_ramps_cross_fade_and_never_vanish() {
        let g = grid(16, 4);
        let p = BlendMode::Linear.profile(&g);
        assert_eq!(p.to_vec()[..5], [0.125, 0.375, 0.625, 0.875, 1.0]);
        assert_eq!(p[15], 0.125);
        // In the overlap, the end of one tile and the start of the next sum to one.
        for j in 0..4 {
            assert_eq!(p[g.step() + j] + p[j], 1.0);
        }
        assert!(BlendMode::Linear.window(&grid(16, 0)).iter().all(|&w| w == 1.0));
    }

    #[test]
    fn gaussian_is_centred_and_positive() {
        let p = BlendMode::Gaussian.profile(&grid(64, 16));
        assert!((p[31] - p[32]).abs() < 1e-7 && p[31] > 0.99);
        assert!((p[0] - (-8.0f32 * (31.5f32 / 32.0).powi(2)).exp()).abs() < 1e-9);
        let w = BlendMode::Gaussian.window(&grid(64, 16));
        assert!((w[[0, 0]] - p[0] * p[0]).abs() < 1e-9);
    }

    #[test]
    fn center_crop_keeps_exactly_the_owned_region() {
        let g = grid(256, 96);
        let w = BlendMode::CenterCrop.window(&g);
        assert_eq!(w.sum(), (g.step() * g.step()) as f32);
        assert_eq!((w[[g.margin, g.margin]], w[[g.margin - 1, g.margin]]), (1.0, 0.0));
        assert_eq!(w[[g.margin + g.step() - 1, g.margin + g.step() - 1]], 1.0);
        assert_eq!(w[[g.margin + g.step(), g.margin]], 0.0);
        assert!(BlendMode::None.window(&g).iter().all(|&w| w == 1.0));
    }
}
