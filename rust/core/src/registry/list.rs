//! The models under a folder (e.g. a QuPath project's `classifiers/`), newest first.

use crate::model_dir::{ModelMetadata, METADATA_FILE};
use crate::models::{Architecture, EncoderKind};
use crate::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What a model chooser shows for one model folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    pub path: PathBuf,
    pub name: String,
    pub architecture: Architecture,
    pub encoder: EncoderKind,
    pub classes: Vec<String>,
    pub channels: usize,
    pub tile_size: usize,
    /// The kept epoch and its validation scores, when training recorded one.
    pub best_epoch: Option<usize>,
    pub mean_iou: Option<f64>,
    pub pixel_accuracy: Option<f64>,
    /// RFC 3339 creation time.
    pub created: String,
}

impl ModelSummary {
    fn new(path: PathBuf, meta: ModelMetadata) -> ModelSummary {
        let best = meta.best_epoch.as_ref();
        ModelSummary {
            path,
            name: meta.name,
            architecture: meta.architecture.kind,
            encoder: meta.architecture.backbone,
            classes: meta.classes.into_iter().map(|c| c.name).collect(),
            channels: meta.architecture.in_channels as usize,
            tile_size: meta.tile_size,
            best_epoch: best.map(|b| b.epoch),
            mean_iou: best.map(|b| b.metrics.mean_iou),
            pixel_accuracy: best.map(|b| b.metrics.pixel_accuracy),
            created: meta.created,
        }
    }
}

/// The model folders directly under `root`, newest first. Folders without
/// `metadata.json` are not models and are passed over; a model whose metadata
/// cannot be read is left out with a warning (`validate_model_dir` says why).
pub fn list_models(root: &Path) -> Result<Vec<ModelSummary>> {
    let entries = std::fs::read_dir(root).map_err(|e| Error::io(root, e))?;
    let mut models = Vec::new();
    for entry in entries {
        let dir = entry.map_err(|e| Error::io(root, e))?.path();
        if !dir.join(METADATA_FILE).is_file() {
            continue;
        }
        match ModelMetadata::read(&dir) {
            Ok(meta) => models.push(ModelSummary::new(dir, meta)),
            Err(e) => tracing::warn!(error = %e, "model folder left out of the list"),
        }
    }
    // Parsed, because RFC 3339 strings in different time zones do not sort as text.
    let time = |m: &ModelSummary| chrono::DateTime::parse_from_rfc3339(&m.created).ok();
    models.sort_by(|a, b| time(b).cmp(&time(a)).then_with(|| a.name.cmp(&b.name)));
    Ok(models)
}
