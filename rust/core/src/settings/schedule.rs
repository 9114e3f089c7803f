//! Learning-rate schedule settings, named and parameterised as PyTorch names
//! them; the learning rates themselves come from `train::Scheduler`.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The schedules users can pick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SchedulerConfig {
    /// `torch.optim.lr_scheduler.OneCycleLR` (cosine annealing), stepped per batch;
    /// the configured learning rate is the peak.
    #[serde(rename = "onecycle", alias = "one_cycle", alias = "onecyclelr")]
    OneCycle {
        #[serde(default = "defaults::pct_start")]
        pct_start: f64,
        #[serde(default = "defaults::div_factor")]
        div_factor: f64,
        #[serde(default = "defaults::final_div_factor")]
        final_div_factor: f64,
    },
    /// `CosineAnnealingWarmRestarts`, with fractional epochs per batch.
    #[serde(alias = "cosine_annealing", alias = "cosineannealingwarmrestarts")]
    Cosine {
        #[serde(default = "defaults::t0")]
        t0: usize,
        #[serde(default = "defaults::t_mult")]
        t_mult: usize,
        #[serde(default = "defaults::eta_min")]
        eta_min: f64,
    },
    /// `StepLR`: multiply by `gamma` every `step_size` epochs.
    #[serde(alias = "step_decay", alias = "steplr")]
    Step {
        #[serde(default = "defaults::step_size")]
        step_size: usize,
        #[serde(default = "defaults::gamma")]
        gamma: f64,
    },
    /// A constant learning rate.
    None,
}

mod defaults {
    pub fn pct_start() -> f64 { 0.3 }
    pub fn div_factor() -> f64 { 25.0 }
    pub fn final_div_factor() -> f64 { 1e4 }
    pub fn t0() -> usize { 10 }
    pub fn t_mult() -> usize { 1 }
    pub fn eta_min() -> f64 { 1e-6 }
    pub fn step_size() -> usize { 10 }
    pub fn gamma() -> f64 { 0.1 }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig::OneCycle {
            pct_start: defaults::pct_start(),
            div_factor: defaults::div_factor(),
            final_div_factor: defaults::final_div_factor(),
        }
    }
}

impl SchedulerConfig {
    /// Parses a name (`onecycle`, `cosine`, `step`, `none`, or the Python
    /// extension's dialog labels such as "One Cycle") into the schedule with
    /// default parameters.
    pub fn from_name(name: &str) -> Result<Self> {
        let key = super::name_key(name);
        serde_json::from_value(serde_json::json!({ "type": key })).map_err(|_| {
            let hint = if key.contains("plateau") { " (the Python extension's ReduceLROnPlateau is not available here)" } else { "" };
            Error::config(format!("unknown scheduler '{name}'{hint}; use onecycle, cosine, step or none"))
        })
    }

    /// Checks parameters that would give a nonsensical schedule.
    pub fn validate(&self) -> Result<()> {
        let bad = match self {
            SchedulerConfig::OneCycle { pct_start, div_factor, final_div_factor } => {
                !(0.0..1.0).contains(pct_start) || *div_factor <= 0.0 || *final_div_factor <= 0.0
            }
            SchedulerConfig::Cosine { t0, t_mult, eta_min } => *t0 == 0 || *t_mult == 0 || *eta_min < 0.0,
            SchedulerConfig::Step { step_size, gamma } => *step_size == 0 || *gamma <= 0.0,
            SchedulerConfig::None => false,
        };
        if bad {
            return Err(Error::config(format!("invalid scheduler parameters: {self:?}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_the_extensions_labels_parse() {
        let one_cycle = SchedulerConfig::default();
        for name in ["onecycle", "One Cycle", "OneCycleLR", " ONECYCLE "] {
            assert_eq!(SchedulerConfig::from_name(name).unwrap(), one_cycle, "{name}");
        }
        assert!(matches!(SchedulerConfig::from_name("Cosine Annealing").unwrap(), SchedulerConfig::Cosine { .. }));
        assert!(matches!(SchedulerConfig::from_name("Step Decay").unwrap(), SchedulerConfig::Step { .. }));
        assert_eq!(SchedulerConfig::from_name("None").unwrap(), SchedulerConfig::None);
        assert!(SchedulerConfig::from_name("Reduce on Plateau").unwrap_err().to_string().contains("ReduceLROnPlateau is not available"));
        assert!(SchedulerConfig::from_name("warp").unwrap_err().to_string().contains("unknown scheduler 'warp'"));
    }
}
