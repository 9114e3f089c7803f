//! Models trained elsewhere: an external `.onnx` plus an optional, partial
//! `metadata.json`, checked against the graph's own input and output shapes.

use super::model_info::ModelInfo;
use crate::model_dir::{class_color, read_json, ClassMeta};
use crate::normalization::{NormalizationStats, Normalizer};
use crate::{Error, Result};
use serde::Deserialize;
use std::path::Path;

/// The parts of our `metadata.json` layout an imported model may give; all optional.
#[derive(Debug, Default, Deserialize)]
pub struct ImportedMetadata {
    name: Option<String>,
    classes: Option<Vec<ClassMeta>>,
    tile_size: Option<usize>,
    downsample: Option<f64>,
    training_pixel_size_um: Option<f64>,
    #[serde(default)]
    input_config: ImportedInput,
    #[serde(default)]
    architecture: ImportedArchitecture,
}

#[derive(Debug, Default, Deserialize)]
struct ImportedInput {
    num_channels: Option<usize>,
    #[serde(default)]
    channel_names: Vec<String>,
    normalization: Option<NormalizationStats>,
}

#[derive(Debug, Default, Deserialize)]
struct ImportedArchitecture {
    in_channels: Option<usize>,
    num_classes: Option<usize>,
}

const DEFAULT_TILE: usize = 512;

impl ImportedMetadata {
    pub fn read(path: &Path) -> Result<ImportedMetadata> {
        read_json(path)
    }

    /// Settles channels, classes and sizes from the graph's `input` and
    /// `output` shapes (`-1` = dynamic) and this metadata, refusing
    /// contradictions; `backend` describes the engine that runs `model`.
    pub fn resolve(self, model: &Path, input: &[i64], output: &[i64], backend: String) -> Result<(ModelInfo, Normalizer)> {
        let bad = |message: String| Error::data(model, message);
        if input.len() != 4 || output.len() != 4 {
            return Err(bad(format!("expected [N, C, H, W] input and [N, K, H, W] output, the graph has {input:?} and {output:?}")));
        }
        let static_dim = |d: i64| (d > 0).then_some(d as usize);
        let in_channels = agree(
            "input channels",
            static_dim(input[1]),
            [self.input_config.num_channels, self.architecture.in_channels, self.input_config.normalization.as_ref().map(|n| n.num_channels)],
        )
        .map_err(&bad)?;
        let num_classes =
            agree("classes", static_dim(output[1]), [self.architecture.num_classes, self.classes.as_ref().map(Vec::len), None]).map_err(&bad)?;
        let fixed_size = static_dim(input[2]).zip(static_dim(input[3]));
        if let (Some((h, w)), Some(t)) = (fixed_size, self.tile_size) {
            if (h, w) != (t, t) {
                return Err(bad(format!("metadata tile_size {t} contradicts the graph's fixed input size {h}x{w}")));
            }
        }
        let classes = self.classes.unwrap_or_else(|| {
            (0..num_classes)
                .map(|i| ClassMeta { index: i, name: format!("class {i}"), color: class_color(i) })
                .collect()
        });
        let normalizer = self.input_config.normalization.as_ref().map(Normalizer::from_stats).unwrap_or_else(|| Normalizer::identity(in_channels));
        let info = ModelInfo {
            name: self.name.unwrap_or_else(|| model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()),
            source: model.to_path_buf(),
            in_channels,
            channel_names: self.input_config.channel_names,
            num_classes: classes.len(),
            classes,
            tile_size: self.tile_size.or(fixed_size.map(|(h, _)| h)).unwrap_or(DEFAULT_TILE),
            fixed_size,
            // Graphs from elsewhere say nothing of it; ours are size-agnostic to the stride.
            min_size: 0,
            backend,
            downsample: self.downsample.unwrap_or(1.0),
            training_pixel_size_um: self.training_pixel_size_um,
        };
        Ok((info, normalizer))
    }
}

/// The one value the graph and the metadata agree on for `what`.
fn agree(what: &str, graph: Option<usize>, metadata: [Option<usize>; 3]) -> std::result::Result<usize, String> {
    let mut value = graph;
    for m in metadata.into_iter().flatten() {
        match value {
            Some(v) if v != m => {
                let source = if graph.is_some() { "the graph" } else { "other metadata fields" };
                return Err(format!("metadata says {m} {what} but {source} says {v}"));
            }
            _ => value = Some(m),
        }
    }
    value.filter(|&v| v > 0).ok_or_else(|| format!("cannot tell the number of {what}: the graph leaves it dynamic and no metadata gives it"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(m: ImportedMetadata, input: &[i64], output: &[i64]) -> Result<(ModelInfo, Normalizer)> {
        m.resolve(Path::new("m.onnx"), input, output, "test".to_string())
    }

    fn meta(json: &str) -> ImportedMetadata {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn graph_shapes_give_the_defaults() {
        let (r, normalizer) = resolve(ImportedMetadata::default(), &[-1, 3, -1, -1], &[-1, 4, -1, -1]).unwrap();
        assert_eq!((r.in_channels, r.classes.len(), r.tile_size, r.fixed_size), (3, 4, DEFAULT_TILE, None));
        assert_eq!(r.name, "m");
        assert_eq!(normalizer, Normalizer::identity(3));
        let (r, _) = resolve(ImportedMetadata::default(), &[1, 1, 256, 256], &[1, 2, 256, 256]).unwrap();
        assert_eq!((r.tile_size, r.fixed_size), (256, Some((256, 256))));
    }

    #[test]
    fn metadata_fills_dynamic_dims_and_contradictions_are_refused() {
        let m = meta(r##"{"classes": [{"index": 0, "name": "bg", "color": "#000000"}, {"index": 1, "name": "fg", "color": "#ff0000"}], "input_config": {"num_channels": 2}}"##);
        let (r, _) = resolve(m, &[-1, -1, -1, -1], &[-1, -1, -1, -1]).unwrap();
        assert_eq!((r.in_channels, r.classes[1].name.as_str()), (2, "fg"));
        let err = resolve(meta(r#"{"architecture": {"num_classes": 3}}"#), &[-1, 3, -1, -1], &[-1, 2, -1, -1]);
        assert!(err.err().unwrap().to_string().contains("metadata says 3 classes but the graph says 2"));
        let err = resolve(ImportedMetadata::default(), &[-1, -1, -1, -1], &[-1, 2, -1, -1]);
        assert!(err.err().unwrap().to_string().contains("cannot tell the number of input channels"));
        let err = resolve(meta(r#"{"tile_size": 128}"#), &[1, 3, 256, 256], &[1, 2, 256, 256]);
        assert!(err.err().unwrap().to_string().contains("contradicts"));
        let err = resolve(ImportedMetadata::default(), &[-1, 3], &[-1, 2, -1, -1]);
        assert!(err.err().unwrap().to_string().contains("expected [N, C, H, W]"));
    }
}
