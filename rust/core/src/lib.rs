//! dlclassifier core: training data, normalization, models, training and
//! inference for pixel classifiers. Knows nothing about JNI or C.

pub mod apply;
pub mod augment;
pub mod cache_dir;
pub mod data;
pub mod device;
pub mod error;
pub mod history;
pub mod inference;
pub mod memory_estimate;
pub mod model_dir;
pub mod models;
pub mod normalization;
pub mod onnx;
pub mod registry;
pub mod outputs;
pub mod tiling;
pub mod train;
pub mod reservation;
pub mod settings;

pub use error::{Error, Result};

/// This library's version, recorded in model metadata.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
