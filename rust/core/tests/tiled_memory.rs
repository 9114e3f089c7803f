//! Tiled inference over a 16k x 16k image, with its objects traced and
//! measured, holds a few tile rows, never the image: peak resident memory
//! grows by less than 600 MB. Alone in its test
//! binary so that nothing else moves the process's peak.

mod common;

use dlclassifier::inference::{BackendChoice, InferenceOptions};
use dlclassifier::job::JobControl;
use dlclassifier::objects::ObjectOptions;
use dlclassifier::tasks::pixel::apply::{apply_to_image, OutputOptions};
use dlclassifier::tasks::pixel::outputs::SampleType;
use dlclassifier::tasks::pixel::Predictor;
use dlclassifier::tiling::{BlendMode, TilingOptions};

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_16k_image_is_predicted_and_its_objects_traced_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("pointwise.onnx");
    common::pointwise_onnx(&onnx, 3, 2, None);
    let options = InferenceOptions { backend: BackendChoice::Onnx, threads: Some(2), ..Default::default() };
    let predictor = Predictor::open_onnx(&onnx, None, &options).unwrap();
    let image = common::Cells { width: 16384, height: 16384 };
    let tiling = TilingOptions { tile_size: 512, overlap: 64, blend: BlendMode::Linear, batch_size: 4, tta: false };
    let outputs =
        OutputOptions { probabilities: Some(SampleType::Uint8), objects: Some(ObjectOptions { skip_classes: Some(vec!["class 0".into()]), ..Default::default() }), ..OutputOptions::default() };

    // Reset the peak so that it measures this run only (Linux: "5" > clear_refs).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kib("VmRSS:");
    let report = apply_to_image(&predictor, &image, dir.path(), &tiling, &outputs, &JobControl::new(), &mut |_| {}).unwrap();
    let peak = status_kib("VmHWM:");
    let grown_mb = peak.saturating_sub(before) / 1024;
    eprintln!("16384x16384: peak RSS {} MB, {grown_mb} MB above the start, {} tiles in {:.0} s", peak / 1024, report.tiles, report.seconds);
    assert_eq!(report.measurements.total_pixels, 16384 * 16384);
    assert!(report.measurements.classes.iter().all(|c| c.pixels > 0), "both classes occur: {:?}", report.measurements);
    // One cell in each 32-pixel square: the model finds each as one object
    // of class 1 (class 0, the rest, is not traced).
    let objects = report.objects.unwrap();
    assert_eq!(objects.per_class, [0, 512 * 512]);
    assert!(grown_mb < 600, "peak memory grew by {grown_mb} MB");
}
