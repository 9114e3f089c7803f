//! What callers may ask for. Every size a caller controls is checked here,
//! once, with overflow-safe arithmetic, against the engine's fixed limits
//! and this machine's memory, so that a request too large is a typed error
//! that names the value and what fits, never an aborted allocation.

use crate::device::system_memory;
use crate::models::OUTPUT_STRIDE;
use crate::{Error, Result};
use std::sync::OnceLock;

/// The largest tile side: a 3-channel float batch of 8 such tiles is 6 GiB
/// before the network's activations; larger tiles give no better context.
pub const MAX_TILE_SIZE: usize = 8192;

/// The most samples one training epoch may draw (16 Mi); an epoch of
/// 512-pixel tiles that long takes days on a GPU.
pub const MAX_SAMPLES_PER_EPOCH: usize = 1 << 24;

/// The most tiles one model call may take.
pub const MAX_BATCH_SIZE: usize = 4096;

/// `bytes` in GiB for messages.
pub fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// The product of `factors`, or `None` when it overflows.
pub fn product(factors: &[usize]) -> Option<u64> {
    factors.iter().try_fold(1u64, |n, &f| n.checked_mul(u64::try_from(f).ok()?))
}

/// Refuses a working set of `bytes` (`None`: too large to count) that
/// cannot fit in this machine's memory; `what` says what needs it.
pub fn check_memory(what: &str, bytes: Option<u64>) -> Result<()> {
    // Read once: tile calls check on every batch. Without /proc/meminfo only
    // overflow is refused.
    static TOTAL: OnceLock<u64> = OnceLock::new();
    let total = *TOTAL.get_or_init(|| system_memory().map(|m| m.total).unwrap_or(u64::MAX));
    match bytes {
        Some(b) if b <= total => Ok(()),
        Some(b) => Err(Error::OutOfMemory(format!("{what} needs {} but this machine has {} of memory", gib(b), gib(total)))),
        None => Err(Error::OutOfMemory(format!("{what} needs more memory than can be counted"))),
    }
}

/// A tile side that models take: a positive multiple of the models' stride
/// up to [`MAX_TILE_SIZE`], or exactly the model's fixed input size.
pub fn check_tile_size(name: &str, tile: usize, fixed: Option<usize>) -> Result<()> {
    let stride = OUTPUT_STRIDE as usize;
    if fixed == Some(tile) {
        return Ok(());
    }
    if let Some(fixed) = fixed {
        return Err(Error::config(format!("{name} must be {fixed}, the model's fixed input size, got {tile}")));
    }
    if tile == 0 || !tile.is_multiple_of(stride) || tile > MAX_TILE_SIZE {
        return Err(Error::config(format!("{name} must be a positive multiple of {stride} up to {MAX_TILE_SIZE}, got {tile}")));
    }
    Ok(())
}

/// A count the caller chose, from 1 to `max`.
pub fn check_count(name: &str, value: usize, max: usize) -> Result<()> {
    if value == 0 || value > max {
        return Err(Error::config(format!("{name} must be from 1 to {max}, got {value}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorClass;

    #[test]
    fn tile_sizes_are_multiples_of_the_stride_within_the_limit_or_the_fixed_size() {
        check_tile_size("tile_size", 512, None).unwrap();
        check_tile_size("tile_size", 100, Some(100)).unwrap();
        let err = |tile, fixed| check_tile_size("tile_size", tile, fixed).unwrap_err().to_string();
        assert_eq!(err(100, None), "invalid configuration: tile_size must be a positive multiple of 32 up to 8192, got 100");
        assert!(err(1 << 20, None).contains("up to 8192, got 1048576"));
        assert!(err(0, None).contains("got 0"));
        assert!(err(512, Some(224)).contains("must be 224, the model's fixed input size"));
    }

    #[test]
    fn working_sets_beyond_memory_or_counting_are_out_of_memory() {
        check_memory("a tile", product(&[4, 3, 512, 512, 4])).unwrap();
        let e = check_memory("a region", product(&[3, 1 << 20, 1 << 20, 4])).unwrap_err();
        assert_eq!(e.class(), ErrorClass::OutOfMemory);
        assert!(e.to_string().contains("a region needs 12288.00 GiB"), "{e}");
        assert_eq!(product(&[usize::MAX, 2]), None);
        assert!(check_memory("x", None).unwrap_err().to_string().contains("more memory than can be counted"));
    }

    #[test]
    fn counts_are_from_one_to_the_limit() {
        check_count("batch_size", 8, MAX_BATCH_SIZE).unwrap();
        assert_eq!(check_count("samples_per_epoch", 0, 10).unwrap_err().to_string(), "invalid configuration: samples_per_epoch must be from 1 to 10, got 0");
        assert!(check_count("samples_per_epoch", usize::MAX, 10).is_err());
    }
}
