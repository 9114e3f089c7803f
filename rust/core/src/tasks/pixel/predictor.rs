//! A model ready for prediction: its backend, the normalization it was
//! trained with and what callers need to know about its classes.

use super::imported::ImportedMetadata;
use super::model_info::ModelInfo;
use super::tiles::{self, Outputs, Padding, TileLayout};
use crate::inference::{Backend, BackendChoice, InferenceOptions, OnnxBackend, TorchScriptBackend};
use crate::model_dir::{ModelMetadata, ONNX_FILE, TORCHSCRIPT_FILE};
use crate::models::OUTPUT_STRIDE;
use crate::non_finite::NonFinite;
use crate::normalization::Normalizer;
use crate::reservation::Reservation;
use crate::tiling::TileModel;
use crate::{Error, Result};
use ndarray::{Array4, ArrayView4};
use std::path::Path;
use tch::Device;

/// A loaded model. `predict` may be called from many threads at once.
pub struct Predictor {
    info: ModelInfo,
    normalizer: Normalizer,
    backend: Box<dyn Backend>,
    non_finite: NonFinite,
    /// Dropped after the backend, so the booking outlives the GPU memory it covers.
    _reservation: Option<Reservation>,
}

impl Predictor {
    /// Opens a model folder written by training (`metadata.json` plus `model.onnx` and/or `model.pt`).
    pub fn open(dir: &Path, options: &InferenceOptions) -> Result<Predictor> {
        options.validate()?;
        let meta = ModelMetadata::read(dir)?;
        let stats = &meta.input_config.normalization;
        if stats.num_channels != meta.architecture.in_channels as usize {
            return Err(Error::data(
                dir.join(crate::model_dir::METADATA_FILE),
                format!("normalization is for {} channels but the model takes {}", stats.num_channels, meta.architecture.in_channels),
            ));
        }
        // Booked before the backend allocates anything on the GPU.
        let estimate = || {
            let batch = crate::tiling::TilingOptions::default().batch_size;
            crate::memory_estimate::estimate_inference(meta.spec(), meta.tile_size, batch, options.fp16).map(|e| e.total)
        };
        let reservation = options.gpu_reservation.as_ref().map(|r| r.acquire(options.device.resolve()?, estimate)).transpose()?.flatten();
        let backend = open_backend(dir, options)?;
        let info = ModelInfo {
            name: meta.name.clone(),
            source: dir.to_path_buf(),
            in_channels: meta.architecture.in_channels as usize,
            channel_names: meta.input_config.channel_names.clone(),
            num_classes: meta.architecture.num_classes as usize,
            classes: meta.classes.clone(),
            tile_size: meta.tile_size,
            fixed_size: None,
            min_size: meta.spec().architecture.min_input_size() as usize,
            backend: backend.describe(),
            downsample: meta.downsample,
            training_pixel_size_um: meta.training_pixel_size_um,
        };
        let predictor = Predictor { info, normalizer: Normalizer::from_stats(stats), backend, non_finite: options.non_finite, _reservation: reservation };
        predictor.probe()?;
        predictor.log_opened();
        crate::device::log_memory("inference session", options.device.resolve()?);
        Ok(predictor)
    }

    /// Imports an external ONNX model. Channels, classes and a fixed input
    /// size come from the graph; `metadata` (a `metadata.json` in our layout,
    /// all fields optional) adds class names, normalization and tile size and
    /// must agree with the graph.
    pub fn open_onnx(path: &Path, metadata: Option<&Path>, options: &InferenceOptions) -> Result<Predictor> {
        if options.backend == BackendChoice::Torch {
            return Err(Error::config("an imported ONNX model runs on the onnx backend only"));
        }
        let backend = OnnxBackend::open(path, options)?;
        let (input, output) = backend.signature()?;
        let meta = metadata.map(ImportedMetadata::read).transpose()?.unwrap_or_default();
        let (info, normalizer) = meta.resolve(path, &input, &output, backend.describe())?;
        // ONNX Runtime runs on the CPU: nothing to reserve.
        let predictor = Predictor { info, normalizer, backend: Box::new(backend), non_finite: options.non_finite, _reservation: None };
        predictor.log_opened();
        // ONNX Runtime runs on the CPU here.
        crate::device::log_memory("inference session", tch::Device::Cpu);
        Ok(predictor)
    }

    fn log_opened(&self) {
        let info = &self.info;
        tracing::info!(model = %info.name, source = %info.source.display(), backend = %info.backend, classes = info.num_classes, "model opened");
    }

    /// Runs one small blank tile so that model files that contradict
    /// `metadata.json` fail at open, not halfway through an image.
    fn probe(&self) -> Result<()> {
        let size = self.info.min_size.max(OUTPUT_STRIDE as usize);
        let blank = Array4::zeros((1, self.info.in_channels, size, size));
        self.predict_probabilities(blank.view()).map(drop).map_err(|e| {
            Error::Model(format!("{} does not match its metadata.json: {e}", self.info.backend))
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The engine itself, e.g. to time a bare run of pre-normalized input.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// What this predictor does with non-finite input values.
    pub fn non_finite(&self) -> NonFinite {
        self.non_finite
    }

    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }

    /// Predicts a batch of tiles from a caller's buffer into the caller's
    /// output buffers. Tiles of any size work: they are reflection-padded to
    /// the model's stride and the results cropped back.
    pub fn predict(&self, tiles: &[u8], layout: &TileLayout, outputs: Outputs) -> Result<()> {
        self.check_size(layout.height, layout.width)?;
        let input = tiles::decode(tiles, layout, &self.normalizer, self.padding(), self.non_finite)?;
        let mut outputs = Some(outputs);
        self.backend.run(input.view(), &mut |logits| {
            self.check_logits(logits, layout.height, layout.width)?;
            tiles::write_outputs(logits, layout, outputs.take().expect("one run per call"))
        })
    }

    /// Class probabilities `[N, K, H, W]` of raw (not normalized) float tiles `[N, C, H, W]`.
    pub fn predict_probabilities(&self, tiles: ArrayView4<f32>) -> Result<Array4<f32>> {
        let (_, _, h, w) = tiles.dim();
        self.check_size(h, w)?;
        let input = tiles::decode_array(tiles, &self.normalizer, self.padding(), self.non_finite)?;
        let mut result = None;
        self.backend.run(input.view(), &mut |logits| {
            self.check_logits(logits, h, w)?;
            result = Some(tiles::probabilities(logits, h, w));
            Ok(())
        })?;
        Ok(result.expect("backend ran"))
    }

    /// Padding for size-agnostic graphs; fixed-size graphs get their size exactly.
    fn padding(&self) -> Padding {
        if self.info.fixed_size.is_some() {
            Padding::to_multiple(1)
        } else {
            Padding { multiple: OUTPUT_STRIDE as usize, min: self.info.min_size }
        }
    }

    fn check_size(&self, height: usize, width: usize) -> Result<()> {
        match self.info.fixed_size {
            Some((h, w)) if (h, w) != (height, width) => {
                Err(Error::config(format!("this model only takes {h}x{w} tiles, got {height}x{width}")))
            }
            _ => Ok(()),
        }
    }

    fn check_logits(&self, logits: ArrayView4<f32>, height: usize, width: usize) -> Result<()> {
        let (_, k, h, w) = logits.dim();
        if k != self.info.num_classes || h < height || w < width {
            return Err(Error::Model(format!(
                "{} produced [{k}, {h}, {w}] logits per tile, expected {} classes at {height}x{width}",
                self.info.source.display(),
                self.info.num_classes
            )));
        }
        Ok(())
    }
}

/// Picks the engine: ONNX Runtime on the CPU when `model.onnx` exists,
/// TorchScript otherwise (GPUs, or folders without an ONNX file).
fn open_backend(dir: &Path, options: &InferenceOptions) -> Result<Box<dyn Backend>> {
    let onnx = dir.join(ONNX_FILE);
    let choice = match options.backend {
        BackendChoice::Auto if options.device.resolve()? == Device::Cpu && onnx.is_file() => BackendChoice::Onnx,
        BackendChoice::Auto => BackendChoice::Torch,
        other => other,
    };
    Ok(match choice {
        BackendChoice::Onnx => Box::new(OnnxBackend::open(&onnx, options)?),
        _ => Box::new(TorchScriptBackend::open(&dir.join(TORCHSCRIPT_FILE), options)?),
    })
}

impl TileModel for Predictor {
    fn in_channels(&self) -> usize {
        self.info.in_channels
    }

    fn num_classes(&self) -> usize {
        self.info.num_classes
    }

    fn predict(&self, tiles: ArrayView4<f32>) -> Result<Array4<f32>> {
        self.predict_probabilities(tiles)
    }
}
