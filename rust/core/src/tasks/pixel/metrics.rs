//! Segmentation metrics from a confusion matrix over labelled pixels.

use crate::history::SegmentationMetrics;
use crate::{Error, Result};
use ndarray::ArrayView2;
use tch::{Kind, Tensor};

/// Counts of (true class, predicted class) pairs, accumulated over batches.
#[derive(Debug, Clone)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major `[true][predicted]`.
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    pub fn new(classes: usize) -> Self {
        ConfusionMatrix { classes, counts: vec![0; classes * classes] }
    }

    /// Adds `logits` `[N, K, H, W]` against `target` `[N, H, W]`, skipping `ignore_index`.
    pub fn add(&mut self, logits: &Tensor, target: &Tensor, ignore_index: i64) {
        let k = self.classes as i64;
        let pred = logits.argmax(1, false);
        let valid = target.ne(ignore_index);
        let index = (target.masked_select(&valid) * k + pred.masked_select(&valid)).to_device(tch::Device::Cpu);
        let counts = index.bincount(None::<Tensor>, k * k).to_kind(Kind::Int64);
        let counts: Vec<i64> = Vec::try_from(counts).expect("int64 counts");
        for (slot, c) in self.counts.iter_mut().zip(counts) {
            *slot += c as u64;
        }
    }

    /// Adds class maps of equal shape, skipping `ignore` in `truth`.
    pub fn add_labels(&mut self, truth: ArrayView2<u8>, predicted: ArrayView2<u8>, ignore: u8) -> Result<()> {
        for (&t, &p) in truth.iter().zip(predicted.iter()).filter(|(&t, _)| t != ignore) {
            let (t, p) = (t as usize, p as usize);
            if t >= self.classes || p >= self.classes {
                return Err(Error::config(format!("class {} is outside the model's {} classes", t.max(p), self.classes)));
            }
            self.counts[t * self.classes + p] += 1;
        }
        Ok(())
    }

    pub fn count(&self, truth: usize, predicted: usize) -> u64 {
        self.counts[truth * self.classes + predicted]
    }

    pub fn metrics(&self) -> SegmentationMetrics {
        let n = self.classes;
        let total: u64 = self.counts.iter().sum();
        let correct: u64 = (0..n).map(|c| self.count(c, c)).sum();
        let per_class_iou: Vec<Option<f64>> = (0..n)
            .map(|c| {
                let truth: u64 = (0..n).map(|p| self.count(c, p)).sum();
                let predicted: u64 = (0..n).map(|t| self.count(t, c)).sum();
                let union = truth + predicted - self.count(c, c);
                (union > 0).then(|| self.count(c, c) as f64 / union as f64)
            })
            .collect();
        let defined: Vec<f64> = per_class_iou.iter().flatten().copied().collect();
        SegmentationMetrics {
            pixel_accuracy: if total == 0 { 0.0 } else { correct as f64 / total as f64 },
            mean_iou: if defined.is_empty() { 0.0 } else { defined.iter().sum::<f64>() / defined.len() as f64 },
            per_class_iou,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_and_accuracy_by_hand() {
        // Predictions: argmax of one-hot logits over 5 pixels; the last is unlabeled.
        let pred = Tensor::from_slice(&[0i64, 0, 1, 1, 2]);
        let logits = pred.one_hot(3).permute([1, 0]).to_kind(Kind::Float).view([1, 3, 1, 5]);
        let target = Tensor::from_slice(&[0i64, 1, 1, 2, 255]).view([1, 1, 5]);
        let mut cm = ConfusionMatrix::new(3);
        cm.add(&logits, &target, 255);
        let m = cm.metrics();
        assert_eq!(m.pixel_accuracy, 0.5);
        // class 0: tp 1, union 2; class 1: tp 1, union 3; class 2: tp 0, union 1
        assert_eq!(m.per_class_iou, vec![Some(0.5), Some(1.0 / 3.0), Some(0.0)]);
        assert!((m.mean_iou - (0.5 + 1.0 / 3.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn class_maps_count_like_logits() {
        let truth = ndarray::array![[0u8, 1, 1], [2, 255, 0]];
        let predicted = ndarray::array![[0u8, 0, 1], [1, 2, 0]];
        let mut cm = ConfusionMatrix::new(3);
        cm.add_labels(truth.view(), predicted.view(), 255).unwrap();
        assert_eq!((cm.count(0, 0), cm.count(1, 0), cm.count(1, 1), cm.count(2, 1)), (2, 1, 1, 1));
        assert_eq!(cm.metrics().pixel_accuracy, 0.6);
        let bad = ndarray::array![[3u8]];
        assert!(cm.add_labels(bad.view(), bad.view(), 255).unwrap_err().to_string().contains("class 3 is outside the model's 3 classes"));
    }

    #[test]
    fn absent_class_is_undefined_not_zero() {
        let logits = Tensor::from_slice(&[1.0f32, 1.0, 0.0, 0.0, 0.0, 0.0]).view([1, 3, 1, 2]);
        let target = Tensor::from_slice(&[0i64, 0]).view([1, 1, 2]);
        let mut cm = ConfusionMatrix::new(3);
        cm.add(&logits, &target, 255);
        cm.add(&logits, &target, 255);
        let m = cm.metrics();
        assert_eq!(m.per_class_iou, vec![Some(1.0), None, None]);
        assert_eq!(m.mean_iou, 1.0);
        assert_eq!(cm.count(0, 0), 4);
    }
}
