//! JNI of `Predictor`: models live in a handle table; tiles and results stay
//! in the caller's direct buffers; whole images call back into Java for
//! regions and progress.

use super::attach::with_env;
use crate::error::{ErrorClass, FfiError, FfiResult};
use crate::handles::HandleTable;
use dlclassifier::data::read_image;
use dlclassifier::inference::InferenceOptions;
use dlclassifier::job::JobControl;
use dlclassifier::tasks::pixel::apply::{apply_to_image, ApplySettings};
use dlclassifier::tasks::pixel::{open_cached, Dtype, Order, Outputs, Predictor, ProbabilityFormat, TileLayout};
use dlclassifier::tiling::{InMemoryImage, RegionReader};
use jni::objects::{Global, JByteArray, JByteBuffer, JClass, JFloatArray, JObject, JString, JThrowable, JValue};
use jni::refs::Reference;
use jni::sys::{jint, jlong};
use jni::{jni_sig, jni_str, Env, EnvUnowned, JavaVM};
use ndarray::Array3;
use once_cell::sync::Lazy;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::Arc;

static PREDICTORS: Lazy<HandleTable<Predictor>> = Lazy::new(|| HandleTable::new("predictor"));

fn predictor(handle: jlong) -> FfiResult<Arc<Predictor>> {
    PREDICTORS.get(handle as u64)
}

fn options(env: &Env, json: &JString) -> FfiResult<InferenceOptions> {
    super::from_json(env, json, "the predictor options")
}

/// Opens a model folder through the engine's model cache (one loaded model
/// per folder and options, reloaded when the folder changes); returns a handle.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Predictor_nativeOpen<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    dir: JString<'local>,
    options_json: JString<'local>,
) -> jlong {
    super::call(env, |env| {
        let predictor = open_cached(Path::new(&dir.try_to_string(env)?), &options(env, &options_json)?)?;
        Ok(PREDICTORS.insert_shared(predictor) as jlong)
    })
}

/// Opens an external ONNX model with optional (null) metadata; returns its handle.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Predictor_nativeOpenOnnx<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    onnx: JString<'local>,
    metadata: JString<'local>,
    options_json: JString<'local>,
) -> jlong {
    super::call(env, |env| {
        let metadata = if metadata.is_null() { None } else { Some(PathBuf::from(metadata.try_to_string(env)?)) };
        let onnx = onnx.try_to_string(env)?;
        let predictor = Predictor::open_onnx(Path::new(&onnx), metadata.as_deref(), &options(env, &options_json)?)?;
        Ok(PREDICTORS.insert(predictor) as jlong)
    })
}

/// Forgets a handle; calls still running keep the model until they return.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Predictor_nativeClose<'local>(env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) {
    super::call(env, |_| {
        PREDICTORS.remove(handle as u64);
        Ok(())
    })
}

/// Open predictor handles, for tests of the Cleaner.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Predictor_nativeLiveHandles<'local>(env: EnvUnowned<'local>, _class: JClass<'local>) -> jint {
    super::call(env, |_| Ok(PREDICTORS.len() as jint))
}

/// Whether two handles hold the same loaded model, for tests of the cache.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Predictor_nativeSameModel<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    a: jlong,
    b: jlong,
) -> jni::sys::jboolean {
    super::call(env, |_| Ok(Arc::ptr_eq(&predictor(a)?, &predictor(b)?)))
}

/// The model's `ModelInfo` as JSON.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Predictor_nativeInfo<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JString<'local> {
    super::call(env, |env| super::json(env, predictor(handle)?.info()))
}

fn size(value: jint, what: &str) -> FfiResult<usize> {
    usize::try_from(value).map_err(|_| FfiError::invalid_argument(format!("{what} must not be negative, got {value}")))
}

/// `TileLayout` from Java's fields; `order` and `dtype` are the Java enums' ordinals.
fn layout(count: jint, channels: jint, height: jint, width: jint, order: jint, dtype: jint) -> FfiResult<TileLayout> {
    let order = match order {
        0 => Order::Hwc,
        1 => Order::Chw,
        o => return Err(FfiError::invalid_argument(format!("unknown tile order {o}"))),
    };
    let dtype = match dtype {
        0 => Dtype::U8,
        1 => Dtype::U16,
        2 => Dtype::F32,
        d => return Err(FfiError::invalid_argument(format!("unknown tile dtype {d}"))),
    };
    Ok(TileLayout {
        count: size(count, "count")?,
        channels: size(channels, "channels")?,
        height: size(height, "height")?,
        width: size(width, "width")?,
        order,
        dtype,
    })
}

/// `len` bytes of a direct buffer from byte `offset` (Java's position and remaining).
struct Region {
    ptr: *mut u8,
    len: usize,
}

impl Region {
    /// The region of `buffer`, or `None` for a null buffer.
    fn of(env: &Env, buffer: &JByteBuffer, offset: jint, len: jint, name: &str) -> FfiResult<Option<Region>> {
        if buffer.is_null() {
            return Ok(None);
        }
        let base = env
            .get_direct_buffer_address(buffer)
            .map_err(|_| FfiError::invalid_argument(format!("{name} must be a direct ByteBuffer")))?;
        let capacity = env.get_direct_buffer_capacity(buffer)?;
        let (offset, len) = (size(offset, name)?, size(len, name)?);
        if offset + len > capacity {
            return Err(FfiError::invalid_argument(format!("{name}: {len} bytes at {offset} exceed the capacity {capacity}")));
        }
        // SAFETY: offset + len lies within the buffer's memory.
        Ok(Some(Region { ptr: unsafe { base.add(offset) }, len }))
    }

    fn overlaps(&self, other: &Region) -> bool {
        let (a, b) = (self.ptr as usize, other.ptr as usize);
        self.len > 0 && other.len > 0 && a < b + other.len && b < a + self.len
    }

    /// # Safety
    /// The buffer stays alive for `'a` and no other reference to this memory is live.
    unsafe fn bytes_mut<'a>(&self) -> &'a mut [u8] {
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

/// Predicts tiles from a direct buffer into direct buffers (either output may be null).
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_org_dlclassifier_Predictor_nativePredict<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    tiles: JByteBuffer<'local>,
    tiles_offset: jint,
    tiles_len: jint,
    count: jint,
    channels: jint,
    height: jint,
    width: jint,
    order: jint,
    dtype: jint,
    probabilities: JByteBuffer<'local>,
    probabilities_offset: jint,
    probabilities_len: jint,
    class_map: JByteBuffer<'local>,
    class_map_offset: jint,
    class_map_len: jint,
) {
    super::call(env, |env| {
        let predictor = predictor(handle)?;
        let layout = layout(count, channels, height, width, order, dtype)?;
        let input = Region::of(env, &tiles, tiles_offset, tiles_len, "tiles")?
            .ok_or_else(|| FfiError::invalid_argument("tiles must not be null"))?;
        let probabilities = Region::of(env, &probabilities, probabilities_offset, probabilities_len, "probabilities")?;
        let class_map = Region::of(env, &class_map, class_map_offset, class_map_len, "classMap")?;
        let outputs: Vec<&Region> = probabilities.iter().chain(&class_map).collect();
        let aliased = outputs.iter().any(|o| o.overlaps(&input)) || matches!(outputs[..], [a, b] if a.overlaps(b));
        if aliased {
            return Err(FfiError::invalid_argument("output buffers must not overlap the tiles or each other"));
        }
        // SAFETY: the Java buffers are reachable for the whole native call and
        // the regions are disjoint (checked above).
        let (input, outputs) = unsafe {
            let input: &[u8] = input.bytes_mut();
            let outputs = Outputs {
                probabilities: probabilities.map(|r| (r.bytes_mut(), ProbabilityFormat::F32)),
                class_map: class_map.map(|r| r.bytes_mut()),
            };
            (input, outputs)
        };
        Ok(predictor.predict(input, &layout, outputs)?)
    })
}

/// Predicts tiles from a Java `float[]` or `byte[]` (the other is null) into
/// Java arrays (either may be null), copying in and out once.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_org_dlclassifier_Predictor_nativePredictArrays<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    float_tiles: JFloatArray<'local>,
    byte_tiles: JByteArray<'local>,
    count: jint,
    channels: jint,
    height: jint,
    width: jint,
    order: jint,
    dtype: jint,
    probabilities: JFloatArray<'local>,
    class_map: JByteArray<'local>,
) {
    super::call(env, |env| {
        let predictor = predictor(handle)?;
        let layout = layout(count, channels, height, width, order, dtype)?;
        let (mut floats, mut bytes) = (Vec::new(), Vec::new());
        let input: &[u8] = if !float_tiles.is_null() {
            floats.resize(float_tiles.len(env)?, 0f32);
            float_tiles.get_region(env, 0, &mut floats)?;
            bytemuck::cast_slice(&floats)
        } else {
            bytes.resize(byte_tiles.len(env)?, 0i8);
            byte_tiles.get_region(env, 0, &mut bytes)?;
            bytemuck::cast_slice(&bytes)
        };
        let mut probs = if probabilities.is_null() { None } else { Some(vec![0f32; probabilities.len(env)?]) };
        let mut classes = if class_map.is_null() { None } else { Some(vec![0i8; class_map.len(env)?]) };
        predictor.predict(
            input,
            &layout,
            Outputs {
                probabilities: probs.as_deref_mut().map(|p| (bytemuck::cast_slice_mut(p), ProbabilityFormat::F32)),
                class_map: classes.as_deref_mut().map(bytemuck::cast_slice_mut),
            },
        )?;
        if let Some(p) = probs {
            probabilities.set_region(env, 0, &p)?;
        }
        if let Some(c) = classes {
            class_map.set_region(env, 0, &c)?;
        }
        Ok(())
    })
}

/// Java's half of an apply call (`ApplyBridge`), and the first exception it threw.
struct Bridge {
    vm: JavaVM,
    object: Global<JObject<'static>>,
    thrown: Mutex<Option<Global<JThrowable<'static>>>>,
}

impl Bridge {
    /// Runs `f` against the Java object; a Java exception is kept aside (to be
    /// rethrown to the caller of apply) and becomes an error here.
    fn call<T>(&self, f: impl FnOnce(&mut Env, &JObject) -> FfiResult<T>) -> FfiResult<T> {
        with_env(&self.vm, |env| {
            let result = f(env, self.object.as_obj());
            if let Some(throwable) = env.exception_occurred() {
                env.exception_clear();
                let global = env.new_global_ref(throwable)?;
                self.thrown.lock().get_or_insert(global);
                return Err(FfiError::new(ErrorClass::Engine, "a Java callback threw"));
            }
            result
        })
    }

    fn progress(&self, done: usize, total: usize) -> FfiResult<()> {
        self.call(|env, object| {
            let args = [JValue::Int(done as jint), JValue::Int(total as jint)];
            env.call_method(object, jni_str!("progress"), jni_sig!("(II)V"), &args)?;
            Ok(())
        })
    }
}

/// A Java `RegionReader`, reached through the bridge's `read`, which returns
/// the region in a direct buffer that Java owns (so Java never holds native memory).
struct JavaImage {
    bridge: Arc<Bridge>,
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
            let args = [x, y, w, h].map(|v| JValue::Int(v as jint));
            let buffer = env.call_method(object, jni_str!("read"), jni_sig!("(IIII)Ljava/nio/ByteBuffer;"), &args)?.l()?;
            let buffer = env.cast_local::<JByteBuffer>(buffer)?;
            let n = self.channels * h * w;
            if buffer.is_null() || env.get_direct_buffer_capacity(&buffer)? < 4 * n {
                return Err(FfiError::new(ErrorClass::Engine, "the region buffer is smaller than the region"));
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

/// Applies the model to a whole image: the file at `image` when it is not
/// null, else the bridge's reader of `width` x `height` x `channels`.
/// Returns the `ApplyReport` as JSON.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_org_dlclassifier_Predictor_nativeApply<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    bridge: JObject<'local>,
    image: JString<'local>,
    width: jint,
    height: jint,
    channels: jint,
    out_dir: JString<'local>,
    settings: JString<'local>,
) -> JString<'local> {
    super::call(env, |env| {
        let predictor = predictor(handle)?;
        let settings: ApplySettings = super::from_json(env, &settings, "the apply options")?;
        let tiling = settings.tiling(predictor.info());
        // Before an image file is read, so that bad settings fail at once.
        tiling.validate()?;
        let outputs = settings.outputs()?;
        let out_dir = PathBuf::from(out_dir.try_to_string(env)?);
        let bridge = Arc::new(Bridge { vm: env.get_java_vm()?, object: env.new_global_ref(bridge)?, thrown: Mutex::new(None) });
        let reader: Box<dyn RegionReader> = if image.is_null() {
            Box::new(JavaImage { bridge: Arc::clone(&bridge), width: size(width, "width")?, height: size(height, "height")?, channels: size(channels, "channels")? })
        } else {
            Box::new(InMemoryImage(read_image(image.try_to_string(env)?)?))
        };
        let control = JobControl::new();
        let result = apply_to_image(&predictor, reader.as_ref(), &out_dir, &tiling, &outputs, &control, &mut |p| {
            if bridge.progress(p.tiles_done, p.tiles_total).is_err() {
                control.cancel();
            }
        });
        if let Some(throwable) = bridge.thrown.lock().take() {
            // The callback's own exception reaches the caller of apply unchanged.
            env.throw(&throwable)?;
            return Err(FfiError::new(ErrorClass::Engine, "a Java callback threw"));
        }
        super::json(env, &result?)
    })
}
