//! Training and its settings: a blocking call, steered through a job from
//! other threads, reporting each epoch to a listener.

use super::{parse_json, EpochSink};
use crate::error::{ErrorClass, FfiError, FfiResult};
use dlclassifier::data::TrainingData;
use dlclassifier::job::JobControl;
use dlclassifier::settings::TrainingConfig;
use dlclassifier::tasks::pixel::{self as task, TrainingOutcome};
use serde_json::{Map, Value};

/// Settings after the core's checks, so that a bad value fails as an
/// invalid argument before any data is read.
fn checked(config: TrainingConfig) -> FfiResult<TrainingConfig> {
    config.validate()?;
    Ok(config)
}

bridge_fn! {
    /// Trains a model on a QuPath training-data export (`data_dir` with
    /// `config.json`, `train/` and `validation/`) and writes the model folder
    /// `out_dir` (atomically). Blocks until done.
    ///
    /// `config` may be NULL for defaults, else a JSON object of training
    /// settings (e.g. `{"encoder":"resnet18","epochs":20,"tile_size":256,
    /// "batch_size":8,"device":"cpu"}`; unknown fields are an error). `job`
    /// (may be NULL) lets other threads cancel or pause the run. `listener`
    /// (may be NULL) hears each epoch. On success `*out` (if `out` is not
    /// NULL) is a JSON object with `model_dir`, `metadata` (including
    /// `status`, `epochs_trained` and `best_epoch`) and `history`, to free
    /// with `dlc_string_free`.
    fn train(data_dir: path, out_dir: path, config: json[TrainingConfig], job: opt_handle[Job], listener: epochs) -> report[TrainingOutcome] {
        // Before the data is read, so that bad settings fail at once.
        let config = checked(config)?;
        let data = TrainingData::load(&data_dir)?;
        let control = job.map_or_else(JobControl::new, |job| (*job).clone());
        let EpochSink(mut listener) = listener;
        let mut listener_failed = false;
        let outcome = task::train(&data, &config, &out_dir, &control, &mut |record| {
            let Some(listener) = listener.as_mut().filter(|_| !listener_failed) else { return };
            match serde_json::to_string(record) {
                Ok(json) if listener(&json) => {}
                Ok(_) => {
                    // The listener's own failure ends the run (and reaches its caller).
                    listener_failed = true;
                    control.cancel();
                }
                Err(e) => tracing::error!(%e, "cannot encode an epoch record"),
            }
        });
        if listener_failed {
            return Err(FfiError::new(ErrorClass::Engine, "the epoch listener failed"));
        }
        Ok(outcome?)
    }
}

bridge_fn! {
    /// What a run with `config` (JSON training settings, or NULL for the
    /// defaults) would use on `data_dir`, without training: JSON
    /// `{"config" (every setting resolved: the tile size, epoch size and
    /// intensity augmentation chosen from the data), "steps_per_epoch",
    /// "choices": [{"setting", "value", "reason", "chosen"}]}`. Free `*out`
    /// with `dlc_string_free`.
    fn training_plan_json(data_dir: path, config: json[TrainingConfig]) -> json[task::TrainingPlan] {
        let config = checked(config)?;
        Ok(task::plan(&TrainingData::load(&data_dir)?, &config)?)
    }
}

bridge_fn! {
    /// `base` (training settings as JSON) with the top-level fields of
    /// `changes` replaced, checked, and written back with every default
    /// filled in. Merging here keeps exact JSON numbers (a 64-bit seed) that
    /// a round trip through a caller's doubles would round. Free `*out`
    /// with `dlc_string_free`.
    fn config_canonical_json(base: str, changes: str) -> string {
        let mut merged: Map<String, Value> = parse_json(&base, "base")?;
        merged.extend(parse_json::<Map<String, Value>>(&changes, "changes")?);
        let config = checked(parse_json(&Value::Object(merged).to_string(), "config")?)?;
        Ok(serde_json::to_string(&config)?)
    }
}

bridge_fn! {
    /// The training settings a model folder was trained with, as JSON (for
    /// training again or fine-tuning). Free `*out` with `dlc_string_free`.
    fn config_from_model_json(model_dir: path) -> json[TrainingConfig] {
        Ok(TrainingConfig::from_model(&model_dir)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_settings_fill_defaults_and_bad_ones_are_invalid_arguments() {
        let base = config_canonical_json(r#"{"epochs":3,"seed":18446744073709551615}"#.into(), "{}".into()).unwrap();
        let json: Value = serde_json::from_str(&config_canonical_json(base, r#"{"encoder":"resnet18"}"#.into()).unwrap()).unwrap();
        assert_eq!((json["epochs"].as_u64(), json["seed"].as_u64()), (Some(3), Some(u64::MAX)));
        assert_eq!((json["encoder"].as_str(), json["batch_size"].as_u64()), (Some("resnet18"), Some(dlclassifier::settings::DEFAULT_BATCH_SIZE as u64)));
        for (json, needle) in [
            (r#"{"encoder":"resnet99"}"#, "resnet99"),
            (r#"{"epoch":3}"#, "unknown field `epoch`"),
            (r#"{"tile_size":100}"#, "multiple of 32"),
            (r#"{"epochs":2,"seed":-1}"#, "seed: invalid value: integer `-1`, expected u64"),
            (r#"{"augmentation":{"rotate90":3}}"#, "augmentation: invalid type"),
            ("[1]", "changes: invalid JSON"),
        ] {
            let e = config_canonical_json("{}".into(), json.into()).unwrap_err();
            assert_eq!(e.class, ErrorClass::InvalidArgument, "{json}");
            assert!(e.message.contains(needle), "{}", e.message);
        }
    }
}
