//! The C ABI, declared in `include/dlclassifier.h` (generated from this
//! module by cbindgen). Every fallible function returns a [`DlcStatus`] as
//! `int` and leaves a message for [`dlc_last_error`]; objects are opaque
//! pointers the caller frees; results go to caller-owned buffers, except JSON
//! strings, which the caller releases with [`dlc_string_free`].

mod devices;
mod job;
mod predictor;
mod registry;
mod reservation;
mod training;
mod transfer;
mod whole_image;

use crate::error::{ErrorClass, FfiError, FfiResult};
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The status every fallible function returns (as `int`).
/// cbindgen:rename-all=ScreamingSnakeCase
// cbindgen can only re-case variant names, so the prefix gives `DLC_OK`, not `DLC_STATUS_OK`.
#[allow(clippy::enum_variant_names)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DlcStatus {
    /// Success.
    DlcOk = 0,
    /// A null pointer, a string that is not UTF-8, bad JSON or an option out of range.
    DlcInvalidArgument = 1,
    /// A call at the wrong time.
    DlcInvalidState = 2,
    /// A file or folder that cannot be read, written or understood.
    DlcIo = 3,
    /// A failure inside the engine (libtorch, ONNX Runtime, the model).
    DlcEngine = 4,
    /// The job was cancelled before it produced a result.
    DlcCancelled = 5,
    /// A bug in dlclassifier, caught before it reached the caller; please report it.
    DlcPanic = 6,
    /// A wait (for a device-memory reservation) ran out of time.
    DlcTimeout = 7,
}

fn status(class: ErrorClass) -> DlcStatus {
    match class {
        ErrorClass::InvalidArgument => DlcStatus::DlcInvalidArgument,
        ErrorClass::InvalidState => DlcStatus::DlcInvalidState,
        ErrorClass::Io => DlcStatus::DlcIo,
        ErrorClass::Engine => DlcStatus::DlcEngine,
        ErrorClass::Cancelled => DlcStatus::DlcCancelled,
        ErrorClass::Panic => DlcStatus::DlcPanic,
        ErrorClass::Timeout => DlcStatus::DlcTimeout,
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // A message quoting a path or JSON may hold a NUL; C would cut it there.
    let text = CString::new(message.replace('\0', "\u{fffd}")).expect("NULs replaced");
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = text);
}

/// Runs `body` with panics turned into [`ErrorClass::Panic`] errors.
fn contain<T>(body: impl FnOnce() -> FfiResult<T>) -> FfiResult<T> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let error = FfiError::from_panic(payload.as_ref());
        // Dropping an arbitrary payload may itself panic; leak it instead.
        std::mem::forget(payload);
        Err(error)
    })
}

/// The body of every fallible entry point: clears the last error, runs
/// `body` without letting a panic escape, and turns its outcome into a status.
fn guard(body: impl FnOnce() -> FfiResult<()>) -> c_int {
    set_last_error("");
    match contain(body) {
        Ok(()) => DlcStatus::DlcOk as c_int,
        Err(error) => {
            set_last_error(&error.message);
            status(error.class) as c_int
        }
    }
}

/// The body of a `void` entry point (the `free` functions): nothing can be
/// reported, and the last error is left for the caller to read afterwards.
fn guard_void(body: impl FnOnce()) {
    let result = contain(|| {
        body();
        Ok(())
    });
    if let Err(error) = result {
        tracing::error!(message = %error.message, "panic in a C entry point");
    }
}

/// `ptr` as a reference, or an error naming the parameter.
///
/// # Safety
/// `ptr` is null or points to a live `T` for `'a`.
unsafe fn arg<'a, T>(ptr: *const T, name: &str) -> FfiResult<&'a T> {
    unsafe { ptr.as_ref() }.ok_or_else(|| FfiError::invalid_argument(format!("{name} is NULL")))
}

/// A C string argument that may be null.
///
/// # Safety
/// `ptr` is null or a NUL-terminated string alive for `'a`.
unsafe fn opt_str_arg<'a>(ptr: *const c_char, name: &str) -> FfiResult<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map(Some).map_err(|e| FfiError::invalid_argument(format!("{name} is not valid UTF-8: {e}")))
}

/// A C string argument that must be given.
///
/// # Safety
/// As [`opt_str_arg`].
unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> FfiResult<&'a str> {
    unsafe { opt_str_arg(ptr, name) }?.ok_or_else(|| FfiError::invalid_argument(format!("{name} is NULL")))
}

/// Parses an optional JSON argument; NULL means all defaults.
///
/// # Safety
/// As [`opt_str_arg`].
unsafe fn json_arg<T: DeserializeOwned + Default>(ptr: *const c_char, name: &str) -> FfiResult<T> {
    match unsafe { opt_str_arg(ptr, name) }? {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(text).map_err(|e| FfiError::invalid_argument(format!("{name}: {e}"))),
    }
}

/// An out-parameter the caller may leave NULL; reset to NULL so that a
/// failed call leaves no stale pointer behind.
///
/// # Safety
/// `out` is null or valid for writes.
unsafe fn opt_out_arg<'a, T>(out: *mut *mut T) -> Option<&'a mut *mut T> {
    let out = unsafe { out.as_mut() }?;
    *out = std::ptr::null_mut();
    Some(out)
}

/// An out-parameter that must be given, reset as in [`opt_out_arg`].
///
/// # Safety
/// As [`opt_out_arg`].
unsafe fn out_arg<'a, T>(out: *mut *mut T, name: &str) -> FfiResult<&'a mut *mut T> {
    unsafe { opt_out_arg(out) }.ok_or_else(|| FfiError::invalid_argument(format!("{name} is NULL")))
}

/// `value` as a JSON string the caller frees with [`dlc_string_free`].
fn json_string(value: &impl serde::Serialize) -> FfiResult<*mut c_char> {
    let text = serde_json::to_string(value).map_err(|e| FfiError::new(ErrorClass::Engine, format!("cannot encode JSON: {e}")))?;
    // serde_json escapes NUL, so the string has none.
    Ok(CString::new(text).expect("JSON has no NUL").into_raw())
}

/// The message of the last call on this thread that failed; an empty string
/// when it succeeded. Valid until the next call into this library on the
/// same thread; never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn dlc_last_error() -> *const c_char {
    LAST_ERROR.try_with(|e| e.borrow().as_ptr()).unwrap_or(c"".as_ptr())
}

/// The library version, e.g. "0.1.0". Static; never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn dlc_version() -> *const c_char {
    static VERSION: once_cell::sync::Lazy<CString> =
        once_cell::sync::Lazy::new(|| CString::new(dlclassifier::VERSION).expect("version has no NUL"));
    VERSION.as_ptr()
}

/// Frees a string returned by this library. NULL is ignored.
///
/// # Safety
/// `text` is NULL or a string from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_string_free(text: *mut c_char) {
    if !text.is_null() {
        guard_void(|| drop(unsafe { CString::from_raw(text) }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        unsafe { CStr::from_ptr(dlc_last_error()) }.to_str().unwrap().to_string()
    }

    #[test]
    fn every_error_class_has_its_own_nonzero_status() {
        let classes = [
            ErrorClass::InvalidArgument,
            ErrorClass::InvalidState,
            ErrorClass::Io,
            ErrorClass::Engine,
            ErrorClass::Cancelled,
            ErrorClass::Panic,
            ErrorClass::Timeout,
        ];
        let codes: Vec<c_int> = classes.iter().map(|&c| status(c) as c_int).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(status(FfiError::from(dlclassifier::Error::Cancelled).class), DlcStatus::DlcCancelled);
    }

    #[test]
    fn last_error_is_set_by_a_failure_and_cleared_by_the_next_call() {
        assert_eq!(guard(|| Err(FfiError::invalid_argument("bad\0thing"))), DlcStatus::DlcInvalidArgument as c_int);
        assert_eq!(last_error(), "bad\u{fffd}thing");
        // Frees leave the message for the caller to read after cleaning up.
        unsafe { dlc_string_free(std::ptr::null_mut()) };
        assert_eq!(last_error(), "bad\u{fffd}thing");
        assert_eq!(guard(|| Ok(())), 0);
        assert_eq!(last_error(), "");
    }

    #[test]
    fn the_last_error_is_per_thread() {
        guard(|| Err(FfiError::invalid_state("here")));
        std::thread::spawn(|| assert_eq!(last_error(), "")).join().unwrap();
        assert_eq!(last_error(), "here");
    }

    #[test]
    fn panics_become_a_status_and_a_message() {
        assert_eq!(guard(|| panic!("inner {}", 7)), DlcStatus::DlcPanic as c_int);
        assert!(last_error().ends_with("inner 7"), "{}", last_error());
        guard_void(|| panic!("in a free"));
    }

    #[test]
    fn null_and_non_utf8_arguments_are_named() {
        let err = unsafe { str_arg(std::ptr::null(), "model_dir") }.unwrap_err();
        assert_eq!((err.class, err.message.as_str()), (ErrorClass::InvalidArgument, "model_dir is NULL"));
        assert_eq!(unsafe { opt_str_arg(std::ptr::null(), "x") }.unwrap(), None);
        let bad = c"\xff\xfe";
        let err = unsafe { str_arg(bad.as_ptr(), "image_path") }.unwrap_err();
        assert!(err.message.starts_with("image_path is not valid UTF-8"), "{}", err.message);
        let err = unsafe { arg(std::ptr::null::<u8>(), "layout") }.unwrap_err();
        assert_eq!(err.message, "layout is NULL");
        assert!(unsafe { out_arg(std::ptr::null_mut::<*mut u8>(), "out") }.is_err());
    }

    #[test]
    fn json_arguments_default_when_null_and_name_the_parameter_when_bad() {
        let options: dlclassifier::inference::InferenceOptions = unsafe { json_arg(std::ptr::null(), "options_json") }.unwrap();
        assert_eq!(options, Default::default());
        let err = unsafe { json_arg::<dlclassifier::inference::InferenceOptions>(c"{\"backend\":\"tpu\"}".as_ptr(), "options_json") }
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::InvalidArgument);
        assert!(err.message.starts_with("options_json: unknown variant `tpu`"), "{}", err.message);
    }

    #[test]
    fn out_parameters_are_reset_and_strings_round_trip() {
        let mut slot = 5usize as *mut c_char;
        let out = unsafe { out_arg(&mut slot, "out_json") }.unwrap();
        *out = json_string(&serde_json::json!({"a": "b\u{0}"})).unwrap();
        assert_eq!(unsafe { CStr::from_ptr(slot) }.to_str().unwrap(), r#"{"a":"b\u0000"}"#);
        unsafe { dlc_string_free(slot) };
        let version = unsafe { CStr::from_ptr(dlc_version()) }.to_str().unwrap();
        assert_eq!(version, dlclassifier::VERSION);
    }
}
