//! Reading state dicts (segmentation_models_pytorch / PyTorch checkpoints)
//! into a model's variables, with an exact account of what did not fit.

use crate::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use tch::nn::VarStore;
use tch::Tensor;

pub mod torch_pickle;

/// Wrappers that training scripts commonly add around a model's own names.
const STRIPPED_PREFIXES: [&str; 2] = ["module.", "model."];

/// What a state-dict load matched and what it did not.
#[derive(Debug, Default, Clone, Serialize)]
pub struct LoadReport {
    pub loaded: usize,
    /// Variables of the model that the file lacks.
    pub missing: Vec<String>,
    /// Entries of the file that the model lacks.
    pub unexpected: Vec<String>,
    /// (name, shape in the model, shape in the file).
    pub mismatched: Vec<(String, Vec<i64>, Vec<i64>)>,
    /// What was done to the file's names to match the model: a state dict
    /// taken out of a checkpoint, wrapper prefixes stripped, entries skipped.
    pub notes: Vec<String>,
}

impl LoadReport {
    pub fn is_exact(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mismatched.is_empty()
    }

    /// One human-readable line per problem.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self.missing.iter().map(|n| format!("missing: {n}")).collect();
        out.extend(self.unexpected.iter().map(|n| format!("unexpected: {n}")));
        out.extend(self.mismatched.iter().map(|(n, m, f)| format!("shape mismatch: {n} is {m:?} in the model, {f:?} in the file")));
        out
    }

    /// The error for weights that do not fit, listing every problem.
    pub fn misfit(&self, path: &Path) -> Error {
        let notes: String = self.notes.iter().map(|n| format!("\n  (note: {n})")).collect();
        Error::Model(format!("{} does not fit the model:\n  {}{notes}", path.display(), self.problems().join("\n  ")))
    }
}

/// Reads the named tensors of a `.safetensors` file or a PyTorch
/// `torch.save` file (`.pt`/`.pth`/`.bin`, zip format of torch >= 1.6: a
/// state dict, or a checkpoint dict holding one under `state_dict`,
/// `model_state_dict`, `model`...). The format is recognised by content.
/// TorchScript archives and legacy (pre-1.6) pickles are refused with a
/// message saying so.
pub fn read_named_tensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    Ok(read_named_tensors_with_notes(path)?.0)
}

/// [`read_named_tensors`], with notes on how a checkpoint was unwrapped.
pub fn read_named_tensors_with_notes(path: &Path) -> Result<(torch_pickle::NamedTensors, Vec<String>)> {
    if !path.is_file() {
        return Err(Error::data(path, "weight file not found"));
    }
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| Error::data(path, format!("cannot read weights: {e}")))?;
    if torch_pickle::is_zip(&head[..n]) {
        return torch_pickle::state_dict(path);
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "safetensors" => {}
        // Legacy torch.save files start with a pickle of the magic number.
        "pt" | "pth" | "bin" if head[..n].starts_with(&[0x80]) => {
            return Err(Error::data(
                path,
                "cannot read weights: a legacy (pre-1.6) PyTorch pickle; re-save it with a current torch \
                 (torch.save(torch.load(f), f)) or as .safetensors",
            ))
        }
        "pt" | "pth" | "bin" => return Err(Error::data(path, "cannot read weights: not a PyTorch zip archive")),
        _ => return Err(Error::data(path, "unknown weight format; expected .safetensors, .pt, .pth or .bin")),
    }
    // libtorch appends a C++ backtrace; the first line says what went wrong.
    let tensors = Tensor::read_safetensors(path).map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default().to_string();
        Error::data(path, format!("cannot read weights: {first}"))
    })?;
    Ok((tensors, Vec::new()))
}

/// Copies each source into its variable, converting kind and device.
pub(crate) fn copy_into<'a>(pairs: impl Iterator<Item = (&'a Tensor, &'a Tensor)>) -> Result<()> {
    tch::no_grad(|| {
        for (var, src) in pairs {
            var.shallow_clone().f_copy_(&src.to_kind(var.kind()).to_device(var.device()))?;
        }
        Ok(())
    })
}

/// Copies matching tensors of `path` into `vs`. `num_batches_tracked`
/// counters are ignored (the engine does not keep them). With `strict`, any
/// missing, unexpected or mis-shaped entry is an error listing all of them,
/// and nothing is changed.
pub fn load_state_dict(vs: &VarStore, path: &Path, strict: bool) -> Result<LoadReport> {
    let (tensors, notes) = read_named_tensors_with_notes(path)?;
    let mut file: BTreeMap<String, Tensor> = tensors.into_iter().filter(|(n, _)| !n.ends_with("num_batches_tracked")).collect();
    let mut report = LoadReport { notes, ..LoadReport::default() };
    for prefix in STRIPPED_PREFIXES {
        if !file.is_empty() && file.keys().all(|k| k.starts_with(prefix)) {
            file = file.into_iter().map(|(k, v)| (k[prefix.len()..].to_string(), v)).collect();
            report.notes.push(format!("stripped the prefix '{prefix}' from every name"));
        }
    }
    let legacy = file.keys().filter(|k| modern_densenet_name(k).is_some()).count();
    if legacy > 0 {
        file = file.into_iter().map(|(k, v)| (modern_densenet_name(&k).unwrap_or(k), v)).collect();
        report.notes.push(format!("renamed {legacy} legacy torchvision DenseNet names (denselayerN.norm.1 to norm1)"));
    }
    let vars: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
    report.unexpected = file.keys().filter(|k| !vars.contains_key(*k)).cloned().collect();
    let mut to_copy = Vec::new();
    for (name, var) in &vars {
        match file.get(name) {
            None => report.missing.push(name.clone()),
            Some(src) if src.size() != var.size() => report.mismatched.push((name.clone(), var.size(), src.size())),
            Some(src) => to_copy.push((var, src)),
        }
    }
    if strict && !report.is_exact() {
        return Err(report.misfit(path));
    }
    copy_into(to_copy.iter().copied())?;
    report.loaded = to_copy.len();
    Ok(report)
}

/// Older torchvision DenseNet files name dense-layer parameters
/// `denselayerN.norm.1.weight`; smp's DenseNet encoder renames them to
/// `denselayerN.norm1.weight` when loading, and so do we.
fn modern_densenet_name(name: &str) -> Option<String> {
    let parts: Vec<&str> = name.split('.').collect();
    let [.., layer, kind, index, param] = parts.as_slice() else { return None };
    let number = &layer[layer.rfind("denselayer")? + "denselayer".len()..];
    let fits = !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && ["norm", "relu", "conv"].contains(kind)
        && ["1", "2"].contains(index)
        && ["weight", "bias", "running_mean", "running_var"].contains(param);
    fits.then(|| format!("{}{kind}{index}.{param}", &name[..name.len() - kind.len() - index.len() - param.len() - 2]))
}

#[cfg(test)]
mod tests {
    use super::modern_densenet_name;

    #[test]
    fn legacy_densenet_names_are_renamed_as_smp_renames_them() {
        let rename = |n: &str| modern_densenet_name(n);
        assert_eq!(rename("encoder.features.denseblock1.denselayer12.norm.1.weight").as_deref(), Some("encoder.features.denseblock1.denselayer12.norm1.weight"));
        assert_eq!(rename("features.denseblock4.denselayer3.conv.2.weight").as_deref(), Some("features.denseblock4.denselayer3.conv2.weight"));
        assert_eq!(rename("encoder.features.denseblock1.denselayer1.norm.2.running_var").as_deref(), Some("encoder.features.denseblock1.denselayer1.norm2.running_var"));
        // Current names, other layers and other indices stay as they are.
        assert_eq!(rename("encoder.features.denseblock1.denselayer1.norm1.weight"), None);
        assert_eq!(rename("encoder.features.transition1.norm.1.weight"), None);
        assert_eq!(rename("encoder.features.denseblock1.denselayer.norm.1.weight"), None);
        assert_eq!(rename("encoder.features.denseblock1.denselayer1.norm.3.weight"), None);
        assert_eq!(rename("encoder.features.denseblock1.denselayer1.norm.1.num_batches_tracked"), None);
    }
}
