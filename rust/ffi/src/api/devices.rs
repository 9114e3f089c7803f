//! Devices, their memory, and memory estimates.

use crate::error::FfiResult;
use dlclassifier::device::{available_devices, memory_info, memory_snapshot, DeviceChoice, DeviceInfo};
use dlclassifier::memory_estimate::{estimate_for_config, estimate_inference, suggest_batch_for_config, MemoryEstimate};
use dlclassifier::model_dir::ModelMetadata;
use dlclassifier::settings::TrainingConfig;
use serde::Serialize;

/// A device's memory now: what it has and what it uses.
#[derive(Serialize)]
pub struct Memory {
    total: u64,
    free: u64,
    current: u64,
    peak: u64,
}

/// A training estimate and, for a budget, the largest batch that fits it.
#[derive(Serialize)]
pub struct TrainingEstimate {
    estimate: MemoryEstimate,
    suggested: Option<MemoryEstimate>,
}

/// Channel and class counts as the estimate's model spec takes them.
fn count(value: usize, name: &str) -> FfiResult<i64> {
    i64::try_from(value).map_err(|_| crate::error::FfiError::invalid_argument(format!("{name} is too large: {value}")))
}

bridge_fn! {
    /// The devices as a JSON array: `{"id", "name", "total_memory", "threads",
    /// "torch_threads"}` each, the CPU first. Without CUDA only the CPU (and
    /// MPS where present) is listed; that is not an error.
    fn devices_json() -> json[Vec<DeviceInfo>] {
        Ok(available_devices())
    }
}

bridge_fn! {
    /// The memory of `device` (`"cpu"`, `"cuda"`, `"cuda:N"`, `"auto"`) as JSON
    /// `{"total", "free", "current", "peak"}` in bytes. For the CPU, `free` is
    /// the system's available memory and `current`/`peak` this process's
    /// resident memory now and at its peak; for CUDA, `current` is what the
    /// whole device uses and `peak` the largest `current` this process has
    /// seen. `DLC_INVALID_ARGUMENT` for an unknown or absent device or MPS.
    fn memory_json(device: str) -> json[Memory] {
        let choice: DeviceChoice = device.parse()?;
        let memory = memory_info(choice)?;
        let used = memory_snapshot(choice.resolve()?)?;
        Ok(Memory { total: memory.total, free: memory.free, current: used.current, peak: used.peak })
    }
}

bridge_fn! {
    /// The estimated peak memory of training with `config` (training
    /// settings as JSON, NULL for the defaults) on data with `channels`
    /// channels and `classes` classes, as JSON `{"estimate": {...},
    /// "suggested": {...} or null}`; each has `batch_size`, `tile_size`,
    /// `parameters`, `gradients`, `optimizer`, `activations` and `total`
    /// (bytes). With `budget` > 0, `suggested` is the largest batch whose peak
    /// fits `budget` bytes (`DLC_INVALID_ARGUMENT` when not even one tile fits).
    fn estimate_json(config: json[TrainingConfig], channels: size, classes: size, budget: u64) -> json[TrainingEstimate] {
        let (channels, classes) = (count(channels, "channels")?, count(classes, "classes")?);
        let estimate = estimate_for_config(&config, channels, classes)?;
        let suggested = (budget > 0).then(|| suggest_batch_for_config(&config, channels, classes, budget)).transpose()?;
        Ok(TrainingEstimate { estimate, suggested })
    }
}

bridge_fn! {
    /// The estimated peak memory of predicting batches of `batch_size` tiles of
    /// `tile_size` (0: the model's own) with the model folder `model_dir`, in
    /// half precision if `fp16`; JSON as one estimate of `dlc_estimate_json`.
    fn estimate_inference_json(model_dir: path, tile_size: size, batch_size: size, fp16: bool) -> json[MemoryEstimate] {
        let meta = ModelMetadata::read(&model_dir)?;
        let tile = if tile_size == 0 { meta.tile_size } else { tile_size };
        Ok(estimate_inference(meta.spec(), tile, batch_size, fp16)?)
    }
}
