//! Compute-device selection: `auto` prefers CUDA, then MPS, then the CPU.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
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
}
