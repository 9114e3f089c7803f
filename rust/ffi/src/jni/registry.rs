//! JNI of `ModelRegistry` and `ModelBundle`; answers cross as JSON.

use dlclassifier::registry::{self, BundleInfo, DEFAULT_MAX_BYTES};
use super::json;
use jni::objects::{JClass, JString};
use jni::sys::jlong;
use jni::EnvUnowned;
use std::path::{Path, PathBuf};

/// `list_models` of a folder, as a JSON array.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_ModelRegistry_nativeList<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    root: JString<'local>,
) -> JString<'local> {
    super::call(env, |env| {
        let root = root.try_to_string(env)?;
        json(env, &registry::list_models(Path::new(&root))?)
    })
}

/// The `ValidationReport` of a model folder.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_ModelRegistry_nativeValidate<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    dir: JString<'local>,
) -> JString<'local> {
    super::call(env, |env| {
        let dir = dir.try_to_string(env)?;
        json(env, &registry::validate_model_dir(Path::new(&dir)))
    })
}

/// Packs the model folders of the JSON array `models`; returns the manifest.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_ModelBundle_nativePack<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    models: JString<'local>,
    zip: JString<'local>,
    info: JString<'local>,
) -> JString<'local> {
    super::call(env, |env| {
        let models: Vec<PathBuf> = super::from_json(env, &models, "the model list")?;
        let info: BundleInfo = super::from_json(env, &info, "the bundle description")?;
        let zip = zip.try_to_string(env)?;
        json(env, &registry::pack_bundle(&models, Path::new(&zip), &info)?)
    })
}

/// A Java size limit: 0 or less keeps the default.
fn limit(max_bytes: jlong) -> u64 {
    u64::try_from(max_bytes).ok().filter(|&m| m > 0).unwrap_or(DEFAULT_MAX_BYTES)
}

/// The manifest of a bundle that passes every check.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_ModelBundle_nativeVerify<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    zip: JString<'local>,
    max_bytes: jlong,
) -> JString<'local> {
    super::call(env, |env| {
        let zip = zip.try_to_string(env)?;
        json(env, &registry::verify_bundle(Path::new(&zip), limit(max_bytes))?)
    })
}

/// Unpacks a bundle into a new folder; returns the manifest.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_ModelBundle_nativeUnpack<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    zip: JString<'local>,
    dest: JString<'local>,
    max_bytes: jlong,
) -> JString<'local> {
    super::call(env, |env| {
        let (zip, dest) = (zip.try_to_string(env)?, dest.try_to_string(env)?);
        json(env, &registry::unpack_bundle(Path::new(&zip), Path::new(&dest), limit(max_bytes))?)
    })
}

/// The cached model folder of a bundle's model; an empty `name` picks the only one.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_ModelBundle_nativeOpen<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    zip: JString<'local>,
    name: JString<'local>,
) -> JString<'local> {
    super::call(env, |env| {
        let (zip, name) = (zip.try_to_string(env)?, name.try_to_string(env)?);
        let dir = registry::open_bundle(Path::new(&zip), Some(name.as_str()).filter(|n| !n.is_empty()))?;
        Ok(JString::from_str(env, dir.to_string_lossy())?)
    })
}
