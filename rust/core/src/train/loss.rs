//! Training losses. Pixels labelled with the unlabeled index never contribute,
//! which is what makes sparse (scribble) annotations trainable.

use crate::settings::LossKind;
use tch::{Kind, Reduction, Tensor};

/// Dice smoothing term; keeps classes absent from a batch from dominating.
const DICE_SMOOTH: f64 = 1.0;

/// A configured loss: kind, optional per-class weights and the ignored label.
#[derive(Debug)]
pub struct Loss {
    kind: LossKind,
    weights: Option<Tensor>,
    ignore_index: i64,
}

impl Clone for Loss {
    fn clone(&self) -> Self {
        Loss { kind: self.kind, weights: self.weights.as_ref().map(|w| w.shallow_clone()), ignore_index: self.ignore_index }
    }
}

impl Loss {
    pub fn new(kind: LossKind, class_weights: Option<&[f32]>, ignore_index: i64, device: tch::Device) -> Loss {
        let weights = class_weights.map(|w| Tensor::from_slice(w).to_device(device));
        Loss { kind, weights, ignore_index }
    }

    /// `logits` `[N, K, H, W]` float, `target` `[N, H, W]` int64. A batch with
    /// no labelled pixel gives a zero loss that still has a graph (no NaN).
    pub fn compute(&self, logits: &Tensor, target: &Tensor) -> Tensor {
        let valid = target.ne(self.ignore_index);
        if valid.sum(Kind::Int64).int64_value(&[]) == 0 {
            return logits.sum(Kind::Float) * 0.0;
        }
        let logits = logits.to_kind(Kind::Float);
        let ce = logits.cross_entropy_loss(target, self.weights.as_ref(), Reduction::Mean, self.ignore_index, 0.0);
        match self.kind {
            LossKind::CrossEntropy => ce,
            LossKind::CeDice => ce + self.dice_loss(&logits, target, &valid),
        }
    }

    fn dice_loss(&self, logits: &Tensor, target: &Tensor, valid: &Tensor) -> Tensor {
        let classes = logits.size()[1];
        let mask = valid.unsqueeze(1).to_kind(Kind::Float);
        let safe_target = target.where_self(valid, &target.zeros_like());
        let one_hot = safe_target.one_hot(classes).permute([0, 3, 1, 2]).to_kind(Kind::Float) * &mask;
        let probs = logits.softmax(1, Kind::Float) * &mask;
        let dims: &[i64] = &[0, 2, 3];
        let intersection = (&probs * &one_hot).sum_dim_intlist(dims, false, Kind::Float);
        let cardinality = probs.sum_dim_intlist(dims, false, Kind::Float) + one_hot.sum_dim_intlist(dims, false, Kind::Float);
        let dice = (intersection * 2.0 + DICE_SMOOTH) / (cardinality + DICE_SMOOTH);
        1.0 - dice.mean(Kind::Float)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-5, "{a} != {b}");
    }

    /// Two pixels, two classes: logits (2,0) labelled 0 and (0,1) labelled 1.
    fn sample() -> (Tensor, Tensor) {
        let logits = Tensor::from_slice(&[2.0f32, 0.0, 0.0, 1.0]).view([1, 2, 1, 2]);
        let target = Tensor::from_slice(&[0i64, 1]).view([1, 1, 2]);
        (logits, target)
    }

    fn nll(logit_true: f64, logit_other: f64) -> f64 {
        -(logit_true.exp() / (logit_true.exp() + logit_other.exp())).ln()
    }

    #[test]
    fn cross_entropy_matches_hand_computation() {
        let (logits, target) = sample();
        let loss = Loss::new(LossKind::CrossEntropy, None, 255, Device::Cpu).compute(&logits, &target);
        close(loss.double_value(&[]), (nll(2.0, 0.0) + nll(1.0, 0.0)) / 2.0);
    }

    #[test]
    fn class_weights_give_a_weighted_mean() {
        let (logits, target) = sample();
        let loss = Loss::new(LossKind::CrossEntropy, Some(&[1.0, 3.0]), 255, Device::Cpu).compute(&logits, &target);
        close(loss.double_value(&[]), (nll(2.0, 0.0) + 3.0 * nll(1.0, 0.0)) / 4.0);
    }

    #[test]
    fn unlabeled_pixels_do_not_count() {
        let logits = Tensor::from_slice(&[2.0f32, 0.0, 5.0, 0.0, 1.0, -5.0]).view([1, 2, 1, 3]);
        let target = Tensor::from_slice(&[0i64, 1, 255]).view([1, 1, 3]);
        for kind in [LossKind::CrossEntropy, LossKind::CeDice] {
            let loss = Loss::new(kind, None, 255, Device::Cpu);
            let (two, two_target) = sample();
            close(loss.compute(&logits, &target).double_value(&[]), loss.compute(&two, &two_target).double_value(&[]));
        }
    }

    #[test]
    fn dice_matches_hand_computation() {
        let (logits, target) = sample();
        let p0 = 2f64.exp() / (2f64.exp() + 1.0); // P(class 0) at pixel 0
        let p1 = 1f64.exp() / (1f64.exp() + 1.0); // P(class 1) at pixel 1
        // class 0: probs (p0, 1-p1), one-hot (1, 0); class 1: probs (1-p0, p1), one-hot (0, 1)
        let dice0 = (2.0 * p0 + 1.0) / (p0 + (1.0 - p1) + 1.0 + 1.0);
        let dice1 = (2.0 * p1 + 1.0) / ((1.0 - p0) + p1 + 1.0 + 1.0);
        let expected = (nll(2.0, 0.0) + nll(1.0, 0.0)) / 2.0 + 1.0 - (dice0 + dice1) / 2.0;
        let loss = Loss::new(LossKind::CeDice, None, 255, Device::Cpu).compute(&logits, &target);
        close(loss.double_value(&[]), expected);
    }

    #[test]
    fn all_unlabeled_batch_is_zero_not_nan() {
        let logits = Tensor::ones([1, 2, 2, 2], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let target = Tensor::full([1, 2, 2], 255, (Kind::Int64, Device::Cpu));
        let loss = Loss::new(LossKind::CeDice, None, 255, Device::Cpu).compute(&logits, &target);
        assert_eq!(loss.double_value(&[]), 0.0);
        loss.backward();
    }
}
