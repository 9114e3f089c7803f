//! What the engine can build: architectures, the encoders each accepts,
//! parameter counts, the encoder groups that can be frozen, and the
//! pretrained weight sets with their licences and whether their files are here.

use super::pretrained::{self, WeightSet};
use super::{Architecture, EncoderKind, FreezeGroup, ModelSpec, SegmentationModel};
use crate::Result;
use once_cell::sync::Lazy;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::Device;

/// A named weight set of an encoder, and its file in the weights folder if present.
#[derive(Debug, Clone, Serialize)]
pub struct PretrainedInfo {
    #[serde(flatten)]
    pub set: WeightSet,
    pub file: Option<PathBuf>,
}

/// One encoder as the catalog lists it.
#[derive(Debug, Clone, Serialize)]
pub struct EncoderInfo {
    pub name: &'static str,
    /// Trainable parameters of the encoder alone, 3 input channels.
    pub encoder_parameters: i64,
    /// Trainable parameters of the whole model, 3 input channels, 2 classes.
    pub model_parameters: i64,
    pub freeze_groups: Vec<FreezeGroup>,
    pub pretrained: Vec<PretrainedInfo>,
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

/// [`parameter_counts`] of the catalog's specs, computed once per process:
/// building every model takes seconds.
fn cached_counts(spec: ModelSpec) -> Result<(i64, i64)> {
    static COUNTS: Lazy<Mutex<HashMap<(Architecture, EncoderKind), (i64, i64)>>> = Lazy::new(Default::default);
    let key = (spec.architecture, spec.encoder);
    if let Some(counts) = COUNTS.lock().get(&key) {
        return Ok(*counts);
    }
    let counts = parameter_counts(spec)?;
    COUNTS.lock().insert(key, counts);
    Ok(counts)
}

/// Every buildable architecture/encoder combination (those smp can build)
/// with its parameter counts, and each encoder's weight sets as found in the
/// default weights folder.
pub fn catalog() -> Result<Vec<ArchitectureInfo>> {
    catalog_with(pretrained::weights_dir(None).as_deref())
}

/// [`catalog`] with the weight files looked for in `weights_dir`.
pub fn catalog_with(weights_dir: Option<&Path>) -> Result<Vec<ArchitectureInfo>> {
    Architecture::ALL
        .into_iter()
        .map(|architecture| {
            let encoders = EncoderKind::ALL
                .into_iter()
                .filter(|e| architecture.check(*e).is_ok())
                .map(|encoder| {
                    let (model_parameters, encoder_parameters) =
                        cached_counts(ModelSpec { architecture, encoder, in_channels: 3, num_classes: 2 })?;
                    let pretrained = pretrained::weight_sets(encoder)
                        .into_iter()
                        .map(|set| PretrainedInfo { file: weights_dir.and_then(|d| pretrained::find_file(&set, d)), set })
                        .collect();
                    Ok(EncoderInfo { name: encoder.name(), encoder_parameters, model_parameters, freeze_groups: encoder.freeze_groups(), pretrained })
                })
                .collect::<Result<_>>()?;
            Ok(ArchitectureInfo { name: architecture.name(), encoders })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_files_present_in_the_folder_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("resnet50_kather100k.safetensors"), b"x").unwrap();
        let catalog = catalog_with(Some(dir.path())).unwrap();
        let resnet50 = catalog[0].encoders.iter().find(|e| e.name == "resnet50").unwrap();
        let found: Vec<_> = resnet50.pretrained.iter().filter_map(|p| p.file.as_ref().map(|f| (p.set.name, f.clone()))).collect();
        assert_eq!(found, [("kather100k", dir.path().join("resnet50_kather100k.safetensors"))]);
        let json = serde_json::to_value(resnet50).unwrap();
        assert_eq!(json["pretrained"][3]["file_stem"], "resnet50_kather100k");
        assert!(json["pretrained"][0]["licence"].as_str().unwrap().contains("BSD-3-Clause"));
    }
}
