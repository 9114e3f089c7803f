//! Loaded models kept per model folder and options, so that repeated calls
//! (one per tile request, as QuPath makes them) reuse one set of sessions.

use super::predictor::Predictor;
use crate::inference::InferenceOptions;
use crate::model_dir::ModelMetadata;
use crate::{Error, Result};
use once_cell::sync::Lazy;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    dir: PathBuf,
    options: InferenceOptions,
    /// Newest modification time of the folder's files: a retrained model is reloaded.
    modified: Option<SystemTime>,
}

static CACHE: Lazy<Mutex<HashMap<Key, Arc<Predictor>>>> = Lazy::new(Default::default);

/// The predictor for a model folder, opened once and shared afterwards.
pub fn open_cached(dir: &Path, options: &InferenceOptions) -> Result<Arc<Predictor>> {
    ModelMetadata::ensure_model_dir(dir)?;
    let dir = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    let modified = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .filter_map(|e| e.ok()?.metadata().ok()?.modified().ok())
        .max();
    let key = Key { dir, options: options.clone(), modified };
    let mut cache = CACHE.lock();
    if let Some(p) = cache.get(&key) {
        return Ok(Arc::clone(p));
    }
    // Drop older versions of the same folder and options.
    cache.retain(|k, _| k.dir != key.dir || k.options != key.options);
    let predictor = Arc::new(Predictor::open(&key.dir, options)?);
    cache.insert(key, Arc::clone(&predictor));
    Ok(predictor)
}

/// Forgets every cached model; callers still holding one keep it alive until they drop it.
pub fn clear_cache() {
    CACHE.lock().clear();
}
