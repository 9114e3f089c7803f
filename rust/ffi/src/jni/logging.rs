//! Native `tracing` events reach java.util.logging: when the library is
//! loaded, a subscriber is installed whose layer (`api::logging`) hands
//! every event at or above the Java logger's level to `NativeLog.log`.

use super::attach::with_env;
use crate::api::logging::{set_threshold, ForwardLayer};
use crate::error::FfiResult;
use jni::objects::{Global, JClass, JValue};
use jni::sys::{jint, JNI_VERSION_1_8};
use jni::{jni_sig, jni_str, JavaVM};
use std::ffi::c_void;
use tracing_subscriber::layer::SubscriberExt;

/// Where events go: the VM and `NativeLog`, resolved once on a Java thread
/// because a native thread's class lookups only see the system class loader.
struct Sink {
    vm: JavaVM,
    class: Global<JClass<'static>>,
}


/// Calls `NativeLog.log(level, target, message)`.
fn log(sink: &Sink, level: u8, target: &str, message: &str) {
    // A log call must not fail the native work that emitted it.
    let _ = with_env(&sink.vm, |env| {
        // Calling Java with an exception pending is not allowed: hold it aside.
        let pending = env.exception_occurred();
        env.exception_clear();
        let target = env.new_string(target)?;
        let message = env.new_string(message)?;
        let _ = env.call_static_method(
            &sink.class,
            jni_str!("log"),
            jni_sig!("(ILjava/lang/String;Ljava/lang/String;)V"),
            &[JValue::Int(level.into()), JValue::Object(&target), JValue::Object(&message)],
        );
        env.exception_clear();
        if let Some(pending) = pending {
            env.throw(pending)?;
        }
        Ok(())
    });
}

/// Finds `NativeLog`, reads the Java logger's level and installs the subscriber.
fn install(vm: JavaVM) -> FfiResult<()> {
    let class = vm.attach_current_thread(|env| -> FfiResult<_> {
        let class = env.find_class(jni_str!("org/dlclassifier/internal/NativeLog"))?;
        let threshold = env.call_static_method(&class, jni_str!("threshold"), jni_sig!("()I"), &[])?.i()?;
        set_threshold(threshold);
        Ok(env.new_global_ref(class)?)
    })?;
    let sink = Sink { vm, class };
    let layer = ForwardLayer(move |level: u8, target: &str, message: &str| log(&sink, level, target, message));
    // Another subscriber (an embedding Rust program's) takes precedence.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
    Ok(())
}

/// Runs when the JVM loads the library, on the loading Java thread.
///
/// # Safety
/// Called by the JVM with its own VM pointer.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn JNI_OnLoad(vm: *mut jni::sys::JavaVM, _reserved: *mut c_void) -> jint {
    // Logging is an extra: without `NativeLog` (or on any failure) the library still loads.
    // SAFETY: the JVM passes a valid VM pointer.
    let _ = std::panic::catch_unwind(|| install(unsafe { JavaVM::from_raw(vm) }));
    JNI_VERSION_1_8
}
