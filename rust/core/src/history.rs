//! What a training run records per epoch: the entries of
//! `training_history.json`, of checkpoints and of the best epoch in `metadata.json`.

use serde::{Deserialize, Serialize};

/// What happened in one epoch; also one entry of `training_history.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    pub total_epochs: usize,
    pub train_loss: f64,
    pub val_loss: f64,
    #[serde(flatten)]
    pub metrics: SegmentationMetrics,
    pub learning_rate: f64,
    /// Seconds since the run started (including earlier, resumed sessions).
    pub elapsed_s: f64,
    pub best_epoch: usize,
    pub best_score: f64,
    /// The monitored metric averaged over early stopping's window.
    #[serde(default)]
    pub smoothed_score: f64,
    /// Epochs since `smoothed_score` last improved.
    pub epochs_without_improvement: usize,
    pub is_best: bool,
    /// Training crops this epoch and the optimizer steps they made.
    #[serde(default)]
    pub samples: usize,
    #[serde(default)]
    pub steps: usize,
}

impl EpochRecord {
    /// The epoch's value of the metric that picks the best epoch.
    pub fn score(&self, monitor: crate::settings::MonitorMetric) -> f64 {
        match monitor {
            crate::settings::MonitorMetric::MeanIou => self.metrics.mean_iou,
            crate::settings::MonitorMetric::ValLoss => self.val_loss,
        }
    }
}

/// The metrics reported per epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentationMetrics {
    pub pixel_accuracy: f64,
    /// IoU per class; `None` for a class absent from both truth and prediction.
    pub per_class_iou: Vec<Option<f64>>,
    /// Mean over the classes whose IoU is defined.
    pub mean_iou: f64,
}
