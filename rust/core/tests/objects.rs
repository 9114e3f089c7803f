//! Objects traced from real class maps, checked by shapely and scikit-image
//! (the test Python environment, found through `DLC_PYTHON`).

mod common;

use dlclassifier::data::{read_image, read_mask};
use dlclassifier::objects::{GeoJsonWriter, ObjectClass, ObjectOptions, ObjectSink, ObjectTable, ObjectTracer, TracerInputs};
use ndarray::{s, Array2};
use std::path::Path;
use std::process::Command;

/// Traces `labels` (255 read as class 0) in bands of `band` rows, as tiled
/// inference delivers them, measuring `image`.
fn trace(labels: &Array2<u8>, image: &ndarray::Array3<f32>, classes: usize, band: usize, dir: &Path) -> (usize, String) {
    let labels = labels.mapv(|l| if l == 255 { 0 } else { l });
    let channels = image.dim().0;
    let classes = (0..classes).map(|i| ObjectClass { name: format!("Class {i}"), color: [i as u8 * 80, 0, 0] }).collect();
    let inputs = TracerInputs {
        classes,
        width: labels.ncols(),
        calibration: None,
        probabilities: false,
        channel_names: (1..=channels).map(|c| format!("Channel {c}")).collect(),
        reader: None,
        origin: [0, 0],
    };
    let options = ObjectOptions { skip_classes: Some(vec!["Class 0".into()]), ..Default::default() };
    let mut tracer = ObjectTracer::new(options, inputs).unwrap();
    let mut geojson = GeoJsonWriter::create(&dir.join("objects.geojson")).unwrap();
    let mut table = ObjectTable::create(&dir.join("objects.csv"), tracer.measurement_names()).unwrap();
    let mut kept: Vec<dlclassifier::objects::DetectedObject> = Vec::new();
    for y in (0..labels.nrows()).step_by(band) {
        let end = (y + band).min(labels.nrows());
        let mut sinks: Vec<&mut dyn ObjectSink> = vec![&mut geojson, &mut table, &mut kept];
        tracer.push_rows(labels.slice(s![y..end, ..]), None, Some(image.slice(s![.., y..end, ..])), &mut sinks).unwrap();
    }
    let mut sinks: Vec<&mut dyn ObjectSink> = vec![&mut geojson, &mut table, &mut kept];
    tracer.finish(&mut sinks).unwrap();
    (kept.len(), dir.join("objects.geojson").display().to_string())
}

fn check_with_python(dir: &Path, map: &Path, image: &Path, channels: usize) -> String {
    let python = std::env::var("DLC_PYTHON").expect("set DLC_PYTHON to the test venv's python (make test does)");
    let out = Command::new(python)
        .arg(common::repo().join("tests/python/check_objects.py"))
        .args([dir.join("objects.geojson"), dir.join("objects.csv"), map.to_path_buf(), image.to_path_buf()])
        .arg(channels.to_string())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn nuclei_and_ihc_class_maps_give_valid_polygons_with_regionprops_measurements() {
    for (set, classes, image) in [("nuclei-dsb2018", 2, "image.tif"), ("ihc-dab", 3, "image.png")] {
        let full = common::data(set).join("full");
        let (map, image_path) = (full.join("mask.png"), full.join(image));
        let labels = read_mask(&map).unwrap();
        let image = read_image(&image_path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (count, _) = trace(&labels, &image, classes, 64, dir.path());
        assert!(count > 10, "{set}: {count} objects");
        let report = check_with_python(dir.path(), &map, &image_path, image.dim().0);
        eprintln!("{set}: {report}");
    }
}
