//! What the engine can build: architectures, encoders, parameter counts and
//! the encoder groups that can be frozen.

use super::{Architecture, EncoderKind, FreezeGroup, ModelSpec, SegmentationModel};
use crate::Result;
use serde::Serialize;
use tch::nn::VarStore;
use tch::Device;

/// One encoder as the catalog lists it.
#[derive(Debug, Clone, Serialize)]
pub struct EncoderInfo {
    pub name: &'static str,
    /// Trainable parameters of the encoder alone, 3 input channels.
    pub encoder_parameters: i64,
    /// Trainable parameters of the whole model, 3 input channels, 2 classes.
    pub model_parameters: i64,
    pub freeze_groups: Vec<FreezeGroup>,
}

/// One architecture and the encoders it accepts.
#[derive(Debug, Clone, Serialize)]
pub struct ArchitectureInfo {
    pub name: &'static str,
    pub encoders: Vec<EncoderInfo>,
}

/// Trainable parameters of a model, and of its encoder alone.
pub fn parameter_counts(spec: ModelSpec) -> Result<(i64, i64)> {
    let vs = VarStore::new(Device::Cpu);
    SegmentationModel::new(&vs.root(), spec)?;
    let mut total = 0;
    let mut encoder = 0;
    // Buffers such as BatchNorm running statistics do not require gradients.
    for (name, var) in vs.variables().into_iter().filter(|(_, v)| v.requires_grad()) {
        total += var.numel() as i64;
        if name.starts_with("encoder.") {
            encoder += var.numel() as i64;
        }
    }
    Ok((total, encoder))
}

/// Every buildable architecture/encoder combination with its parameter counts.
pub fn catalog() -> Result<Vec<ArchitectureInfo>> {
    Architecture::ALL
        .into_iter()
        .map(|architecture| {
            let encoders = EncoderKind::ALL
                .into_iter()
                .map(|encoder| {
                    let (model_parameters, encoder_parameters) =
                        parameter_counts(ModelSpec { architecture, encoder, in_channels: 3, num_classes: 2 })?;
                    Ok(EncoderInfo { name: encoder.name(), encoder_parameters, model_parameters, freeze_groups: encoder.freeze_groups() })
                })
                .collect::<Result<_>>()?;
            Ok(ArchitectureInfo { name: architecture.name(), encoders })
        })
        .collect()
}
