//! Turns normalized training images into shuffled, augmented batches; runs
//! on a helper thread so that augmentation overlaps the model's compute.

use crate::augment::{AugmentConfig, Augmenter};
use crate::tiling::{read_reflected, InMemoryImage, TileGrid};
use ndarray::{Array2, Array3};
use rand::seq::SliceRandom;
use rand::{rngs::StdRng, SeedableRng};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use tch::{Device, Kind, Tensor};

/// Host-side batch: images `[B, C, T, T]` and labels `[B, T, T]` (none
/// for calibration batches), flattened.
pub struct HostBatch {
    pub images: Vec<f32>,
    pub labels: Vec<i64>,
    pub count: usize,
}

impl HostBatch {
    /// Copies the batch to `device` as a float image tensor and an int64 label tensor.
    pub fn to_tensors(&self, channels: usize, tile: usize, device: Device) -> (Tensor, Tensor) {
        let (b, t) = (self.count as i64, tile as i64);
        let y = Tensor::from_slice(&self.labels).view([b, t, t]).to_device(device);
        (self.image_tensor(channels, tile, device), y)
    }

    /// The images alone, as a float tensor on `device`.
    pub fn image_tensor(&self, channels: usize, tile: usize, device: Device) -> Tensor {
        let (b, c, t) = (self.count as i64, channels as i64, tile as i64);
        Tensor::from_slice(&self.images).view([b, c, t, t]).to_device(device).to_kind(Kind::Float)
    }
}

/// The normalized training set, shared with the batch thread.
pub struct TrainingImages {
    pub samples: Vec<(Array3<f32>, Array2<u8>)>,
    /// Label of crop padding.
    pub unlabeled: u8,
}

/// Tiles of side `tile` that cover an image's area about once: at least 1.
pub(crate) fn tiles_covering(height: usize, width: usize, tile: usize) -> usize {
    let area = (height * width) as f64;
    ((area / (tile * tile) as f64).round() as usize).max(1)
}

/// At most this many crops calibrate BatchNorm: enough for stable
/// statistics, few enough to cost less than a training step per epoch.
const MAX_CALIBRATION_CROPS: usize = 32;

/// The fixed, unaugmented crops BatchNorm statistics are calibrated on
/// (see `SegmentationModel::calibrate_batch_norm`): a grid of `tile` crops over
/// every training image, reflection-padded where an image is smaller,
/// evenly thinned to at most [`MAX_CALIBRATION_CROPS`], in batches as training
/// forms them.
pub fn calibration_batches(images: &TrainingImages, tile: usize, batch_size: usize) -> crate::Result<Vec<HostBatch>> {
    let mut crops = Vec::new();
    for (index, (image, _)) in images.samples.iter().enumerate() {
        let grid = TileGrid::new(image.dim().1, image.dim().2, tile, 0)?;
        crops.extend((0..grid.rows).flat_map(|r| (0..grid.cols).map(move |c| (index, grid.origin(c), grid.origin(r)))));
    }
    let keep = crops.len().min(MAX_CALIBRATION_CROPS);
    let chosen: Vec<_> = (0..keep).map(|i| crops[i * crops.len() / keep]).collect();
    let order: Vec<usize> = (0..chosen.len()).collect();
    let (mut batches, mut current) = (Vec::new(), None);
    for chunk in batch_chunks(&order, batch_size.max(2)) {
        let mut batch = HostBatch { images: Vec::new(), labels: Vec::new(), count: chunk.len() };
        for &i in chunk {
            let (index, x, y) = chosen[i];
            // Crops come in image order: each image is copied once.
            if current.as_ref().is_none_or(|(held, _)| *held != index) {
                current = Some((index, InMemoryImage(images.samples[index].0.clone())));
            }
            let image = &current.as_ref().expect("just set").1;
            batch.images.extend(read_reflected(image, x, y, tile, tile)?.iter());
        }
        batches.push(batch);
    }
    Ok(batches)
}

/// `order` in batches of `batch_size`, except that a last batch of one joins
/// the one before: training BatchNorm on a single sample fails where a
/// decoder pools to 1x1 (DeepLab's ASPP, PAN's FPA).
pub(crate) fn batch_chunks(order: &[usize], batch_size: usize) -> Vec<&[usize]> {
    let mut chunks: Vec<&[usize]> = order.chunks(batch_size).collect();
    if chunks.len() > 1 && chunks[chunks.len() - 1].len() == 1 {
        chunks.pop();
        let start = order.len() - 1 - chunks[chunks.len() - 1].len();
        *chunks.last_mut().expect("two chunks") = &order[start..];
    }
    chunks
}

/// How many batches `batch_chunks` makes of `samples` samples.
pub(crate) fn batch_count(samples: usize, batch_size: usize) -> usize {
    let chunks = samples.div_ceil(batch_size);
    if chunks > 1 && samples - (chunks - 1) * batch_size == 1 { chunks - 1 } else { chunks }
}

/// Starts producing the batches of one epoch. The sequence depends only on
/// `seed` and `epoch`, so a resumed run sees the same data as an uninterrupted one.
pub fn epoch_batches(
    images: Arc<TrainingImages>,
    augment: AugmentConfig,
    seed: u64,
    epoch: usize,
    samples: usize,
    batch_size: usize,
    tile: usize,
) -> Receiver<HostBatch> {
    let epoch_seed = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut augmenter = Augmenter::new(augment, epoch_seed.wrapping_add(1)).with_unlabeled(images.unlabeled);
    let (tx, rx) = sync_channel(2);
    std::thread::spawn(move || {
        let mut order: Vec<usize> = (0..samples).map(|i| i % images.samples.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(epoch_seed));
        for chunk in batch_chunks(&order, batch_size) {
            let mut batch = HostBatch { images: Vec::new(), labels: Vec::new(), count: chunk.len() };
            for &i in chunk {
                let (image, mask) = &images.samples[i];
                let (image, mask) = augmenter.random_crop(image.clone(), mask.clone(), tile);
                let (image, mask) = augmenter.augment(image, mask);
                batch.images.extend(image.iter());
                batch.labels.extend(mask.iter().map(|&v| v as i64));
            }
            // The receiver is gone when training stopped early; nothing left to do.
            if tx.send(batch).is_err() {
                return;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::{batch_chunks, batch_count};

    #[test]
    fn a_last_batch_of_one_joins_the_one_before() {
        let order: Vec<usize> = (0..9).collect();
        let sizes = |b| batch_chunks(&order, b).iter().map(|c| c.len()).collect::<Vec<_>>();
        assert_eq!(sizes(4), [4, 5]);
        assert_eq!(sizes(3), [3, 3, 3]);
        assert_eq!(sizes(2), [2, 2, 2, 3]);
        assert_eq!(sizes(9), [9]);
        assert_eq!(batch_chunks(&order[..1], 4), [&[0][..]]);
        assert_eq!(batch_chunks(&order, 4).concat(), order);
    }

    #[test]
    fn batch_count_is_the_number_of_chunks() {
        for samples in 1..40 {
            for batch in 1..9 {
                let order: Vec<usize> = (0..samples).collect();
                assert_eq!(batch_count(samples, batch), batch_chunks(&order, batch).len(), "{samples} samples, batch {batch}");
            }
        }
    }
}
