//! Checkpoints of a run in progress, kept in `<model>.partial/` beside the
//! model folder, so that a killed run continues where it stopped.

use crate::history::EpochRecord;
use crate::model_dir::{read_json, write_json};
use crate::models::ModelSpec;
use crate::normalization::NormalizationStats;
use crate::settings::TrainingConfig;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::nn::VarStore;

const STATE_FILE: &str = "state.json";
const LAST_WEIGHTS: &str = "last.safetensors";
const BEST_WEIGHTS: &str = "best.safetensors";

/// Where the checkpoints of a run writing `model_dir` live.
pub fn checkpoint_dir(model_dir: &Path) -> PathBuf {
    let mut name = model_dir.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    model_dir.with_file_name(name)
}

/// Everything besides the weights needed to continue a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    pub spec: ModelSpec,
    pub normalization: NormalizationStats,
    pub config: TrainingConfig,
    pub history: Vec<EpochRecord>,
}

impl RunState {
    /// Saves weights first and the state last, so a state file always refers
    /// to complete weight files.
    pub fn save(&self, dir: &Path, last: &VarStore, best: &VarStore, best_changed: bool) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        save_weights(last, &dir.join(LAST_WEIGHTS))?;
        if best_changed || !dir.join(BEST_WEIGHTS).exists() {
            save_weights(best, &dir.join(BEST_WEIGHTS))?;
        }
        let tmp = dir.join("state.json.tmp");
        write_json(&tmp, self)?;
        std::fs::rename(&tmp, dir.join(STATE_FILE)).map_err(|e| Error::io(dir, e))
    }

    /// Loads a previous run's state and weights, or `None` if there is none.
    pub fn load(dir: &Path, last: &mut VarStore, best: &mut VarStore) -> Result<Option<RunState>> {
        let state_path = dir.join(STATE_FILE);
        if !state_path.is_file() {
            return Ok(None);
        }
        let state: RunState = read_json(&state_path)?;
        for (vs, file) in [(last, LAST_WEIGHTS), (best, BEST_WEIGHTS)] {
            let path = dir.join(file);
            vs.load(&path).map_err(|e| Error::data(&path, format!("corrupt checkpoint: {e}")))?;
        }
        Ok(Some(state))
    }
}

fn save_weights(vs: &VarStore, path: &Path) -> Result<()> {
    let tmp = path.with_extension("tmp.safetensors");
    vs.save(&tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
