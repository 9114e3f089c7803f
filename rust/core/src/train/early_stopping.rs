//! Early stopping's judgement: the monitored metric averaged over the last
//! few epochs against its best average so far, so that one lucky or unlucky
//! epoch decides nothing, and never before the learning rate has warmed up.

use crate::settings::{EarlyStopping, MonitorMetric};

/// Where a run stands after its latest epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    /// The latest epochs' mean of the monitored metric.
    pub smoothed: f64,
    /// Epochs since that mean last improved by more than the minimum.
    pub epochs_without_improvement: usize,
}

/// The standing after the epochs whose monitored values are `scores` (in
/// order); `rule` `None` judges each epoch alone, any improvement counting.
pub fn standing(scores: &[f64], monitor: MonitorMetric, rule: Option<&EarlyStopping>) -> Standing {
    let (window, min_delta) = rule.map_or((1, 0.0), |r| (r.smoothing.max(1), r.min_delta));
    let smoothed = |i: usize| {
        let recent = &scores[(i + 1).saturating_sub(window)..=i];
        recent.iter().sum::<f64>() / recent.len() as f64
    };
    let mut best = smoothed(0);
    let mut since = 0;
    for i in 1..scores.len() {
        let s = smoothed(i);
        let better = match monitor {
            MonitorMetric::MeanIou => s > best + min_delta,
            MonitorMetric::ValLoss => s < best - min_delta,
        };
        if better {
            (best, since) = (s, 0);
        } else {
            since += 1;
        }
    }
    Standing { smoothed: smoothed(scores.len() - 1), epochs_without_improvement: since }
}

/// Whether to stop after `epochs_done` epochs: `patience` epochs without
/// improvement, and at least that many epochs after the warm-up's end.
pub fn should_stop(standing: Standing, rule: &EarlyStopping, epochs_done: usize, warmup_epochs: usize) -> bool {
    standing.epochs_without_improvement >= rule.patience && epochs_done >= warmup_epochs + rule.patience
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(patience: usize, smoothing: usize) -> EarlyStopping {
        EarlyStopping { patience, min_delta: 0.0, smoothing }
    }

    #[test]
    fn one_lucky_epoch_does_not_end_the_run() {
        // A spike at epoch 2, then steady progress that stays below it.
        let scores = [0.5, 0.9, 0.55, 0.6, 0.65, 0.7, 0.75];
        let alone = standing(&scores, MonitorMetric::MeanIou, Some(&rule(5, 1)));
        assert_eq!(alone.epochs_without_improvement, 5, "judged alone, the spike stands for five epochs");
        let smoothed = standing(&scores, MonitorMetric::MeanIou, Some(&rule(5, 3)));
        assert_eq!(smoothed.epochs_without_improvement, 0, "the 3-epoch mean keeps rising");
        assert!((smoothed.smoothed - 0.7).abs() < 1e-12);
        assert!(should_stop(alone, &rule(5, 1), 7, 0));
        assert!(!should_stop(smoothed, &rule(5, 3), 7, 0));
    }

    #[test]
    fn never_during_warm_up_and_losses_fall() {
        let flat = [0.4; 8];
        let s = standing(&flat, MonitorMetric::MeanIou, Some(&rule(3, 1)));
        assert_eq!(s.epochs_without_improvement, 7);
        assert!(!should_stop(s, &rule(3, 1), 8, 6), "warm-up of 6 epochs plus patience 3");
        assert!(should_stop(s, &rule(3, 1), 9, 6));
        let losses = [1.0, 0.8, 0.9, 0.7];
        let s = standing(&losses, MonitorMetric::ValLoss, None);
        assert_eq!(s.epochs_without_improvement, 0);
        assert_eq!(standing(&losses[..3], MonitorMetric::ValLoss, None).epochs_without_improvement, 1);
    }
}
