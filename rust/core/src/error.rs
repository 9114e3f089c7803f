//! The one error type of the core library; the FFI layers map its variants to
//! exceptions and status codes.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A training-data or model file that exists but is wrong (size, class, format...).
    #[error("{}: {message}", path.display())]
    Data { path: PathBuf, message: String },
    /// A file that cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An option or combination of options that cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A failure inside libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A model definition or weight file that does not fit.
    #[error("model: {0}")]
    Model(String),
    /// A job stopped at the caller's request.
    #[error("cancelled")]
    Cancelled,
    /// A wait (for a device-memory reservation) that ran out of time.
    #[error("timed out: {0}")]
    Timeout(String),
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A data error about `path`.
    pub fn data(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Data { path: path.as_ref().to_path_buf(), message: message.into() }
    }

    /// An I/O error about `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().to_path_buf(), source }
    }

    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }
}
