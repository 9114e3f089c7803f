//! The one native library of dlclassifier: JNI entry points for the Java API
//! and a C ABI (see `include/dlclassifier.h`). Both layers only convert types,
//! map errors and manage handles; the work is done by the core crate.

mod c;
mod error;
mod handles;
mod jni;
