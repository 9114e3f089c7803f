//! Validation during training, on whole validation images tiled exactly as
//! inference will tile them (same tile, overlap, reflection padding and
//! blending), so that the epoch judged best is the best on whole images.

use super::metrics::ConfusionMatrix;
use super::model_info::inference_tiling;
use crate::history::SegmentationMetrics;
use crate::job::JobControl;
use crate::models::SegmentationModel;
use crate::tiling::{predict_image, InMemoryImage, ProbabilitySink, TileModel, TilingOptions};
use crate::train::Loss;
use crate::{Error, Result};
use ndarray::{s, Array2, Array4, ArrayView3, ArrayView4};
use tch::nn::ModuleT;
use tch::{Device, Kind, Tensor};

/// The normalized validation images with their masks, and the tiling
/// inference will use for a model trained at the run's tile size.
pub struct ValidationSet {
    images: Vec<(InMemoryImage, Array2<u8>)>,
    tiling: TilingOptions,
    classes: usize,
    ignore: u8,
}

impl ValidationSet {
    pub fn new(images: Vec<(InMemoryImage, Array2<u8>)>, training_tile: usize, classes: usize, ignore: u8) -> ValidationSet {
        ValidationSet { images, tiling: inference_tiling(training_tile), classes, ignore }
    }

    /// Loss and metrics over every validation image, or `None` when the job
    /// is cancelled meanwhile: large validation images must not delay a cancel.
    pub fn evaluate(&self, model: &SegmentationModel, loss: &Loss, device: Device, control: &JobControl) -> Result<Option<(f64, SegmentationMetrics)>> {
        let tiles = InTraining { model, device, in_channels: model.spec().in_channels as usize, classes: self.classes };
        let mut score = Score { cm: ConfusionMatrix::new(self.classes), weighted_loss: 0.0, labelled: 0, loss, device, ignore: self.ignore, mask: None };
        for (image, mask) in &self.images {
            score.mask = Some(mask);
            match predict_image(image, &tiles, &self.tiling, &mut score, control, &mut |_| {}) {
                Err(Error::Cancelled) => return Ok(None),
                other => other?,
            }
        }
        Ok(Some((score.weighted_loss / score.labelled.max(1) as f64, score.cm.metrics())))
    }
}

/// The model being trained as a [`TileModel`]: normalized tiles in, class
/// probabilities out, in eval mode.
struct InTraining<'a> {
    model: &'a SegmentationModel,
    device: Device,
    in_channels: usize,
    classes: usize,
}

impl TileModel for InTraining<'_> {
    fn in_channels(&self) -> usize {
        self.in_channels
    }

    fn num_classes(&self) -> usize {
        self.classes
    }

    fn predict(&self, tiles: ArrayView4<f32>) -> Result<Array4<f32>> {
        let (n, c, h, w) = tiles.dim();
        let input = Tensor::from_slice(tiles.as_standard_layout().as_slice().expect("standard layout")).view([n as i64, c as i64, h as i64, w as i64]);
        let probs = tch::no_grad(|| self.model.forward_t(&input.to_device(self.device), false).softmax(1, Kind::Float));
        let values = Vec::<f32>::try_from(probs.to_device(Device::Cpu).flatten(0, -1)).map_err(|e| Error::Model(e.to_string()))?;
        Array4::from_shape_vec((n, self.classes, h, w), values).map_err(|e| Error::Model(e.to_string()))
    }
}

/// Scores stitched probability rows against the mask of the image being predicted.
struct Score<'a> {
    cm: ConfusionMatrix,
    weighted_loss: f64,
    labelled: i64,
    loss: &'a Loss,
    device: Device,
    ignore: u8,
    mask: Option<&'a Array2<u8>>,
}

impl ProbabilitySink for Score<'_> {
    fn write_rows(&mut self, y: usize, probs: ArrayView3<f32>) -> Result<()> {
        let (k, rows, width) = probs.dim();
        let mask = self.mask.expect("a mask per image").slice(s![y..y + rows, ..]);
        let labels = Tensor::from_slice(&mask.iter().map(|&v| v as i64).collect::<Vec<_>>()).view([1, rows as i64, width as i64]).to_device(self.device);
        let probs = Tensor::from_slice(probs.as_standard_layout().as_slice().expect("standard layout"))
            .view([1, k as i64, rows as i64, width as i64])
            .to_device(self.device);
        let n = labels.ne(self.ignore as i64).sum(Kind::Int64).int64_value(&[]);
        if n > 0 {
            // The losses take logits; log-probabilities are logits whose softmax is `probs`.
            let logits = probs.clamp_min(1e-12).log();
            self.weighted_loss += self.loss.compute(&logits, &labels).double_value(&[]) * n as f64;
            self.labelled += n;
            self.cm.add(&probs, &labels, self.ignore as i64);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Architecture, EncoderKind, ModelSpec};
    use crate::settings::LossKind;
    use ndarray::Array3;
    use tch::nn::VarStore;

    #[test]
    fn validation_scores_whole_images_and_stops_when_the_job_is_cancelled() {
        let vs = VarStore::new(Device::Cpu);
        let spec = ModelSpec { architecture: Architecture::Unet, encoder: EncoderKind::ResNet18, in_channels: 1, num_classes: 2 };
        let model = SegmentationModel::new(&vs.root(), spec).unwrap();
        // Sizes that are no multiple of the tile: the grid and reflection padding handle them.
        let image = |h, w| (InMemoryImage(Array3::from_shape_fn((1, h, w), |(_, y, x)| ((x + y) % 7) as f32)), Array2::from_elem((h, w), 1u8));
        let set = ValidationSet::new(vec![image(40, 300), image(33, 33)], 64, 2, 255);
        assert_eq!(set.tiling.tile_size, 256, "inference's tile for a model trained at 64");
        let loss = Loss::new(LossKind::CeDice, None, 255, Device::Cpu);
        let control = JobControl::new();
        let (val_loss, metrics) = set.evaluate(&model, &loss, Device::Cpu, &control).unwrap().unwrap();
        assert!(val_loss.is_finite() && metrics.per_class_iou.len() == 2);
        let accuracy = metrics.pixel_accuracy * (40 * 300 + 33 * 33) as f64;
        assert!((accuracy - accuracy.round()).abs() < 1e-6, "every pixel of both images is counted once");
        control.cancel();
        assert!(set.evaluate(&model, &loss, Device::Cpu, &control).unwrap().is_none());
    }
}
