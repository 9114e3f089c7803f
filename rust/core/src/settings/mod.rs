//! Training settings: plain serializable values that training, the model
//! folder (which records them), memory estimates and inference share. Low in
//! the tree: depends on models, augmentation, normalization, devices and
//! reservations only, never on the modules that read settings.

mod loss;
mod schedule;
mod training;

pub use loss::LossKind;
pub use schedule::SchedulerConfig;
pub use training::{EarlyStopping, MonitorMetric, TrainingConfig, DEFAULT_BATCH_SIZE, DEFAULT_TILE_SIZE};

/// A user's name for a setting's value as the serialized names are written:
/// lower case, words joined by `_` ("One Cycle" → `one_cycle`).
fn name_key(name: &str) -> String {
    name.trim().to_ascii_lowercase().split([' ', '-', '_']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join("_")
}
