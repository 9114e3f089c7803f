//! The one interface every inference engine implements, and how users pick one.

use crate::device::DeviceChoice;
use crate::non_finite::NonFinite;
use crate::reservation::ReservationRequest;
use crate::{Error, Result};
use ndarray::ArrayView4;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Runs a model on normalized input. Implementations are shared between threads.
pub trait Backend: Send + Sync {
    /// Runs `input` `[N, C, H, W]` and hands the logits `[N, K, H, W]` to
    /// `consume` without copying them out of the engine.
    fn run(&self, input: ArrayView4<f32>, consume: &mut dyn FnMut(ArrayView4<f32>) -> Result<()>) -> Result<()>;
    /// e.g. `onnxruntime cpu` or `torchscript cuda:0 fp16`, for logs and reports.
    fn describe(&self) -> String;
}

/// Which engine runs a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// ONNX Runtime on the CPU, TorchScript on a GPU or when there is no `model.onnx`.
    #[default]
    Auto,
    Onnx,
    Torch,
}

impl FromStr for BackendChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(BackendChoice::Auto),
            "onnx" | "onnxruntime" => Ok(BackendChoice::Onnx),
            "torch" | "torchscript" | "pytorch" => Ok(BackendChoice::Torch),
            _ => Err(Error::config(format!("unknown backend '{s}'; use auto, onnx or torch"))),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Onnx => "onnx",
            BackendChoice::Torch => "torch",
        })
    }
}

/// How a model is run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InferenceOptions {
    pub backend: BackendChoice,
    pub device: DeviceChoice,
    /// Half precision; GPU only.
    pub fp16: bool,
    /// Intra-op threads; `None` lets the engine use every core. For TorchScript
    /// this sets libtorch's process-wide thread count.
    pub threads: Option<usize>,
    /// How many batches may run at once on one model (one ONNX Runtime
    /// session each); further callers wait their turn.
    pub concurrent_runs: usize,
    /// Book GPU memory with other processes when opening a model folder, held
    /// until the predictor is dropped; does nothing unless the device resolves to CUDA.
    pub gpu_reservation: Option<ReservationRequest>,
    /// What to do with NaN or infinite input values (refused by default).
    pub non_finite: NonFinite,
}

impl Default for InferenceOptions {
    fn default() -> Self {
        InferenceOptions { backend: BackendChoice::Auto, device: DeviceChoice::Auto, fp16: false, threads: None, concurrent_runs: 1, gpu_reservation: None, non_finite: NonFinite::Refuse }
    }
}

impl InferenceOptions {
    pub fn validate(&self) -> Result<()> {
        if self.concurrent_runs == 0 {
            return Err(Error::config("concurrent_runs must be at least 1"));
        }
        if self.threads == Some(0) {
            return Err(Error::config("threads must be at least 1 (leave it unset for all cores)"));
        }
        Ok(())
    }
}
