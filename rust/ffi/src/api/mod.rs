//! The native API, once for every transport: each call is one `bridge_fn!`
//! holding its argument checks, option validation and result shape; the C
//! and JNI shims generated from it only convert (see `bridge.rs`).
//!
//! Adding a call: write a `bridge_fn!` in the module of its subject (or a
//! new module here), with arguments and result written as kinds. That
//! generates `dlc_<name>` (run `make header` to regenerate
//! `include/dlclassifier.h`) and `Native.<lowerCamelName>`, which you declare
//! in `java/src/main/java/org/dlclassifier/internal/Native.java` (a JUnit test
//! checks that the library's JNI symbols and those declarations agree).
//! A new argument kind is a function in `kinds` from a wire value, plus a
//! parameter type in `c_arg_type!` and `jni_arg_type!`.

mod catalog;
mod devices;
mod jobs;
pub mod kinds;
pub mod logging;
mod models;
#[cfg(test)]
mod no_panics;
mod predictor;
mod reservation;
#[cfg(test)]
mod same_errors;
mod training;
#[cfg(feature = "test-hooks")]
mod test_hooks;
mod values;

use crate::error::{FfiError, FfiResult};
pub use crate::handles::Job;
pub use dlclassifier::tasks::pixel::{Predictor, ProbabilityFormat, TileLayout};
pub use dlclassifier::reservation::Reservation;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
pub use values::{any_overlap, copy_floats, Bytes, BytesMut, CallbackMeasurement, CallbackReader, EpochSink, Image, ImageSource};

/// The JSON argument `name` as a `T`. serde's type errors name no field, so
/// for settings objects whose fields all have defaults the error is traced
/// to the first field that fails on its own.
pub fn parse_json<T: DeserializeOwned>(text: &str, name: &str) -> FfiResult<T> {
    serde_json::from_str(text).map_err(|e| {
        let object: Option<Map<String, Value>> = serde_json::from_str(text).ok();
        let defaults_alone = serde_json::from_value::<T>(Value::Object(Map::new())).is_ok();
        let culprit = object.filter(|_| defaults_alone).and_then(|object| {
            object.into_iter().map(|(key, value)| (key.clone(), Map::from_iter([(key, value)]))).find_map(|(key, alone)| {
                serde_json::from_value::<T>(Value::Object(alone)).is_err().then_some(key)
            })
        });
        match culprit {
            Some(key) => FfiError::invalid_argument(format!("{name}: {key}: {e}")),
            None => FfiError::invalid_argument(format!("{name}: invalid JSON: {e}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dlclassifier::settings::TrainingConfig;

    #[test]
    fn json_errors_name_the_argument_and_the_field_that_fails() {
        let err = |json: &str| parse_json::<TrainingConfig>(json, "config").unwrap_err().message;
        assert!(err(r#"{"epochs":2,"seed":-1}"#).starts_with("config: seed: invalid value: integer `-1`, expected u64"));
        assert!(err(r#"{"augmentation":{"rotate90":3}}"#).starts_with("config: augmentation: invalid type"));
        assert!(err(r#"{"epoch":3}"#).contains("unknown field `epoch`"));
        assert!(err("[1]").starts_with("config: invalid JSON: invalid type"));
        // A type with required fields blames no single field.
        let e = parse_json::<dlclassifier::registry::BundleInfo>(r#"{"name": 3}"#, "info").unwrap_err().message;
        assert!(e.starts_with("info: invalid JSON: invalid type"), "{e}");
    }
}
