//! The `config.json` of a QuPath training-data export, in its short form
//! (`"classes": ["Background", ...]`) and its full form (class objects,
//! `channel_config`, `metadata`).

use std::path::Path;

use serde::Deserialize;

use crate::normalization::NormalizationConfig;
use crate::{Error, Result};

/// One output class of the classifier.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassInfo {
    /// The value of this class in the masks.
    pub index: usize,
    pub name: String,
    pub color: [u8; 3],
    pub pixel_count: Option<u64>,
}

/// The `channel_config` block: what the image files contain.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelConfig {
    /// Channels per image file.
    pub num_channels: usize,
    pub channel_names: Vec<String>,
    pub bit_depth: Option<u32>,
    pub normalization: NormalizationConfig,
}

/// A parsed and validated training-data `config.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct DataConfig {
    /// Sorted by index, which runs 0..n without gaps.
    pub classes: Vec<ClassInfo>,
    pub class_weights: Option<Vec<f32>>,
    /// Mask value of pixels that carry no label.
    pub unlabeled_index: u8,
    pub patch_size: Option<usize>,
    pub total_labeled_pixels: Option<u64>,
    pub channels: Option<ChannelConfig>,
    /// The factor the tiles were downsampled by from full resolution (`downsample`).
    pub downsample: Option<f64>,
    /// µm per full-resolution pixel of the source images (`metadata.pixel_size_um`;
    /// the exporter writes -1 for uncalibrated images, read as unknown).
    pub pixel_size_um: Option<f64>,
    pub metadata: Option<serde_json::Value>,
}

/// Default class colours, as QuPath's exporter assigns them.
const PALETTE: [[u8; 3]; 8] = [
    [0xFF, 0x00, 0x00],
    [0x00, 0xAA, 0x00],
    [0x00, 0x00, 0xFF],
    [0xFF, 0xFF, 0x00],
    [0xFF, 0x00, 0xFF],
    [0x00, 0xFF, 0xFF],
    [0xFF, 0x88, 0x00],
    [0x88, 0x00, 0xFF],
];

#[derive(Deserialize)]
struct RawConfig {
    classes: Vec<RawClass>,
    #[serde(default)]
    class_weights: Option<Vec<f32>>,
    #[serde(default = "default_unlabeled")]
    unlabeled_index: u8,
    #[serde(default)]
    patch_size: Option<usize>,
    #[serde(default)]
    total_labeled_pixels: Option<u64>,
    #[serde(default)]
    channel_config: Option<RawChannelConfig>,
    #[serde(default)]
    downsample: Option<f64>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

fn default_unlabeled() -> u8 {
    255
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawClass {
    Name(String),
    Full {
        index: usize,
        name: String,
        #[serde(default)]
        color: Option<String>,
        #[serde(default)]
        pixel_count: Option<u64>,
    },
}

#[derive(Deserialize)]
struct RawChannelConfig {
    num_channels: usize,
    /// Present when `num_channels` counts context channels too.
    #[serde(default)]
    detail_channels: Option<usize>,
    #[serde(default)]
    context_scale: Option<u32>,
    #[serde(default)]
    channel_names: Vec<String>,
    #[serde(default)]
    bit_depth: Option<u32>,
    #[serde(default)]
    normalization: NormalizationConfig,
}

impl DataConfig {
    /// Reads and validates `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses and validates JSON `text`; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let raw: RawConfig =
            serde_json::from_str(text).map_err(|e| Error::data(path, format!("invalid config: {e}")))?;
        let mut classes = raw
            .classes
            .into_iter()
            .enumerate()
            .map(|(position, class)| match class {
                RawClass::Name(name) => {
                    Ok(ClassInfo { index: position, name, color: PALETTE[position % PALETTE.len()], pixel_count: None })
                }
                RawClass::Full { index, name, color, pixel_count } => {
                    let color = match color {
                        Some(c) => parse_color(&c)
                            .ok_or_else(|| Error::data(path, format!("class '{name}': colour '{c}' is not #RRGGBB")))?,
                        None => PALETTE[index % PALETTE.len()],
                    };
                    Ok(ClassInfo { index, name, color, pixel_count })
                }
            })
            .collect::<Result<Vec<_>>>()?;
        classes.sort_by_key(|c| c.index);

        // One class leaves nothing to discriminate: the loss is zero from the start.
        if classes.len() < 2 {
            return Err(Error::data(path, format!("needs at least 2 classes, found {}", classes.len())));
        }
        if let Some((pos, c)) = classes.iter().enumerate().find(|(pos, c)| c.index != *pos) {
            return Err(Error::data(
                path,
                format!(
                    "class indices must run 0..{} without gaps or repeats; position {pos} has index {} ('{}')",
                    classes.len(),
                    c.index,
                    c.name
                ),
            ));
        }
        if (raw.unlabeled_index as usize) < classes.len() {
            return Err(Error::data(
                path,
                format!(
                    "unlabeled_index {} collides with class '{}'",
                    raw.unlabeled_index, classes[raw.unlabeled_index as usize].name
                ),
            ));
        }
        if let Some(weights) = &raw.class_weights {
            if weights.len() != classes.len() {
                return Err(Error::data(
                    path,
                    format!("{} class_weights for {} classes", weights.len(), classes.len()),
                ));
            }
            if let Some((i, w)) = weights.iter().enumerate().find(|(_, w)| !(w.is_finite() && **w > 0.0)) {
                return Err(Error::data(path, format!("class weight {i} is {w}; weights must be finite and > 0")));
            }
        }
        let channels = raw.channel_config.map(|c| channel_config(c, path)).transpose()?;
        if let Some(d) = raw.downsample.filter(|d| !(d.is_finite() && *d > 0.0)) {
            return Err(Error::data(path, format!("downsample must be positive, got {d}")));
        }
        let pixel_size_um = raw.metadata.as_ref().and_then(|m| m.get("pixel_size_um")).and_then(|v| v.as_f64()).filter(|s| s.is_finite() && *s > 0.0);
        Ok(DataConfig {
            classes,
            class_weights: raw.class_weights,
            unlabeled_index: raw.unlabeled_index,
            patch_size: raw.patch_size,
            total_labeled_pixels: raw.total_labeled_pixels,
            channels,
            downsample: raw.downsample,
            pixel_size_um,
            metadata: raw.metadata,
        })
    }

    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }
}

fn channel_config(raw: RawChannelConfig, path: &Path) -> Result<ChannelConfig> {
    // Context tiles live in a separate folder and double the model's input; not supported yet.
    if let Some(scale) = raw.context_scale.filter(|&s| s > 1) {
        return Err(Error::data(path, format!("multi-scale context (context_scale {scale}) is not supported")));
    }
    let num_channels = raw.detail_channels.unwrap_or(raw.num_channels);
    if num_channels == 0 {
        return Err(Error::data(path, "num_channels is 0"));
    }
    raw.normalization.validate().map_err(|e| Error::data(path, e.to_string()))?;
    Ok(ChannelConfig {
        num_channels,
        channel_names: raw.channel_names,
        bit_depth: raw.bit_depth,
        normalization: raw.normalization,
    })
}

/// `#RRGGBB` as bytes.
pub(crate) fn parse_color(text: &str) -> Option<[u8; 3]> {
    let hex = text.strip_prefix('#')?;
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalization::Strategy;

    fn parse(text: &str) -> Result<DataConfig> {
        DataConfig::parse(text, Path::new("export/config.json"))
    }

    fn error(text: &str) -> String {
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with("export/config.json: "), "{e}");
        e
    }

    fn data_dir(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data").join(name)
    }

    #[test]
    fn short_form_gets_default_colours() {
        let c = DataConfig::load(data_dir("bbbc007-scribbles/config.json")).unwrap();
        assert_eq!(c.num_classes(), 2);
        assert_eq!(
            c.classes[1],
            ClassInfo { index: 1, name: "Nucleus".into(), color: [0, 0xAA, 0], pixel_count: None }
        );
        assert_eq!(c.classes[0].color, [255, 0, 0]);
        let w = c.class_weights.unwrap();
        assert!((w[0] - 0.873234).abs() < 1e-6 && (w[1] - 1.16982).abs() < 1e-6, "{w:?}");
        assert_eq!(c.unlabeled_index, 255);
        assert_eq!((c.patch_size, c.channels.as_ref(), c.metadata.as_ref()), (None, None, None));
    }

    #[test]
    fn full_form_from_a_real_export() {
        let c = DataConfig::load(data_dir("ihc-dab/config.json")).unwrap();
        let names: Vec<_> = c.classes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Tissue", "Hematoxylin", "DAB"]);
        assert_eq!(c.classes[2].color, [0x8B, 0x45, 0x13]);
        assert_eq!(c.classes[1].pixel_count, Some(30035));
        assert_eq!(c.patch_size, Some(256));
        assert_eq!(c.total_labeled_pixels, Some(182915));
        let ch = c.channels.unwrap();
        assert_eq!((ch.num_channels, ch.bit_depth), (3, Some(8)));
        assert_eq!(ch.channel_names, ["Red", "Green", "Blue"]);
        assert_eq!(ch.normalization.strategy, Strategy::Percentile99);
        assert_eq!(c.metadata.unwrap()["train_count"], 3);
    }

    #[test]
    fn class_order_in_file_does_not_matter_and_unknown_keys_are_ignored() {
        let c = parse(
            r##"{"downsample": 1.0, "classes": [
                {"index": 1, "name": "B", "color": "#00ff10"},
                {"index": 0, "name": "A", "color": "#000000"}]}"##,
        )
        .unwrap();
        assert_eq!(c.classes[0].name, "A");
        assert_eq!(c.classes[1].color, [0, 255, 16]);
        assert_eq!(c.class_weights, None);
    }

    #[test]
    fn resolution_reads_the_exports_downsample_and_pixel_size() {
        let c = parse(r#"{"downsample": 2.0, "classes": ["a", "b"], "metadata": {"pixel_size_um": 0.25}}"#).unwrap();
        assert_eq!((c.downsample, c.pixel_size_um), (Some(2.0), Some(0.25)));
        let c = parse(r#"{"classes": ["a", "b"], "metadata": {"pixel_size_um": -1}}"#).unwrap();
        assert_eq!((c.downsample, c.pixel_size_um), (None, None), "-1 marks an uncalibrated image");
        assert!(error(r#"{"downsample": 0, "classes": ["a", "b"]}"#).contains("downsample must be positive, got 0"));
    }

    #[test]
    fn detail_channels_count_per_file() {
        let c = parse(
            r#"{"classes": ["a", "b"], "channel_config": {"num_channels": 2, "detail_channels": 2, "context_scale": 1}}"#,
        )
        .unwrap();
        assert_eq!(c.channels.unwrap().num_channels, 2);
        assert!(error(r#"{"classes": ["a", "b"], "channel_config": {"num_channels": 4, "detail_channels": 2, "context_scale": 2}}"#)
            .contains("context_scale 2"));
    }

    #[test]
    fn invalid_configs_name_the_file_and_problem() {
        assert!(error("{").contains("invalid config"));
        assert!(error(r#"{"classes": ["only"]}"#).contains("at least 2 classes, found 1"));
        assert!(error(r#"{"classes": [{"index": 0, "name": "a"}, {"index": 2, "name": "b"}]}"#)
            .contains("position 1 has index 2"));
        assert!(error(r#"{"classes": [{"index": 0, "name": "a"}, {"index": 0, "name": "b"}]}"#)
            .contains("without gaps or repeats"));
        assert!(error(r#"{"classes": ["a", "b"], "class_weights": [1.0]}"#).contains("1 class_weights for 2 classes"));
        assert!(error(r#"{"classes": ["a", "b"], "class_weights": [1.0, 0.0]}"#).contains("class weight 1 is 0"));
        assert!(error(r#"{"classes": ["a", "b"], "class_weights": [-1.0, 1.0]}"#).contains("class weight 0 is -1"));
        assert!(error(r#"{"classes": [{"index": 0, "name": "a", "color": "red"}, "b"]}"#).contains("colour 'red'"));
        assert!(error(r##"{"classes": [{"index": 0, "name": "a", "color": "#12345"}, "b"]}"##).contains("#RRGGBB"));
        assert!(error(r#"{"classes": ["a", "b"], "unlabeled_index": 1}"#).contains("collides with class 'b'"));
        assert!(error(r#"{"classes": ["a", "b"], "unlabeled_index": 300}"#).contains("invalid config"));
        assert!(
            error(r#"{"classes": ["a", "b"], "channel_config": {"num_channels": 0}}"#).contains("num_channels is 0")
        );
        assert!(error(r#"{"classes": ["a", "b"], "channel_config": {"num_channels": 1, "normalization": {"clip_percentile": 20}}}"#)
            .contains("clip_percentile"));
    }

    #[test]
    fn missing_file_is_an_io_error() {
        assert!(matches!(DataConfig::load("/nonexistent/config.json"), Err(Error::Io { .. })));
    }
}
