//! Predicting part of an image at the model's resolution: the tiles of the
//! whole image's grid that weigh in on it, only those a region needs, and
//! its rows back at full resolution.

use super::resample::{Downsampled, Upsampling};
use super::scale::downsampled_len;
use super::window::{Cropping, TileSelection, Window};
use super::{predict_window, ProbabilitySink, Progress, RegionReader, TileGrid, TileModel, TilingOptions};
use crate::job::JobControl;
use crate::Result;

/// Tiles of the grid over an area, and how many are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileCount {
    pub run: usize,
    pub total: usize,
}

/// Which tiles predict the full-resolution window `bounds` of an image with
/// the image downsampled by `factor`; planned before anything is run, so
/// that a plan that cannot work fails first.
pub struct AreaPlan {
    bounds: Window,
    factor: f64,
    /// The window tiled, in the downsampled image.
    window: Window,
    selected: Option<Vec<bool>>,
    pub tiles: TileCount,
}

impl AreaPlan {
    /// For an image `width` x `height`; `needed`, when given, chooses the
    /// pixels to predict (see [`TileSelection::add_span`]) and only the tiles
    /// they need will run: other pixels come out as zero probabilities.
    pub fn new(
        width: usize,
        height: usize,
        options: &TilingOptions,
        bounds: Window,
        factor: f64,
        needed: Option<&mut dyn FnMut(&mut TileSelection) -> Result<()>>,
    ) -> Result<AreaPlan> {
        options.validate()?;
        bounds.check_inside(width, height)?;
        let (base, size) = if factor != 1.0 {
            let size = (downsampled_len(width, factor, "width")?, downsampled_len(height, factor, "height")?);
            (bounds.downsampled(factor, width, height)?, size)
        } else {
            (bounds, (width, height))
        };
        let window = base.tiled_for(options.tile_size, options.overlap, size);
        let grid = TileGrid::new(window.height, window.width, options.tile_size, options.overlap)?;
        let selected = match needed {
            Some(add) => {
                let mut selection = TileSelection::new(grid, window, factor, size, options.blend.support(&grid));
                add(&mut selection)?;
                Some(selection.into_selected())
            }
            None => None,
        };
        let run = selected.as_ref().map_or(grid.count(), |s| s.iter().filter(|&&r| r).count());
        Ok(AreaPlan { bounds, factor, window, selected, tiles: TileCount { run, total: grid.count() } })
    }

    /// The window tiled, in the coordinates of the image the model sees.
    pub fn window(&self) -> Window {
        self.window
    }

    /// Predicts the area of `reader` (the image planned for), streaming its
    /// full-resolution rows, numbered from its top, to `sink`: the whole
    /// image's result there.
    pub fn predict(
        &self,
        reader: &dyn RegionReader,
        model: &dyn TileModel,
        options: &TilingOptions,
        sink: &mut dyn ProbabilitySink,
        control: &JobControl,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let (window, selected) = (&self.window, self.selected.as_deref());
        if self.factor != 1.0 {
            let downsampled = Downsampled::new(reader, self.factor)?;
            let size = (reader.width(), reader.height());
            let mut upsampling = Upsampling::window(sink, self.factor, size, self.bounds, *window)?;
            predict_window(&downsampled, window, selected, model, options, &mut upsampling, control, on_progress)
        } else {
            let mut cropping = Cropping { sink, outer: *window, inner: self.bounds };
            predict_window(reader, window, selected, model, options, &mut cropping, control, on_progress)
        }
    }
}
