//! Older `metadata.json` forms, brought up to [`METADATA_VERSION`] one step at
//! a time before the reader sees them, so that every older model keeps opening.

use super::classes::class_color;
use crate::{Error, Result};
use serde_json::{json, Map, Value};
use std::path::Path;

/// Bumped when the layout changes; readers migrate older versions.
pub const METADATA_VERSION: u32 = 1;

type Object = Map<String, Value>;

/// `STEPS[v]` turns version `v` into version `v + 1`.
const STEPS: [fn(&mut Object); METADATA_VERSION as usize] = [v0_to_v1];

/// The current form of the `metadata.json` at `path` (named in errors).
/// A file without `metadata_version` is version 0.
pub fn migrate(path: &Path, mut value: Value) -> Result<Value> {
    let object = value.as_object_mut().ok_or_else(|| Error::data(path, "metadata must be a JSON object"))?;
    let version = match object.get("metadata_version") {
        None => 0,
        Some(v) => v
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| Error::data(path, format!("metadata_version must be a whole number, not {v}")))?,
    };
    if version > METADATA_VERSION {
        return Err(Error::data(
            path,
            format!("metadata version {version} is newer than this library supports ({METADATA_VERSION}); update dlclassifier"),
        ));
    }
    for step in &STEPS[version as usize..] {
        step(object);
    }
    object.insert("metadata_version".into(), json!(METADATA_VERSION));
    Ok(value)
}

/// Version 0 is the form written before versioning (as the Python extension
/// writes it), where `classes` may be plain names: they become objects with
/// their index and a default colour.
fn v0_to_v1(object: &mut Object) {
    if let Some(Value::Array(classes)) = object.get_mut("classes") {
        for (index, class) in classes.iter_mut().enumerate() {
            if let Value::String(name) = class {
                *class = json!({ "index": index, "name": name, "color": class_color(index) });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_0_gains_a_version_and_class_objects() {
        let old = json!({ "name": "m", "classes": ["Background", { "index": 1, "name": "Tumor", "color": "#ff0000" }] });
        let new = migrate(Path::new("metadata.json"), old).unwrap();
        assert_eq!(new["metadata_version"], METADATA_VERSION);
        assert_eq!(new["classes"][0], json!({ "index": 0, "name": "Background", "color": "#000000" }));
        assert_eq!(new["classes"][1]["color"], "#ff0000", "objects are kept");
    }

    #[test]
    fn current_versions_pass_unchanged_and_newer_or_odd_ones_are_refused() {
        let current = json!({ "metadata_version": METADATA_VERSION, "classes": ["x"] });
        assert_eq!(migrate(Path::new("m"), current.clone()).unwrap(), current, "no step runs on the current version");
        let newer = migrate(Path::new("m"), json!({ "metadata_version": METADATA_VERSION + 1 })).unwrap_err().to_string();
        assert!(newer.contains("newer than this library"), "{newer}");
        let odd = migrate(Path::new("m"), json!({ "metadata_version": "one" })).unwrap_err().to_string();
        assert!(odd.contains("whole number"), "{odd}");
        assert!(migrate(Path::new("m"), json!([1])).is_err());
    }
}
