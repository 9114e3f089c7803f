//! The argument kinds of `bridge_fn!`, decoded once for every transport.
//! A transport only turns its parameter into a *wire* value (text or none,
//! an unsigned number, an int, a bool, a memory region or none, a list of
//! sizes); the function of the kind's name checks and decodes it, so a bad
//! argument gets the same error from C and from Java.

use super::{Bytes, BytesMut, ImageSource, ProbabilityFormat, TileLayout};
use crate::error::{FfiError, FfiResult};
use crate::handles::{self, Object};
use dlclassifier::tasks::pixel::{Dtype, Order};
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::sync::Arc;

/// Caller memory as a transport found it: start and length; `None` for none.
pub type Region = Option<(*mut u8, usize)>;

fn null(name: &str) -> FfiError {
    FfiError::invalid_argument(format!("{name} is null"))
}

pub fn opt_str(text: Option<String>, _name: &str) -> FfiResult<Option<String>> {
    Ok(text)
}

pub fn str(text: Option<String>, name: &str) -> FfiResult<String> {
    text.ok_or_else(|| null(name))
}

pub fn opt_path(text: Option<String>, _name: &str) -> FfiResult<Option<PathBuf>> {
    Ok(text.map(PathBuf::from))
}

pub fn path(text: Option<String>, name: &str) -> FfiResult<PathBuf> {
    str(text, name).map(PathBuf::from)
}

/// A JSON argument; none means all defaults.
pub fn json<T: DeserializeOwned + Default>(text: Option<String>, name: &str) -> FfiResult<T> {
    text.map_or_else(|| Ok(T::default()), |text| super::parse_json(&text, name))
}

/// A JSON argument that must be given.
pub fn required_json<T: DeserializeOwned>(text: Option<String>, name: &str) -> FfiResult<T> {
    super::parse_json(&str(text, name)?, name)
}

pub fn size(value: u64, name: &str) -> FfiResult<usize> {
    usize::try_from(value).map_err(|_| FfiError::invalid_argument(format!("{name} is too large: {value}")))
}

pub fn u64(value: u64, _name: &str) -> FfiResult<u64> {
    Ok(value)
}

pub fn int(value: i32, _name: &str) -> FfiResult<i32> {
    Ok(value)
}

pub fn bool(value: bool, _name: &str) -> FfiResult<bool> {
    Ok(value)
}

/// Handle numbers: 0 is none.
pub fn opt_handle<T: Object>(id: u64, _name: &str) -> FfiResult<Option<Arc<T>>> {
    (id != 0).then(|| handles::get(id)).transpose()
}

pub fn handle<T: Object>(id: u64, name: &str) -> FfiResult<Arc<T>> {
    opt_handle(id, name)?.ok_or_else(|| null(name))
}

/// The number of a handle being freed: none, unknown or stale is no error.
pub fn handle_id(id: u64, _name: &str) -> FfiResult<u64> {
    Ok(id)
}

/// A region's length, if a slice can be that long.
fn checked((ptr, len): (*mut u8, usize), name: &str) -> FfiResult<(*mut u8, usize)> {
    if len > isize::MAX as usize {
        return Err(FfiError::invalid_argument(format!("{name}: length {len} is too large")));
    }
    Ok((ptr, len))
}

pub fn bytes(region: Region, name: &str) -> FfiResult<Bytes> {
    let (ptr, len) = checked(region.ok_or_else(|| null(name))?, name)?;
    // SAFETY: the transports pass memory the caller keeps valid for the call.
    Ok(unsafe { Bytes::new(ptr, len) })
}

pub fn opt_bytes_mut(region: Region, name: &str) -> FfiResult<Option<BytesMut>> {
    let Some(region) = region else { return Ok(None) };
    let (ptr, len) = checked(region, name)?;
    // SAFETY: as in `bytes`; both APIs document that nothing else uses the buffer meanwhile.
    Ok(Some(unsafe { BytesMut::new(ptr, len) }))
}

/// `[count, channels, height, width, order, dtype]`; order 0 HWC, 1 CHW;
/// dtype 0 u8, 1 u16, 2 f32.
pub fn layout(values: Option<Vec<i64>>, name: &str) -> FfiResult<TileLayout> {
    let values = values.ok_or_else(|| null(name))?;
    let &[count, channels, height, width, order, dtype] = values.as_slice() else {
        return Err(FfiError::invalid_argument(format!("{name} must hold 6 values, got {}", values.len())));
    };
    let mut dims = [0; 4];
    for ((dim, value), field) in dims.iter_mut().zip([count, channels, height, width]).zip(["count", "channels", "height", "width"]) {
        *dim = usize::try_from(value).map_err(|_| FfiError::invalid_argument(format!("{name}.{field} must not be negative, got {value}")))?;
    }
    let [count, channels, height, width] = dims;
    let order = match order {
        0 => Order::Hwc,
        1 => Order::Chw,
        o => return Err(FfiError::invalid_argument(format!("{name} order {o} is unknown (0 = HWC, 1 = CHW)"))),
    };
    let dtype = match dtype {
        0 => Dtype::U8,
        1 => Dtype::U16,
        2 => Dtype::F32,
        d => return Err(FfiError::invalid_argument(format!("{name} dtype {d} is unknown (0 = uint8, 1 = uint16, 2 = float32)"))),
    };
    Ok(TileLayout { count, channels, height, width, order, dtype })
}

/// 0 float32, 1 uint8.
pub fn probability_format(code: i32, name: &str) -> FfiResult<ProbabilityFormat> {
    match code {
        0 => Ok(ProbabilityFormat::F32),
        1 => Ok(ProbabilityFormat::U8),
        c => Err(FfiError::invalid_argument(format!("{name} {c} is unknown (0 = float32, 1 = uint8)"))),
    }
}

/// An image file; Java may instead pass a region reader (its own conversion).
pub fn image(path: Option<String>, name: &str) -> FfiResult<ImageSource> {
    self::path(path, name).map(ImageSource::file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;
    use dlclassifier::inference::InferenceOptions;

    #[test]
    fn missing_arguments_are_named() {
        let err = path(None, "model_dir").unwrap_err();
        assert_eq!((err.class, err.message.as_str()), (ErrorClass::InvalidArgument, "model_dir is null"));
        assert_eq!(opt_str(None, "x").unwrap(), None);
        assert_eq!(layout(None, "layout").unwrap_err().message, "layout is null");
        assert_eq!(bytes(None, "tiles").err().unwrap().message, "tiles is null");
        assert!(opt_bytes_mut(None, "class_map").unwrap().is_none());
        assert_eq!(handle::<crate::api::Predictor>(0, "predictor").err().unwrap().message, "predictor is null");
    }

    #[test]
    fn json_arguments_default_when_missing_and_name_the_parameter_when_bad() {
        assert_eq!(json::<InferenceOptions>(None, "options").unwrap(), InferenceOptions::default());
        let err = json::<InferenceOptions>(Some(r#"{"backend":"tpu"}"#.into()), "options").unwrap_err();
        assert_eq!(err.class, ErrorClass::InvalidArgument);
        assert!(err.message.starts_with("options: backend: unknown variant `tpu`"), "{}", err.message);
        assert_eq!(required_json::<InferenceOptions>(None, "options").unwrap_err().message, "options is null");
    }

    #[test]
    fn layouts_name_the_bad_field() {
        let layout = |v: &[i64]| layout(Some(v.to_vec()), "layout");
        assert_eq!(layout(&[2, 3, 8, 8, 0, 0]).unwrap().count, 2);
        assert_eq!(layout(&[1, -3, 8, 8, 0, 0]).unwrap_err().message, "layout.channels must not be negative, got -3");
        assert_eq!(layout(&[1, 3, 8]).unwrap_err().message, "layout must hold 6 values, got 3");
        let layout = layout(&[1, 3, 8, 8, 1, 2]).unwrap();
        assert_eq!((layout.order, layout.dtype), (Order::Chw, Dtype::F32));
        assert!(super::layout(Some(vec![1, 3, 8, 8, 2, 0]), "layout").unwrap_err().message.contains("layout order 2"));
        assert!(super::layout(Some(vec![1, 3, 8, 8, 0, 9]), "layout").unwrap_err().message.contains("layout dtype 9"));
        assert_eq!(probability_format(1, "format").unwrap(), ProbabilityFormat::U8);
        assert!(probability_format(5, "format").unwrap_err().message.starts_with("format 5 is unknown"));
        let huge = bytes(Some((std::ptr::null_mut(), usize::MAX)), "tiles").err().unwrap();
        assert_eq!(huge.message, format!("tiles: length {} is too large", usize::MAX));
    }
}
