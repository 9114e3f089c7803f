//! C conversions: each parameter type to its wire value (`api::kinds`
//! decodes that), the epoch listener, and results to `out` pointers.
#![allow(clippy::missing_safety_doc)]

use super::{DlcBuffer, DlcConstBuffer, DlcEpochListener, DlcJob, DlcPredictor, DlcReservation, DlcTileLayout};
use crate::api::kinds::Region;
use crate::api::EpochSink;
use crate::error::{ErrorClass, FfiError, FfiResult};
use crate::handles::{self, Object};
use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::Arc;

/// A C parameter as the wire value its kind decodes (see `api::kinds`).
pub trait Wire {
    type Value;
    /// # Safety
    /// Pointers are NULL or valid for the call, strings NUL-terminated.
    unsafe fn wire(self, name: &str) -> FfiResult<Self::Value>;
}

impl Wire for *const c_char {
    type Value = Option<String>;
    unsafe fn wire(self, name: &str) -> FfiResult<Option<String>> {
        if self.is_null() {
            return Ok(None);
        }
        let text = unsafe { CStr::from_ptr(self) };
        text.to_str().map(|s| Some(s.to_string())).map_err(|e| FfiError::invalid_argument(format!("{name} is not valid UTF-8: {e}")))
    }
}

macro_rules! plain_wire {
    ($($c:ty => $value:ty),*) => {$(
        impl Wire for $c {
            type Value = $value;
            unsafe fn wire(self, _: &str) -> FfiResult<$value> {
                Ok(self as $value)
            }
        }
    )*};
}
plain_wire!(usize => u64, u64 => u64, c_int => i32, bool => bool);

/// The opaque types whose pointers are handle numbers.
pub trait Opaque {}
impl Opaque for DlcPredictor {}
impl Opaque for DlcJob {}
impl Opaque for DlcReservation {}

impl<P: Opaque> Wire for *const P {
    type Value = u64;
    unsafe fn wire(self, _: &str) -> FfiResult<u64> {
        Ok(self as usize as u64)
    }
}

impl<P: Opaque> Wire for *mut P {
    type Value = u64;
    unsafe fn wire(self, _: &str) -> FfiResult<u64> {
        Ok(self as usize as u64)
    }
}

impl Wire for DlcConstBuffer {
    type Value = Region;
    unsafe fn wire(self, _: &str) -> FfiResult<Region> {
        Ok((!self.data.is_null()).then_some((self.data as *mut u8, self.len)))
    }
}

impl Wire for DlcBuffer {
    type Value = Region;
    unsafe fn wire(self, _: &str) -> FfiResult<Region> {
        Ok((!self.data.is_null()).then_some((self.data.cast(), self.len)))
    }
}

impl Wire for *const DlcTileLayout {
    type Value = Option<Vec<i64>>;
    unsafe fn wire(self, _: &str) -> FfiResult<Option<Vec<i64>>> {
        let wide = |size: usize| i64::try_from(size).unwrap_or(i64::MAX);
        Ok(unsafe { self.as_ref() }.map(|l| vec![wide(l.count), wide(l.channels), wide(l.height), wide(l.width), l.order.into(), l.dtype.into()]))
    }
}

/// A new handle as the opaque pointer C holds.
pub fn new_handle<T: Object, P>(object: Arc<T>) -> *mut P {
    std::ptr::without_provenance_mut(handles::insert(object) as usize)
}

pub unsafe fn epochs(listener: *const DlcEpochListener) -> FfiResult<EpochSink> {
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

/// The required `out` pointer, reset to zero (NULL, 0, false).
///
/// # Safety
/// `out` is NULL or valid for writes.
pub unsafe fn required_out<'a, T: bytemuck::Zeroable>(out: *mut T) -> FfiResult<&'a mut T> {
    let out = unsafe { out.as_mut() }.ok_or_else(|| FfiError::invalid_argument("out is null"))?;
    *out = T::zeroed();
    Ok(out)
}

/// An `out` pointer the caller may leave NULL, reset as `required_out`.
pub unsafe fn optional_out<'a, T: bytemuck::Zeroable>(out: *mut T) -> Option<&'a mut T> {
    unsafe { required_out(out) }.ok()
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
    fn non_utf8_strings_and_missing_outs_are_named() {
        let err = unsafe { c"\xff\xfe".as_ptr().wire("image_path") }.unwrap_err();
        assert!(err.message.starts_with("image_path is not valid UTF-8"), "{}", err.message);
        assert_eq!(unsafe { std::ptr::null::<c_char>().wire("x") }.unwrap(), None);
        assert!(unsafe { required_out(std::ptr::null_mut::<*mut u8>()) }.is_err());
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
