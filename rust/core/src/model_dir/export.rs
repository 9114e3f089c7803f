//! TorchScript export of a trained model, loadable by Python's `torch.jit.load`.

use crate::models::{ModelSpec, SegmentationModel};
use crate::Result;
use std::path::Path;
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
