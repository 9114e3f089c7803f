//! `metadata.json`: what inference needs to reproduce training exactly, and
//! the full settings so that a later run can start from them.

use super::classes::ClassMeta;
use super::migrate::migrate;
use super::{read_json, write_json, METADATA_FILE};
use crate::history::EpochRecord;
use crate::limits;
use crate::models::{Architecture, EncoderKind, ModelSpec};
use crate::normalization::NormalizationStats;
use crate::settings::TrainingConfig;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `architecture` block, named as the Python extension names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchitectureMeta {
    #[serde(rename = "type")]
    pub kind: Architecture,
    pub backbone: EncoderKind,
    pub use_pretrained: bool,
    pub in_channels: i64,
    pub num_classes: i64,
}

/// The `input_config` block: channels and the exact normalization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputConfig {
    pub num_channels: usize,
    pub channel_names: Vec<String>,
    pub bit_depth: Option<u32>,
    pub normalization: NormalizationStats,
}

/// How a training run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Completed,
    EarlyStopped,
    Cancelled,
}

/// The whole `metadata.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    pub metadata_version: u32,
    pub id: String,
    pub name: String,
    /// RFC 3339 creation time.
    pub created: String,
    pub library_version: String,
    pub architecture: ArchitectureMeta,
    pub input_config: InputConfig,
    pub classes: Vec<ClassMeta>,
    pub tile_size: usize,
    /// The factor the training images were downsampled by from full resolution.
    pub downsample: f64,
    /// µm per full-resolution pixel of the training images, when they were
    /// calibrated; named as the Python extension names it. With it and the
    /// image's pixel size, inference runs at the pixel size the model saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_pixel_size_um: Option<f64>,
    pub status: RunStatus,
    pub epochs_trained: usize,
    /// The epoch whose weights were kept.
    pub best_epoch: Option<EpochRecord>,
    /// Device the model was trained on, e.g. `cpu (2 threads)`.
    pub trained_on: String,
    pub training: TrainingConfig,
}

impl ModelMetadata {
    pub fn spec(&self) -> ModelSpec {
        ModelSpec {
            architecture: self.architecture.kind,
            encoder: self.architecture.backbone,
            in_channels: self.architecture.in_channels,
            num_classes: self.architecture.num_classes,
        }
    }

    /// Refuses a path that is not a model folder, with the message users see
    /// for a wrong or missing folder.
    pub fn ensure_model_dir(dir: &Path) -> Result<()> {
        if dir.join(METADATA_FILE).is_file() {
            Ok(())
        } else {
            Err(Error::data(dir, "not a model folder: metadata.json is missing"))
        }
    }

    /// Reads `<dir>/metadata.json`, migrating older forms and refusing
    /// versions newer than this library knows.
    pub fn read(dir: &Path) -> Result<ModelMetadata> {
        Self::ensure_model_dir(dir)?;
        let path = dir.join(METADATA_FILE);
        let current = migrate(&path, read_json(&path)?)?;
        let meta: ModelMetadata = serde_json::from_value(current).map_err(|e| Error::data(&path, format!("invalid metadata: {e}")))?;
        match meta.inconsistency() {
            Some(problem) => Err(Error::data(&path, format!("invalid metadata: {problem}"))),
            None => Ok(meta),
        }
    }

    /// The first field that contradicts another or is out of range; every
    /// use of the metadata relies on these.
    fn inconsistency(&self) -> Option<String> {
        let (channels, classes) = (self.architecture.in_channels, self.architecture.num_classes);
        if !(1..=MAX_CHANNELS).contains(&channels) {
            return Some(format!("architecture.in_channels must be from 1 to {MAX_CHANNELS}, got {channels}"));
        }
        // Class maps hold one byte per pixel and 255 marks unlabeled pixels.
        if !(1..=255).contains(&classes) {
            return Some(format!("architecture.num_classes must be from 1 to 255, got {classes}"));
        }
        let input = &self.input_config;
        if input.num_channels as i64 != channels || input.normalization.num_channels as i64 != channels {
            return Some(format!(
                "input_config.num_channels ({}) and input_config.normalization.num_channels ({}) must equal architecture.in_channels ({channels})",
                input.num_channels, input.normalization.num_channels
            ));
        }
        if let Some(problem) = input.normalization.inconsistency() {
            return Some(format!("input_config.{problem}"));
        }
        if self.classes.is_empty() || self.classes.len() as i64 > classes {
            return Some(format!("classes lists {} classes, needs 1 to architecture.num_classes ({classes})", self.classes.len()));
        }
        let mut seen = vec![false; classes as usize];
        for class in &self.classes {
            if class.index as i64 >= classes || std::mem::replace(&mut seen[class.index], true) {
                return Some(format!("classes: index {} of '{}' is out of range or repeated", class.index, class.name));
            }
            if !is_hex_color(&class.color) {
                return Some(format!("classes: colour '{}' of '{}' is not #RRGGBB", class.color, class.name));
            }
        }
        if let Err(e) = limits::check_tile_size("tile_size", self.tile_size, None) {
            return Some(e.to_string().trim_start_matches("invalid configuration: ").to_string());
        }
        if !(self.downsample.is_finite() && self.downsample > 0.0) {
            return Some(format!("downsample must be positive, got {}", self.downsample));
        }
        if let Some(size) = self.training_pixel_size_um.filter(|s| !(s.is_finite() && *s > 0.0)) {
            return Some(format!("training_pixel_size_um must be positive, got {size}"));
        }
        None
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(METADATA_FILE), self)
    }
}

/// The most input channels a model folder may declare.
const MAX_CHANNELS: i64 = 1024;

fn is_hex_color(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].chars().all(|c| c.is_ascii_hexdigit())
}

impl TrainingConfig {
    /// The settings a previous model was trained with (its `metadata.json`),
    /// ready to be adjusted and reused.
    pub fn from_model(model_dir: &Path) -> Result<TrainingConfig> {
        Ok(ModelMetadata::read(model_dir)?.training)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_dir::METADATA_VERSION;

    #[test]
    fn a_pre_versioning_model_folder_reads_as_the_current_version() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metadata.json"), include_str!("testdata/metadata_v0.json")).unwrap();
        let meta = ModelMetadata::read(dir.path()).unwrap();
        assert_eq!(meta.metadata_version, METADATA_VERSION);
        assert_eq!(meta.classes[1].name, "Nucleus");
        assert_eq!(meta.classes[1].index, 1);
        assert_eq!(meta.training_pixel_size_um, None, "older folders have no pixel size");
    }

    #[test]
    fn metadata_that_contradicts_itself_is_refused_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let valid: serde_json::Value = serde_json::from_str(include_str!("testdata/metadata_v0.json")).unwrap();
        let refused = |change: &dyn Fn(&mut serde_json::Value)| {
            let mut json = valid.clone();
            change(&mut json);
            std::fs::write(dir.path().join("metadata.json"), json.to_string()).unwrap();
            ModelMetadata::read(dir.path()).unwrap_err().to_string()
        };
        let cases: [(&dyn Fn(&mut serde_json::Value), &str); 10] = [
            (&|j| j["classes"] = serde_json::json!([]), "classes lists 0 classes, needs 1 to architecture.num_classes (2)"),
            (&|j| j["classes"] = serde_json::json!(["a", "b", "c"]), "classes lists 3 classes"),
            (&|j| j["architecture"]["num_classes"] = 300.into(), "architecture.num_classes must be from 1 to 255, got 300"),
            (&|j| j["architecture"]["in_channels"] = 3.into(), "must equal architecture.in_channels (3)"),
            (&|j| j["input_config"]["normalization"]["mean"] = serde_json::json!([1.0, 2.0]), "input_config.normalization.mean has 2 values, needs 1"),
            (&|j| j["classes"] = serde_json::json!([{"index": 0, "name": "a", "color": "red"}]), "colour 'red' of 'a' is not #RRGGBB"),
            (&|j| j["classes"] = serde_json::json!([{"index": 5, "name": "a", "color": "#ff0000"}]), "index 5 of 'a' is out of range"),
            (&|j| j["tile_size"] = 4294967296u64.into(), "tile_size must be a positive multiple of 32 up to 8192, got 4294967296"),
            (&|j| j["downsample"] = 0.0.into(), "downsample must be positive"),
            (&|j| j["training_pixel_size_um"] = (-0.5).into(), "training_pixel_size_um must be positive, got -0.5"),
        ];
        for (change, message) in cases {
            let err = refused(change);
            assert!(err.contains("metadata.json: invalid metadata: ") && err.contains(message), "{message}: {err}");
        }
    }
}
