//! JNI of the read-only queries `Model`, `Catalog` (with transfer-learning
//! recommendations) and `Devices`; each
//! answer crosses as JSON.

use dlclassifier::device::{available_devices, memory_info, DeviceChoice};
use dlclassifier::model_dir::{read_json, ModelMetadata, HISTORY_FILE};
use dlclassifier::models::catalog::catalog;
use dlclassifier::models::EncoderKind;
use dlclassifier::tasks::pixel::clear_cache;
use dlclassifier::train::recommend;
use super::json;
use jni::objects::{JClass, JString};
use jni::sys::jint;
use jni::EnvUnowned;
use std::path::Path;

/// `{"metadata": <metadata.json>, "history": <training_history.json> or null}` of a model folder.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Model_nativeRead<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    dir: JString<'local>,
) -> JString<'local> {
    super::call(env, |env| {
        let dir = dir.try_to_string(env)?;
        let metadata = ModelMetadata::read(Path::new(&dir))?;
        let history = Path::new(&dir).join(HISTORY_FILE);
        let history: Option<serde_json::Value> = if history.is_file() { Some(read_json(&history)?) } else { None };
        json(env, &serde_json::json!({ "metadata": metadata, "history": history }))
    })
}

/// Every architecture with its encoders, parameter counts and freeze groups.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Catalog_nativeCatalog<'local>(env: EnvUnowned<'local>, _class: JClass<'local>) -> JString<'local> {
    super::call(env, |env| json(env, &catalog()?))
}

/// The transfer-learning recommendation for fine-tuning `encoder` on `tiles` training tiles.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Catalog_nativeRecommend<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    encoder: JString<'local>,
    tiles: jint,
) -> JString<'local> {
    super::call(env, |env| {
        let encoder: EncoderKind = encoder.try_to_string(env)?.parse()?;
        // Java checks the sign; a negative count would mean no data at all.
        json(env, &recommend(encoder, tiles.max(0) as usize))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Devices_nativeAvailable<'local>(env: EnvUnowned<'local>, _class: JClass<'local>) -> JString<'local> {
    super::call(env, |env| json(env, &available_devices()))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Devices_nativeMemory<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    device: JString<'local>,
) -> JString<'local> {
    super::call(env, |env| {
        let device: DeviceChoice = device.try_to_string(env)?.parse()?;
        json(env, &memory_info(device)?)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Devices_nativeClearCache<'local>(env: EnvUnowned<'local>, _class: JClass<'local>) {
    super::call(env, |_| {
        clear_cache();
        Ok(())
    })
}
