//! `metadata.json`: what inference needs to reproduce training exactly, and
//! the full settings so that a later run can start from them.

use super::classes::ClassMeta;
use super::migrate::migrate;
use super::{read_json, write_json, METADATA_FILE};
use crate::history::EpochRecord;
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
    pub downsample: f64,
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
        serde_json::from_value(current).map_err(|e| Error::data(&path, format!("invalid metadata: {e}")))
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(METADATA_FILE), self)
    }
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
    }
}
