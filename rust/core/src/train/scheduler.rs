//! Learning-rate schedules, with PyTorch's formulas so that settings carry
//! over from the Python extension.

use crate::settings::SchedulerConfig;
use std::f64::consts::PI;

/// A schedule bound to a base learning rate and the run's length.
#[derive(Debug, Clone)]
pub struct Scheduler {
    config: SchedulerConfig,
    base_lr: f64,
    steps_per_epoch: usize,
    total_steps: usize,
}

fn cos_anneal(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
}

impl Scheduler {
    pub fn new(config: SchedulerConfig, base_lr: f64, epochs: usize, steps_per_epoch: usize) -> Self {
        let steps_per_epoch = steps_per_epoch.max(1);
        Scheduler { config, base_lr, steps_per_epoch, total_steps: epochs.max(1) * steps_per_epoch }
    }

    /// Whole epochs until the learning rate has warmed up to its peak (0
    /// for schedules that start at it): early stopping waits them out.
    pub fn warmup_epochs(&self) -> usize {
        match self.config {
            SchedulerConfig::OneCycle { pct_start, .. } => (pct_start * self.total_steps as f64 / self.steps_per_epoch as f64).ceil() as usize,
            _ => 0,
        }
    }

    /// The learning rate for batch `step` (0-based) of epoch `epoch` (0-based).
    pub fn lr(&self, epoch: usize, step: usize) -> f64 {
        match self.config {
            SchedulerConfig::OneCycle { pct_start, div_factor, final_div_factor } => {
                let initial = self.base_lr / div_factor;
                let min = initial / final_div_factor;
                let t = (epoch * self.steps_per_epoch + step) as f64;
                let warmup_end = pct_start * self.total_steps as f64 - 1.0;
                let last = (self.total_steps - 1) as f64;
                if t <= warmup_end {
                    cos_anneal(initial, self.base_lr, if warmup_end > 0.0 { t / warmup_end } else { 1.0 })
                } else {
                    cos_anneal(self.base_lr, min, ((t - warmup_end) / (last - warmup_end)).min(1.0))
                }
            }
            SchedulerConfig::Cosine { t0, t_mult, eta_min } => {
                let e = epoch as f64 + step as f64 / self.steps_per_epoch as f64;
                let (t_cur, t_i) = if t_mult == 1 {
                    (e % t0 as f64, t0 as f64)
                } else {
                    let m = t_mult as f64;
                    let n = ((e / t0 as f64 * (m - 1.0) + 1.0).ln() / m.ln()).floor();
                    (e - t0 as f64 * (m.powf(n) - 1.0) / (m - 1.0), t0 as f64 * m.powf(n))
                };
                eta_min + (self.base_lr - eta_min) * (1.0 + (PI * t_cur / t_i).cos()) / 2.0
            }
            SchedulerConfig::Step { step_size, gamma } => self.base_lr * gamma.powi((epoch / step_size) as i32),
            SchedulerConfig::None => self.base_lr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12 * b.abs().max(1.0), "{a} != {b}");
    }

    #[test]
    fn onecycle_starts_low_peaks_and_ends_near_zero() {
        // 10 epochs x 10 steps: warm-up ends at step 29 (0.3*100 - 1), the last step is 99.
        let s = Scheduler::new(SchedulerConfig::default(), 1e-3, 10, 10);
        close(s.lr(0, 0), 1e-3 / 25.0);
        close(s.lr(2, 9), 1e-3);
        close(s.lr(9, 9), 1e-3 / 25.0 / 1e4);
        // Rises during the warm-up, falls afterwards.
        let mid = Scheduler::new(SchedulerConfig::default(), 1.0, 1, 201);
        assert!(mid.lr(0, 10) < mid.lr(0, 30) && mid.lr(0, 30) < mid.lr(0, 59));
        assert!(mid.lr(0, 100) > mid.lr(0, 150));
    }

    #[test]
    fn cosine_restarts_every_t0_epochs() {
        let s = Scheduler::new(SchedulerConfig::Cosine { t0: 4, t_mult: 1, eta_min: 0.0 }, 1.0, 12, 2);
        close(s.lr(0, 0), 1.0);
        close(s.lr(2, 0), 0.5); // cos(pi/2)
        close(s.lr(4, 0), 1.0); // restart
        close(s.lr(1, 1), (1.0 + (PI * 1.5 / 4.0).cos()) / 2.0);
    }

    #[test]
    fn cosine_with_growing_periods() {
        // T0 = 2, T_mult = 2: periods [0,2), [2,6), [6,14)
        let s = Scheduler::new(SchedulerConfig::Cosine { t0: 2, t_mult: 2, eta_min: 0.1 }, 1.1, 14, 1);
        close(s.lr(2, 0), 1.1);
        close(s.lr(4, 0), 0.1 + 1.0 * 0.5); // half of a 4-epoch period
        close(s.lr(6, 0), 1.1);
        close(s.lr(10, 0), 0.6);
    }

    #[test]
    fn step_decays_by_gamma() {
        let s = Scheduler::new(SchedulerConfig::Step { step_size: 3, gamma: 0.5 }, 0.8, 10, 5);
        close(s.lr(2, 4), 0.8);
        close(s.lr(3, 0), 0.4);
        close(s.lr(7, 0), 0.2);
        close(Scheduler::new(SchedulerConfig::None, 0.3, 5, 5).lr(4, 4), 0.3);
    }

    #[test]
    fn names_and_validation() {
        assert_eq!(SchedulerConfig::from_name("OneCycle").unwrap(), SchedulerConfig::default());
        assert!(matches!(SchedulerConfig::from_name("cosine").unwrap(), SchedulerConfig::Cosine { t0: 10, .. }));
        assert!(SchedulerConfig::from_name("plateau").unwrap_err().to_string().contains("unknown scheduler"));
        assert!(SchedulerConfig::Step { step_size: 0, gamma: 0.1 }.validate().is_err());
    }
}
