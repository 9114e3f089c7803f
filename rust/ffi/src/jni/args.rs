//! JNI conversions of the bridge's argument and result kinds, one function
//! per kind (named after it); every error names the parameter.

use super::callbacks::JavaObject;
use crate::api::{self, Bytes, BytesMut, EpochSink, Image, ImageSource};
use crate::error::{FfiError, FfiResult};
use crate::handles::{self, Object};
use dlclassifier::tiling::RegionReader;
use jni::objects::{JByteBuffer, JIntArray, JObject, JString, JValue};
use jni::sys::{jboolean, jint, jlong};
use jni::{jni_sig, jni_str, Env};
use ndarray::Array3;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::sync::Arc;

fn null(name: &str) -> FfiError {
    FfiError::invalid_argument(format!("{name} is null"))
}

pub fn opt_str(env: &mut Env, value: JString, name: &str) -> FfiResult<Option<String>> {
    if value.is_null() {
        return Ok(None);
    }
    value.try_to_string(env).map(Some).map_err(|e| FfiError::invalid_argument(format!("{name}: {e}")))
}

pub fn str(env: &mut Env, value: JString, name: &str) -> FfiResult<String> {
    opt_str(env, value, name)?.ok_or_else(|| null(name))
}

pub fn opt_path(env: &mut Env, value: JString, name: &str) -> FfiResult<Option<PathBuf>> {
    Ok(opt_str(env, value, name)?.map(PathBuf::from))
}

pub fn path(env: &mut Env, value: JString, name: &str) -> FfiResult<PathBuf> {
    str(env, value, name).map(PathBuf::from)
}

/// A JSON argument; null means all defaults.
pub fn json<T: DeserializeOwned + Default>(env: &mut Env, value: &JString, name: &str) -> FfiResult<T> {
    if value.is_null() {
        return Ok(T::default());
    }
    api::parse_json(&value.try_to_string(env)?, name)
}

/// A JSON argument that must be given.
pub fn required_json<T: DeserializeOwned>(env: &mut Env, value: &JString, name: &str) -> FfiResult<T> {
    if value.is_null() {
        return Err(null(name));
    }
    api::parse_json(&value.try_to_string(env)?, name)
}

/// Java has no unsigned types: sizes arrive as `long` and must not be negative.
fn unsigned(value: jlong, name: &str) -> FfiResult<u64> {
    u64::try_from(value).map_err(|_| FfiError::invalid_argument(format!("{name} must not be negative, got {value}")))
}

pub fn u64(_env: &mut Env, value: jlong, name: &str) -> FfiResult<u64> {
    unsigned(value, name)
}

pub fn size(_env: &mut Env, value: jlong, name: &str) -> FfiResult<usize> {
    usize::try_from(unsigned(value, name)?).map_err(|_| FfiError::invalid_argument(format!("{name} is too large: {value}")))
}

pub fn int(_env: &mut Env, value: jint, _name: &str) -> FfiResult<i32> {
    Ok(value)
}

pub fn bool(_env: &mut Env, value: jboolean, _name: &str) -> FfiResult<bool> {
    Ok(value)
}

pub fn handle<T: Object>(value: jlong, name: &str) -> FfiResult<Arc<T>> {
    handles::get(unsigned(value, name)?)
}

/// 0 means none.
pub fn opt_handle<T: Object>(value: jlong, name: &str) -> FfiResult<Option<Arc<T>>> {
    if value == 0 {
        return Ok(None);
    }
    handle(value, name).map(Some)
}

/// The memory of a direct buffer, from its address over its capacity (Java
/// passes `buffer.slice()`, so that is its position to its limit).
fn region(env: &mut Env, buffer: &JByteBuffer, name: &str) -> FfiResult<(*mut u8, usize)> {
    let address = env
        .get_direct_buffer_address(buffer)
        .map_err(|_| FfiError::invalid_argument(format!("{name} must be a direct ByteBuffer")))?;
    Ok((address, env.get_direct_buffer_capacity(buffer)?))
}

pub fn bytes(env: &mut Env, buffer: JByteBuffer, name: &str) -> FfiResult<Bytes> {
    if buffer.is_null() {
        return Err(null(name));
    }
    let (ptr, len) = region(env, &buffer, name)?;
    // SAFETY: the buffer is reachable from the Java caller for the whole native call.
    Ok(unsafe { Bytes::new(ptr, len) })
}

pub fn opt_bytes_mut(env: &mut Env, buffer: JByteBuffer, name: &str) -> FfiResult<Option<BytesMut>> {
    if buffer.is_null() {
        return Ok(None);
    }
    let (ptr, len) = region(env, &buffer, name)?;
    // SAFETY: as in `bytes`; the Java API documents that nothing else uses the buffer meanwhile.
    Ok(Some(unsafe { BytesMut::new(ptr, len) }))
}

/// `{count, channels, height, width, order, dtype}`.
pub fn layout(env: &mut Env, values: JIntArray, name: &str) -> FfiResult<api::TileLayout> {
    if values.is_null() {
        return Err(null(name));
    }
    let mut v = [0 as jint; 6];
    if values.len(env)? != v.len() {
        return Err(FfiError::invalid_argument(format!("{name} must hold 6 ints")));
    }
    values.get_region(env, 0, &mut v)?;
    let dims = [v[0], v[1], v[2], v[3]].map(|d| usize::try_from(d).unwrap_or(usize::MAX));
    if let Some(i) = v[..4].iter().position(|&d| d < 0) {
        let field = ["count", "channels", "height", "width"][i];
        return Err(FfiError::invalid_argument(format!("{name}.{field} must not be negative, got {}", v[i])));
    }
    api::tile_layout(dims, i64::from(v[4]), i64::from(v[5]))
}

pub fn probability_format(_env: &mut Env, value: jint, name: &str) -> FfiResult<api::ProbabilityFormat> {
    api::probability_format(i64::from(value), name)
}

/// An `ApplyBridge`: an image file (`imagePath()`) or a `RegionReader` of
/// `width() x height() x channels()` read through `read`, and `progress`.
pub fn image(env: &mut Env, bridge: JObject, name: &str) -> FfiResult<ImageSource> {
    if bridge.is_null() {
        return Err(null(name));
    }
    let bridge = Arc::new(JavaObject::new(env, &bridge)?);
    let progress_bridge = Arc::clone(&bridge);
    let progress = Box::new(move |done: usize, total: usize| {
        progress_bridge
            .call(|env, object| {
                let args = [JValue::Int(clamp(done)), JValue::Int(clamp(total))];
                env.call_method(object, jni_str!("progress"), jni_sig!("(II)V"), &args)?;
                Ok(())
            })
            .is_ok()
    });
    let path = bridge.call(|env, object| {
        let path = env.call_method(object, jni_str!("imagePath"), jni_sig!("()Ljava/lang/String;"), &[])?.l()?;
        let path = env.cast_local::<JString>(path)?;
        opt_str(env, path, name)
    })?;
    let image = match path {
        Some(path) => Image::File(path.into()),
        None => {
            let width = dimension(&bridge, jni_str!("width"), name)?;
            let height = dimension(&bridge, jni_str!("height"), name)?;
            let channels = dimension(&bridge, jni_str!("channels"), name)?;
            Image::Reader(Box::new(JavaImage { bridge, width, height, channels }))
        }
    };
    Ok(ImageSource { image, progress })
}

/// One of the reader's sizes, from its `int` getter `method`.
fn dimension(bridge: &JavaObject, method: &'static jni::strings::JNIStr, name: &str) -> FfiResult<usize> {
    bridge.call(|env, object| {
        let value = env.call_method(object, method, jni_sig!("()I"), &[])?.i()?;
        usize::try_from(value).map_err(|_| FfiError::invalid_argument(format!("{name}: the reader's size must not be negative, got {value}")))
    })
}

fn clamp(value: usize) -> jint {
    jint::try_from(value).unwrap_or(jint::MAX)
}

/// A Java `RegionReader`, reached through the bridge's `read`, which returns
/// the region in a direct buffer that Java owns (so Java never holds native memory).
struct JavaImage {
    bridge: Arc<JavaObject>,
    width: usize,
    height: usize,
    channels: usize,
}

impl RegionReader for JavaImage {
    fn width(&self) -> usize {
        self.width
    }

    fn height(&self) -> usize {
        self.height
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn read(&self, x: usize, y: usize, w: usize, h: usize) -> dlclassifier::Result<Array3<f32>> {
        let values = self.bridge.call(|env, object| {
            let args = [x, y, w, h].map(|v| JValue::Int(clamp(v)));
            let buffer = env.call_method(object, jni_str!("read"), jni_sig!("(IIII)Ljava/nio/ByteBuffer;"), &args)?.l()?;
            let buffer = env.cast_local::<JByteBuffer>(buffer)?;
            let n = self.channels * h * w;
            if buffer.is_null() || env.get_direct_buffer_capacity(&buffer)? < 4 * n {
                return Err(FfiError::invalid_argument("the region buffer is smaller than the region"));
            }
            let address = env.get_direct_buffer_address(&buffer)?;
            // SAFETY: Java keeps the buffer alive while we hold its local reference.
            let bytes = unsafe { std::slice::from_raw_parts(address as *const u8, 4 * n) };
            Ok(bytes.chunks_exact(4).map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])).collect::<Vec<f32>>())
        });
        let values = values.map_err(|e| dlclassifier::Error::data("RegionReader", e.message))?;
        Ok(Array3::from_shape_vec((self.channels, h, w), values).expect("length checked"))
    }
}

/// A listener object whose `onEpoch(String)` gets each epoch record; null: none.
pub fn epochs(env: &mut Env, listener: JObject, _name: &str) -> FfiResult<EpochSink> {
    if listener.is_null() {
        return Ok(EpochSink(None));
    }
    let listener = JavaObject::new(env, &listener)?;
    Ok(EpochSink(Some(Box::new(move |json: &str| {
        listener
            .call(|env, object| {
                let json = JString::from_str(env, json)?;
                env.call_method(object, jni_str!("onEpoch"), jni_sig!("(Ljava/lang/String;)V"), &[JValue::Object(&json)])?;
                Ok(())
            })
            .is_ok()
    }))))
}

/// `value` as a Java string of JSON.
pub fn json_string<'local>(env: &mut Env<'local>, value: &impl serde::Serialize) -> FfiResult<JString<'local>> {
    Ok(JString::from_str(env, serde_json::to_string(value)?)?)
}

pub fn string<'local>(env: &mut Env<'local>, value: String) -> FfiResult<JString<'local>> {
    Ok(JString::from_str(env, value)?)
}
