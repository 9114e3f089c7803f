//! One optimisation step (forward, loss, backward, AdamW), shared by the
//! training loop and the throughput benchmark so that both measure the same work.

use super::grad_scaler::GradScaler;
use super::loss::Loss;
use crate::models::SegmentationModel;
use crate::Result;
use tch::nn::{self, ModuleT, OptimizerConfig, VarStore};
use tch::Tensor;

/// Optimizer parameter group of the encoder's variables when they train at
/// their own learning rate; everything else stays in group 0.
const ENCODER_GROUP: usize = 1;

/// AdamW with optional mixed precision, gradient clipping and a lower
/// learning rate for the encoder (discriminative learning rates).
pub struct StepRunner {
    opt: nn::Optimizer,
    /// `Some(f)`: the encoder group trains at `lr × f`.
    encoder_lr_factor: Option<f64>,
    loss: Loss,
    scaler: Option<GradScaler>,
    trainable: Vec<Tensor>,
    clip: Option<f64>,
    amp: bool,
}

impl StepRunner {
    /// `amp` takes effect only on CUDA (float16 autocast with loss scaling).
    pub fn new(vs: &VarStore, loss: Loss, learning_rate: f64, weight_decay: f64, clip: Option<f64>, amp: bool) -> Result<Self> {
        Self::with_encoder_lr_factor(vs, loss, learning_rate, weight_decay, clip, amp, 1.0)
    }

    /// As [`StepRunner::new`], with the variables below `encoder.` training at
    /// `lr × encoder_lr_factor` and the rest at `lr`. A factor of 1 builds the
    /// same single-group optimizer as `new`.
    pub fn with_encoder_lr_factor(
        vs: &VarStore,
        loss: Loss,
        learning_rate: f64,
        weight_decay: f64,
        clip: Option<f64>,
        amp: bool,
        encoder_lr_factor: f64,
    ) -> Result<Self> {
        let amp = amp && vs.device().is_cuda();
        // A model without encoder variables has no group 1 to set.
        let separate = assign_encoder_group(vs, encoder_lr_factor != 1.0);
        let encoder_lr_factor = separate.then_some(encoder_lr_factor);
        let mut opt = nn::AdamW { beta1: 0.9, beta2: 0.999, wd: weight_decay, eps: 1e-8, amsgrad: false }.build(vs, learning_rate)?;
        if let Some(f) = encoder_lr_factor {
            opt.set_lr_group(ENCODER_GROUP, learning_rate * f);
        }
        Ok(StepRunner { opt, encoder_lr_factor, loss, scaler: amp.then(GradScaler::default), trainable: vs.trainable_variables(), clip, amp })
    }

    /// Trains on one batch at learning rate `lr`; returns the batch loss.
    pub fn step(&mut self, model: &SegmentationModel, images: &Tensor, labels: &Tensor, lr: f64) -> f64 {
        self.opt.set_lr(lr);
        if let Some(f) = self.encoder_lr_factor {
            self.opt.set_lr_group(ENCODER_GROUP, lr * f);
        }
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

/// Puts the trainable variables named `encoder.*` into [`ENCODER_GROUP`]
/// (or all back into group 0). The optimizer reads the groups when it is
/// built; variables are matched to names by their storage. Returns whether
/// any variable went into the encoder group.
fn assign_encoder_group(vs: &VarStore, separate: bool) -> bool {
    let encoder: std::collections::HashSet<usize> = vs
        .variables()
        .into_iter()
        .filter(|(name, _)| name.starts_with("encoder."))
        .map(|(_, t)| t.data_ptr() as usize)
        .collect();
    let mut vars = vs.variables_.lock().expect("variable store lock");
    let mut any = false;
    for var in vars.trainable_variables.iter_mut() {
        let in_encoder = separate && encoder.contains(&(var.tensor.data_ptr() as usize));
        var.group = if in_encoder { ENCODER_GROUP } else { 0 };
        any |= in_encoder;
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Architecture, EncoderKind, ModelSpec};
    use crate::settings::LossKind;
    use tch::{Device, Kind};

    fn spec() -> ModelSpec {
        ModelSpec { architecture: Architecture::Unet, encoder: EncoderKind::ResNet18, in_channels: 1, num_classes: 2 }
    }

    /// Largest absolute change of the encoder's and of the other trainable
    /// variables after one step from the weights of `init`.
    fn moves(factor: f64, init: &VarStore, x: &Tensor, y: &Tensor) -> (f64, f64) {
        let mut vs = VarStore::new(Device::Cpu);
        let model = SegmentationModel::new(&vs.root(), spec()).unwrap();
        vs.copy(init).unwrap();
        let before: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).map(|(n, t)| (n, t.detach().copy())).collect();
        let loss = Loss::new(LossKind::CrossEntropy, None, 255, Device::Cpu);
        let mut runner = StepRunner::with_encoder_lr_factor(&vs, loss, 1e-2, 0.0, None, false, factor).unwrap();
        // The scheduler's rate, not the one the optimizer was built with, must count.
        runner.step(&model, x, y, 1e-3);
        let now = vs.variables();
        let (mut enc, mut rest) = (0f64, 0f64);
        for (name, old) in before {
            let d = (now[&name].detach() - old).abs().max().double_value(&[]);
            if name.starts_with("encoder.") {
                enc = enc.max(d);
            } else {
                rest = rest.max(d);
            }
        }
        (enc, rest)
    }

    #[test]
    fn the_encoder_trains_at_its_own_learning_rate() {
        let init = VarStore::new(Device::Cpu);
        SegmentationModel::new(&init.root(), spec()).unwrap();
        let x = Tensor::randn([2, 1, 64, 64], (Kind::Float, Device::Cpu));
        let y = Tensor::randint(2, [2, 64, 64], (Kind::Int64, Device::Cpu));
        let (enc1, rest1) = moves(1.0, &init, &x, &y);
        let (enc, rest) = moves(0.1, &init, &x, &y);
        // Adam's first step moves each weight by about its learning rate.
        assert!((enc1 - 1e-3).abs() < 2e-4 && (rest1 - 1e-3).abs() < 2e-4, "factor 1: encoder {enc1}, rest {rest1}");
        assert!((enc - 1e-4).abs() < 2e-5, "factor 0.1: encoder moved {enc}");
        assert!((rest - rest1).abs() < 1e-6, "factor 0.1: decoder moved {rest}, {rest1} with factor 1");
    }
}
