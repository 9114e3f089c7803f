//! Training: configuration, losses, schedules, metrics, the loop and its control.

mod batches;
mod checkpoint;
mod config;
mod control;
mod grad_scaler;
mod loss;
mod metrics;
mod scheduler;
mod step;
mod trainer;
pub mod transfer;

pub use checkpoint::checkpoint_dir;
pub use config::{EarlyStopping, MonitorMetric, TrainingConfig};
pub use control::{EpochRecord, JobControl};
pub use loss::{Loss, LossKind};
pub use metrics::{ConfusionMatrix, SegmentationMetrics};
pub use scheduler::{Scheduler, SchedulerConfig};
pub use step::StepRunner;
pub use trainer::{train, TrainingOutcome};
pub use transfer::{recommend, Recommendation, SizeClass};
