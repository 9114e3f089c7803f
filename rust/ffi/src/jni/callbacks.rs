//! Calls from the engine back into Java during a native call (region reads,
//! progress, epoch records). A Java exception thrown by a callback is held
//! aside, so that no later JNI call meets a pending exception, and rethrown
//! unchanged to the caller of the native method when it returns ([`Scope`]).
//! Callbacks run on the thread of the native call.

use super::with_env;
use crate::error::{ErrorClass, FfiError, FfiResult};
use jni::objects::{Global, JObject, JThrowable};
use jni::{Env, JavaVM};
use std::cell::RefCell;

thread_local! {
    /// The first exception a callback threw during the innermost native call of this thread.
    static THROWN: RefCell<Option<Global<JThrowable<'static>>>> = const { RefCell::new(None) };
}

/// One native call's slot for a callback's exception; a callback may itself
/// call a native method, whose scope nests.
pub struct Scope {
    outer: Option<Global<JThrowable<'static>>>,
}

impl Scope {
    pub fn enter() -> Scope {
        Scope { outer: THROWN.with(|t| t.borrow_mut().take()) }
    }

    /// The exception a callback threw during this call, if any.
    pub fn exit(self) -> Option<Global<JThrowable<'static>>> {
        THROWN.with(|t| std::mem::replace(&mut *t.borrow_mut(), self.outer))
    }
}

/// A Java object the engine calls back during one native call.
pub struct JavaObject {
    vm: JavaVM,
    object: Global<JObject<'static>>,
}

impl JavaObject {
    pub fn new(env: &mut Env, object: &JObject) -> FfiResult<JavaObject> {
        Ok(JavaObject { vm: env.get_java_vm()?, object: env.new_global_ref(object)? })
    }

    /// Runs `f` against the object; a Java exception is kept aside for the
    /// caller of the native method and becomes an error here.
    pub fn call<T>(&self, f: impl FnOnce(&mut Env, &JObject) -> FfiResult<T>) -> FfiResult<T> {
        with_env(&self.vm, |env| {
            let result = f(env, self.object.as_obj());
            if let Some(throwable) = env.exception_occurred() {
                env.exception_clear();
                let global = env.new_global_ref(throwable)?;
                THROWN.with(|t| {
                    t.borrow_mut().get_or_insert(global);
                });
                return Err(FfiError::new(ErrorClass::Engine, "a Java callback threw"));
            }
            result
        })
    }
}
