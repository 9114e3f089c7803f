//! The pixel classifier's training loop: AdamW on a segmentation model,
//! per-epoch validation, best-model tracking, early stopping, checkpoints and
//! the final model folder.

use super::metrics::ConfusionMatrix;
use crate::data::TrainingData;
use crate::history::{EpochRecord, SegmentationMetrics};
use crate::job::JobControl;
use crate::model_dir::{self, ArchitectureMeta, ClassMeta, InputConfig, ModelMetadata, RunStatus, METADATA_VERSION};
use crate::models::{self, pretrained, weights, ModelSpec, SegmentationModel, OUTPUT_STRIDE};
use crate::normalization::{NormalizationConfig, NormalizationStats};
use crate::settings::{MonitorMetric, TrainingConfig};
use crate::limits;
use crate::train::batches::{batch_count, default_samples_per_epoch, epoch_batches, TrainingImages};
use crate::train::checkpoint::{checkpoint_dir, RunState};
use crate::train::{Loss, Scheduler, StepRunner};
use crate::{Error, Result};
use ndarray::{Array2, Array3};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

/// A finished run: where the model is and how it got there.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingOutcome {
    pub model_dir: PathBuf,
    pub metadata: ModelMetadata,
    pub history: Vec<EpochRecord>,
}

/// One validation image on the device, padded to a multiple of the model stride.
struct ValidationItem {
    image: Tensor,
    labels: Tensor,
}

/// Trains a model on `data` and writes it to `out_dir` (atomically). Calls
/// `on_epoch` after every epoch. Honours `control`: a cancelled run still
/// writes the best model so far, unless no epoch finished.
pub fn train(
    data: &TrainingData,
    config: &TrainingConfig,
    out_dir: &Path,
    control: &JobControl,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<TrainingOutcome> {
    config.validate()?;
    let encoder_weights = config
        .encoder_weights
        .as_deref()
        .map(|w| pretrained::resolve(config.encoder, w, pretrained::weights_dir(config.weights_dir.as_deref()).as_deref()))
        .transpose()?;
    model_dir::ensure_writable(out_dir, config.overwrite)?;
    if let Some(n) = config.threads {
        tch::set_num_threads(n as i32);
    }
    tch::manual_seed(config.seed as i64);
    let device = config.device.resolve()?;
    let num_classes = data.config.num_classes();
    let channels = data.num_channels();
    let ignore = data.config.unlabeled_index as i64;
    // Held for the whole run; booked before anything is allocated on the GPU.
    let estimate = || crate::memory_estimate::estimate_for_config(config, channels as i64, num_classes as i64).map(|e| e.total);
    let _reservation = config.gpu_reservation.as_ref().map(|r| r.acquire(device, estimate)).transpose()?.flatten();

    let norm_config = config
        .normalization
        .clone()
        .or_else(|| data.config.channels.as_ref().map(|c| c.normalization.clone()))
        .unwrap_or_default();
    let spec = ModelSpec { architecture: config.architecture, encoder: config.encoder, in_channels: channels as i64, num_classes: num_classes as i64 };
    let ckpt_dir = checkpoint_dir(out_dir);

    let mut vs = VarStore::new(device);
    let model = SegmentationModel::new(&vs.root(), spec)?;
    let mut best_vs = VarStore::new(device);
    SegmentationModel::new(&best_vs.root(), spec)?;
    if let Some(path) = &config.init_weights {
        let report = weights::load_state_dict(&vs, path, false)?;
        if !report.mismatched.is_empty() || report.loaded == 0 {
            return Err(report.misfit(path));
        }
        tracing::info!(loaded = report.loaded, missing = report.missing.len(), unexpected = report.unexpected.len(), "initial weights loaded");
    }
    if let Some(path) = &encoder_weights {
        let report = pretrained::load_encoder_weights(&vs, path)?;
        tracing::info!(file = %path.display(), loaded = report.loaded, unexpected = ?report.unexpected, notes = ?report.notes, "pretrained encoder weights loaded");
    }

    let resumed = if config.resume { RunState::load(&ckpt_dir, &mut vs, &mut best_vs)? } else { None };
    let (normalization, mut history) = match resumed {
        Some(state) => {
            if state.spec != spec || state.config.tile_size != config.tile_size {
                return Err(Error::data(&ckpt_dir, "checkpoint of a run with other model settings; delete it or disable resume"));
            }
            tracing::info!(epochs_done = state.history.len(), "resuming interrupted run");
            (state.normalization, state.history)
        }
        None => (compute_normalization(data, &norm_config)?, Vec::new()),
    };
    freeze_groups(&vs, config);

    let train_images = Arc::new(TrainingImages {
        samples: data.train.iter().map(|s| Ok((normalized(&s.image, &normalization)?, s.mask.clone()))).collect::<Result<_>>()?,
        is_rgb: channels == 3,
        unlabeled: data.config.unlabeled_index,
    });
    let validation = validation_items(data, &normalization, device)?;
    let class_weights = class_weights(data, config, num_classes)?;
    let loss_fn = Loss::new(config.loss, class_weights.as_deref(), ignore, device);
    let (batch, tile) = (config.batch_size, config.tile_size);
    let what = format!("a training batch of {batch} {channels}-channel {tile}x{tile} tiles");
    limits::check_memory(&what, limits::product(&[batch, channels, tile, tile, 4]))?;
    let samples = config.samples_per_epoch.unwrap_or_else(|| default_samples_per_epoch(&train_images, config.tile_size).max(1));
    let steps_per_epoch = batch_count(samples, config.batch_size);
    let scheduler = Scheduler::new(config.scheduler.clone(), config.learning_rate, config.epochs, steps_per_epoch);
    let mut runner = StepRunner::with_encoder_lr_factor(
        &vs,
        loss_fn.clone(),
        config.learning_rate,
        config.weight_decay,
        config.gradient_clip,
        config.amp,
        config.encoder_lr_factor,
    )?;

    let start = Instant::now();
    let elapsed_before = history.last().map(|r| r.elapsed_s).unwrap_or(0.0);
    let mut status = RunStatus::Completed;
    tracing::info!(device = %crate::device::describe(device), samples, steps_per_epoch, "training started");
    crate::device::log_memory("training setup", device);

    for epoch in history.len()..config.epochs {
        if !control.wait_if_paused() {
            status = RunStatus::Cancelled;
            break;
        }
        let mut lr = config.learning_rate;
        let mut loss_sum = 0.0;
        let mut steps = 0usize;
        let batches = epoch_batches(train_images.clone(), config.augmentation.clone(), config.seed, epoch, samples, config.batch_size, config.tile_size);
        for (step, batch) in batches.iter().enumerate() {
            if control.is_cancelled() {
                break;
            }
            lr = scheduler.lr(epoch, step);
            let (x, y) = batch.to_tensors(channels, config.tile_size, device);
            loss_sum += runner.step(&model, &x, &y, lr);
            steps += 1;
        }
        if control.is_cancelled() {
            status = RunStatus::Cancelled;
            break;
        }
        let Some((val_loss, metrics)) = validate(&model, &validation, &loss_fn, num_classes, ignore, control) else {
            status = RunStatus::Cancelled;
            break;
        };
        let score = match config.monitor {
            MonitorMetric::MeanIou => metrics.mean_iou,
            MonitorMetric::ValLoss => val_loss,
        };
        let last = history.last();
        let min_delta = config.early_stopping.as_ref().map_or(0.0, |e| e.min_delta);
        let improved = match last {
            None => true,
            Some(l) => match config.monitor {
                MonitorMetric::MeanIou => score > l.best_score + min_delta,
                MonitorMetric::ValLoss => score < l.best_score - min_delta,
            },
        };
        if improved {
            best_vs.copy(&vs)?;
        }
        let record = EpochRecord {
            epoch: epoch + 1,
            total_epochs: config.epochs,
            train_loss: loss_sum / steps.max(1) as f64,
            val_loss,
            metrics,
            learning_rate: lr,
            elapsed_s: elapsed_before + start.elapsed().as_secs_f64(),
            best_epoch: if improved { epoch + 1 } else { last.map_or(0, |l| l.best_epoch) },
            best_score: if improved { score } else { last.map_or(score, |l| l.best_score) },
            epochs_without_improvement: if improved { 0 } else { last.map_or(0, |l| l.epochs_without_improvement) + 1 },
            is_best: improved,
        };
        tracing::info!(epoch = record.epoch, train_loss = record.train_loss, val_loss, mean_iou = record.metrics.mean_iou, lr, "epoch done");
        crate::device::log_memory("epoch end", device);
        history.push(record.clone());
        RunState { spec, normalization: normalization.clone(), config: config.clone(), history: history.clone() }.save(&ckpt_dir, &vs, &best_vs, improved)?;
        on_epoch(&record);
        if let Some(es) = &config.early_stopping {
            if record.epochs_without_improvement >= es.patience {
                status = RunStatus::EarlyStopped;
                break;
            }
        }
    }

    if history.is_empty() {
        return Err(Error::Cancelled);
    }
    vs.copy(&best_vs)?;
    let best = history.iter().rev().find(|r| r.is_best).cloned();
    let metadata = build_metadata(data, config, out_dir, spec, normalization, status, &history, best, device);
    model_dir::write_atomically(out_dir, config.overwrite, |dir| {
        vs.save(dir.join(model_dir::WEIGHTS_FILE))?;
        // The two exports only read the weights; side by side, a cancelled run
        // hands back its model sooner.
        std::thread::scope(|scope| {
            let torchscript = scope.spawn(|| {
                model_dir::export_torchscript(spec, &vs, config.tile_size as i64, &dir.join(model_dir::TORCHSCRIPT_FILE))
            });
            models::export_onnx(spec, &vs, &dir.join(model_dir::ONNX_FILE))?;
            metadata.write(dir)?;
            model_dir::write_json(&dir.join(model_dir::HISTORY_FILE), &history)?;
            model_dir::plot_history(&history, &dir.join(model_dir::PLOT_FILE))?;
            torchscript.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })?;
    let _ = std::fs::remove_dir_all(&ckpt_dir);
    Ok(TrainingOutcome { model_dir: out_dir.to_path_buf(), metadata, history })
}

fn compute_normalization(data: &TrainingData, config: &NormalizationConfig) -> Result<NormalizationStats> {
    let images: Vec<&Array3<f32>> = data.train.iter().map(|s| &s.image).collect();
    NormalizationStats::compute(config, &images)
}

fn normalized(image: &Array3<f32>, stats: &NormalizationStats) -> Result<Array3<f32>> {
    let mut out = image.clone();
    stats.apply(&mut out)?;
    Ok(out)
}

/// Freezes the variables of the configured encoder groups.
fn freeze_groups(vs: &VarStore, config: &TrainingConfig) {
    let groups = config.encoder.freeze_groups();
    let prefixes: Vec<String> = groups
        .iter()
        .filter(|g| config.frozen_groups.iter().any(|n| n == g.name))
        .flat_map(|g| g.prefixes.iter().map(|p| format!("encoder.{p}")))
        .collect();
    for (name, var) in vs.variables() {
        if prefixes.iter().any(|p| name.starts_with(p)) {
            let _ = var.set_requires_grad(false);
        }
    }
}

/// Class weights from the data's config, times the user's multipliers.
fn class_weights(data: &TrainingData, config: &TrainingConfig, classes: usize) -> Result<Option<Vec<f32>>> {
    let base = if config.use_class_weights { data.config.class_weights.clone() } else { None };
    let weights = match (base, &config.class_weight_multipliers) {
        (None, None) => return Ok(None),
        (Some(w), None) => w,
        (base, Some(m)) => {
            if m.len() != classes {
                return Err(Error::config(format!("{} class weight multipliers given for {classes} classes", m.len())));
            }
            let base = base.unwrap_or_else(|| vec![1.0; classes]);
            base.iter().zip(m).map(|(b, m)| b * m).collect()
        }
    };
    Ok(Some(weights))
}

/// Pads each validation image to a multiple of the model stride (reflection
/// for the image, unlabeled for the mask) and moves it to the device once.
fn validation_items(data: &TrainingData, stats: &NormalizationStats, device: Device) -> Result<Vec<ValidationItem>> {
    let stride = OUTPUT_STRIDE;
    let ignore = data.config.unlabeled_index as i64;
    data.validation
        .iter()
        .map(|s| {
            let image = normalized(&s.image, stats)?;
            let (c, h, w) = image.dim();
            let (ph, pw) = (pad_to(h as i64, stride), pad_to(w as i64, stride));
            let x = Tensor::from_slice(image.as_standard_layout().as_slice().expect("contiguous")).view([1, c as i64, h as i64, w as i64]);
            let x = pad_reflect(&x, ph, pw);
            let labels = mask_tensor(&s.mask).to_kind(Kind::Int64);
            let y = Tensor::full([h as i64 + ph, w as i64 + pw], ignore, (Kind::Int64, Device::Cpu));
            y.narrow(0, 0, h as i64).narrow(1, 0, w as i64).copy_(&labels);
            Ok(ValidationItem { image: x.to_device(device), labels: y.unsqueeze(0).to_device(device) })
        })
        .collect()
}

fn pad_to(size: i64, stride: i64) -> i64 {
    (stride - size % stride) % stride
}

/// Reflection padding needs a pad smaller than the image; repeat for tiny images.
fn pad_reflect(x: &Tensor, mut ph: i64, mut pw: i64) -> Tensor {
    let mut x = x.shallow_clone();
    while ph > 0 || pw > 0 {
        let size = x.size();
        let (sh, sw) = ((ph).min(size[2] - 1), (pw).min(size[3] - 1));
        x = if sh > 0 || sw > 0 { x.reflection_pad2d([0, sw, 0, sh]) } else { x.replication_pad2d([0, pw, 0, ph]) };
        if sh == 0 && sw == 0 {
            break;
        }
        ph -= sh;
        pw -= sw;
    }
    x
}

fn mask_tensor(mask: &Array2<u8>) -> Tensor {
    let (h, w) = mask.dim();
    Tensor::from_slice(mask.as_standard_layout().as_slice().expect("contiguous")).view([h as i64, w as i64])
}

/// Loss and metrics over the validation set, or `None` when the job is
/// cancelled meanwhile: large validation images must not delay a cancel.
fn validate(
    model: &SegmentationModel,
    items: &[ValidationItem],
    loss_fn: &Loss,
    classes: usize,
    ignore: i64,
    control: &JobControl,
) -> Option<(f64, SegmentationMetrics)> {
    let mut cm = ConfusionMatrix::new(classes);
    let mut weighted_loss = 0.0;
    let mut labelled = 0i64;
    tch::no_grad(|| {
        for item in items {
            if control.is_cancelled() {
                return None;
            }
            let logits = model.forward_t(&item.image, false);
            let n = item.labels.ne(ignore).sum(Kind::Int64).int64_value(&[]);
            weighted_loss += loss_fn.compute(&logits, &item.labels).double_value(&[]) * n as f64;
            labelled += n;
            cm.add(&logits, &item.labels, ignore);
        }
        Some(())
    })?;
    Some((weighted_loss / labelled.max(1) as f64, cm.metrics()))
}

#[allow(clippy::too_many_arguments)]
fn build_metadata(
    data: &TrainingData,
    config: &TrainingConfig,
    out_dir: &Path,
    spec: ModelSpec,
    normalization: NormalizationStats,
    status: RunStatus,
    history: &[EpochRecord],
    best: Option<EpochRecord>,
    device: Device,
) -> ModelMetadata {
    let name = config.name.clone().unwrap_or_else(|| out_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into()));
    let now = chrono::Utc::now();
    let channel_names = data
        .config
        .channels
        .as_ref()
        .map(|c| c.channel_names.clone())
        .filter(|n| n.len() == spec.in_channels as usize)
        .unwrap_or_else(|| (0..spec.in_channels).map(|i| format!("Channel {}", i + 1)).collect());
    ModelMetadata {
        metadata_version: METADATA_VERSION,
        id: format!("{}-{}", name, now.format("%Y%m%d-%H%M%S")),
        name,
        created: now.to_rfc3339(),
        library_version: crate::VERSION.to_string(),
        architecture: ArchitectureMeta {
            kind: spec.architecture,
            backbone: spec.encoder,
            use_pretrained: config.init_weights.is_some() || config.encoder_weights.is_some(),
            in_channels: spec.in_channels,
            num_classes: spec.num_classes,
        },
        input_config: InputConfig { num_channels: spec.in_channels as usize, channel_names, bit_depth: data.bit_depth(), normalization },
        classes: data
            .config
            .classes
            .iter()
            .map(|c| ClassMeta { index: c.index, name: c.name.clone(), color: format!("#{:02X}{:02X}{:02X}", c.color[0], c.color[1], c.color[2]) })
            .collect(),
        tile_size: config.tile_size,
        downsample: config.downsample,
        status,
        epochs_trained: history.len(),
        best_epoch: best,
        trained_on: crate::device::describe(device),
        training: config.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_weights_combine_the_data_config_and_user_multipliers() {
        let data = TrainingData::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/nuclei-dsb2018")).unwrap();
        let mut config = TrainingConfig::default();
        assert_eq!(class_weights(&data, &config, 2).unwrap(), Some(vec![0.630239, 2.419553]));
        config.class_weight_multipliers = Some(vec![2.0, 0.5]);
        assert_eq!(class_weights(&data, &config, 2).unwrap(), Some(vec![0.630239 * 2.0, 2.419553 * 0.5]));
        config.use_class_weights = false;
        assert_eq!(class_weights(&data, &config, 2).unwrap(), Some(vec![2.0, 0.5]));
        config.class_weight_multipliers = None;
        assert_eq!(class_weights(&data, &config, 2).unwrap(), None);
        config.class_weight_multipliers = Some(vec![1.0]);
        assert!(class_weights(&data, &config, 2).unwrap_err().to_string().contains("1 class weight multipliers given for 2 classes"));
    }

    #[test]
    fn validation_stops_when_the_job_is_cancelled() {
        let vs = VarStore::new(Device::Cpu);
        let spec = ModelSpec { architecture: crate::models::Architecture::Unet, encoder: crate::models::EncoderKind::ResNet18, in_channels: 1, num_classes: 2 };
        let model = SegmentationModel::new(&vs.root(), spec).unwrap();
        let item = || ValidationItem {
            image: Tensor::randn([1, 1, 32, 32], (Kind::Float, Device::Cpu)),
            labels: Tensor::ones([1, 32, 32], (Kind::Int64, Device::Cpu)),
        };
        let items = [item(), item()];
        let loss = Loss::new(crate::settings::LossKind::CrossEntropy, None, 255, Device::Cpu);
        let control = JobControl::new();
        let (val_loss, metrics) = validate(&model, &items, &loss, 2, 255, &control).unwrap();
        assert!(val_loss.is_finite() && metrics.per_class_iou.len() == 2);
        control.cancel();
        assert!(validate(&model, &items, &loss, 2, 255, &control).is_none());
    }

    #[test]
    fn reflection_padding_reaches_multiples_of_the_stride_even_for_tiny_images() {
        let x = Tensor::arange(3 * 5, (Kind::Float, Device::Cpu)).view([1, 1, 3, 5]);
        let padded = pad_reflect(&x, pad_to(3, 32), pad_to(5, 32));
        assert_eq!(padded.size(), [1, 1, 32, 32]);
        assert_eq!(padded.narrow(2, 0, 3).narrow(3, 0, 5), x);
        assert_eq!(pad_to(64, 32), 0);
    }
}
