//! Training settings: plain serializable values that training, the model
//! folder (which records them), memory estimates and inference share. Low in
//! the tree: depends on models, augmentation, normalization, devices and
//! reservations only, never on the modules that read settings.

mod loss;
mod schedule;
mod training;

pub use loss::LossKind;
pub use schedule::SchedulerConfig;
pub use training::{EarlyStopping, MonitorMetric, TrainingConfig};
