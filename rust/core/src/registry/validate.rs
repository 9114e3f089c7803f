//! Checks of a model folder that report every problem found, not just the first.

use super::checksum::check_checksums;
use super::problem::Problem;
use crate::device::DeviceChoice;
use crate::inference::{BackendChoice, InferenceOptions};
use crate::model_dir::{ModelMetadata, METADATA_FILE, ONNX_FILE, TORCHSCRIPT_FILE};
use crate::tasks::pixel::Predictor;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The outcome of [`validate_model_dir`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    pub path: PathBuf,
    pub valid: bool,
    pub problems: Vec<Problem>,
}

/// Checks `metadata.json` (schema and version, through migration), that a
/// model file exists, that each of `model.onnx` and `model.pt` present opens
/// and runs a probe tile on the CPU, and `checksums.sha256` if present.
pub fn validate_model_dir(dir: &Path) -> ValidationReport {
    let mut problems = Vec::new();
    if !dir.is_dir() {
        problems.push(Problem::new("", "not a folder"));
    } else {
        match ModelMetadata::read(dir) {
            // The backends need the metadata to open, so they are only tried with it.
            Ok(_) => problems.extend(backend_problems(dir)),
            Err(e) => problems.push(Problem::new(METADATA_FILE, e.to_string())),
        }
        problems.extend(check_checksums(dir));
    }
    ValidationReport { path: dir.to_path_buf(), valid: problems.is_empty(), problems }
}

fn backend_problems(dir: &Path) -> Vec<Problem> {
    let present: Vec<_> =
        [(ONNX_FILE, BackendChoice::Onnx), (TORCHSCRIPT_FILE, BackendChoice::Torch)].into_iter().filter(|(f, _)| dir.join(f).is_file()).collect();
    if present.is_empty() {
        return vec![Problem::new("", format!("neither {ONNX_FILE} nor {TORCHSCRIPT_FILE} is present"))];
    }
    present
        .into_iter()
        .filter_map(|(file, backend)| {
            let options = InferenceOptions { backend, device: DeviceChoice::Cpu, ..Default::default() };
            Predictor::open(dir, &options).err().map(|e| Problem::new(file, format!("cannot be loaded: {e}")))
        })
        .collect()
}
