//! Reading state dicts (segmentation_models_pytorch / PyTorch checkpoints)
//! into a model's variables, with an exact account of what did not fit.

use crate::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use tch::nn::VarStore;
use tch::Tensor;

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
        Error::Model(format!("{} does not fit the model:\n  {}", path.display(), self.problems().join("\n  ")))
    }
}

/// Reads the named tensors of a `.safetensors` file or a PyTorch pickle
/// (`.pt`/`.pth`/`.bin`, as written by `torch.save(state_dict)`).
pub fn read_named_tensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    if !path.is_file() {
        return Err(Error::data(path, "weight file not found"));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let tensors = match ext.as_str() {
        "safetensors" => Tensor::read_safetensors(path),
        "pt" | "pth" | "bin" => Tensor::loadz_multi(path),
        _ => return Err(Error::data(path, "unknown weight format; expected .safetensors, .pt, .pth or .bin")),
    };
    // libtorch appends a C++ backtrace; the first line says what went wrong.
    tensors.map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default().to_string();
        Error::data(path, format!("cannot read weights: {first}"))
    })
}

/// Copies matching tensors of `path` into `vs`. `num_batches_tracked`
/// counters are ignored (the engine does not keep them). With `strict`, any
/// missing, unexpected or mis-shaped entry is an error listing all of them,
/// and nothing is changed.
pub fn load_state_dict(vs: &VarStore, path: &Path, strict: bool) -> Result<LoadReport> {
    let mut file: BTreeMap<String, Tensor> = read_named_tensors(path)?
        .into_iter()
        .filter(|(n, _)| !n.ends_with("num_batches_tracked"))
        .collect();
    for prefix in STRIPPED_PREFIXES {
        if !file.is_empty() && file.keys().all(|k| k.starts_with(prefix)) {
            file = file.into_iter().map(|(k, v)| (k[prefix.len()..].to_string(), v)).collect();
        }
    }
    let vars: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
    let mut report = LoadReport::default();
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
    tch::no_grad(|| -> Result<()> {
        for (var, src) in &to_copy {
            let mut var = (*var).shallow_clone();
            var.f_copy_(&src.to_kind(var.kind()).to_device(var.device()))?;
        }
        Ok(())
    })?;
    report.loaded = to_copy.len();
    Ok(report)
}
