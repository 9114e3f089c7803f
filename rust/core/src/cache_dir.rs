//! The per-user folder for downloaded dependencies and unpacked model bundles.

use std::path::PathBuf;

/// `DLC_CACHE`, else `~/.cache/dlclassifier`; `None` without either variable.
pub fn cache_root() -> Option<PathBuf> {
    std::env::var_os("DLC_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/dlclassifier")))
}
