//! `bridge_fn!`: one definition per call of the native API. From
//!
//! ```ignore
//! bridge_fn! {
//!     /// What it does (becomes the C doc comment).
//!     fn predictor_open(model_dir: path, options: json[InferenceOptions]) -> handle[Predictor] { ... }
//! }
//! ```
//!
//! it makes the transport-neutral function `predictor_open`, which holds all
//! the logic, and two shims that only convert: `dlc_predictor_open` (C: one
//! parameter per argument, the result through a trailing `out` pointer, an
//! `int` status) and `Java_org_dlclassifier_internal_Native_predictorOpen`
//! (JNI: a static native of `org.dlclassifier.internal.Native`). Arguments
//! and results are written as *kinds*. A transport turns each parameter
//! into a wire value (`c::args::Wire`, `jni::args::Wire`: text, a number, a
//! memory region, ...) and the function of the kind's name in `api::kinds`
//! checks and decodes it, once for both:
//!
//! | kind | Rust | C | Java |
//! |---|---|---|---|
//! | `str`, `path` | `String`, `PathBuf` | `const char *` | `String` |
//! | `opt_str`, `opt_path` | `Option<..>` | `const char *` or NULL | `String` or null |
//! | `json[T]` | `T` | JSON, NULL for defaults | JSON, null for defaults |
//! | `required_json[T]` | `T` | JSON | JSON |
//! | `size`, `u64` | `usize`, `u64` | `size_t`, `uint64_t` | `long` (negative refused) |
//! | `int`, `bool` | `i32`, `bool` | `int`, `bool` | `int`, `boolean` |
//! | `handle[T]`, `opt_handle[T]` | `Arc<T>`, `Option<..>` | `const DlcT *` (NULL: none) | `long` (0: none) |
//! | `handle_id[T]` | `u64` | `DlcT *` | `long` |
//! | `bytes`, `opt_bytes_mut` | `Bytes`, `Option<BytesMut>` | `DlcConstBuffer`, `DlcBuffer` | `ByteBuffer` (direct) |
//! | `layout` | `TileLayout` | `const DlcTileLayout *` | `int[6]` |
//! | `probability_format` | `ProbabilityFormat` | `int` | `int` |
//! | `image` | `ImageSource` | image file path | `ApplyBridge` |
//! | `epochs` | `EpochSink` | `const DlcEpochListener *` | listener with `onEpoch(String)` |
//!
//! Results: `json[T]` (C: required `char **out`), `report[T]` (C: optional
//! `char **out`), `string`, `handle[T]` (`DlcT **out` / `long`), `bool`, `int`, or
//! none. `jni_only` and `test_hook` (JNI of `TestNative`, only with the
//! `test-hooks` feature) prefix calls that have no C twin.
//!
//! Argument names are the parameter names of both shims and name the
//! argument in every conversion error, so C and Java see the same message.

/// The Rust type an argument kind arrives as.
macro_rules! rust_arg {
    (str) => { String };
    (opt_str) => { Option<String> };
    (path) => { std::path::PathBuf };
    (opt_path) => { Option<std::path::PathBuf> };
    (json[$($t:tt)*]) => { $($t)* };
    (required_json[$($t:tt)*]) => { $($t)* };
    (size) => { usize };
    (u64) => { u64 };
    (int) => { i32 };
    (bool) => { bool };
    (handle[$t:ident]) => { std::sync::Arc<$crate::api::$t> };
    (opt_handle[$t:ident]) => { Option<std::sync::Arc<$crate::api::$t>> };
    (handle_id[$t:ident]) => { u64 };
    (bytes) => { $crate::api::Bytes };
    (opt_bytes_mut) => { Option<$crate::api::BytesMut> };
    (layout) => { $crate::api::TileLayout };
    (probability_format) => { $crate::api::ProbabilityFormat };
    (image) => { $crate::api::ImageSource };
    (epochs) => { $crate::api::EpochSink };
}

/// The Rust type a result kind is returned as.
macro_rules! rust_ret {
    () => { () };
    (json[$($t:tt)*]) => { $($t)* };
    (report[$($t:tt)*]) => { $($t)* };
    (string) => { String };
    (handle[$t:ident]) => { std::sync::Arc<$crate::api::$t> };
    (bool) => { bool };
    (int) => { i32 };
}

macro_rules! bridge_fn {
    ($(#[doc = $doc:literal])* fn $name:ident $args:tt $(-> $ret:ident $([$($rt:tt)*])?)? $body:block) => {
        bridge_fn!(@api [$($doc)*] $name $args [$($ret $([$($rt)*])?)?] $body);
        c_shim!([$($doc)*] $name $args [$($ret $([$($rt)*])?)?]);
        jni_shim!(Java_org_dlclassifier_internal_Native_ $name $args [$($ret $([$($rt)*])?)?]);
    };
    (jni_only $(#[doc = $doc:literal])* fn $name:ident $args:tt $(-> $ret:ident $([$($rt:tt)*])?)? $body:block) => {
        bridge_fn!(@api [$($doc)*] $name $args [$($ret $([$($rt)*])?)?] $body);
        jni_shim!(Java_org_dlclassifier_internal_Native_ $name $args [$($ret $([$($rt)*])?)?]);
    };
    (test_hook $(#[doc = $doc:literal])* fn $name:ident $args:tt $(-> $ret:ident $([$($rt:tt)*])?)? $body:block) => {
        #[cfg(feature = "test-hooks")]
        bridge_fn!(@api [$($doc)*] $name $args [$($ret $([$($rt)*])?)?] $body);
        #[cfg(feature = "test-hooks")]
        jni_shim!(Java_org_dlclassifier_internal_TestNative_ $name $args [$($ret $([$($rt)*])?)?]);
    };
    (@api [$($doc:literal)*] $name:ident ($($arg:ident: $kind:ident $([$($t:tt)*])?),* $(,)?) [$($ret:tt)*] $body:block) => {
        $(#[doc = $doc])*
        pub fn $name($($arg: rust_arg!($kind $([$($t)*])?)),*) -> $crate::error::FfiResult<rust_ret!($($ret)*)> $body
    };
}
