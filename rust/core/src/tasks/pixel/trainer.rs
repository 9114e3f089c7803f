//! The pixel classifier's training loop: AdamW on a segmentation model,
//! BatchNorm calibration and validation after each epoch, best-model
//! tracking, early stopping, checkpoints and the final model folder.

use super::validation::ValidationSet;
use crate::data::{DataConfig, TrainingData};
use crate::history::EpochRecord;
use crate::job::JobControl;
use crate::model_dir::{self, ArchitectureMeta, ClassMeta, InputConfig, ModelMetadata, RunStatus, METADATA_VERSION};
use crate::models::{self, pretrained, weights, ModelSpec, SegmentationModel};
use crate::normalization::{NormalizationConfig, NormalizationStats};
use crate::settings::{MonitorMetric, TrainingConfig};
use crate::limits;
use crate::train::batches::{calibration_batches, epoch_batches, TrainingImages};
use crate::train::early_stopping;
use super::plan::{plan, Choice, TrainingPlan};
use crate::train::checkpoint::{checkpoint_dir, RunState};
use crate::train::{Loss, Scheduler, StepRunner};
use crate::{Error, Result};
use crate::tiling::InMemoryImage;
use ndarray::Array3;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tch::nn::VarStore;
use tch::Device;

/// A finished run: where the model is and how it got there.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingOutcome {
    pub model_dir: PathBuf,
    pub metadata: ModelMetadata,
    pub history: Vec<EpochRecord>,
    /// The training plan's settings and their reasons.
    pub plan: Vec<Choice>,
}

/// What a run is checked against before anything is built: the plan, the
/// pretrained weights file, the output folder and the device.
pub struct Preflight {
    pub plan: TrainingPlan,
    encoder_weights: Option<PathBuf>,
    device: Device,
}

/// Every check a run makes before it starts, so a caller can show the plan
/// only for a run that will go ahead.
pub fn preflight(data: &TrainingData, config: &TrainingConfig, out_dir: &Path) -> Result<Preflight> {
    let plan = plan(data, config)?;
    let c = &plan.config;
    let encoder_weights = c
        .encoder_weights
        .as_deref()
        .map(|w| pretrained::resolve(c.encoder, w, pretrained::weights_dir(c.weights_dir.as_deref()).as_deref()))
        .transpose()?;
    model_dir::ensure_writable(out_dir, c.overwrite)?;
    let device = c.device.resolve()?;
    Ok(Preflight { plan, encoder_weights, device })
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
    let Preflight { plan, encoder_weights, device } = preflight(data, config, out_dir)?;
    for c in &plan.choices {
        tracing::info!(setting = %c.setting, value = %c.value, chosen = c.chosen, reason = %c.reason, "training plan");
    }
    let config = &plan.config;
    // Before any training, so that a contradiction costs nothing.
    let downsample = model_downsample(config, &data.config)?;
    let (samples, steps_per_epoch, tile) = (config.samples_per_epoch.unwrap_or(1), plan.steps_per_epoch, config.tile());
    if let Some(n) = config.threads {
        tch::set_num_threads(n as i32);
    }
    tch::manual_seed(config.seed as i64);
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
            if state.spec != spec || state.config.tile_size != config.tile_size || state.config.samples_per_epoch != config.samples_per_epoch {
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
        unlabeled: data.config.unlabeled_index,
    });
    let validation = validation_set(data, &normalization, tile)?;
    // Crops are cut only for a run that calibrates.
    let calibration = if config.calibrate_batch_norm { calibration_batches(&train_images, tile, config.batch_size)? } else { Vec::new() };
    let class_weights = class_weights(data, config, num_classes)?;
    let loss_fn = Loss::new(config.loss, class_weights.as_deref(), ignore, device);
    let batch = config.batch_size;
    let what = format!("a training batch of {batch} {channels}-channel {tile}x{tile} tiles");
    limits::check_memory(&what, limits::product(&[batch, channels, tile, tile, 4]))?;
    let scheduler = Scheduler::new(config.scheduler.clone(), config.learning_rate, config.epochs, steps_per_epoch);
    let warmup_epochs = scheduler.warmup_epochs();
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
        let batches = epoch_batches(train_images.clone(), config.augmentation.clone(), config.seed, epoch, samples, config.batch_size, tile);
        for (step, batch) in batches.iter().enumerate() {
            if control.is_cancelled() {
                break;
            }
            lr = scheduler.lr(epoch, step);
            let (x, y) = batch.to_tensors(channels, tile, device);
            loss_sum += runner.step(&model, &x, &y, lr);
            steps += 1;
        }
        if control.is_cancelled() {
            status = RunStatus::Cancelled;
            break;
        }
        if config.calibrate_batch_norm {
            model.calibrate_batch_norm(calibration.iter().map(|b| b.image_tensor(channels, tile, device)));
        }
        let Some((val_loss, metrics)) = validation.evaluate(&model, &loss_fn, device, control)? else {
            status = RunStatus::Cancelled;
            break;
        };
        let score = match config.monitor {
            MonitorMetric::MeanIou => metrics.mean_iou,
            MonitorMetric::ValLoss => val_loss,
        };
        let last = history.last();
        let scores: Vec<f64> = history.iter().map(|r| r.score(config.monitor)).chain([score]).collect();
        let standing = early_stopping::standing(&scores, config.monitor, config.early_stopping.as_ref());
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
            smoothed_score: standing.smoothed,
            epochs_without_improvement: standing.epochs_without_improvement,
            is_best: improved,
            samples,
            steps,
        };
        tracing::info!(epoch = record.epoch, train_loss = record.train_loss, val_loss, mean_iou = record.metrics.mean_iou, lr, "epoch done");
        crate::device::log_memory("epoch end", device);
        history.push(record.clone());
        RunState { spec, normalization: normalization.clone(), config: config.clone(), history: history.clone() }.save(&ckpt_dir, &vs, &best_vs, improved)?;
        on_epoch(&record);
        if let Some(es) = &config.early_stopping {
            if early_stopping::should_stop(standing, es, history.len(), warmup_epochs) {
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
    let metadata = build_metadata(data, config, downsample, out_dir, spec, normalization, status, &history, best, device);
    model_dir::write_atomically(out_dir, config.overwrite, |dir| {
        vs.save(dir.join(model_dir::WEIGHTS_FILE))?;
        // The two exports only read the weights; side by side, a cancelled run
        // hands back its model sooner.
        std::thread::scope(|scope| {
            let torchscript = scope.spawn(|| {
                model_dir::export_torchscript(spec, &vs, tile as i64, &dir.join(model_dir::TORCHSCRIPT_FILE))
            });
            models::export_onnx(spec, &vs, &dir.join(model_dir::ONNX_FILE))?;
            metadata.write(dir)?;
            model_dir::write_json(&dir.join(model_dir::HISTORY_FILE), &history)?;
            model_dir::plot_history(&history, &dir.join(model_dir::PLOT_FILE))?;
            torchscript.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })?;
    let _ = std::fs::remove_dir_all(&ckpt_dir);
    Ok(TrainingOutcome { model_dir: out_dir.to_path_buf(), metadata, history, plan: plan.choices })
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

/// The normalized validation images, scored as inference will tile them.
fn validation_set(data: &TrainingData, stats: &NormalizationStats, tile: usize) -> Result<ValidationSet> {
    let images = data.validation.iter().map(|s| Ok((InMemoryImage(normalized(&s.image, stats)?), s.mask.clone()))).collect::<Result<_>>()?;
    Ok(ValidationSet::new(images, tile, data.config.num_classes(), data.config.unlabeled_index))
}

/// The downsample the training tiles were exported at: the configuration's
/// when it sets one (not 1), else the export's `config.json`; the two must
/// not contradict each other.
fn model_downsample(config: &TrainingConfig, data: &DataConfig) -> Result<f64> {
    match data.downsample {
        Some(exported) if config.downsample != 1.0 && (config.downsample - exported).abs() > 1e-9 => Err(Error::config(format!(
            "downsample {} contradicts the training data's config.json, which was exported at downsample {exported}",
            config.downsample
        ))),
        Some(exported) => Ok(exported),
        None => Ok(config.downsample),
    }
}

#[allow(clippy::too_many_arguments)]
fn build_metadata(
    data: &TrainingData,
    config: &TrainingConfig,
    downsample: f64,
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
        tile_size: config.tile(),
        downsample,
        training_pixel_size_um: data.config.pixel_size_um,
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
    fn the_downsample_comes_from_the_configuration_or_the_export_without_contradiction() {
        let mut data = TrainingData::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/nuclei-dsb2018")).unwrap().config;
        let mut config = TrainingConfig::default();
        assert_eq!(model_downsample(&config, &data).unwrap(), 1.0);
        config.downsample = 2.0;
        assert_eq!(model_downsample(&config, &data).unwrap(), 2.0);
        data.downsample = Some(4.0);
        let e = model_downsample(&config, &data).unwrap_err().to_string();
        assert!(e.contains("downsample 2 contradicts the training data's config.json, which was exported at downsample 4"), "{e}");
        config.downsample = 1.0;
        assert_eq!(model_downsample(&config, &data).unwrap(), 4.0);
    }

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
}
