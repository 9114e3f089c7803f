//! The model registry and bundles on a real trained model: listing,
//! validation, and a bundle round trip that predicts exactly as the original.

mod common;

use common::{data, quick_config};
use dlclassifier::data::TrainingData;
use dlclassifier::inference::InferenceOptions;
use dlclassifier::job::JobControl;
use dlclassifier::model_dir::{write_json, ModelMetadata, METADATA_FILE, ONNX_FILE};
use dlclassifier::registry::{
    list_models, open_bundle, pack_bundle, validate_model_dir, verify_bundle, BundleInfo, DEFAULT_MAX_BYTES,
};
use dlclassifier::settings;
use dlclassifier::tasks::pixel::{self, Predictor};
use ndarray::Array4;
use std::path::{Path, PathBuf};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

fn predict(dir: &Path) -> Array4<f32> {
    let predictor = Predictor::open(dir, &InferenceOptions { threads: Some(2), ..Default::default() }).unwrap();
    let tile = Array4::from_shape_fn((1, 3, 64, 64), |(_, c, y, x)| ((x * 3 + y * 5 + c * 11) % 255) as f32);
    predictor.predict_probabilities(tile.view()).unwrap()
}

#[test]
fn registry_and_bundles_on_trained_models() {
    let root = tempfile::tempdir().unwrap();
    let models = root.path().join("classifiers");
    let newer = models.join("ihc");
    let config = settings::TrainingConfig { epochs: 1, tile_size: Some(64), samples_per_epoch: Some(4), ..quick_config() };
    pixel::train(&TrainingData::load(data("ihc-dab")).unwrap(), &config, &newer, &JobControl::new(), &mut |_| {}).unwrap();
    let older = models.join("ihc-old");
    copy_dir(&newer, &older);
    let mut meta = ModelMetadata::read(&older).unwrap();
    meta.created = "2020-01-01T00:00:00+00:00".into();
    meta.write(&older).unwrap();
    std::fs::create_dir(models.join("not-a-model")).unwrap();

    // Listing: newest first, folders without metadata passed over.
    let list = list_models(&models).unwrap();
    assert_eq!(list.iter().map(|m| m.path.clone()).collect::<Vec<_>>(), [newer.clone(), older.clone()]);
    assert_eq!(list[0].classes.len(), 3);
    assert_eq!((list[0].channels, list[0].tile_size, list[0].best_epoch), (3, 64, Some(1)));
    assert!(list[0].mean_iou.is_some());

    // Validation: a real model passes; each broken part is reported.
    let report = validate_model_dir(&newer);
    assert!(report.valid, "{report:?}");
    let broken = root.path().join("broken");
    copy_dir(&newer, &broken);
    std::fs::write(broken.join(ONNX_FILE), b"not a graph").unwrap();
    let report = validate_model_dir(&broken);
    assert!(!report.valid);
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert_eq!(report.problems[0].file, ONNX_FILE);
    let mut bad_meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(broken.join(METADATA_FILE)).unwrap()).unwrap();
    bad_meta["metadata_version"] = 99.into();
    write_json(&broken.join(METADATA_FILE), &bad_meta).unwrap();
    let report = validate_model_dir(&broken);
    assert!(report.problems[0].reason.contains("newer than this library"), "{report:?}");

    // Bundle round trip: pack, verify, open from the cache, predict identically.
    std::env::set_var("DLC_CACHE", root.path().join("cache"));
    let zip = root.path().join("bundle.zip");
    let info = BundleInfo { name: "ihc".into(), version: "1.0".into(), description: "two IHC models".into() };
    let packed = pack_bundle(&[newer.clone(), older.clone()], &zip, &info).unwrap();
    let verified = verify_bundle(&zip, DEFAULT_MAX_BYTES).unwrap();
    assert_eq!(verified, packed);
    assert_eq!(verified.models[1].metadata.created, "2020-01-01T00:00:00+00:00");
    let opened = open_bundle(&zip, Some("ihc")).unwrap();
    assert!(opened.starts_with(root.path().join("cache/models")), "{}", opened.display());
    assert_eq!(predict(&opened), predict(&newer));
    assert!(validate_model_dir(&opened).valid, "the unpacked copy checks its own checksums");
    let several = open_bundle(&zip, None).unwrap_err().to_string();
    assert!(several.contains("name one of ihc, ihc-old"), "{several}");

    // The cached copy is reused, and unpacked again once it has been changed.
    let onnx = opened.join(ONNX_FILE);
    let stamp = std::fs::metadata(&onnx).unwrap().modified().unwrap();
    assert_eq!(open_bundle(&zip, Some("ihc")).unwrap(), opened);
    assert_eq!(std::fs::metadata(&onnx).unwrap().modified().unwrap(), stamp, "reused, not unpacked again");
    std::fs::write(&onnx, b"tampered").unwrap();
    assert!(!validate_model_dir(&opened).valid);
    assert_eq!(open_bundle(&zip, Some("ihc")).unwrap(), opened);
    assert!(validate_model_dir(&opened).valid, "restored from the bundle");

    // A changed byte inside the zip is refused with the reason.
    let mut bytes = std::fs::read(&zip).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0xff;
    let tampered: PathBuf = root.path().join("tampered.zip");
    std::fs::write(&tampered, bytes).unwrap();
    let err = verify_bundle(&tampered, DEFAULT_MAX_BYTES).unwrap_err().to_string();
    assert!(err.contains("bundle refused"), "{err}");
}
