//! JNI of `Devices.nativeSnapshot` and `MemoryEstimate`; answers cross as JSON.

use dlclassifier::device::{memory_snapshot, DeviceChoice};
use dlclassifier::memory_estimate::{estimate_for_config, estimate_inference, suggest_batch_for_config};
use dlclassifier::model_dir::ModelMetadata;
use dlclassifier::settings::TrainingConfig;
use jni::objects::{JClass, JString};
use jni::sys::{jboolean, jint, jlong};
use jni::EnvUnowned;

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Devices_nativeSnapshot<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    device: JString<'local>,
) -> JString<'local> {
    super::call(env, |env| {
        let device: DeviceChoice = device.try_to_string(env)?.parse()?;
        let snapshot = memory_snapshot(device.resolve()?)?;
        super::json(env, &snapshot)
    })
}

/// The training estimate of `config`, or with `budget` > 0 the largest batch that fits it.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_MemoryEstimate_nativeTraining<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    config: JString<'local>,
    channels: jint,
    classes: jint,
    budget: jlong,
) -> JString<'local> {
    super::call(env, |env| {
        let config: TrainingConfig = super::from_json(env, &config, "the training settings")?;
        let (channels, classes) = (i64::from(channels), i64::from(classes));
        let estimate = match u64::try_from(budget) {
            Ok(budget) if budget > 0 => suggest_batch_for_config(&config, channels, classes, budget)?,
            _ => estimate_for_config(&config, channels, classes)?,
        };
        super::json(env, &estimate)
    })
}

/// The inference estimate of a model folder; `tile` 0 takes the model's own tile size.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_MemoryEstimate_nativeInference<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    model_dir: JString<'local>,
    tile: jint,
    batch: jint,
    half: jboolean,
) -> JString<'local> {
    super::call(env, |env| {
        let meta = ModelMetadata::read(std::path::Path::new(&model_dir.try_to_string(env)?))?;
        let size = |value: jint, what: &str| {
            usize::try_from(value).map_err(|_| crate::error::FfiError::invalid_argument(format!("{what} must not be negative, got {value}")))
        };
        let tile = match size(tile, "tile size")? {
            0 => meta.tile_size,
            tile => tile,
        };
        super::json(env, &estimate_inference(meta.spec(), tile, size(batch, "batch size")?, half)?)
    })
}
