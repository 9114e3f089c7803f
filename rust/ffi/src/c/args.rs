//! C conversions of the bridge's argument and result kinds, one function per
//! kind (named after it); every error names the parameter.
#![allow(clippy::missing_safety_doc)]

use super::{DlcBuffer, DlcConstBuffer, DlcEpochListener, DlcTileLayout};
use crate::api::{self, Bytes, BytesMut, EpochSink, ImageSource};
use crate::error::{ErrorClass, FfiError, FfiResult};
use crate::handles::{self, Object};
use serde::de::DeserializeOwned;
use std::ffi::{c_char, c_int, CStr, CString};
use std::path::PathBuf;
use std::sync::Arc;

fn null(name: &str) -> FfiError {
    FfiError::invalid_argument(format!("{name} is NULL"))
}

/// A C string argument that may be NULL.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string alive for the call.
pub unsafe fn opt_str(ptr: *const c_char, name: &str) -> FfiResult<Option<String>> {
    if ptr.is_null() {
        return Ok(None);
    }
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map(|s| Some(s.to_string())).map_err(|e| FfiError::invalid_argument(format!("{name} is not valid UTF-8: {e}")))
}

pub unsafe fn str(ptr: *const c_char, name: &str) -> FfiResult<String> {
    unsafe { opt_str(ptr, name) }?.ok_or_else(|| null(name))
}

pub unsafe fn opt_path(ptr: *const c_char, name: &str) -> FfiResult<Option<PathBuf>> {
    Ok(unsafe { opt_str(ptr, name) }?.map(PathBuf::from))
}

pub unsafe fn path(ptr: *const c_char, name: &str) -> FfiResult<PathBuf> {
    unsafe { str(ptr, name) }.map(PathBuf::from)
}

/// A JSON argument; NULL means all defaults.
pub unsafe fn json<T: DeserializeOwned + Default>(ptr: *const c_char, name: &str) -> FfiResult<T> {
    match unsafe { opt_str(ptr, name) }? {
        None => Ok(T::default()),
        Some(text) => api::parse_json(&text, name),
    }
}

/// A JSON argument that must be given.
pub unsafe fn required_json<T: DeserializeOwned>(ptr: *const c_char, name: &str) -> FfiResult<T> {
    api::parse_json(&unsafe { str(ptr, name) }?, name)
}

pub unsafe fn size(value: usize, _name: &str) -> FfiResult<usize> {
    Ok(value)
}

pub unsafe fn u64(value: u64, _name: &str) -> FfiResult<u64> {
    Ok(value)
}

pub unsafe fn bool(value: bool, _name: &str) -> FfiResult<bool> {
    Ok(value)
}

/// The handle number behind an opaque pointer.
pub fn id<P>(ptr: *const P) -> u64 {
    ptr as usize as u64
}

pub unsafe fn handle<T: Object, P>(ptr: *const P, name: &str) -> FfiResult<Arc<T>> {
    if ptr.is_null() {
        return Err(null(name));
    }
    handles::get(id(ptr))
}

pub unsafe fn opt_handle<T: Object, P>(ptr: *const P) -> FfiResult<Option<Arc<T>>> {
    if ptr.is_null() {
        return Ok(None);
    }
    handles::get(id(ptr)).map(Some)
}

/// A new handle as the opaque pointer C holds.
pub fn new_handle<T: Object, P>(object: Arc<T>) -> *mut P {
    std::ptr::without_provenance_mut(handles::insert(object) as usize)
}

/// Bytes in a buffer, if a slice can be that long.
fn checked_len(len: usize, name: &str) -> FfiResult<usize> {
    if len > isize::MAX as usize {
        return Err(FfiError::invalid_argument(format!("{name}: length {len} is too large")));
    }
    Ok(len)
}

pub unsafe fn bytes(buffer: DlcConstBuffer, name: &str) -> FfiResult<Bytes> {
    if buffer.data.is_null() {
        return Err(FfiError::invalid_argument(format!("{name}.data is NULL")));
    }
    Ok(unsafe { Bytes::new(buffer.data.cast(), checked_len(buffer.len, name)?) })
}

pub unsafe fn opt_bytes_mut(buffer: DlcBuffer, name: &str) -> FfiResult<Option<BytesMut>> {
    if buffer.data.is_null() {
        return Ok(None);
    }
    Ok(Some(unsafe { BytesMut::new(buffer.data.cast(), checked_len(buffer.len, name)?) }))
}

pub unsafe fn layout(layout: *const DlcTileLayout, name: &str) -> FfiResult<api::TileLayout> {
    let l = unsafe { layout.as_ref() }.ok_or_else(|| null(name))?;
    api::tile_layout([l.count, l.channels, l.height, l.width], i64::from(l.order), i64::from(l.dtype))
}

pub unsafe fn probability_format(value: c_int, name: &str) -> FfiResult<api::ProbabilityFormat> {
    api::probability_format(i64::from(value), name)
}

/// C applies to image files only.
pub unsafe fn image(path: *const c_char, name: &str) -> FfiResult<ImageSource> {
    Ok(ImageSource::file(unsafe { self::path(path, name) }?))
}

pub unsafe fn epochs(listener: *const DlcEpochListener, _name: &str) -> FfiResult<EpochSink> {
    let Some(&DlcEpochListener { on_epoch: Some(callback), user_data }) = (unsafe { listener.as_ref() }) else {
        return Ok(EpochSink(None));
    };
    Ok(EpochSink(Some(Box::new(move |json: &str| {
        // serde_json escapes NUL, so the record has none.
        let json = CString::new(json).expect("JSON has no NUL");
        unsafe { callback(json.as_ptr(), user_data) };
        true
    }))))
}

/// The required `out` pointer, reset to its empty value.
pub unsafe fn required_out<'a, T: Empty>(out: *mut T) -> FfiResult<&'a mut T> {
    let out = unsafe { out.as_mut() }.ok_or_else(|| null("out"))?;
    *out = T::empty();
    Ok(out)
}

/// An `out` pointer the caller may leave NULL, reset to its empty value.
pub unsafe fn optional_out<'a, T: Empty>(out: *mut T) -> Option<&'a mut T> {
    unsafe { required_out(out) }.ok()
}

/// What an `out` slot holds after a failed call.
pub trait Empty {
    fn empty() -> Self;
}

impl<T> Empty for *mut T {
    fn empty() -> Self {
        std::ptr::null_mut()
    }
}

impl Empty for c_int {
    fn empty() -> Self {
        0
    }
}

impl Empty for bool {
    fn empty() -> Self {
        false
    }
}

/// `value` as a JSON string the caller frees with `dlc_string_free`.
pub fn json_string(value: &impl serde::Serialize) -> FfiResult<*mut c_char> {
    let text = serde_json::to_string(value).map_err(|e| FfiError::new(ErrorClass::Engine, format!("cannot encode JSON: {e}")))?;
    // serde_json escapes NUL, so the string has none.
    Ok(CString::new(text).expect("JSON has no NUL").into_raw())
}

/// A string the caller frees with `dlc_string_free`.
pub fn c_string(value: String) -> FfiResult<*mut c_char> {
    CString::new(value).map(CString::into_raw).map_err(|_| FfiError::new(ErrorClass::Engine, "a result string holds a NUL"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_non_utf8_arguments_are_named() {
        let err = unsafe { str(std::ptr::null(), "model_dir") }.unwrap_err();
        assert_eq!((err.class, err.message.as_str()), (ErrorClass::InvalidArgument, "model_dir is NULL"));
        assert_eq!(unsafe { opt_str(std::ptr::null(), "x") }.unwrap(), None);
        let bad = c"\xff\xfe";
        let err = unsafe { str(bad.as_ptr(), "image_path") }.unwrap_err();
        assert!(err.message.starts_with("image_path is not valid UTF-8"), "{}", err.message);
        let err = unsafe { layout(std::ptr::null(), "layout") }.unwrap_err();
        assert_eq!(err.message, "layout is NULL");
        assert!(unsafe { required_out(std::ptr::null_mut::<*mut u8>()) }.is_err());
    }

    #[test]
    fn json_arguments_default_when_null_and_name_the_parameter_when_bad() {
        let options: dlclassifier::inference::InferenceOptions = unsafe { json(std::ptr::null(), "options") }.unwrap();
        assert_eq!(options, Default::default());
        let err = unsafe { json::<dlclassifier::inference::InferenceOptions>(c"{\"backend\":\"tpu\"}".as_ptr(), "options") }.unwrap_err();
        assert_eq!(err.class, ErrorClass::InvalidArgument);
        assert!(err.message.starts_with("options: backend: unknown variant `tpu`"), "{}", err.message);
    }

    #[test]
    fn out_parameters_are_reset_and_strings_round_trip() {
        let mut slot = 5usize as *mut c_char;
        let out = unsafe { required_out(&mut slot) }.unwrap();
        *out = json_string(&serde_json::json!({"a": "b\u{0}"})).unwrap();
        assert_eq!(unsafe { CStr::from_ptr(slot) }.to_str().unwrap(), r#"{"a":"b\u0000"}"#);
        unsafe { super::super::dlc_string_free(slot) };
    }
}
