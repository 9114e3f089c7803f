//! The JNI transport: every bridged call (`bridge_fn!`) becomes one static
//! native of `org.dlclassifier.internal.Native` through [`jni_shim!`]. Each
//! body runs inside [`call`], which catches panics and turns each
//! [`FfiError`] into the one Java exception its class maps to.

pub mod args;
mod attach;
pub mod callbacks;
mod logging;

use crate::error::{ErrorClass, FfiError, FfiResult};
pub use attach::with_env;
use jni::errors::ErrorPolicy;
use jni::strings::JNIString;
use jni::{Env, EnvUnowned};

/// The JNI parameter type of an argument kind (see `bridge_fn!`).
macro_rules! jni_arg_type {
    ($l:lifetime, size) => { ::jni::sys::jlong };
    ($l:lifetime, u64) => { ::jni::sys::jlong };
    ($l:lifetime, int) => { ::jni::sys::jint };
    ($l:lifetime, bool) => { ::jni::sys::jboolean };
    ($l:lifetime, handle[$t:ident]) => { ::jni::sys::jlong };
    ($l:lifetime, opt_handle[$t:ident]) => { ::jni::sys::jlong };
    ($l:lifetime, handle_id[$t:ident]) => { ::jni::sys::jlong };
    ($l:lifetime, bytes) => { ::jni::objects::JByteBuffer<$l> };
    ($l:lifetime, opt_bytes_mut) => { ::jni::objects::JByteBuffer<$l> };
    ($l:lifetime, layout) => { ::jni::objects::JIntArray<$l> };
    ($l:lifetime, probability_format) => { ::jni::sys::jint };
    ($l:lifetime, image) => { ::jni::objects::JObject<$l> };
    ($l:lifetime, epochs) => { ::jni::objects::JObject<$l> };
    // Text: strings, paths, JSON.
    ($l:lifetime, $($text:tt)*) => { ::jni::objects::JString<$l> };
}

/// Converts the JNI argument `$v` of a kind; an `FfiResult`.
macro_rules! jni_arg {
    ($env:ident, $v:ident, image) => { $crate::jni::args::image($env, $v, stringify!($v)) };
    ($env:ident, $v:ident, epochs) => { $crate::jni::args::epochs($env, $v) };
    ($env:ident, $v:ident, $kind:ident) => {
        $crate::api::kinds::$kind($crate::jni::args::Wire::wire($v, $env, stringify!($v))?, stringify!($v))
    };
}

/// The JNI return type of a result kind.
macro_rules! jni_ret_type {
    ($l:lifetime,) => { () };
    ($l:lifetime, json[$($t:tt)*]) => { ::jni::objects::JString<$l> };
    ($l:lifetime, report[$($t:tt)*]) => { ::jni::objects::JString<$l> };
    ($l:lifetime, string) => { ::jni::objects::JString<$l> };
    ($l:lifetime, handle[$t:ident]) => { ::jni::sys::jlong };
    ($l:lifetime, bool) => { ::jni::sys::jboolean };
    ($l:lifetime, int) => { ::jni::sys::jint };
}

/// Converts a result for Java; an `FfiResult`.
macro_rules! jni_ret {
    ($env:ident, $value:ident,) => { Ok::<(), $crate::error::FfiError>($value) };
    ($env:ident, $value:ident, json[$($t:tt)*]) => { $crate::jni::args::json_string($env, &$value) };
    ($env:ident, $value:ident, report[$($t:tt)*]) => { $crate::jni::args::json_string($env, &$value) };
    ($env:ident, $value:ident, string) => { $crate::jni::args::string($env, $value) };
    ($env:ident, $value:ident, handle[$t:ident]) => { Ok::<::jni::sys::jlong, $crate::error::FfiError>($crate::handles::insert($value) as ::jni::sys::jlong) };
    ($env:ident, $value:ident, bool) => { Ok::<bool, $crate::error::FfiError>($value) };
    ($env:ident, $value:ident, int) => { Ok::<i32, $crate::error::FfiError>($value) };
}

/// The JNI function of a bridged call: `$prefix` names the Java class
/// (`Java_org_dlclassifier_internal_Native_`), the method is `$name` in lower camel case.
macro_rules! jni_shim {
    ($prefix:ident $name:ident ($($arg:ident: $kind:ident $([$($t:tt)*])?),* $(,)?) [$($ret:tt)*]) => {
        pastey::paste! {
            #[unsafe(no_mangle)]
            #[allow(unused_variables)]
            pub extern "system" fn [<$prefix $name:lower_camel>]<'local>(
                env: ::jni::EnvUnowned<'local>,
                _class: ::jni::objects::JClass<'local>,
                $($arg: jni_arg_type!('local, $kind $([$($t)*])?)),*
            ) -> jni_ret_type!('local, $($ret)*) {
                $crate::jni::call(env, |env| {
                    $(let $arg: rust_arg!($kind $([$($t)*])?) = jni_arg!(env, $arg, $kind)?;)*
                    let value = $name($($arg),*)?;
                    jni_ret!(env, value, $($ret)*)
                })
            }
        }
    };
}

/// The Java exception class thrown for each error class.
pub(crate) fn exception_class(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidArgument => "java/lang/IllegalArgumentException",
        ErrorClass::InvalidState => "java/lang/IllegalStateException",
        ErrorClass::Io => "java/io/IOException",
        ErrorClass::Engine | ErrorClass::Panic => "org/dlclassifier/DlcException",
        ErrorClass::OutOfMemory => "org/dlclassifier/DlcOutOfMemoryException",
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

/// Runs the body of a native method: panics and errors become Java
/// exceptions and the method returns `T::default()` to the JVM, which
/// ignores it. An exception that a Java callback threw during the call
/// reaches the caller unchanged instead of the error it caused.
pub fn call<'local, T: Default>(mut env: EnvUnowned<'local>, body: impl FnOnce(&mut Env<'local>) -> FfiResult<T>) -> T {
    env.with_env(|env| {
        let scope = callbacks::Scope::enter();
        let result = body(env);
        match scope.exit() {
            Some(thrown) => {
                env.throw(&thrown)?;
                Err(FfiError::new(ErrorClass::Engine, "a Java callback threw"))
            }
            None => result,
        }
    })
    .resolve::<ThrowMapped>()
}
