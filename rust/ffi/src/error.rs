//! Errors on their way out through JNI or C. The class comes from the core's
//! one taxonomy ([`ErrorClass`]) and decides both the Java exception type and
//! the C status code, so both report the same error the same way.

use dlclassifier::Error;
pub use dlclassifier::ErrorClass;
use std::any::Any;
use std::fmt;

/// An error crossing the boundary: its class and the full message,
/// including every cause in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfiError {
    pub class: ErrorClass,
    pub message: String,
}

impl FfiError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        FfiError { class, message: message.into() }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::InvalidArgument, message)
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::InvalidState, message)
    }

    /// A caught panic, with its message when it carried one.
    pub fn from_panic(payload: &(dyn Any + Send)) -> Self {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        Self::new(ErrorClass::Panic, format!("internal error in dlclassifier (please report): {detail}"))
    }
}

impl fmt::Display for FfiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FfiError {}

/// `error`, then each of its causes, joined by ": ".
fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

impl From<Error> for FfiError {
    fn from(error: Error) -> Self {
        FfiError::new(error.class(), chain(&error))
    }
}

impl From<serde_json::Error> for FfiError {
    fn from(error: serde_json::Error) -> Self {
        FfiError::invalid_argument(format!("invalid JSON: {error}"))
    }
}

pub type FfiResult<T> = std::result::Result<T, FfiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_keep_their_causes_and_get_a_class() {
        let io = Error::io("/no/such/model", std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        let e = FfiError::from(io);
        assert_eq!(e.class, ErrorClass::Io);
        assert!(e.message.contains("/no/such/model") && e.message.contains("gone"), "{}", e.message);
        assert_eq!(FfiError::from(Error::config("bad")).class, ErrorClass::InvalidArgument);
        assert_eq!(FfiError::from(Error::Cancelled).class, ErrorClass::Cancelled);
        assert_eq!(FfiError::from(Error::Timeout("x".into())).class, ErrorClass::Timeout);
        assert_eq!(FfiError::from(Error::Model("x".into())).class, ErrorClass::Engine);
        assert_eq!(FfiError::from(Error::backend("m.onnx", "run failed")).class, ErrorClass::Engine);
        assert_eq!(FfiError::from(Error::backend("m.onnx", "Failed to allocate memory")).class, ErrorClass::OutOfMemory);
    }

    #[test]
    fn panics_of_either_payload_type_are_described() {
        let caught = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        let e = FfiError::from_panic(caught.as_ref());
        assert_eq!(e.class, ErrorClass::Panic);
        assert!(e.message.ends_with("boom 1"), "{}", e.message);
    }
}
