//! Inference backends: ONNX Runtime and TorchScript behind one trait that
//! runs a batch of normalized tiles and hands back the raw network output.

mod backend;
mod onnx_runtime;
mod torchscript;

pub use backend::{Backend, BackendChoice, InferenceOptions};
pub use onnx_runtime::{library_candidates, OnnxBackend, ONNXRUNTIME_VERSION};
pub use torchscript::TorchScriptBackend;
