//! Compute-device selection (`auto` prefers CUDA, then MPS, then the CPU),
//! what the devices of this machine are, how much memory they have free, and
//! how much this process uses ([`memory_snapshot`], logged at phase
//! boundaries by [`log_memory`]).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use tch::Device;

/// A device as users write it: `auto`, `cpu`, `cuda`, `cuda:N` or `mps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DeviceChoice {
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
    Mps,
}

impl DeviceChoice {
    /// The concrete device, or an error when the requested one is absent.
    pub fn resolve(self) -> Result<Device> {
        match self {
            DeviceChoice::Auto if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
            DeviceChoice::Auto if tch::utils::has_mps() => Ok(Device::Mps),
            DeviceChoice::Auto | DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda(i) => {
                let count = if tch::Cuda::is_available() { tch::Cuda::device_count() as usize } else { 0 };
                if i < count {
                    Ok(Device::Cuda(i))
                } else if count == 0 {
                    Err(Error::config("CUDA was requested but no CUDA device is available (is libtorch_cuda installed?)"))
                } else {
                    Err(Error::config(format!("CUDA device {i} requested but only {count} present")))
                }
            }
            DeviceChoice::Mps if tch::utils::has_mps() => Ok(Device::Mps),
            DeviceChoice::Mps => Err(Error::config("MPS was requested but is not available on this machine")),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(i) => write!(f, "cuda:{i}"),
            DeviceChoice::Mps => f.write_str("mps"),
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(0)),
            "mps" => Ok(DeviceChoice::Mps),
            _ => lower
                .strip_prefix("cuda:")
                .and_then(|i| i.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| Error::config(format!("unknown device '{s}'; use auto, cpu, cuda, cuda:N or mps"))),
        }
    }
}

impl Serialize for DeviceChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Short description of a device for logs and metadata.
pub fn describe(device: Device) -> String {
    match device {
        Device::Cpu => format!("cpu ({} threads)", tch::get_num_threads()),
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".to_string(),
        Device::Vulkan => "vulkan".to_string(),
    }
}

/// A device this process can run models on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    /// How to ask for it: `cpu`, `cuda:N` or `mps`.
    pub id: String,
    /// The processor's or GPU's model name.
    pub name: String,
    /// Bytes of memory (system memory for the CPU), when known.
    pub total_memory: Option<u64>,
    /// CPU only: logical processors this process may run on.
    pub threads: Option<usize>,
    /// CPU only: libtorch's intra-op thread count (what training and TorchScript use).
    pub torch_threads: Option<usize>,
}

/// A device's memory at the moment of asking, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryInfo {
    pub total: u64,
    /// What can still be allocated: `MemAvailable` for the CPU, free memory for a GPU.
    pub free: u64,
}

/// The CPU, then every CUDA device libtorch can use, then MPS where present.
pub fn available_devices() -> Vec<DeviceInfo> {
    let cpu_name = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| cpu_model(&t)).unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let mut devices = vec![DeviceInfo {
        id: "cpu".into(),
        name: cpu_name,
        total_memory: system_memory().ok().map(|m| m.total),
        threads: std::thread::available_parallelism().ok().map(usize::from),
        torch_threads: usize::try_from(tch::get_num_threads()).ok(),
    }];
    let gpu = |id: String, name: String, total_memory: Option<u64>| DeviceInfo { id, name, total_memory, threads: None, torch_threads: None };
    if tch::Cuda::is_available() {
        for i in 0..tch::Cuda::device_count() as usize {
            let (name, total_memory) = match cuda::properties(i) {
                Ok((name, total)) => (name, Some(total)),
                Err(e) => (format!("CUDA device {i} ({e})"), None),
            };
            devices.push(gpu(DeviceChoice::Cuda(i).to_string(), name, total_memory));
        }
    }
    if tch::utils::has_mps() {
        devices.push(gpu("mps".into(), "Apple GPU (MPS)".into(), None));
    }
    devices
}

/// Total and free memory of `device` now. On CUDA this makes the device's
/// context current, as PyTorch's `torch.cuda.mem_get_info` does.
pub fn memory_info(device: DeviceChoice) -> Result<MemoryInfo> {
    match device.resolve()? {
        Device::Cpu => system_memory(),
        Device::Cuda(i) => cuda::memory(i).map_err(|e| Error::Model(format!("memory of cuda:{i}: {e}"))),
        other => Err(Error::config(format!("the memory of {} cannot be queried", describe(other)))),
    }
}

/// Memory in use, in bytes, as far as it can be measured without allocator
/// hooks: tch exposes none of libtorch's caching-allocator statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemorySnapshot {
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// CPU: this process's resident memory (`VmRSS`), which includes libtorch's
    /// CPU tensors. CUDA: memory in use on the whole device (total − free from
    /// `cudaMemGetInfo`), so other processes count too, and so does what
    /// libtorch's caching allocator holds but no tensor uses.
    pub current: u64,
    /// CPU: the kernel's peak resident memory of this process (`VmHWM`). CUDA:
    /// the largest `current` any snapshot of this process has seen, so a peak
    /// between two snapshots is missed.
    pub peak: u64,
    pub total: u64,
}

/// Largest device-wide use seen by [`memory_snapshot`], per CUDA device.
static CUDA_PEAKS: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];

/// How much memory this process uses on `device` now, and at most so far.
pub fn memory_snapshot(device: Device) -> Result<MemorySnapshot> {
    match device {
        Device::Cpu => {
            let path = "/proc/self/status";
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let (current, peak) = parse_status(&text).ok_or_else(|| Error::data(path, "no VmRSS and VmHWM lines"))?;
            Ok(MemorySnapshot { device: "cpu".into(), current, peak, total: system_memory()?.total })
        }
        Device::Cuda(i) => {
            let m = cuda::memory(i).map_err(|e| Error::Model(format!("memory of cuda:{i}: {e}")))?;
            let current = m.total - m.free;
            let peak = CUDA_PEAKS.get(i).map_or(current, |p| p.fetch_max(current, Ordering::Relaxed).max(current));
            Ok(MemorySnapshot { device: format!("cuda:{i}"), current, peak, total: m.total })
        }
        other => Err(Error::config(format!("the memory of {} cannot be queried", describe(other)))),
    }
}

/// Logs the process's memory, and `device`'s when it is a GPU, at a phase
/// boundary (`training setup`, `epoch end`, `inference session`). A failed
/// query is logged too: memory reporting never stops the work.
pub fn log_memory(phase: &str, device: Device) {
    let devices = if device == Device::Cpu { vec![Device::Cpu] } else { vec![Device::Cpu, device] };
    for d in devices {
        match memory_snapshot(d) {
            Ok(m) => tracing::info!(phase, device = %m.device, current_bytes = m.current, peak_bytes = m.peak, "memory"),
            Err(e) => tracing::debug!(phase, device = %describe(d), error = %e, "memory not measured"),
        }
    }
}

/// `VmRSS` and `VmHWM` of `/proc/self/status`, in bytes.
fn parse_status(text: &str) -> Option<(u64, u64)> {
    Some((kib_field(text, "VmRSS")?, kib_field(text, "VmHWM")?))
}

/// A `Key:   123 kB` line of a `/proc` file, in bytes.
fn kib_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.split(':').next() == Some(key))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

pub fn system_memory() -> Result<MemoryInfo> {
    let path = "/proc/meminfo";
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_meminfo(&text).ok_or_else(|| Error::data(path, "no MemTotal and MemAvailable lines"))
}

fn parse_meminfo(text: &str) -> Option<MemoryInfo> {
    Some(MemoryInfo { total: kib_field(text, "MemTotal")?, free: kib_field(text, "MemAvailable")? })
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    let line = cpuinfo.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string()).filter(|name| !name.is_empty())
}

/// The CUDA runtime that libtorch uses, opened by name: tch exposes neither
/// device names nor memory. Only called once libtorch reports CUDA, so CPU
/// builds never load it.
mod cuda {
    use once_cell::sync::Lazy;
    use std::ffi::{c_char, c_int, c_void, CStr};

    type Status = c_int;

    struct Runtime {
        get_device: unsafe extern "C" fn(*mut c_int) -> Status,
        set_device: unsafe extern "C" fn(c_int) -> Status,
        mem_get_info: unsafe extern "C" fn(*mut usize, *mut usize) -> Status,
        get_device_properties: unsafe extern "C" fn(*mut c_void, c_int) -> Status,
        get_error_string: unsafe extern "C" fn(Status) -> *const c_char,
    }

    /// Newest first; a runtime libtorch has already loaded is preferred.
    const LIBRARIES: [&CStr; 3] = [c"libcudart.so.13", c"libcudart.so.12", c"libcudart.so"];

    /// `cudaDeviceProp` is larger in every CUDA release; its head has stayed
    /// `char name[256]; cudaUUID_t uuid; char luid[8]; unsigned luidDeviceNodeMask; size_t totalGlobalMem`.
    const PROPERTIES_BYTES: usize = 4096;
    const NAME_BYTES: usize = 256;
    const TOTAL_MEMORY_OFFSET: usize = 288;

    static RUNTIME: Lazy<Result<Runtime, String>> = Lazy::new(load);

    fn load() -> Result<Runtime, String> {
        for flags in [libc::RTLD_NOW | libc::RTLD_NOLOAD, libc::RTLD_NOW] {
            for name in LIBRARIES {
                // SAFETY: loading the CUDA runtime runs only its own initialisers.
                let handle = unsafe { libc::dlopen(name.as_ptr(), flags) };
                if !handle.is_null() {
                    // SAFETY: the handle is live (never closed) and the types match the CUDA runtime API.
                    return unsafe {
                        Ok(Runtime {
                            get_device: symbol(handle, c"cudaGetDevice")?,
                            set_device: symbol(handle, c"cudaSetDevice")?,
                            mem_get_info: symbol(handle, c"cudaMemGetInfo")?,
                            get_device_properties: symbol(handle, c"cudaGetDeviceProperties_v2")
                                .or_else(|_| symbol(handle, c"cudaGetDeviceProperties"))?,
                            get_error_string: symbol(handle, c"cudaGetErrorString")?,
                        })
                    };
                }
            }
        }
        Err("the CUDA runtime (libcudart) could not be loaded".to_string())
    }

    /// # Safety
    /// `T` must be the function pointer type of `name`.
    unsafe fn symbol<T: Copy>(handle: *mut c_void, name: &CStr) -> Result<T, String> {
        let ptr = unsafe { libc::dlsym(handle, name.as_ptr()) };
        if ptr.is_null() {
            return Err(format!("libcudart has no {}", name.to_string_lossy()));
        }
        Ok(unsafe { std::mem::transmute_copy(&ptr) })
    }

    fn check(rt: &Runtime, status: Status) -> Result<(), String> {
        if status == 0 {
            return Ok(());
        }
        // SAFETY: cudaGetErrorString returns a static string for any code.
        let text = unsafe { CStr::from_ptr((rt.get_error_string)(status)) };
        Err(format!("{} (CUDA error {status})", text.to_string_lossy()))
    }

    fn runtime() -> Result<&'static Runtime, String> {
        RUNTIME.as_ref().map_err(Clone::clone)
    }

    fn device_index(index: usize) -> Result<c_int, String> {
        c_int::try_from(index).map_err(|_| format!("no CUDA device {index}"))
    }

    /// The name and total memory of device `index`.
    pub fn properties(index: usize) -> Result<(String, u64), String> {
        let rt = runtime()?;
        let mut props = vec![0u64; PROPERTIES_BYTES / 8];
        // SAFETY: the buffer is larger than any cudaDeviceProp and 8-byte aligned.
        check(rt, unsafe { (rt.get_device_properties)(props.as_mut_ptr().cast(), device_index(index)?) })?;
        let bytes: Vec<u8> = props.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let name = CStr::from_bytes_until_nul(&bytes[..NAME_BYTES]).map_err(|_| "device name is not terminated".to_string())?;
        let total = props[TOTAL_MEMORY_OFFSET / 8];
        Ok((name.to_string_lossy().into_owned(), total))
    }

    /// Free and total memory of device `index`, leaving the thread's current device as it was.
    pub fn memory(index: usize) -> Result<super::MemoryInfo, String> {
        let rt = runtime()?;
        let (mut previous, mut free, mut total) = (0, 0, 0);
        // SAFETY: plain CUDA runtime calls with valid out-pointers.
        unsafe {
            check(rt, (rt.get_device)(&mut previous))?;
            check(rt, (rt.set_device)(device_index(index)?))?;
            let queried = check(rt, (rt.mem_get_info)(&mut free, &mut total));
            check(rt, (rt.set_device)(previous))?;
            queried?;
        }
        Ok(super::MemoryInfo { total: total as u64, free: free as u64 })
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn the_runtime_answers_or_explains_why_not() {
            // Without a GPU (or libcudart) the error must still say what failed.
            match super::memory(0) {
                Ok(m) => assert!(m.free <= m.total && m.total > 0),
                Err(e) => assert!(e.contains("CUDA") || e.contains("libcudart"), "{e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for (text, choice) in [("auto", DeviceChoice::Auto), ("CPU", DeviceChoice::Cpu), ("cuda", DeviceChoice::Cuda(0)), ("cuda:2", DeviceChoice::Cuda(2)), ("mps", DeviceChoice::Mps)] {
            assert_eq!(text.parse::<DeviceChoice>().unwrap(), choice);
        }
        assert_eq!(DeviceChoice::Cuda(1).to_string(), "cuda:1");
        assert!("tpu".parse::<DeviceChoice>().unwrap_err().to_string().contains("unknown device 'tpu'"));
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
    }

    #[test]
    fn cpu_always_resolves_and_absent_cuda_is_a_clear_error() {
        assert_eq!(DeviceChoice::Cpu.resolve().unwrap(), Device::Cpu);
        if !tch::Cuda::is_available() {
            let err = DeviceChoice::Cuda(0).resolve().unwrap_err().to_string();
            assert!(err.contains("no CUDA device"), "{err}");
            assert_eq!(DeviceChoice::Auto.resolve().unwrap(), Device::Cpu);
        }
    }

    #[test]
    fn meminfo_and_cpuinfo_are_parsed() {
        let meminfo = "MemTotal:       16318128 kB\nMemFree:         1000 kB\nMemAvailable:   8000000 kB\n";
        assert_eq!(parse_meminfo(meminfo), Some(MemoryInfo { total: 16318128 * 1024, free: 8000000 * 1024 }));
        assert_eq!(parse_meminfo("MemTotal: 5 kB\n"), None);
        assert_eq!(cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n").as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor\t: 0\n"), None);
    }

    #[test]
    fn status_is_parsed() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(parse_status(status), Some((1024 * 1024, 2048 * 1024)));
        assert_eq!(parse_status("VmRSS: 1 kB\n"), None);
    }

    #[test]
    fn cpu_snapshots_grow_with_allocations_and_the_peak_stays() {
        let before = memory_snapshot(Device::Cpu).unwrap();
        assert!(before.current > 0 && before.current <= before.peak && before.peak < before.total, "{before:?}");
        let big = tch::Tensor::ones([64 << 20], (tch::Kind::Uint8, Device::Cpu));
        let during = memory_snapshot(Device::Cpu).unwrap();
        drop(big);
        let after = memory_snapshot(Device::Cpu).unwrap();
        // Other tests run in parallel threads, so only lower bounds hold; the
        // kernel's RSS counters are per-CPU approximations, within a page batch or so.
        assert!(during.peak >= before.current + (60 << 20), "{before:?} {during:?}");
        assert!(after.peak + (1 << 20) >= during.peak, "{before:?} {during:?} {after:?}");
        log_memory("test", Device::Cpu);
    }

    #[test]
    fn absent_or_unmeasurable_devices_are_clear_errors() {
        assert!(memory_snapshot(Device::Mps).unwrap_err().to_string().contains("cannot be queried"));
        if !tch::Cuda::is_available() {
            let err = memory_snapshot(Device::Cuda(0)).unwrap_err().to_string();
            assert!(err.contains("cuda:0") && (err.contains("CUDA") || err.contains("libcudart")), "{err}");
        }
    }

    #[test]
    fn the_cpu_is_always_listed_with_its_memory() {
        let devices = available_devices();
        assert_eq!(devices[0].id, "cpu");
        assert!(devices[0].threads.unwrap() >= 1 && devices[0].torch_threads.unwrap() >= 1);
        assert!(devices[1..].iter().all(|d| d.threads.is_none()));
        let memory = memory_info(DeviceChoice::Cpu).unwrap();
        assert!(memory.free > 0 && memory.free <= memory.total && devices[0].total_memory == Some(memory.total));
        if !tch::Cuda::is_available() {
            assert!(devices.iter().all(|d| !d.id.starts_with("cuda")));
            assert!(memory_info(DeviceChoice::Cuda(0)).unwrap_err().to_string().contains("no CUDA device"));
        }
    }
}
