//! Pixel classification: a class per pixel. Training with validation by a
//! confusion matrix, the predictor for class probabilities with its tile
//! buffer API and imported ONNX models, and the whole-image outputs (class
//! map, overlay, measurements, probability TIFF, agreement with a mask).

pub mod apply;
mod cache;
pub mod classify;
mod imported;
mod metrics;
mod model_info;
pub mod outputs;
mod plan;
mod predictor;
pub mod tiles;
mod trainer;
mod validation;

pub use cache::{clear_cache, open_cached};
pub use metrics::ConfusionMatrix;
pub use model_info::ModelInfo;
pub use plan::{plan, Choice, TrainingPlan, MIN_STEPS_PER_EPOCH};
pub use predictor::Predictor;
pub use tiles::{Dtype, Order, Outputs, ProbabilityFormat, TileLayout};
pub use trainer::{preflight, train, Preflight, TrainingOutcome};
