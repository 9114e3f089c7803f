//! Whole-image inference tile by tile: tile grid, reflection padding, blending and streaming of finished rows.
//!
//! Memory is bounded by one band of tile-high, full-width rows (see
//! [`stitch::Stitcher`]) plus one batch of tiles, never by the image height.

pub mod area;
pub mod blend;
pub mod channel_names;
pub mod plan;
pub mod reader;
pub mod resample;
pub mod scale;
pub mod stitch;
pub mod tta;
pub mod window;

pub use blend::BlendMode;
pub use plan::{default_overlap, TileGrid};
pub use reader::{read_reflected, InMemoryImage, RegionReader};
pub use resample::{Downsampled, Resolution, Upsampling};
pub use area::{AreaPlan, TileCount};
pub use window::{TileSelection, Window};

use crate::job::JobControl;
use crate::limits;
use crate::{Error, Result};
use ndarray::{s, Array3, Array4, ArrayView3, ArrayView4};
use serde::{Deserialize, Serialize};
use stitch::Stitcher;

/// How an image is cut into tiles and the predictions put back together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TilingOptions {
    /// Side of the square tiles fed to the model; a multiple of 32 for the segmentation models.
    pub tile_size: usize,
    /// Pixels shared by neighbouring tiles; even, and a multiple of 32 to keep the grid aligned.
    pub overlap: usize,
    pub blend: BlendMode,
    /// Tiles per model call.
    pub batch_size: usize,
    /// Average predictions over the 8 flips and rotations of each tile (8x slower).
    pub tta: bool,
}

impl Default for TilingOptions {
    fn default() -> Self {
        TilingOptions { tile_size: 512, overlap: 64, blend: BlendMode::Linear, batch_size: 4, tta: false }
    }
}

impl TilingOptions {
    /// Checks the sizes alone; [`TilingOptions::validate_for`] also checks
    /// the tile against the model.
    pub fn validate(&self) -> Result<()> {
        limits::check_count("tile_size", self.tile_size, limits::MAX_TILE_SIZE)?;
        plan::validate(self.tile_size, self.overlap)?;
        limits::check_count("batch_size", self.batch_size, limits::MAX_BATCH_SIZE)
    }

    /// As [`TilingOptions::validate`], and the tile is one the model takes
    /// (see [`limits::check_tile_size`]); `fixed` is its fixed input side.
    pub fn validate_for(&self, fixed: Option<usize>) -> Result<()> {
        limits::check_tile_size("tile_size", self.tile_size, fixed)?;
        self.validate()
    }

    /// Refuses tiling an image `width` x `height` of `channels` for `classes`
    /// whose working set (a batch of tiles in and out, the stitching band)
    /// cannot fit in memory.
    pub fn check_memory(&self, width: usize, height: usize, channels: usize, classes: usize) -> Result<()> {
        let tile = self.tile_size;
        let batch = limits::product(&[self.batch_size, channels + classes, tile, tile, 4]);
        let band = limits::product(&[classes + 1, tile, width, 4]);
        let total = batch.zip(band).and_then(|(a, b)| a.checked_add(b));
        limits::check_memory(&format!("tiling a {width}x{height} image in {tile}x{tile} tiles"), total)
    }
}

/// What tiled inference runs per batch: raw (un-normalised) f32 tiles
/// `[N, C, T, T]` in, class probabilities `[N, K, T, T]` out.
pub trait TileModel {
    fn in_channels(&self) -> usize;
    fn num_classes(&self) -> usize;
    fn predict(&self, tiles: ArrayView4<f32>) -> Result<Array4<f32>>;
}

/// Receives finished rows top to bottom: `probs` is `[K, rows, W]` for image
/// rows `y .. y + rows`. `finish` is called once after the last row, and
/// only if every row was delivered.
pub trait ProbabilitySink {
    fn write_rows(&mut self, y: usize, probs: ArrayView3<f32>) -> Result<()>;
    fn finish(&mut self) -> Result<()>;
}

/// Tiles predicted so far, reported after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub tiles_done: usize,
    pub tiles_total: usize,
}

/// Fails unless an image of `image` channels fits a model of `model` input channels.
pub fn check_channels(model: usize, image: usize) -> Result<()> {
    if image != model {
        return Err(Error::config(format!("the model expects {model} input channels but the image has {image}")));
    }
    Ok(())
}

/// Predicts class probabilities for the whole image of `reader`, tile row by
/// tile row, streaming finished rows to `sink`. Honours `control`: a cancel
/// ends with [`Error::Cancelled`] after the current batch (without calling
/// `sink.finish`), a pause takes effect between tile rows.
pub fn predict_image(
    reader: &dyn RegionReader,
    model: &dyn TileModel,
    options: &TilingOptions,
    sink: &mut dyn ProbabilitySink,
    control: &JobControl,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let whole = Window::whole(reader.width(), reader.height());
    predict_window(reader, &whole, None, model, options, sink, control, on_progress)
}

/// As [`predict_image`], for the rows and columns of `window` only: `sink`
/// gets its rows numbered from the window's top, and its tiles read their
/// context from the image around it. `selected` (one flag per tile of the
/// window's grid, see [`TileGrid`]) skips the tiles it does not flag; pixels
/// no tile covers come out as zero probabilities.
#[allow(clippy::too_many_arguments)]
pub fn predict_window(
    reader: &dyn RegionReader,
    window: &Window,
    selected: Option<&[bool]>,
    model: &dyn TileModel,
    options: &TilingOptions,
    sink: &mut dyn ProbabilitySink,
    control: &JobControl,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    options.validate()?;
    check_channels(model.in_channels(), reader.channels())?;
    window.check_inside(reader.width(), reader.height())?;
    let (height, width, tile) = (window.height, window.width, options.tile_size);
    options.check_memory(width, height, reader.channels(), model.num_classes())?;
    let grid = TileGrid::new(height, width, tile, options.overlap)?;
    if selected.is_some_and(|s| s.len() != grid.count()) {
        return Err(Error::config(format!("a tile selection for {} tiles, but the grid has {}", selected.map_or(0, <[bool]>::len), grid.count())));
    }
    let runs = |row: usize, col: usize| selected.is_none_or(|s| s[row * grid.cols + col]);
    let window_weights = options.blend.window(&grid);
    let mut stitcher = Stitcher::new(model.num_classes(), height, width, tile);
    let total = (0..grid.rows).map(|r| (0..grid.cols).filter(|&c| runs(r, c)).count()).sum();
    let mut progress = Progress { tiles_done: 0, tiles_total: total };
    let (x0, y0) = (window.x as isize, window.y as isize);
    for row in 0..grid.rows {
        if !control.wait_if_paused() {
            return Err(Error::Cancelled);
        }
        let y = grid.origin(row);
        let cols: Vec<usize> = (0..grid.cols).filter(|&c| runs(row, c)).collect();
        for batch in cols.chunks(options.batch_size) {
            if control.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let mut tiles = Array4::zeros((batch.len(), reader.channels(), tile, tile));
            for (mut slot, &col) in tiles.outer_iter_mut().zip(batch) {
                slot.assign(&read_reflected(reader, x0 + grid.origin(col), y0 + y, tile, tile)?);
            }
            let probs = if options.tta {
                tta::average(tiles.view(), |t| predict_checked(model, t))?
            } else {
                predict_checked(model, tiles.view())?
            };
            for (p, &col) in probs.outer_iter().zip(batch) {
                stitcher.add(grid.origin(col), y, p, window_weights.view());
            }
            progress.tiles_done += batch.len();
            on_progress(progress);
        }
        let finished = if row + 1 < grid.rows { grid.origin(row + 1).max(0) as usize } else { height };
        stitcher.flush(finished, sink)?;
    }
    sink.finish()
}

/// Runs the model, refusing outputs of the wrong shape before they are stitched.
fn predict_checked(model: &dyn TileModel, tiles: ArrayView4<f32>) -> Result<Array4<f32>> {
    let (n, _, h, w) = tiles.dim();
    let probs = model.predict(tiles)?;
    let expected = (n, model.num_classes(), h, w);
    if probs.dim() != expected {
        return Err(Error::Model(format!("tile model returned shape {:?}, expected {expected:?}", probs.dim())));
    }
    Ok(probs)
}

/// The whole `[K, H, W]` probability map in memory: for small images and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbabilityMap(pub Array3<f32>);

impl ProbabilityMap {
    pub fn new(classes: usize, height: usize, width: usize) -> ProbabilityMap {
        ProbabilityMap(Array3::zeros((classes, height, width)))
    }
}

impl ProbabilitySink for ProbabilityMap {
    fn write_rows(&mut self, y: usize, probs: ArrayView3<f32>) -> Result<()> {
        let (classes, rows, width) = probs.dim();
        if (classes, width) != (self.0.dim().0, self.0.dim().2) || y + rows > self.0.dim().1 {
            return Err(Error::config(format!(
                "rows {y}..{} of shape {:?} do not fit a probability map of shape {:?}",
                y + rows,
                probs.dim(),
                self.0.dim()
            )));
        }
        self.0.slice_mut(s![.., y..y + rows, ..]).assign(&probs);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, Array2, Axis};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Softmax of a fixed 1x1 linear map of the channels: local and
    /// translation-equivariant, so tiling must not change its output.
    struct Pointwise {
        weights: Array2<f32>,
    }

    impl Pointwise {
        fn new(in_channels: usize, classes: usize) -> Pointwise {
            Pointwise { weights: Array::from_shape_fn((classes, in_channels), |(k, c)| ((k * 7 + c * 3) % 5) as f32 - 2.0) }
        }

        /// `[C, H, W]` -> `[K, H, W]`.
        fn pixels(&self, image: ArrayView3<f32>) -> Array3<f32> {
            let (c, h, w) = image.dim();
            let flat = image.to_shape((c, h * w)).unwrap();
            let mut logits = self.weights.dot(&flat);
            for mut pixel in logits.columns_mut() {
                let max = pixel.fold(f32::MIN, |a, &b| a.max(b));
                pixel.mapv_inplace(|v| (v - max).exp());
                let sum = pixel.sum();
                pixel /= sum;
            }
            logits.into_shape_with_order((self.weights.nrows(), h, w)).unwrap()
        }
    }

    impl TileModel for Pointwise {
        fn in_channels(&self) -> usize {
            self.weights.ncols()
        }

        fn num_classes(&self) -> usize {
            self.weights.nrows()
        }

        fn predict(&self, tiles: ArrayView4<f32>) -> Result<Array4<f32>> {
            let outputs: Vec<_> = tiles.outer_iter().map(|t| self.pixels(t)).collect();
            let views: Vec<_> = outputs.iter().map(|o| o.view()).collect();
            Ok(ndarray::stack(Axis(0), &views).unwrap())
        }
    }

    fn random_image(c: usize, h: usize, w: usize, seed: u64) -> Array3<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        Array::from_shape_simple_fn((c, h, w), || rng.random_range(-2.0..2.0))
    }

    fn tiled(image: &Array3<f32>, model: &dyn TileModel, options: &TilingOptions) -> Result<Array3<f32>> {
        let (_, h, w) = image.dim();
        let mut map = ProbabilityMap::new(model.num_classes(), h, w);
        predict_image(&InMemoryImage(image.clone()), model, options, &mut map, &JobControl::new(), &mut |_| {})?;
        Ok(map.0)
    }

    #[test]
    fn tiling_a_pointwise_model_reproduces_the_whole_image_prediction() {
        let model = Pointwise::new(3, 4);
        let sizes = [(1, 1), (1, 40), (40, 1), (17, 23), (64, 64), (65, 130), (100, 37)];
        let tilings = [(16, 0, 1), (16, 4, 3), (32, 16, 2), (64, 32, 4), (20, 12, 5)];
        for (i, &(h, w)) in sizes.iter().enumerate() {
            let image = random_image(3, h, w, i as u64);
            let expected = model.pixels(image.view());
            for (tile_size, overlap, batch_size) in tilings {
                for blend in BlendMode::ALL {
                    let options = TilingOptions { tile_size, overlap, blend, batch_size, tta: false };
                    let got = tiled(&image, &model, &options).unwrap();
                    let diff = (&got - &expected).mapv(f32::abs).fold(0.0f32, |a, &b| a.max(b));
                    assert!(diff < 1e-6, "{h}x{w} image, {options:?}: max difference {diff}");
                }
            }
        }
    }

    #[test]
    fn test_time_augmentation_of_a_pointwise_model_changes_nothing() {
        let model = Pointwise::new(2, 3);
        let image = random_image(2, 50, 70, 9);
        let options = TilingOptions { tile_size: 32, overlap: 8, tta: true, ..TilingOptions::default() };
        let diff = (&tiled(&image, &model, &options).unwrap() - &model.pixels(image.view())).mapv(f32::abs);
        assert!(diff.iter().all(|&d| d < 1e-6));
    }

    #[test]
    fn mismatched_inputs_and_options_are_refused() {
        let image = random_image(2, 10, 10, 0);
        let e = tiled(&image, &Pointwise::new(3, 2), &TilingOptions::default()).unwrap_err().to_string();
        assert!(e.contains("expects 3 input channels but the image has 2"), "{e}");
        let e = TilingOptions { batch_size: 0, ..TilingOptions::default() }.validate().unwrap_err().to_string();
        assert!(e.contains("batch_size must be from 1 to 4096, got 0"), "{e}");
        let e = tiled(&image, &Pointwise::new(2, 2), &TilingOptions { overlap: 512, ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("smaller than the tile size"), "{e}");

        struct Wrong;
        impl TileModel for Wrong {
            fn in_channels(&self) -> usize {
                2
            }
            fn num_classes(&self) -> usize {
                3
            }
            fn predict(&self, tiles: ArrayView4<f32>) -> Result<Array4<f32>> {
                Ok(tiles.to_owned())
            }
        }
        let e = tiled(&image, &Wrong, &TilingOptions::default()).unwrap_err().to_string();
        assert!(e.contains("expected (1, 3, 512, 512)"), "{e}");
    }

    /// Class 1 by the mean of each pixel's 3x3 neighbourhood (clamped at
    /// the tile's edge): a tile's border pixels are wrong unless the tile
    /// has real context around the pixels it owns.
    struct Neighbourhood;

    impl TileModel for Neighbourhood {
        fn in_channels(&self) -> usize {
            1
        }

        fn num_classes(&self) -> usize {
            2
        }

        fn predict(&self, tiles: ArrayView4<f32>) -> Result<Array4<f32>> {
            let (n, _, h, w) = tiles.dim();
            Ok(Array4::from_shape_fn((n, 2, h, w), |(i, k, y, x)| {
                let mean = tiles.slice(s![i, 0, y.saturating_sub(1)..(y + 2).min(h), x.saturating_sub(1)..(x + 2).min(w)]).mean().unwrap();
                let p = 1.0 / (1.0 + (-mean).exp());
                if k == 1 { p } else { 1.0 - p }
            }))
        }
    }

    #[test]
    fn a_window_predicts_what_the_whole_image_does_there() {
        let image = InMemoryImage(random_image(1, 70, 90, 4));
        let options = TilingOptions { tile_size: 16, overlap: 8, blend: BlendMode::CenterCrop, batch_size: 3, tta: false };
        let mut whole = ProbabilityMap::new(2, 70, 90);
        predict_image(&image, &Neighbourhood, &options, &mut whole, &JobControl::new(), &mut |_| {}).unwrap();
        // Inside, along the image's edges, and one pixel.
        for window in [Window { x: 13, y: 9, width: 41, height: 37 }, Window { x: 0, y: 50, width: 90, height: 20 }, Window { x: 89, y: 0, width: 1, height: 1 }] {
            let mut part = ProbabilityMap::new(2, window.height, window.width);
            predict_window(&image, &window, None, &Neighbourhood, &options, &mut part, &JobControl::new(), &mut |_| {}).unwrap();
            let expected = whole.0.slice(s![.., window.y..window.y + window.height, window.x..window.x + window.width]);
            let diff = (&part.0 - &expected).mapv(f32::abs).fold(0.0f32, |a, &b| a.max(b));
            assert!(diff < 1e-6, "{window:?}: max difference {diff}");
        }
    }

    #[test]
    fn a_planned_area_is_the_whole_images_whatever_the_blend_and_resolution() {
        let image = InMemoryImage(random_image(1, 70, 90, 6));
        for (blend, factor) in [(BlendMode::Linear, 1.0), (BlendMode::Gaussian, 1.0), (BlendMode::Linear, 2.0), (BlendMode::CenterCrop, 1.5)] {
            let options = TilingOptions { tile_size: 32, overlap: 16, blend, batch_size: 2, tta: false };
            let mut whole = ProbabilityMap::new(2, 70, 90);
            if factor == 1.0 {
                predict_image(&image, &Neighbourhood, &options, &mut whole, &JobControl::new(), &mut |_| {}).unwrap();
            } else {
                let down = Downsampled::new(&image, factor).unwrap();
                let mut up = Upsampling::new(&mut whole, factor, 90, 70).unwrap();
                predict_image(&down, &Neighbourhood, &options, &mut up, &JobControl::new(), &mut |_| {}).unwrap();
            }
            for bounds in [Window { x: 13, y: 9, width: 41, height: 37 }, Window { x: 0, y: 50, width: 90, height: 20 }, Window { x: 89, y: 0, width: 1, height: 1 }] {
                // Every pixel, then only a diagonal of them: those must not change.
                let mut diagonal = |s: &mut TileSelection| {
                    for i in 0..bounds.width.min(bounds.height) {
                        s.add_span(bounds.y + i, bounds.x + i, bounds.x + i + 1);
                    }
                    Ok(())
                };
                for needed in [false, true] {
                    let plan = AreaPlan::new(90, 70, &options, bounds, factor, needed.then_some(&mut diagonal as _)).unwrap();
                    let mut part = ProbabilityMap::new(2, bounds.height, bounds.width);
                    plan.predict(&image, &Neighbourhood, &options, &mut part, &JobControl::new(), &mut |_| {}).unwrap();
                    let expected = whole.0.slice(s![.., bounds.y..bounds.y + bounds.height, bounds.x..bounds.x + bounds.width]);
                    for ((k, y, x), &p) in part.0.indexed_iter() {
                        if !needed || x == y {
                            assert!((p - expected[[k, y, x]]).abs() < 1e-6, "{blend:?} x{factor} {bounds:?} needed {needed}: ({x}, {y}) {p} vs {}", expected[[k, y, x]]);
                        }
                    }
                    if needed && bounds.width > 30 && factor == 1.0 {
                        assert!(plan.tiles.run < plan.tiles.total, "{blend:?} x{factor} {bounds:?}: {:?}", plan.tiles);
                    }
                }
            }
        }
    }

    #[test]
    fn unselected_tiles_are_not_run_and_leave_zeros() {
        let image = InMemoryImage(random_image(1, 64, 64, 5));
        let options = TilingOptions { tile_size: 32, overlap: 0, ..TilingOptions::default() };
        let window = Window::whole(64, 64);
        let mut map = ProbabilityMap::new(2, 64, 64);
        let mut reports = Vec::new();
        let selected = [true, false, false, true];
        predict_window(&image, &window, Some(&selected), &Pointwise::new(1, 2), &options, &mut map, &JobControl::new(), &mut |p| reports.push(p)).unwrap();
        assert_eq!(reports.last().map(|p| (p.tiles_done, p.tiles_total)), Some((2, 2)));
        assert!(map.0.slice(s![.., ..32, 32..]).iter().all(|&p| p == 0.0), "a skipped tile's pixels are zero");
        assert!((map.0.slice(s![.., ..32, ..32]).sum() - 1024.0).abs() < 1e-2, "a run tile's probabilities sum to one per pixel");
        let e = predict_window(&image, &window, Some(&[true]), &Pointwise::new(1, 2), &options, &mut map, &JobControl::new(), &mut |_| {});
        assert!(e.unwrap_err().to_string().contains("a tile selection for 1 tiles, but the grid has 4"));
        let outside = Window { x: 40, y: 0, width: 30, height: 10 };
        let e = predict_window(&image, &outside, None, &Pointwise::new(1, 2), &options, &mut map, &JobControl::new(), &mut |_| {});
        assert!(e.unwrap_err().to_string().contains("reaches outside the 64x64 image"));
    }

    /// Records the rows it receives and whether it was finished.
    #[derive(Default)]
    struct Rows {
        rows: Vec<(usize, usize)>,
        finished: bool,
    }

    impl ProbabilitySink for Rows {
        fn write_rows(&mut self, y: usize, probs: ArrayView3<f32>) -> Result<()> {
            self.rows.push((y, probs.dim().1));
            Ok(())
        }

        fn finish(&mut self) -> Result<()> {
            self.finished = true;
            Ok(())
        }
    }

    #[test]
    fn rows_stream_top_to_bottom_one_tile_row_at_a_time() {
        let model = Pointwise::new(1, 2);
        let options = TilingOptions { tile_size: 64, overlap: 32, batch_size: 2, ..Default::default() };
        let mut sink = Rows::default();
        let mut reports = Vec::new();
        let image = InMemoryImage(random_image(1, 100, 70, 1));
        predict_image(&image, &model, &options, &mut sink, &JobControl::new(), &mut |p| reports.push(p)).unwrap();
        // margin 0, step 32: tile rows start at 0, 32, 64, 96.
        assert_eq!(sink.rows, [(0, 32), (32, 32), (64, 32), (96, 4)]);
        assert!(sink.finished);
        let done: Vec<_> = reports.iter().map(|p| (p.tiles_done, p.tiles_total)).collect();
        assert_eq!(done[..3], [(2, 12), (3, 12), (5, 12)]);
        assert_eq!(done.last(), Some(&(12, 12)));
    }

    #[test]
    fn cancelling_stops_between_batches_without_finishing_the_sink() {
        let control = JobControl::new();
        let mut sink = Rows::default();
        let image = InMemoryImage(random_image(1, 100, 100, 2));
        let options = TilingOptions { tile_size: 32, overlap: 0, batch_size: 1, ..Default::default() };
        let mut batches = 0;
        let result = predict_image(&image, &Pointwise::new(1, 2), &options, &mut sink, &control, &mut |_| {
            batches += 1;
            if batches == 6 {
                control.cancel();
            }
        });
        assert!(matches!(result, Err(Error::Cancelled)));
        assert_eq!(batches, 6);
        assert_eq!(sink.rows, [(0, 32)], "only the first tile row was complete");
        assert!(!sink.finished);
    }

    #[test]
    fn a_pause_holds_the_next_tile_row_until_resumed_or_cancelled() {
        let control = JobControl::new();
        let mut sink = Rows::default();
        let image = InMemoryImage(random_image(1, 64, 32, 3));
        let options = TilingOptions { tile_size: 32, overlap: 0, ..Default::default() };
        let steer = control.clone();
        let result = std::thread::scope(|scope| {
            predict_image(&image, &Pointwise::new(1, 2), &options, &mut sink, &control, &mut |p| {
                if p.tiles_done == 1 {
                    steer.pause();
                    let steer = steer.clone();
                    scope.spawn(move || {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        steer.cancel();
                    });
                }
            })
        });
        assert!(matches!(result, Err(Error::Cancelled)));
        assert_eq!(sink.rows, [(0, 32)]);
    }
}
