//! The one native library of dlclassifier: the native API (`api`), each
//! call defined once with `bridge_fn!` and exposed both as a C function
//! (see `include/dlclassifier.h`) and as a JNI native of
//! `org.dlclassifier.internal.Native`. The transports only convert types,
//! map errors and manage handles; the work is done by the core crate.

#[macro_use]
mod bridge;
#[macro_use]
mod c;
#[macro_use]
mod jni;
mod api;
#[cfg(test)]
mod crash_guard;
mod error;
mod handles;
