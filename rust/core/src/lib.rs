//! dlclassifier core: training data, normalization, models, training and
//! inference for pixel classifiers. Knows nothing about JNI or C.
//!
//! The modules at this level are the engine that every task shares; what is
//! specific to one task (pixel classification today) lives in `tasks`. The
//! README's Layout section lists which module depends on which.

// Foundations.
pub mod cache_dir;
pub mod device;
pub mod error;
pub mod job;
pub mod reservation;

// Data and its preparation.
pub mod augment;
pub mod data;
pub mod non_finite;
pub mod normalization;

// Networks and their export.
pub mod models;
pub mod onnx;

// Values that training, model folders and inference share.
pub mod geometry;
pub mod objects;
pub mod region;
pub mod history;
pub mod limits;
pub mod settings;

// Engine.
pub mod inference;
pub mod memory_estimate;
pub mod model_dir;
pub mod registry;
pub mod tiling;
pub mod train;

pub mod tasks;

pub use error::{Error, ErrorClass, Result};

/// This library's version, recorded in model metadata.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
