//! Training machinery that any task's training loop builds on: augmented
//! batches, the optimizer step with its loss, learning-rate schedules,
//! early stopping, checkpoints for resuming and transfer-learning recommendations.

pub(crate) mod batches;
pub(crate) mod checkpoint;
pub mod early_stopping;
mod grad_scaler;
mod loss;
mod scheduler;
mod step;
pub mod transfer;

pub use checkpoint::checkpoint_dir;
pub use loss::Loss;
pub use scheduler::Scheduler;
pub use step::StepRunner;
pub use transfer::{recommend, Recommendation, SizeClass};
