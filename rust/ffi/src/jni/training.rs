//! JNI of `TrainingConfig` and `TrainingJob`: settings cross as JSON, a job's
//! `JobControl` lives in a handle table, and each finished epoch goes back to
//! Java as `TrainingJob.onEpoch(String json)` on the training thread.

use crate::error::{FfiError, FfiResult};
use crate::handles::HandleTable;
use dlclassifier::data::TrainingData;
use dlclassifier::history::EpochRecord;
use dlclassifier::settings::TrainingConfig;
use dlclassifier::job::JobControl;
use dlclassifier::tasks::pixel::train;
use jni::objects::{JClass, JObject, JString, JValue};
use jni::sys::{jboolean, jlong};
use jni::{jni_sig, jni_str, Env, EnvUnowned};
use once_cell::sync::Lazy;
use serde_json::{json, Map, Value};
use std::path::Path;

static CONTROLS: Lazy<HandleTable<JobControl>> = Lazy::new(|| HandleTable::new("training job"));

/// Settings after the core's checks, so that a bad value fails as an
/// IllegalArgumentException before any data is read. serde's type errors
/// name no field, so a failure is traced to the first field that fails alone.
fn checked(json: Map<String, Value>) -> FfiResult<TrainingConfig> {
    let config: TrainingConfig = serde_json::from_value(Value::Object(json.clone())).map_err(|e| {
        let alone = |(key, value): &(&String, &Value)| serde_json::from_value::<TrainingConfig>(json!({ *key: value })).is_err();
        match json.iter().find(alone) {
            Some((key, _)) => FfiError::invalid_argument(format!("{key}: {e}")),
            None => e.into(),
        }
    })?;
    config.validate()?;
    Ok(config)
}

/// `base` with the top-level fields of `changes` replaced, checked and
/// written back with every default filled in. Merging here keeps the exact
/// JSON numbers (a u64 seed) that a round trip through Java would round.
fn canonical(base: &str, changes: &str) -> FfiResult<String> {
    let mut merged: Map<String, Value> = serde_json::from_str(base)?;
    merged.extend(serde_json::from_str::<Map<String, Value>>(changes)?);
    Ok(serde_json::to_string(&checked(merged)?)?)
}

fn control(handle: jlong) -> FfiResult<std::sync::Arc<JobControl>> {
    CONTROLS.get(handle as u64)
}

/// Applies `action` to a job's control from any Java thread.
fn steer(env: EnvUnowned, handle: jlong, action: impl FnOnce(&JobControl)) {
    super::call(env, |_| {
        action(&*control(handle)?);
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_TrainingConfig_nativeCanonical<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    base: JString<'local>,
    changes: JString<'local>,
) -> JString<'local> {
    super::call(env, |env| {
        let json = canonical(&base.try_to_string(env)?, &changes.try_to_string(env)?)?;
        Ok(JString::from_str(env, json)?)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_TrainingConfig_nativeFromModel<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    model_dir: JString<'local>,
) -> JString<'local> {
    super::call(env, |env| {
        let config = TrainingConfig::from_model(Path::new(&model_dir.try_to_string(env)?))?;
        super::json(env, &config)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_TrainingJob_nativeCreate<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> jlong {
    super::call(env, |_| Ok(CONTROLS.insert(JobControl::new()) as jlong))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_TrainingJob_nativeRelease<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    super::call(env, |_| {
        CONTROLS.remove(handle as u64);
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_TrainingJob_nativeCancel<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    steer(env, handle, JobControl::cancel)
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_TrainingJob_nativePause<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    steer(env, handle, JobControl::pause)
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_TrainingJob_nativeResume<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    steer(env, handle, JobControl::resume)
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_TrainingJob_nativeIsPaused<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jboolean {
    super::call(env, |_| Ok(control(handle)?.is_paused()))
}

/// Loads the data and trains on the calling (Java) thread; Java then reads
/// the written model folder as a `Model`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_TrainingJob_nativeRun<'local>(
    env: EnvUnowned<'local>,
    job: JObject<'local>,
    handle: jlong,
    data_dir: JString<'local>,
    out_dir: JString<'local>,
    config: JString<'local>,
) {
    super::call(env, |env| {
        let control = control(handle)?;
        let config = checked(super::from_json(env, &config, "the training settings")?)?;
        let out_dir = out_dir.try_to_string(env)?;
        let data = TrainingData::load(data_dir.try_to_string(env)?)?;
        let mut failure = None;
        let mut thrown = None;
        let outcome = train(&data, &config, Path::new(&out_dir), &control, &mut |record| {
            if failure.is_some() {
                return;
            }
            if let Err(e) = report_epoch(env, &job, record) {
                // onEpoch itself failed (listener errors are caught in Java):
                // stop the run, and hold the Java exception aside while it
                // winds down so that no JNI call meets a pending exception.
                thrown = env.exception_occurred();
                env.exception_clear();
                failure = Some(e);
                control.cancel();
            }
        });
        if let Some(e) = failure {
            if let Some(throwable) = thrown {
                // Returns Err(JavaException): the rethrown exception reaches the caller unchanged.
                env.throw(throwable)?;
            }
            return Err(e);
        }
        outcome?;
        Ok(())
    })
}

/// Calls `job.onEpoch(json)` in its own local frame, so that a long run
/// does not pile up local references.
fn report_epoch(env: &mut Env, job: &JObject, record: &EpochRecord) -> FfiResult<()> {
    let json = serde_json::to_string(record)?;
    env.with_local_frame(4, |env| -> FfiResult<()> {
        let json = JString::from_str(env, json)?;
        env.call_method(job, jni_str!("onEpoch"), jni_sig!((json: JString) -> void), &[JValue::Object(&json)])?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;

    #[test]
    fn canonical_settings_fill_defaults_and_bad_ones_are_invalid_arguments() {
        let base = canonical(r#"{"epochs":3,"seed":18446744073709551615}"#, "{}").unwrap();
        let json: Value = serde_json::from_str(&canonical(&base, r#"{"encoder":"resnet18"}"#).unwrap()).unwrap();
        assert_eq!((json["epochs"].as_u64(), json["seed"].as_u64()), (Some(3), Some(u64::MAX)));
        assert_eq!((json["encoder"].as_str(), json["batch_size"].as_u64()), (Some("resnet18"), Some(8)));
        let err = |json: &str| canonical("{}", json).unwrap_err();
        for (json, needle) in [
            (r#"{"encoder":"resnet99"}"#, "resnet99"),
            (r#"{"epoch":3}"#, "unknown field `epoch`"),
            (r#"{"tile_size":100}"#, "multiple of 32"),
            (r#"{"epochs":2,"seed":-1}"#, "seed: invalid value: integer `-1`, expected u64"),
            (r#"{"augmentation":{"rotate90":3}}"#, "augmentation: invalid type"),
            ("[1]", "invalid JSON"),
        ] {
            let e = err(json);
            assert_eq!(e.class, ErrorClass::InvalidArgument, "{json}");
            assert!(e.message.contains(needle), "{}", e.message);
        }
    }

    #[test]
    fn job_controls_live_in_the_handle_table() {
        let handle = CONTROLS.insert(JobControl::new()) as jlong;
        control(handle).unwrap().pause();
        assert!(control(handle).unwrap().is_paused());
        CONTROLS.remove(handle as u64);
        assert_eq!(control(handle).unwrap_err().class, ErrorClass::InvalidState);
    }
}
