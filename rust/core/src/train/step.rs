//! One optimisation step (forward, loss, backward, AdamW), shared by the
//! training loop and the throughput benchmark so that both measure the same work.

use super::grad_scaler::GradScaler;
use super::loss::Loss;
use crate::models::SegmentationModel;
use crate::Result;
use tch::nn::{self, ModuleT, OptimizerConfig, VarStore};
use tch::Tensor;

/// AdamW with optional mixed precision and gradient clipping.
pub struct StepRunner {
    opt: nn::Optimizer,
    loss: Loss,
    scaler: Option<GradScaler>,
    trainable: Vec<Tensor>,
    clip: Option<f64>,
    amp: bool,
}

impl StepRunner {
    /// `amp` takes effect only on CUDA (float16 autocast with loss scaling).
    pub fn new(vs: &VarStore, loss: Loss, learning_rate: f64, weight_decay: f64, clip: Option<f64>, amp: bool) -> Result<Self> {
        let amp = amp && vs.device().is_cuda();
        let opt = nn::AdamW { beta1: 0.9, beta2: 0.999, wd: weight_decay, eps: 1e-8, amsgrad: false }.build(vs, learning_rate)?;
        Ok(StepRunner { opt, loss, scaler: amp.then(GradScaler::default), trainable: vs.trainable_variables(), clip, amp })
    }

    /// Trains on one batch at learning rate `lr`; returns the batch loss.
    pub fn step(&mut self, model: &SegmentationModel, images: &Tensor, labels: &Tensor, lr: f64) -> f64 {
        self.opt.set_lr(lr);
        let logits = tch::autocast(self.amp, || model.forward_t(images, true));
        let loss = self.loss.compute(&logits, labels);
        self.opt.zero_grad();
        let finite = match &mut self.scaler {
            Some(s) => {
                (&loss * s.scale()).backward();
                s.unscale(&self.trainable)
            }
            None => {
                loss.backward();
                true
            }
        };
        // An overflowed float16 step is skipped; the scaler has already backed off.
        if finite {
            if let Some(max) = self.clip {
                self.opt.clip_grad_norm(max);
            }
            self.opt.step();
        }
        loss.double_value(&[])
    }
}
