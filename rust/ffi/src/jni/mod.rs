//! JNI entry points of the Java package `org.dlclassifier`. Every native
//! method body runs inside [`call`], which catches panics and turns each
//! [`FfiError`] into the one Java exception its class maps to.

use crate::error::{ErrorClass, FfiError, FfiResult};
use jni::errors::ErrorPolicy;
use jni::strings::JNIString;
use jni::{Env, EnvUnowned};

/// The Java exception class thrown for each error class.
fn exception_class(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidArgument => "java/lang/IllegalArgumentException",
        ErrorClass::InvalidState => "java/lang/IllegalStateException",
        ErrorClass::Io => "java/io/IOException",
        ErrorClass::Engine | ErrorClass::Panic => "org/dlclassifier/DlcException",
        ErrorClass::Cancelled => "java/util/concurrent/CancellationException",
        ErrorClass::Timeout => "org/dlclassifier/DlcTimeoutException",
    }
}

impl From<jni::errors::Error> for FfiError {
    fn from(error: jni::errors::Error) -> Self {
        FfiError::new(ErrorClass::Engine, format!("JNI: {error}"))
    }
}

/// Throws the mapped exception, unless a Java exception (say, from a
/// callback into Java) is already pending: that one propagates unchanged.
fn throw(env: &mut Env, error: &FfiError) {
    if env.exception_check() {
        return;
    }
    let class = JNIString::from(exception_class(error.class));
    if env.throw_new(class, JNIString::from(&error.message)).is_err() && !env.exception_check() {
        tracing::error!(message = %error.message, "could not throw a Java exception");
    }
}

/// The error policy of every native method of this library.
#[derive(Debug, Default)]
pub struct ThrowMapped;

impl<T: Default> ErrorPolicy<T, FfiError> for ThrowMapped {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        err: FfiError,
    ) -> jni::errors::Result<T> {
        throw(env, &err);
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        let err = FfiError::from_panic(payload.as_ref());
        // Dropping an arbitrary payload may itself panic; leak it instead.
        std::mem::forget(payload);
        throw(env, &err);
        Ok(T::default())
    }
}

/// `value` as a Java string of JSON: how metadata and reports reach Java.
pub fn json<'local>(env: &mut Env<'local>, value: &impl serde::Serialize) -> FfiResult<jni::objects::JString<'local>> {
    Ok(jni::objects::JString::from_str(env, serde_json::to_string(value)?)?)
}

/// A Java string of JSON as a typed value (settings and options); `what`
/// names the argument in the error.
pub fn from_json<T: serde::de::DeserializeOwned>(env: &Env, text: &jni::objects::JString, what: &str) -> FfiResult<T> {
    serde_json::from_str(&text.try_to_string(env)?).map_err(|e| FfiError::invalid_argument(format!("invalid JSON in {what}: {e}")))
}

/// Runs the body of a native method: panics and errors become Java exceptions
/// and the method returns `T::default()` to the JVM, which ignores it.
pub fn call<'local, T: Default>(
    mut env: EnvUnowned<'local>,
    body: impl FnOnce(&mut Env<'local>) -> FfiResult<T>,
) -> T {
    env.with_env(body).resolve::<ThrowMapped>()
}

mod attach;
mod info;
mod logging;
mod memory;
mod predictor;
mod registry;
mod reservation;
mod training;
mod version;
