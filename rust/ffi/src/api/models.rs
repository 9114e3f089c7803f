//! Model folders, the registry of them, and bundles.

use dlclassifier::model_dir::{read_json, ModelMetadata, HISTORY_FILE};
use dlclassifier::registry::{self, BundleInfo, Manifest, ModelSummary, ValidationReport, DEFAULT_MAX_BYTES};
use serde::Serialize;
use std::path::PathBuf;

/// A model folder's metadata and training history.
#[derive(Serialize)]
pub struct ModelFiles {
    metadata: ModelMetadata,
    history: Option<serde_json::Value>,
}

/// A size limit: 0 keeps the default.
fn limit(max_bytes: u64) -> u64 {
    if max_bytes == 0 {
        DEFAULT_MAX_BYTES
    } else {
        max_bytes
    }
}

bridge_fn! {
    /// `{"metadata": <metadata.json, migrated to this version>, "history":
    /// <training_history.json> or null}` of a model folder.
    fn model_read_json(model_dir: path) -> json[ModelFiles] {
        let metadata = ModelMetadata::read(&model_dir)?;
        let history = model_dir.join(HISTORY_FILE);
        let history = if history.is_file() { Some(read_json(&history)?) } else { None };
        Ok(ModelFiles { metadata, history })
    }
}

bridge_fn! {
    /// The model folders under `root`, newest first, as a JSON array of
    /// `{path, name, architecture, encoder, classes, channels, tile_size,
    /// best_epoch, mean_iou, pixel_accuracy, created}`.
    fn models_list_json(root: path) -> json[Vec<ModelSummary>] {
        Ok(registry::list_models(&root)?)
    }
}

bridge_fn! {
    /// Checks a model folder: `{path, valid, problems: [{file, reason}]}`. An
    /// invalid model is a successful call with `valid` false.
    fn model_validate_json(model_dir: path) -> json[ValidationReport] {
        Ok(registry::validate_model_dir(&model_dir))
    }
}

bridge_fn! {
    /// Packs the model folders of `models` (a JSON array of paths) into the
    /// zip `zip`; `info` is `{name, version, description}`. The manifest goes
    /// to `*out` unless `out` is NULL.
    fn bundle_pack(models: json[Vec<PathBuf>], zip: path, info: required_json[BundleInfo]) -> report[Manifest] {
        Ok(registry::pack_bundle(&models, &zip, &info)?)
    }
}

bridge_fn! {
    /// Reads a whole bundle and checks every entry, reading at most
    /// `max_bytes` (0: 2 GiB); its manifest on success, else `DLC_IO` with
    /// the reason.
    fn bundle_verify_json(zip: path, max_bytes: u64) -> json[Manifest] {
        Ok(registry::verify_bundle(&zip, limit(max_bytes))?)
    }
}

bridge_fn! {
    /// Unpacks a verified bundle into the new folder `dest`; the manifest
    /// goes to `*out` unless `out` is NULL.
    fn bundle_unpack(zip: path, dest: path, max_bytes: u64) -> report[Manifest] {
        Ok(registry::unpack_bundle(&zip, &dest, limit(max_bytes))?)
    }
}

bridge_fn! {
    /// The folder of model `name` (NULL: the only model) of a bundle,
    /// unpacked and verified into the cache; free `*out` with `dlc_string_free`.
    fn bundle_open(zip: path, name: opt_str) -> string {
        let dir = registry::open_bundle(&zip, name.as_deref().filter(|n| !n.is_empty()))?;
        Ok(dir.to_string_lossy().into_owned())
    }
}
