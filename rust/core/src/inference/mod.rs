//! Inference: backends (ONNX Runtime, TorchScript) behind one trait, the tile
//! buffer API with the training normalization applied inside the engine,
//! imported ONNX models and a cache of loaded models.

mod backend;
mod cache;
mod imported;
mod model_info;
mod onnx_runtime;
mod predictor;
pub mod tiles;
mod torchscript;

pub use backend::{Backend, BackendChoice, InferenceOptions};
pub use cache::{clear_cache, open_cached};
pub use onnx_runtime::{library_candidates, OnnxBackend, ONNXRUNTIME_VERSION};
pub use model_info::ModelInfo;
pub use predictor::Predictor;
pub use tiles::{Dtype, Order, Outputs, ProbabilityFormat, TileLayout};
pub use torchscript::TorchScriptBackend;
