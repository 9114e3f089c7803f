//! Calls into Java from any thread. Java threads use their own attachment;
//! native threads (libtorch's, ONNX Runtime's, our writers) are attached as
//! daemons, so that they never keep the JVM from exiting, and detached when
//! they end.

use crate::error::{FfiError, FfiResult};
use jni::sys::{self, JNI_OK};
use jni::{Env, JavaVM};
use std::cell::RefCell;
use std::ptr;

/// Local references a callback may create before the frame has to grow.
const LOCAL_REFS: usize = 16;

/// Detaches the thread that attached itself, when that thread ends.
struct DaemonAttachment(*mut sys::JavaVM);

impl Drop for DaemonAttachment {
    fn drop(&mut self) {
        // SAFETY: the VM outlives every thread attached to it; this thread
        // holds no local references any more (TLS destructors run last).
        unsafe { ((**self.0).v1_1.DetachCurrentThread)(self.0) };
    }
}

thread_local! {
    static DAEMON: RefCell<Option<DaemonAttachment>> = const { RefCell::new(None) };
}

fn attach_as_daemon(vm: &JavaVM) -> FfiResult<()> {
    let raw = vm.get_raw();
    let mut env = ptr::null_mut();
    // SAFETY: `raw` is the live VM; JNI 1.4 has AttachCurrentThreadAsDaemon.
    let status = unsafe { ((**raw).v1_4.AttachCurrentThreadAsDaemon)(raw, &mut env, ptr::null_mut()) };
    if status != JNI_OK {
        return Err(FfiError::new(crate::error::ErrorClass::Engine, format!("cannot attach a native thread to the JVM (JNI status {status})")));
    }
    // During thread teardown TLS is gone: the thread then stays attached until the JVM exits.
    let _ = DAEMON.try_with(|d| *d.borrow_mut() = Some(DaemonAttachment(raw)));
    Ok(())
}

/// Runs `f` with this thread's JNI environment in a fresh local frame.
pub fn with_env<T>(vm: &JavaVM, f: impl FnOnce(&mut Env) -> FfiResult<T>) -> FfiResult<T> {
    if !vm.is_thread_attached()? {
        attach_as_daemon(vm)?;
    }
    vm.with_local_frame(LOCAL_REFS, f)
}
