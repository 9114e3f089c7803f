//! Every training option, with defaults. Serialized whole into a model's
//! metadata so that a later run can start from a previous model's settings.

use super::{LossKind, SchedulerConfig};
use crate::augment::AugmentConfig;
use crate::device::DeviceChoice;
use crate::limits::{check_count, check_tile_size, MAX_BATCH_SIZE, MAX_SAMPLES_PER_EPOCH};
use crate::models::{Architecture, EncoderKind};
use crate::normalization::NormalizationConfig;
use crate::reservation::ReservationRequest;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which validation quantity decides the best epoch and early stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorMetric {
    #[default]
    MeanIou,
    ValLoss,
}

/// Stop when the monitored metric, averaged over the last `smoothing`
/// epochs, has not improved by `min_delta` for `patience` epochs; never
/// while the learning rate is still warming up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EarlyStopping {
    /// The Python extension's default.
    pub patience: usize,
    pub min_delta: f64,
    /// Epochs averaged, so that one lucky or unlucky epoch decides nothing; 1 judges each epoch alone.
    pub smoothing: usize,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping { patience: 15, min_delta: 1e-3, smoothing: 3 }
    }
}

/// Crops per optimizer step unless given: small batches give the few
/// tiles of a typical annotation set more steps, and BatchNorm calibration
/// (see `SegmentationModel::calibrate_batch_norm`) removes their train/eval gap.
pub const DEFAULT_BATCH_SIZE: usize = 4;

/// The tile side of a configuration that names none and has no data to fit
/// it to (memory estimates); the training plan fits one to the data.
pub const DEFAULT_TILE_SIZE: usize = 256;

/// All settings of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    /// Model name written to the metadata; defaults to the output folder's name.
    pub name: Option<String>,
    pub architecture: Architecture,
    pub encoder: EncoderKind,
    /// Optional local state dict of a whole model (smp names, e.g. a model
    /// trained by the Python extension) to start from.
    pub init_weights: Option<PathBuf>,
    /// Pretrained encoder weights: the name of a weight set of the encoder
    /// (`imagenet`, `lunit-swav`...; see `models::pretrained`) looked for in
    /// `weights_dir`, or a path to an encoder-only state dict.
    pub encoder_weights: Option<String>,
    /// Where named weight sets are looked for; default `DLC_WEIGHTS_DIR`,
    /// else `~/.cache/dlclassifier/weights`.
    pub weights_dir: Option<PathBuf>,
    /// Side of the square training crops; a multiple of 32. `None`: fitted
    /// to the training images by the training plan.
    pub tile_size: Option<usize>,
    /// Downsample factor the tiles were exported at; recorded for inference.
    pub downsample: f64,
    pub batch_size: usize,
    pub epochs: usize,
    /// Random crops drawn per epoch; `None`: the training plan's choice, enough
    /// to cover each training image's area once and at least a few batches.
    pub samples_per_epoch: Option<usize>,
    /// Peak learning rate of AdamW.
    pub learning_rate: f64,
    /// Discriminative learning rates: encoder parameters train at
    /// `learning_rate × encoder_lr_factor` (the schedule scales both), the
    /// decoder and head at `learning_rate`. In (0, 1]; 1 trains all alike.
    pub encoder_lr_factor: f64,
    pub weight_decay: f64,
    pub loss: LossKind,
    /// Use the class weights of the training data's config.json.
    pub use_class_weights: bool,
    /// Per-class factors multiplied into the class weights.
    pub class_weight_multipliers: Option<Vec<f32>>,
    pub scheduler: SchedulerConfig,
    pub monitor: MonitorMetric,
    pub early_stopping: Option<EarlyStopping>,
    /// Names of encoder freeze groups (see the catalog) kept fixed during training.
    pub frozen_groups: Vec<String>,
    /// Before each validation, set BatchNorm statistics to their average over
    /// the training images under the current weights (PreciseBN; see
    /// `SegmentationModel::calibrate_batch_norm`). Off keeps the running
    /// averages of training steps, as PyTorch does, which lag behind the
    /// weights on short runs and small batches.
    pub calibrate_batch_norm: bool,
    /// Maximum global gradient norm; `None` disables clipping.
    pub gradient_clip: Option<f64>,
    pub seed: u64,
    pub device: DeviceChoice,
    /// Mixed precision; takes effect on CUDA only.
    pub amp: bool,
    /// Intra-op CPU threads; `None` keeps libtorch's default.
    pub threads: Option<usize>,
    /// Book GPU memory with other processes before training, and hold it for
    /// the run; does nothing unless the device resolves to CUDA.
    pub gpu_reservation: Option<ReservationRequest>,
    pub augmentation: AugmentConfig,
    /// Overrides the normalization of the data's config.json.
    pub normalization: Option<NormalizationConfig>,
    /// Continue from the checkpoints of an interrupted run into the same output folder.
    pub resume: bool,
    /// Replace an existing model folder.
    pub overwrite: bool,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            name: None,
            architecture: Architecture::Unet,
            encoder: EncoderKind::ResNet34,
            init_weights: None,
            encoder_weights: None,
            weights_dir: None,
            tile_size: None,
            downsample: 1.0,
            batch_size: DEFAULT_BATCH_SIZE,
            epochs: 50,
            samples_per_epoch: None,
            learning_rate: 1e-3,
            encoder_lr_factor: 1.0,
            weight_decay: 1e-4,
            loss: LossKind::CeDice,
            use_class_weights: true,
            class_weight_multipliers: None,
            scheduler: SchedulerConfig::default(),
            monitor: MonitorMetric::MeanIou,
            early_stopping: Some(EarlyStopping::default()),
            frozen_groups: Vec::new(),
            calibrate_batch_norm: true,
            gradient_clip: Some(1.0),
            seed: 42,
            device: DeviceChoice::Auto,
            amp: true,
            threads: None,
            gpu_reservation: None,
            augmentation: AugmentConfig::default(),
            normalization: None,
            resume: true,
            overwrite: false,
        }
    }
}

impl TrainingConfig {
    /// The training tile side: the configured one, else [`DEFAULT_TILE_SIZE`].
    pub fn tile(&self) -> usize {
        self.tile_size.unwrap_or(DEFAULT_TILE_SIZE)
    }

    /// Rejects settings that cannot work, before any data is touched.
    pub fn validate(&self) -> Result<()> {
        if let Some(tile) = self.tile_size {
            check_tile_size("tile_size", tile, None)?;
            let min = self.architecture.min_input_size() as usize;
            if tile < min {
                return Err(Error::config(format!("{} needs tile_size of at least {min}, got {tile}", self.architecture)));
            }
        }
        self.architecture.check(self.encoder)?;
        check_count("batch_size", self.batch_size, MAX_BATCH_SIZE)?;
        if let Some(samples) = self.samples_per_epoch {
            check_count("samples_per_epoch", samples, MAX_SAMPLES_PER_EPOCH)?;
        }
        if let Some(es) = &self.early_stopping {
            if es.smoothing == 0 {
                return Err(Error::config("early_stopping.smoothing must be at least 1"));
            }
        }
        if self.epochs == 0 {
            return Err(Error::config("epochs must be at least 1"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::config(format!("learning_rate must be positive, got {}", self.learning_rate)));
        }
        if !(self.encoder_lr_factor > 0.0 && self.encoder_lr_factor <= 1.0) {
            return Err(Error::config(format!("encoder_lr_factor must be in (0, 1], got {}", self.encoder_lr_factor)));
        }
        if !(self.weight_decay >= 0.0) {
            return Err(Error::config(format!("weight_decay must be >= 0, got {}", self.weight_decay)));
        }
        if !(self.downsample > 0.0) {
            return Err(Error::config(format!("downsample must be positive, got {}", self.downsample)));
        }
        if let Some(clip) = self.gradient_clip {
            if !(clip > 0.0) {
                return Err(Error::config(format!("gradient_clip must be positive, got {clip}")));
            }
        }
        if self.threads == Some(0) {
            return Err(Error::config("threads must be at least 1"));
        }
        if let Some(m) = &self.class_weight_multipliers {
            if m.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(Error::config(format!("class weight multipliers must be positive, got {m:?}")));
            }
        }
        let groups = self.encoder.freeze_groups();
        for name in &self.frozen_groups {
            if !groups.iter().any(|g| g.name == name) {
                let known: Vec<_> = groups.iter().map(|g| g.name).collect();
                return Err(Error::config(format!(
                    "encoder {} has no freeze group '{name}'; groups: {}",
                    self.encoder,
                    known.join(", ")
                )));
            }
        }
        self.augmentation.validate()?;
        if let Some(n) = &self.normalization {
            n.validate()?;
        }
        self.scheduler.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let c = TrainingConfig::default();
        c.validate().unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<TrainingConfig>(&json).unwrap(), c);
    }

    #[test]
    fn partial_json_fills_defaults_and_unknown_fields_are_refused() {
        let c: TrainingConfig = serde_json::from_str(r#"{"encoder":"mobilenet_v2","epochs":3,"scheduler":{"type":"step","gamma":0.5}}"#).unwrap();
        assert_eq!(c.encoder, EncoderKind::MobileNetV2);
        assert_eq!(c.scheduler, SchedulerConfig::Step { step_size: 10, gamma: 0.5 });
        assert_eq!(c.batch_size, DEFAULT_BATCH_SIZE);
        let err = serde_json::from_str::<TrainingConfig>(r#"{"epoch":3}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `epoch`"), "{err}");
    }

    #[test]
    fn invalid_settings_are_named() {
        let bad = |f: fn(&mut TrainingConfig)| {
            let mut c = TrainingConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(bad(|c| c.tile_size = Some(100)).contains("multiple of 32"));
        assert!(bad(|c| c.early_stopping = Some(EarlyStopping { smoothing: 0, ..Default::default() })).contains("smoothing"));
        assert!(bad(|c| c.batch_size = 0).contains("batch_size"));
        assert!(bad(|c| c.learning_rate = -1.0).contains("learning_rate"));
        assert!(bad(|c| c.encoder_lr_factor = 0.0).contains("encoder_lr_factor"));
        assert!(bad(|c| {
            c.architecture = Architecture::Pan;
            c.tile_size = Some(64);
        })
        .contains("pan needs tile_size of at least 128"));
        assert!(bad(|c| {
            c.architecture = Architecture::DeepLabV3;
            c.encoder = EncoderKind::Vgg16Bn;
        })
        .contains("deeplabv3 needs a dilated encoder"));
        assert!(bad(|c| c.encoder_lr_factor = 1.5).contains("encoder_lr_factor"));
        assert!(bad(|c| c.encoder_lr_factor = f64::NAN).contains("encoder_lr_factor"));
        assert!(bad(|c| c.frozen_groups = vec!["layer9".into()]).contains("no freeze group 'layer9'"));
        assert!(bad(|c| c.class_weight_multipliers = Some(vec![1.0, 0.0])).contains("multipliers"));
    }

    #[test]
    fn configurations_read_requests() {
        let options: crate::inference::InferenceOptions = serde_json::from_str(r#"{"gpu_reservation":{"bytes":5,"timeout_ms":7}}"#).unwrap();
        assert_eq!(options.gpu_reservation, Some(ReservationRequest { bytes: Some(5), timeout_ms: 7 }));
        let config: TrainingConfig = serde_json::from_str(r#"{"gpu_reservation":{}}"#).unwrap();
        assert_eq!(config.gpu_reservation, Some(ReservationRequest::default()));
    }
}
