//! The same bad calls through both transports: C's status and message and
//! the exception the JNI shim throws in a real JVM (started in-process) must
//! be the same class and the same text.

use super::{catalog, devices, jobs, models, predictor, reservation, training};
use crate::c::{dlc_last_error, DlcJob};
use crate::error::ErrorClass;
use jni::objects::{JClass, JObject, JString, JThrowable};
use jni::{jni_sig, jni_str, Env, EnvUnowned, InitArgsBuilder, JNIVersion, JavaVM};
use once_cell::sync::Lazy;
use std::ffi::{c_int, CStr, CString};

static VM: Lazy<JavaVM> = Lazy::new(|| {
    let args = InitArgsBuilder::new().version(JNIVersion::V1_8).build().expect("JVM arguments");
    JavaVM::new(args).expect("a JVM starts (is a JDK installed?)")
});

/// The class (C status) and message of a C call.
fn c_outcome(status: c_int) -> (ErrorClass, String) {
    let class = ErrorClass::ALL
        .into_iter()
        .find(|&c| c_int::from(c.code()) == status)
        .unwrap_or_else(|| panic!("the C call should fail, got status {status}"));
    (class, unsafe { CStr::from_ptr(dlc_last_error()) }.to_str().unwrap().to_string())
}

/// The Java class name (with slashes) and message of the exception a JNI call left pending.
fn java_outcome(env: &mut Env) -> (String, String) {
    let thrown: JThrowable = env.exception_occurred().expect("the JNI call should throw");
    env.exception_clear();
    let class = env.call_method(&thrown, jni_str!("getClass"), jni_sig!("()Ljava/lang/Class;"), &[]).unwrap().l().unwrap();
    let name = env.call_method(&class, jni_str!("getName"), jni_sig!("()Ljava/lang/String;"), &[]).unwrap().l().unwrap();
    let message = env.call_method(&thrown, jni_str!("getMessage"), jni_sig!("()Ljava/lang/String;"), &[]).unwrap().l().unwrap();
    let text = |env: &mut Env, o: JObject| env.cast_local::<JString>(o).unwrap().try_to_string(env).unwrap();
    (text(env, name).replace('.', "/"), text(env, message))
}

/// Any class will do as the `jclass` of a static native.
fn class<'l>(env: &mut Env<'l>) -> JClass<'l> {
    env.find_class(jni_str!("java/lang/Object")).unwrap()
}

fn s<'l>(env: &mut Env<'l>, text: &str) -> JString<'l> {
    env.new_string(text).unwrap()
}

fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

#[test]
fn bad_calls_give_the_same_class_and_message_through_c_and_jni() {
    // A job freed through C: its handle is stale for both transports.
    let mut job: *mut DlcJob = std::ptr::null_mut();
    assert_eq!(unsafe { jobs::dlc_job_new(&mut job) }, 0);
    assert_eq!(unsafe { jobs::dlc_job_free(job) }, 0);
    let stale = job as usize as i64;
    let mut out = std::ptr::null_mut();
    let mut handle = std::ptr::null_mut();

    VM.attach_current_thread(|env| -> jni::errors::Result<()> {
        let raw = env.get_raw();
        // Each case: the C call's class and message (read right after it), then
        // the JNI call of the same arguments.
        type Jni<'a> = Box<dyn FnOnce(&mut Env) + 'a>;
        let cases: Vec<(&str, (ErrorClass, String), Jni)> = vec![
            (
                "a missing model folder",
                c_outcome(unsafe { predictor::dlc_predictor_open(c("/nonexistent/model").as_ptr(), std::ptr::null(), &mut handle) }),
                Box::new(|env| {
                    let (dir, options) = (s(env, "/nonexistent/model"), s(env, "{}"));
                    predictor::Java_org_dlclassifier_internal_Native_predictorOpen(unsafe { EnvUnowned::from_raw(raw) }, class(env), dir, options);
                }),
            ),
            (
                "a null model folder",
                c_outcome(unsafe { predictor::dlc_predictor_open(std::ptr::null(), std::ptr::null(), &mut handle) }),
                Box::new(|env| {
                    predictor::Java_org_dlclassifier_internal_Native_predictorOpen(unsafe { EnvUnowned::from_raw(raw) }, class(env), JString::null(), JString::null());
                }),
            ),
            (
                "an unknown backend",
                c_outcome(unsafe { predictor::dlc_predictor_open(c("/tmp").as_ptr(), c(r#"{"backend":"tpu"}"#).as_ptr(), &mut handle) }),
                Box::new(|env| {
                    let (dir, options) = (s(env, "/tmp"), s(env, r#"{"backend":"tpu"}"#));
                    predictor::Java_org_dlclassifier_internal_Native_predictorOpen(unsafe { EnvUnowned::from_raw(raw) }, class(env), dir, options);
                }),
            ),
            (
                "an unknown encoder",
                c_outcome(unsafe { catalog::dlc_recommend_json(c("vgg99").as_ptr(), 10, &mut out) }),
                Box::new(|env| {
                    let encoder = s(env, "vgg99");
                    catalog::Java_org_dlclassifier_internal_Native_recommendJson(unsafe { EnvUnowned::from_raw(raw) }, class(env), encoder, 10);
                }),
            ),
            (
                "an impossible memory budget",
                c_outcome(unsafe { devices::dlc_estimate_json(std::ptr::null(), 3, 2, 1000, &mut out) }),
                Box::new(|env| {
                    devices::Java_org_dlclassifier_internal_Native_estimateJson(unsafe { EnvUnowned::from_raw(raw) }, class(env), JString::null(), 3, 2, 1000);
                }),
            ),
            (
                "a misspelt training setting",
                c_outcome(unsafe { training::dlc_train(c("/nonexistent/data").as_ptr(), c("/tmp/never").as_ptr(), c(r#"{"epoch":1}"#).as_ptr(), std::ptr::null(), std::ptr::null(), &mut out) }),
                Box::new(|env| {
                    let (data, dir, config) = (s(env, "/nonexistent/data"), s(env, "/tmp/never"), s(env, r#"{"epoch":1}"#));
                    training::Java_org_dlclassifier_internal_Native_train(unsafe { EnvUnowned::from_raw(raw) }, class(env), data, dir, config, 0, JObject::null());
                }),
            ),
            (
                "a negative seed",
                c_outcome(unsafe { training::dlc_config_canonical_json(c("{}").as_ptr(), c(r#"{"seed":-1}"#).as_ptr(), &mut out) }),
                Box::new(|env| {
                    let (base, changes) = (s(env, "{}"), s(env, r#"{"seed":-1}"#));
                    training::Java_org_dlclassifier_internal_Native_configCanonicalJson(unsafe { EnvUnowned::from_raw(raw) }, class(env), base, changes);
                }),
            ),
            (
                "a missing bundle",
                c_outcome(unsafe { models::dlc_bundle_verify_json(c("/nonexistent.zip").as_ptr(), 0, &mut out) }),
                Box::new(|env| {
                    let zip = s(env, "/nonexistent.zip");
                    models::Java_org_dlclassifier_internal_Native_bundleVerifyJson(unsafe { EnvUnowned::from_raw(raw) }, class(env), zip, 0);
                }),
            ),
            (
                "a booking over the budget",
                c_outcome(unsafe { reservation::dlc_reserve(c("cpu").as_ptr(), 200, 100, 0, std::ptr::null(), &mut std::ptr::null_mut()) }),
                Box::new(|env| {
                    let device = s(env, "cpu");
                    reservation::Java_org_dlclassifier_internal_Native_reserve(unsafe { EnvUnowned::from_raw(raw) }, class(env), device, 200, 100, 0, JString::null());
                }),
            ),
            (
                "a freed job",
                c_outcome(unsafe { jobs::dlc_job_cancel(job) }),
                Box::new(|env| {
                    jobs::Java_org_dlclassifier_internal_Native_jobCancel(unsafe { EnvUnowned::from_raw(raw) }, class(env), stale);
                }),
            ),
        ];
        assert_eq!(cases.len(), 10);
        for (what, (class_of_c, c_message), jni_call) in cases {
            jni_call(env);
            let (java_class, java_message) = java_outcome(env);
            assert_eq!(java_class, crate::jni::exception_class(class_of_c), "{what}: {java_message}");
            assert_eq!(java_message, c_message, "{what}");
            assert!(!c_message.is_empty(), "{what}");
        }
        Ok(())
    })
    .unwrap();
}
