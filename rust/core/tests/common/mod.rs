//! Helpers shared by the integration tests.
#![allow(dead_code)]

use dlclassifier::train::TrainingConfig;
use std::path::PathBuf;

/// The real data sets bundled in the repository (see data/README.md).
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data").join(name)
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Small, fast CPU settings for tests; each test adjusts what it checks.
pub fn quick_config() -> TrainingConfig {
    TrainingConfig {
        encoder: dlclassifier::models::EncoderKind::ResNet18,
        tile_size: 128,
        batch_size: 4,
        epochs: 2,
        threads: Some(2),
        device: "cpu".parse().unwrap(),
        early_stopping: None,
        ..TrainingConfig::default()
    }
}
