//! Bounded property tests: whatever a caller passes, argument decoding and
//! `metadata.json` parsing return a value or an error, never a panic (which
//! the FFI would catch, but which would mean an unchecked size or index).

use super::kinds;
use dlclassifier::inference::InferenceOptions;
use dlclassifier::model_dir::ModelMetadata;
use dlclassifier::normalization::Normalizer;
use dlclassifier::settings::TrainingConfig;
use dlclassifier::tasks::pixel::apply::ApplySettings;
use proptest::prelude::*;
use serde_json::Value;

/// Numbers that break sizes, and some of any kind.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![Just(0i64), Just(-1), Just(1), Just(3), Just(i32::MAX as i64), Just(1 << 20)].prop_map(Value::from),
    ]
}

/// Any JSON value, biased to numbers and lists of numbers.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        4 => number(),
        2 => prop::collection::vec(number(), 0..4).prop_map(Value::Array),
        1 => "[a-z_#0-9]{0,8}".prop_map(Value::from)
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The settings objects' real field names, so values reach the checks behind them.
fn settings_object(fields: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(fields), json_value()), 0..5)
        .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).to_string())
}

const TRAINING: &[&str] = &["tile_size", "batch_size", "epochs", "samples_per_epoch", "learning_rate", "scheduler", "augmentation", "normalization", "class_weight_multipliers", "frozen_groups", "threads", "downsample"];
const APPLY: &[&str] =
    &["tile_size", "overlap", "blend", "batch_size", "tta", "probabilities", "overlay_alpha", "overlay_mode", "display_range", "pixel_size", "downsample"];
const INFERENCE: &[&str] = &["backend", "device", "fp16", "threads", "concurrent_runs", "gpu_reservation", "non_finite"];

/// Paths into `metadata.json` whose values the checks guard.
const METADATA: &[&[&str]] = &[
    &["architecture", "in_channels"],
    &["architecture", "num_classes"],
    &["input_config", "num_channels"],
    &["input_config", "normalization", "num_channels"],
    &["input_config", "normalization", "mean"],
    &["input_config", "normalization", "p_low"],
    &["input_config", "normalization", "p_high"],
    &["input_config", "normalization", "per_channel"],
    &["classes"],
    &["tile_size"],
    &["downsample"],
];

fn set(json: &mut Value, path: &[&str], value: Value) {
    let (last, parents) = path.split_last().expect("a path");
    let target = parents.iter().fold(json, |j, key| &mut j[*key]);
    target[*last] = value;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn layouts_of_any_values_decode_or_fail(values in prop::collection::vec(any::<i64>(), 0..8)) {
        if let Ok(layout) = kinds::layout(Some(values), "layout") {
            let _ = layout.input_bytes();
        }
    }

    #[test]
    fn sizes_handles_and_formats_of_any_number_decode_or_fail(n in any::<u64>(), code in any::<i32>()) {
        let _ = kinds::size(n, "size");
        let _ = kinds::opt_handle::<super::Predictor>(n, "predictor");
        let _ = kinds::probability_format(code, "probability_format");
    }

    #[test]
    fn settings_of_any_text_or_values_parse_and_validate_or_fail(
        text in ".{0,40}",
        training in settings_object(TRAINING),
        apply in settings_object(APPLY),
        inference in settings_object(INFERENCE),
    ) {
        let _ = kinds::json::<TrainingConfig>(Some(text.clone()), "config");
        let _ = kinds::json::<InferenceOptions>(Some(text), "options");
        if let Ok(config) = kinds::json::<TrainingConfig>(Some(training), "config") {
            let _ = config.validate();
        }
        if let Ok(options) = kinds::json::<ApplySettings>(Some(apply), "options") {
            let info = dlclassifier::tasks::pixel::ModelInfo { fixed_size: None, ..test_info() };
            let _ = options.tiling(&info).validate_for(None);
        }
        if let Ok(options) = kinds::json::<InferenceOptions>(Some(inference), "options") {
            let _ = options.validate();
        }
    }

    #[test]
    fn metadata_with_any_field_changed_reads_or_fails(changes in prop::collection::vec((prop::sample::select(METADATA), json_value()), 1..4)) {
        let mut json: Value = serde_json::from_str(METADATA_V0).expect("valid fixture");
        for (path, value) in changes {
            set(&mut json, path, value);
        }
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("metadata.json"), json.to_string()).expect("written");
        if let Ok(meta) = ModelMetadata::read(dir.path()) {
            // What opening a predictor does with it next.
            let normalizer = Normalizer::from_stats(&meta.input_config.normalization);
            prop_assert_eq!(normalizer.channels() as i64, meta.architecture.in_channels);
        }
    }
}

const METADATA_V0: &str = include_str!("../../../core/src/model_dir/testdata/metadata_v0.json");

fn test_info() -> dlclassifier::tasks::pixel::ModelInfo {
    dlclassifier::tasks::pixel::ModelInfo {
        name: "m".into(),
        source: Default::default(),
        in_channels: 1,
        channel_names: Vec::new(),
        num_classes: 2,
        classes: Vec::new(),
        tile_size: 256,
        fixed_size: None,
        min_size: 0,
        backend: String::new(),
        downsample: 1.0,
        training_pixel_size_um: None,
    }
}
