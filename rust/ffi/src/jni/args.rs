//! JNI conversions: each parameter type to its wire value (`api::kinds`
//! decodes that), the image bridge and epoch listener, and results.

use super::callbacks::JavaObject;
use crate::api::kinds::Region;
use crate::api::{copy_floats, CallbackMeasurement, CallbackReader, EpochSink, Image, ImageSource};
use dlclassifier::geometry::Polygon;
use dlclassifier::objects::{Measurement, ObjectPixels};
use crate::error::{FfiError, FfiResult};
use jni::objects::{JByteBuffer, JIntArray, JObject, JObjectArray, JString, JValue};
use jni::sys::{jboolean, jint, jlong};
use jni::{jni_sig, jni_str, Env};
use std::sync::Arc;

fn null(name: &str) -> FfiError {
    FfiError::invalid_argument(format!("{name} is null"))
}

/// A JNI parameter as the wire value its kind decodes (see `api::kinds`).
pub trait Wire {
    type Value;
    fn wire(self, env: &mut Env, name: &str) -> FfiResult<Self::Value>;
}

impl Wire for JString<'_> {
    type Value = Option<String>;
    fn wire(self, env: &mut Env, name: &str) -> FfiResult<Option<String>> {
        if self.is_null() {
            return Ok(None);
        }
        self.try_to_string(env).map(Some).map_err(|e| FfiError::invalid_argument(format!("{name}: {e}")))
    }
}

/// Java has no unsigned types: sizes and handles arrive as `long` and must not be negative.
impl Wire for jlong {
    type Value = u64;
    fn wire(self, _: &mut Env, name: &str) -> FfiResult<u64> {
        u64::try_from(self).map_err(|_| FfiError::invalid_argument(format!("{name} must not be negative, got {self}")))
    }
}

impl Wire for jint {
    type Value = i32;
    fn wire(self, _: &mut Env, _: &str) -> FfiResult<i32> {
        Ok(self)
    }
}

impl Wire for jboolean {
    type Value = bool;
    fn wire(self, _: &mut Env, _: &str) -> FfiResult<bool> {
        Ok(self)
    }
}

/// A direct buffer from its address over its capacity (Java passes
/// `buffer.slice()`, so that is its position to its limit).
impl Wire for JByteBuffer<'_> {
    type Value = Region;
    fn wire(self, env: &mut Env, name: &str) -> FfiResult<Region> {
        if self.is_null() {
            return Ok(None);
        }
        let address = env
            .get_direct_buffer_address(&self)
            .map_err(|_| FfiError::invalid_argument(format!("{name} must be a direct ByteBuffer")))?;
        Ok(Some((address, env.get_direct_buffer_capacity(&self)?)))
    }
}

impl Wire for JIntArray<'_> {
    type Value = Option<Vec<i64>>;
    fn wire(self, env: &mut Env, _: &str) -> FfiResult<Option<Vec<i64>>> {
        if self.is_null() {
            return Ok(None);
        }
        let mut values = vec![0; self.len(env)?];
        self.get_region(env, 0, &mut values)?;
        Ok(Some(values.into_iter().map(i64::from).collect()))
    }
}

/// An `ApplyBridge`: an image file (`imagePath()`) or a `RegionReader` of
/// `width() x height() x channels()`, named by `channelNames()` (or null),
/// with `pixelSizeMicrons()` (NaN: unknown), read through `read`, and `progress`.
pub fn image(env: &mut Env, bridge: JObject, name: &str) -> FfiResult<ImageSource> {
    if bridge.is_null() {
        return Err(null(name));
    }
    let bridge = Arc::new(JavaObject::new(env, &bridge)?);
    let progress_bridge = Arc::clone(&bridge);
    let measurements = measurements(&bridge)?;
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
        env.cast_local::<JString>(path)?.wire(env, name)
    })?;
    let image = match path {
        Some(path) => Image::File(path.into()),
        None => {
            let [width, height, channels] = [jni_str!("width"), jni_str!("height"), jni_str!("channels")]
                .map(|method| bridge.call(|env, object| Ok(i64::from(env.call_method(object, method, jni_sig!("()I"), &[])?.i()?))));
            let names = bridge.call(|env, object| {
                let names = env.call_method(object, jni_str!("channelNames"), jni_sig!("()[Ljava/lang/String;"), &[])?.l()?;
                let names = env.cast_local::<JObjectArray<JString>>(names)?;
                if names.is_null() {
                    return Ok(None);
                }
                let mut wired = Vec::new();
                for i in 0..names.len(env)? {
                    let value = names.get_element(env, i)?.wire(env, "a channel name")?;
                    wired.push(value.ok_or_else(|| FfiError::invalid_argument(format!("{name}: a channel name is null")))?);
                }
                Ok(Some(wired))
            })?;
            let pixel_size = bridge.call(|env, object| Ok(env.call_method(object, jni_str!("pixelSizeMicrons"), jni_sig!("()D"), &[])?.d()?))?;
            let read = Box::new(move |[x, y, w, h]: [usize; 4], dest: &mut [f32]| {
                bridge.call(|env, object| {
                    let args = [x, y, w, h].map(|v| JValue::Int(clamp(v)));
                    let buffer = env.call_method(object, jni_str!("read"), jni_sig!("(IIII)Ljava/nio/ByteBuffer;"), &args)?.l()?;
                    let buffer = env.cast_local::<JByteBuffer>(buffer)?;
                    let Some((address, len)) = buffer.wire(env, "the region buffer")? else {
                        return Err(FfiError::invalid_argument("the region buffer is null"));
                    };
                    // SAFETY: Java keeps the buffer alive while we hold its local reference.
                    let bytes = unsafe { std::slice::from_raw_parts(address as *const u8, len) };
                    copy_floats(bytes, dest)
                })
            });
            Image::Reader(Box::new(
                CallbackReader::new([width?, height?, channels?], read, name)?.with_names(names, name)?.with_pixel_size(Some(pixel_size)),
            ))
        }
    };
    Ok(ImageSource { image, progress, measurements })
}

/// The bridge's `measurementCount()` measurements, each named by
/// `measurementNames(i)`: an object goes into `objectBuffer(bytes)` (the
/// exterior's x, y doubles, the CHW floats, a mask byte per pixel) and
/// `measure(...)` writes its values back there as doubles.
fn measurements(bridge: &Arc<JavaObject>) -> FfiResult<Vec<Arc<dyn Measurement>>> {
    let count = bridge.call(|env, object| Ok(env.call_method(object, jni_str!("measurementCount"), jni_sig!("()I"), &[])?.i()?))?;
    let mut measurements: Vec<Arc<dyn Measurement>> = Vec::new();
    for which in 0..count {
        let names = bridge.call(|env, object| {
            let names = env.call_method(object, jni_str!("measurementNames"), jni_sig!("(I)[Ljava/lang/String;"), &[JValue::Int(which)])?.l()?;
            let names = env.cast_local::<JObjectArray<JString>>(names)?;
            let mut wired = Vec::new();
            for i in 0..names.len(env)? {
                let name = names.get_element(env, i)?.wire(env, "a measurement name")?;
                wired.push(name.ok_or_else(|| FfiError::invalid_argument("ObjectMeasurement.names() holds null"))?);
            }
            Ok(wired)
        })?;
        let bridge = Arc::clone(bridge);
        let measure = Box::new(move |polygon: &Polygon, class: &str, pixels: &ObjectPixels| {
            bridge.call(|env, object| {
                let (c, h, w) = pixels.image.dim();
                let points = polygon.exterior.len();
                let bytes = 16 * points + 4 * c * h * w + h * w;
                let size = jint::try_from(bytes).map_err(|_| FfiError::invalid_argument(format!("an object of {bytes} bytes is too large to measure in Java")))?;
                let buffer = env.call_method(object, jni_str!("objectBuffer"), jni_sig!("(I)Ljava/nio/ByteBuffer;"), &[JValue::Int(size)])?.l()?;
                let buffer = env.cast_local::<JByteBuffer>(buffer)?;
                let Some((address, len)) = buffer.wire(env, "the object buffer")? else {
                    return Err(FfiError::invalid_argument("the object buffer is null"));
                };
                // SAFETY: Java keeps the direct buffer alive while we hold its local reference, and no Java code runs while we write.
                let data = unsafe { std::slice::from_raw_parts_mut(address as *mut u8, len) };
                fill_object(data, polygon, pixels);
                let class = JString::from_str(env, class)?;
                let args = [
                    JValue::Int(which),
                    JValue::Object(&class),
                    JValue::Int(clamp(pixels.x)),
                    JValue::Int(clamp(pixels.y)),
                    JValue::Int(clamp(w)),
                    JValue::Int(clamp(h)),
                    JValue::Int(clamp(c)),
                    JValue::Int(clamp(points)),
                ];
                let n = env.call_method(object, jni_str!("measure"), jni_sig!("(ILjava/lang/String;IIIIII)I"), &args)?.i()?;
                let n = usize::try_from(n).unwrap_or(0);
                // The values replace the object at the buffer's start: read it afresh, it may have grown.
                let buffer = env.call_method(object, jni_str!("objectBuffer"), jni_sig!("(I)Ljava/nio/ByteBuffer;"), &[JValue::Int(clamp(8 * n))])?.l()?;
                let buffer = env.cast_local::<JByteBuffer>(buffer)?;
                let Some((address, len)) = buffer.wire(env, "the object buffer")? else {
                    return Err(FfiError::invalid_argument("the object buffer is null"));
                };
                // SAFETY: as above; Java wrote `n` doubles from the start.
                let data = unsafe { std::slice::from_raw_parts(address as *const u8, len.min(8 * n)) };
                Ok(data.chunks_exact(8).map(|b| f64::from_ne_bytes(b.try_into().expect("8 bytes"))).collect())
            })
        });
        measurements.push(Arc::new(CallbackMeasurement { names, measure }));
    }
    Ok(measurements)
}

/// The object as `ObjectPixels` reads it: exterior points, CHW floats, mask bytes, in native order.
fn fill_object(data: &mut [u8], polygon: &Polygon, pixels: &ObjectPixels) {
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        data[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    for p in &polygon.exterior {
        put(&p[0].to_ne_bytes());
        put(&p[1].to_ne_bytes());
    }
    for &v in pixels.image.iter() {
        put(&v.to_ne_bytes());
    }
    for &m in pixels.mask.iter() {
        put(&[u8::from(m)]);
    }
}

fn clamp(value: usize) -> jint {
    jint::try_from(value).unwrap_or(jint::MAX)
}

/// A listener object whose `onEpoch(String)` gets each epoch record; null: none.
pub fn epochs(env: &mut Env, listener: JObject) -> FfiResult<EpochSink> {
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
