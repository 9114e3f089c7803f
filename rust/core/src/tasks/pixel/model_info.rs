//! What callers learn about an opened model: its classes, channels and sizes,
//! and the tiling that suits it.

use crate::model_dir::ClassMeta;
use crate::models::OUTPUT_STRIDE;
use crate::tiling::{default_overlap, TilingOptions};
use serde::Serialize;
use std::path::PathBuf;

/// What a caller needs to feed a model and read its output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    pub name: String,
    /// The model folder or imported `.onnx` file.
    pub source: PathBuf,
    pub in_channels: usize,
    /// The names of the input channels in the model's order, as trained;
    /// empty when unknown. Images whose reader names its channels are
    /// mapped onto these by name (see [`crate::tiling::channel_names`]).
    pub channel_names: Vec<String>,
    pub num_classes: usize,
    pub classes: Vec<ClassMeta>,
    /// The tile size the model was trained at, a good default for tiling.
    pub tile_size: usize,
    /// Input height and width the graph insists on, if it is not size-agnostic.
    pub fixed_size: Option<(usize, usize)>,
    /// The smallest input side the model runs on (128 for PAN); smaller
    /// tiles are padded up to it.
    pub min_size: usize,
    /// The engine running it, e.g. `onnxruntime 1.31.0 cpu`.
    pub backend: String,
    /// The factor the training images were downsampled by; inference runs
    /// at it unless told otherwise (see [`crate::tiling::Resolution`]).
    pub downsample: f64,
    /// µm per full-resolution pixel of the training images, when known.
    pub training_pixel_size_um: Option<f64>,
}

impl ModelInfo {
    /// Tiling for this model, with the caller's tile size and overlap where
    /// given. The tile defaults to the model's fixed input size if it has
    /// one, else to its training tile size but at least 256 pixels (more
    /// context per tile, fewer tiles); the overlap to [`default_overlap`] of the tile.
    pub fn tiling(&self, tile_size: Option<usize>, overlap: Option<usize>) -> TilingOptions {
        let tile = match (tile_size, self.fixed_size) {
            (Some(t), _) => t,
            (None, Some((h, _))) => h,
            (None, None) => inference_tiling(self.tile_size).tile_size,
        };
        TilingOptions { tile_size: tile, overlap: overlap.unwrap_or(default_overlap(tile)), ..TilingOptions::default() }
    }
}

/// The default tiling of a size-agnostic model trained at `training_tile`;
/// training validates with it too.
pub(crate) fn inference_tiling(training_tile: usize) -> TilingOptions {
    let stride = OUTPUT_STRIDE as usize;
    let tile = training_tile.max(256).div_ceil(stride) * stride;
    TilingOptions { tile_size: tile, overlap: default_overlap(tile), ..TilingOptions::default() }
}

#[cfg(test)]
impl ModelInfo {
    /// A size-agnostic one-channel, two-class model trained at `tile_size`.
    pub(crate) fn for_tests(tile_size: usize) -> ModelInfo {
        ModelInfo {
            name: "m".into(),
            source: PathBuf::new(),
            in_channels: 1,
            channel_names: Vec::new(),
            num_classes: 2,
            classes: Vec::new(),
            tile_size,
            fixed_size: None,
            min_size: 0,
            backend: String::new(),
            downsample: 1.0,
            training_pixel_size_um: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiling_takes_the_callers_sizes_else_the_models() {
        let info = ModelInfo::for_tests(100);
        let sizes = |t: TilingOptions| (t.tile_size, t.overlap);
        assert_eq!(sizes(info.tiling(None, None)), (256, default_overlap(256)));
        assert_eq!(sizes(info.tiling(Some(320), None)), (320, default_overlap(320)));
        assert_eq!(sizes(info.tiling(Some(320), Some(0))), (320, 0));
        let info = ModelInfo { tile_size: 500, ..info };
        assert_eq!(info.tiling(None, None).tile_size, 512, "rounded up to the stride");
        let fixed = ModelInfo { fixed_size: Some((224, 224)), ..info };
        assert_eq!(fixed.tiling(None, None).tile_size, 224);
    }
}
