//! A trained model on disk, compatible with the Python extension's layout:
//! `model.pt` (TorchScript), `model.onnx`, `model.safetensors` (weights with
//! smp names), `metadata.json`, `training_history.json` and `training_curves.png`.

mod atomic;
mod classes;
mod export;
mod metadata;
mod migrate;
mod plot;

pub use atomic::{ensure_writable, staged_file, write_atomically, StagedFile};
pub use classes::{class_color, ClassMeta};
pub use export::{export_onnx_dir, export_torchscript};
pub use metadata::{ArchitectureMeta, InputConfig, ModelMetadata, RunStatus};
pub use migrate::{migrate, METADATA_VERSION};
pub use plot::plot_history;

pub const TORCHSCRIPT_FILE: &str = "model.pt";
pub const ONNX_FILE: &str = "model.onnx";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const METADATA_FILE: &str = "metadata.json";
pub const HISTORY_FILE: &str = "training_history.json";
pub const PLOT_FILE: &str = "training_curves.png";

use crate::{Error, Result};
use std::path::Path;

/// Writes `value` as pretty JSON.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::data(path, e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
}

/// Reads JSON into `T`, naming the file in any error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::data(path, format!("invalid JSON: {e}")))
}
