//! Training: configuration, losses, schedules, metrics, the loop and its control.

mod batches;
mod checkpoint;
mod control;
mod grad_scaler;
mod loss;
mod metrics;
mod scheduler;
mod step;
mod trainer;
pub mod transfer;

pub use checkpoint::checkpoint_dir;
pub use control::JobControl;
pub use loss::Loss;
pub use metrics::ConfusionMatrix;
pub use scheduler::Scheduler;
pub use step::StepRunner;
pub use trainer::{train, TrainingOutcome};
pub use transfer::{recommend, Recommendation, SizeClass};
