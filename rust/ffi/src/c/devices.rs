//! Devices, their memory, and memory estimates, as JSON strings the caller
//! frees with `dlc_string_free`.

use super::{guard, json_arg, json_string, out_arg, str_arg};
use dlclassifier::device::{available_devices, memory_info, memory_snapshot, DeviceChoice};
use dlclassifier::memory_estimate::{estimate_for_config, suggest_batch_for_config};
use dlclassifier::settings::TrainingConfig;
use std::ffi::{c_char, c_int};

/// The devices as a JSON array: `{"id", "name", "total_memory", "threads",
/// "torch_threads"}` each, the CPU first. Without CUDA only the CPU (and MPS
/// where present) is listed; that is not an error.
///
/// # Safety
/// `out_json` is valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_devices_json(out_json: *mut *mut c_char) -> c_int {
    guard(|| {
        let out = unsafe { out_arg(out_json, "out_json") }?;
        *out = json_string(&available_devices())?;
        Ok(())
    })
}

/// The memory of `device` (`"cpu"`, `"cuda"`, `"cuda:N"`, `"auto"`) as JSON
/// `{"total", "free", "current", "peak"}` in bytes. For the CPU, `free` is the
/// system's available memory and `current`/`peak` this process's resident
/// memory now and at its peak; for CUDA, `current` is what the whole device
/// uses and `peak` the largest `current` this process has seen.
/// `DLC_INVALID_ARGUMENT` for an unknown or absent device or MPS.
///
/// # Safety
/// `device` is a NUL-terminated string; `out_json` is valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_memory_json(device: *const c_char, out_json: *mut *mut c_char) -> c_int {
    guard(|| {
        let out = unsafe { out_arg(out_json, "out_json") }?;
        let choice: DeviceChoice = unsafe { str_arg(device, "device") }?.parse()?;
        let memory = memory_info(choice)?;
        let used = memory_snapshot(choice.resolve()?)?;
        *out = json_string(&serde_json::json!({ "total": memory.total, "free": memory.free, "current": used.current, "peak": used.peak }))?;
        Ok(())
    })
}

/// The estimated peak memory of training with `config_json` (a training
/// configuration, NULL for the defaults) on data with `channels` channels and
/// `classes` classes, as JSON `{"estimate": {...}, "suggested": {...} or null}`;
/// each has `batch_size`, `tile_size`, `parameters`, `gradients`,
/// `optimizer`, `activations` and `total` (bytes). With `budget` > 0,
/// `suggested` is the largest batch whose peak fits `budget` bytes
/// (`DLC_INVALID_ARGUMENT` when not even one tile fits).
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `out_json` is valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_estimate_json(
    config_json: *const c_char,
    channels: c_int,
    classes: c_int,
    budget: u64,
    out_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        let out = unsafe { out_arg(out_json, "out_json") }?;
        let config: TrainingConfig = unsafe { json_arg(config_json, "config_json") }?;
        let estimate = estimate_for_config(&config, channels.into(), classes.into())?;
        let suggested = (budget > 0).then(|| suggest_batch_for_config(&config, channels.into(), classes.into(), budget)).transpose()?;
        *out = json_string(&serde_json::json!({ "estimate": estimate, "suggested": suggested }))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::c::{dlc_last_error, dlc_string_free, DlcStatus};
    use std::ffi::CStr;

    fn take(ptr: *mut c_char) -> serde_json::Value {
        let value = serde_json::from_str(unsafe { CStr::from_ptr(ptr) }.to_str().unwrap()).unwrap();
        unsafe { dlc_string_free(ptr) };
        value
    }

    #[test]
    fn devices_memory_and_estimates_come_back_as_json() {
        let mut out = std::ptr::null_mut();
        assert_eq!(unsafe { dlc_devices_json(&mut out) }, 0);
        assert_eq!(take(out)[0]["id"], "cpu");
        assert_eq!(unsafe { dlc_memory_json(c"cpu".as_ptr(), &mut out) }, 0);
        let memory = take(out);
        assert!(memory["peak"].as_u64().unwrap() >= memory["current"].as_u64().unwrap());
        let config = c"{\"encoder\": \"resnet18\", \"tile_size\": 128, \"batch_size\": 2}";
        assert_eq!(unsafe { dlc_estimate_json(config.as_ptr(), 3, 2, 1 << 30, &mut out) }, 0);
        let value = take(out);
        assert_eq!(value["estimate"]["batch_size"], 2);
        assert!(value["suggested"]["batch_size"].as_u64().unwrap() > 2);
    }

    #[test]
    fn absent_devices_and_impossible_budgets_are_invalid_arguments() {
        let mut out = std::ptr::null_mut();
        if !available_devices().iter().any(|d| d.id.starts_with("cuda")) {
            assert_eq!(unsafe { dlc_memory_json(c"cuda:0".as_ptr(), &mut out) }, DlcStatus::DlcInvalidArgument as c_int);
            assert!(out.is_null());
            let message = unsafe { CStr::from_ptr(dlc_last_error()) }.to_str().unwrap();
            assert!(message.contains("no CUDA device"), "{message}");
        }
        assert_eq!(unsafe { dlc_estimate_json(std::ptr::null(), 3, 2, 1000, &mut out) }, DlcStatus::DlcInvalidArgument as c_int);
        assert_eq!(unsafe { dlc_devices_json(std::ptr::null_mut()) }, DlcStatus::DlcInvalidArgument as c_int);
    }
}
