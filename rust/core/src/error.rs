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
    /// A backend (ONNX Runtime, TorchScript) that failed running a loaded model.
    #[error("{}: {message}", path.display())]
    Backend { path: PathBuf, message: String },
    /// Memory ran out on the device; the message says where.
    #[error("out of memory: {0}; try a smaller batch size or tile size")]
    OutOfMemory(String),
    /// A job stopped at the caller's request.
    #[error("cancelled")]
    Cancelled,
    /// A wait (for a device-memory reservation) that ran out of time.
    #[error("timed out: {0}")]
    Timeout(String),
}

/// The kinds of failure every surface tells apart: the Java exception type,
/// the C status code and the CLI's exit code each follow from the class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// A bad argument or option.
    InvalidArgument,
    /// A closed or unknown handle, or a call at the wrong time.
    InvalidState,
    /// A file that cannot be read, written or understood.
    Io,
    /// A failure inside the engine (libtorch, ONNX Runtime, the model).
    Engine,
    /// Memory ran out; a smaller batch or tile may fit.
    OutOfMemory,
    /// A job stopped at the caller's request.
    Cancelled,
    /// A wait that ran out of time.
    Timeout,
    /// A bug: a panic caught at a boundary.
    Panic,
}

impl ErrorClass {
    /// Every class, in the order of their codes.
    pub const ALL: [ErrorClass; 8] = [
        ErrorClass::InvalidArgument,
        ErrorClass::InvalidState,
        ErrorClass::Io,
        ErrorClass::Engine,
        ErrorClass::Cancelled,
        ErrorClass::Panic,
        ErrorClass::Timeout,
        ErrorClass::OutOfMemory,
    ];

    /// The number of the class in the C API (`DlcStatus`) and as the CLI's
    /// exit code; 0 is success.
    pub fn code(self) -> u8 {
        match self {
            ErrorClass::InvalidArgument => 1,
            ErrorClass::InvalidState => 2,
            ErrorClass::Io => 3,
            ErrorClass::Engine => 4,
            ErrorClass::Cancelled => 5,
            ErrorClass::Panic => 6,
            ErrorClass::Timeout => 7,
            ErrorClass::OutOfMemory => 8,
        }
    }
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

    /// A backend's failure running the model at `path`; out of memory when
    /// the backend's message says so.
    pub fn backend(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        let message = message.into();
        if is_out_of_memory(&message) {
            return Error::OutOfMemory(message);
        }
        Error::Backend { path: path.as_ref().to_path_buf(), message }
    }

    /// The class this error is reported as.
    pub fn class(&self) -> ErrorClass {
        if self.is_out_of_memory() {
            return ErrorClass::OutOfMemory;
        }
        match self {
            Error::Config(_) => ErrorClass::InvalidArgument,
            Error::Data { .. } | Error::Io { .. } => ErrorClass::Io,
            Error::OutOfMemory(_) => ErrorClass::OutOfMemory,
            Error::Torch(_) | Error::Model(_) | Error::Backend { .. } => ErrorClass::Engine,
            Error::Cancelled => ErrorClass::Cancelled,
            Error::Timeout(_) => ErrorClass::Timeout,
        }
    }

    /// Whether this error, wherever it arose, means memory ran out.
    pub fn is_out_of_memory(&self) -> bool {
        match self {
            Error::OutOfMemory(_) => true,
            Error::Torch(e) => is_out_of_memory(&e.to_string()),
            Error::Backend { message, .. } | Error::Model(message) => is_out_of_memory(message),
            _ => false,
        }
    }

    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }
}

/// How libtorch (CPU and CUDA allocators) and ONNX Runtime word an allocation failure.
fn is_out_of_memory(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    ["out of memory", "failed to allocate", "bad_alloc", "cudaerrormemoryallocation"].iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_failures_are_out_of_memory_whatever_the_backend_says() {
        assert!(matches!(Error::backend("m.onnx", "Failed to allocate memory for requested buffer of size 1"), Error::OutOfMemory(_)));
        assert!(matches!(Error::backend("m.pt", "CUDA out of memory. Tried to allocate 2.00 GiB"), Error::OutOfMemory(_)));
        assert!(matches!(Error::backend("m.onnx", "Non-zero status code returned while running Conv node"), Error::Backend { .. }));
        assert!(Error::Model("std::bad_alloc".into()).is_out_of_memory());
        assert!(!Error::config("tile size").is_out_of_memory());
        assert!(Error::OutOfMemory("x".into()).to_string().contains("smaller batch size"));
    }
}
