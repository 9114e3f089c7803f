//! Exports of a trained model: TorchScript, loadable by Python's
//! `torch.jit.load`, and ONNX for a model folder written earlier.

use super::{staged_file, ModelMetadata, ONNX_FILE, WEIGHTS_FILE};
use crate::models::{export_onnx, weights, ModelSpec, SegmentationModel};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use tch::nn::{ModuleT, VarStore};
use tch::{CModule, Device, Kind, Tensor};

/// Traces the model in eval mode on the CPU and saves it to `path`. The
/// trace is size-agnostic (any multiple of 32) because the decoder upsamples
/// by scale factors.
pub fn export_torchscript(spec: ModelSpec, trained: &VarStore, tile_size: i64, path: &Path) -> Result<()> {
    let mut vs = VarStore::new(Device::Cpu);
    let model = SegmentationModel::new(&vs.root(), spec)?;
    vs.copy(trained)?;
    // Tracing needs variables that do not require gradients.
    vs.freeze();
    let example = Tensor::zeros([1, spec.in_channels, tile_size, tile_size], (Kind::Float, Device::Cpu));
    let module = CModule::create_by_tracing("SegmentationModel", "forward", &[example], &mut |xs| {
        vec![model.forward_t(&xs[0], false)]
    })?;
    module.save(path)?;
    Ok(())
}

/// Writes `model.onnx` into an existing model folder from its `metadata.json`
/// and `model.safetensors`, e.g. for folders from before ONNX export existed.
/// The file is written beside its target and renamed into place, so a failure
/// leaves any previous `model.onnx` intact and nothing half-written.
pub fn export_onnx_dir(dir: &Path) -> Result<PathBuf> {
    let spec = ModelMetadata::read(dir)?.spec();
    let vs = VarStore::new(Device::Cpu);
    SegmentationModel::new(&vs.root(), spec)?;
    weights::load_state_dict(&vs, &dir.join(WEIGHTS_FILE), true)?;
    let target = dir.join(ONNX_FILE);
    let staging = staged_file(&target)?;
    export_onnx(spec, &vs, staging.path())?;
    staging.persist(&target).map_err(|e| Error::io(&target, e.error))?;
    Ok(target)
}
