//! The `dlclassifier` binary as users run it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data").join(name)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dlclassifier")).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn train_writes_a_model_and_reports_each_epoch_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    let out = run(&[
        "train", "--data", data("nuclei-dsb2018").to_str().unwrap(), "--out", model.to_str().unwrap(),
        "--encoder", "mobilenet_v2", "--epochs", "2", "--samples-per-epoch", "4", "--tile-size", "64",
        "--batch-size", "2", "--threads", "2", "--device", "cpu", "--scheduler", "step", "--loss", "cross_entropy", "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["epoch"], 2);
    assert!(lines[1]["mean_iou"].as_f64().is_some());
    for f in ["model.pt", "model.onnx", "model.safetensors", "metadata.json", "training_history.json", "training_curves.png"] {
        assert!(model.join(f).is_file(), "{f}");
    }
    let png = image::open(model.join("training_curves.png")).unwrap();
    assert!(png.width() > 500);
    assert!(stderr(&out).contains("model written to"));

    // Settings reused from that model, with one change; --overwrite replaces it.
    let again = run(&["train", "--data", data("nuclei-dsb2018").to_str().unwrap(), "--out", model.to_str().unwrap(),
        "--from-model", model.to_str().unwrap(), "--epochs", "1", "--overwrite", "--json"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(model.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(meta["training"]["encoder"], "mobilenet_v2");
    assert_eq!(meta["training"]["epochs"], 1);
    assert_eq!(meta["training"]["scheduler"]["type"], "step");

    infer_and_export(&model);
}

/// `infer` and `export` on the model the training test wrote.
fn infer_and_export(model: &std::path::Path) {
    let full = data("nuclei-dsb2018/full");
    let (image, truth) = (full.join("image.tif"), full.join("mask.png"));
    let results = model.parent().unwrap().join("results");
    let m = model.to_str().unwrap();
    let (image, truth, res) = (image.to_str().unwrap(), truth.to_str().unwrap(), results.to_str().unwrap());
    let out = run(&["infer", "--model", m, "--image", image, "--out", res, "--tile", "128", "--overlap", "32", "--blend", "gaussian",
        "--probabilities", "uint8", "--truth", truth, "--pixel-size", "0.5", "--objects", "geojson", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["measurements"]["total_pixels"], 512 * 512);
    assert_eq!(report["measurements"]["area_unit"], "µm^2");
    assert!(report["truth"]["mean_iou"].as_f64().unwrap() > 0.0);
    assert_eq!(report["tiles"], 36, "a 6x6 grid of 128-pixel tiles, 96 apart");
    for f in ["class_map.png", "overlay.png", "probabilities.tif", "measurements.json", "measurements.csv", "objects.geojson", "objects.csv"] {
        assert!(results.join(f).is_file(), "{f}");
    }
    assert!(report["objects"]["count"].as_u64().unwrap() > 10, "{}", report["objects"]);
    // Objects of a class map stitched from 128-pixel tiles are its connected
    // components, valid polygons measured as regionprops measures them.
    let python = std::env::var("DLC_PYTHON").expect("set DLC_PYTHON to the test venv's python (make test does)");
    let check = std::process::Command::new(python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/check_objects.py"))
        .args([results.join("objects.geojson"), results.join("objects.csv"), results.join("class_map.png"), PathBuf::from(image)])
        .arg("1")
        .output()
        .unwrap();
    assert!(check.status.success(), "{}{}", String::from_utf8_lossy(&check.stdout), String::from_utf8_lossy(&check.stderr));
    let class_map = image::open(results.join("class_map.png")).unwrap();
    assert_eq!((class_map.width(), class_map.height()), (512, 512));
    assert!(class_map.to_luma8().pixels().all(|p| p.0[0] < 2));
    overlays_and_channel_names(m, image, &results);
    regions(m, image, &results);
    assert_eq!(report["downsample"], 1.0, "the model was trained at full resolution");

    // At downsample 2 the model sees a 256x256 image; every output stays 512x512.
    let out = run(&["infer", "--model", m, "--image", image, "--out", res, "--tile", "128", "--overlap", "32", "--downsample", "2", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["downsample"].as_f64(), report["tiles"].as_u64()), (Some(2.0), Some(9)), "a 3x3 grid over 256 pixels");
    assert_eq!(report["measurements"]["total_pixels"], 512 * 512);
    let class_map = image::open(results.join("class_map.png")).unwrap();
    assert_eq!((class_map.width(), class_map.height()), (512, 512));

    std::fs::remove_file(model.join("model.onnx")).unwrap();
    let out = run(&["export", "--model", m]);
    assert!(out.status.success() && model.join("model.onnx").is_file(), "{}", stderr(&out));

    // A float image with one NaN: refused where it is, or read as zero on request.
    let nan = model.parent().unwrap().join("nan.tif");
    let mut pixels = vec![100f32; 64 * 64];
    pixels[2 * 64 + 5] = f32::NAN;
    let file = std::fs::File::create(&nan).unwrap();
    tiff::encoder::TiffEncoder::new(file).unwrap().write_image::<tiff::encoder::colortype::Gray32Float>(64, 64, &pixels).unwrap();
    let nan = nan.to_str().unwrap();
    let out = run(&["infer", "--model", m, "--image", nan, "--out", res, "--nan-as-zero"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let rgb = data("ihc-dab/full/image.png");
    let cases: [(&[&str], &str, i32); 15] = [
        (&["infer", "--model", m, "--image", image, "--out", res, "--objects", "geojson", "--area-unit", "um2", "--min-area", "4"], "no pixel size is known", 1),
        (&["infer", "--model", m, "--image", image, "--out", res, "--pixel-size", "0"], "the image's pixel size must be a positive number, got 0", 1),
        (&["infer", "--model", m, "--image", image, "--out", res, "--objects", "geojson", "--skip-classes", "Stroma"], "names 'Stroma', which is not a class of the model", 1),
        (&["infer", "--model", m, "--image", nan, "--out", res], "the image holds 1 non-finite value (NaN or infinity), the first at x=5, y=2, channel 0", 1),
        (&["infer", "--model", m, "--image", image, "--out", res, "--tile", "1048576"], "tile_size must be a positive multiple of 32 up to 8192, got 1048576", 1),
        (&["infer", "--model", m, "--image", image, "--out", res, "--batch", "0"], "batch_size must be from 1 to 4096, got 0", 1),
        (&["infer", "--model", "/nonexistent", "--image", image, "--out", res], "metadata.json is missing", 3),
        (&["infer", "--model", m, "--image", rgb.to_str().unwrap(), "--out", res], "expects 1 input channels but the image has 3", 1),
        (&["infer", "--model", m, "--image", image, "--out", res, "--blend", "soft"], "unknown blend mode 'soft'", 1),
        (&["infer", "--model", m, "--image", image, "--out", res, "--tile", "128", "--overlap", "128"], "must be smaller than the tile size", 1),
        (&["infer", "--model", m, "--image", image, "--out", res, "--truth", rgb.to_str().unwrap()], "mask", 3),
        (&["infer", "--model", m, "--image", image, "--out", res, "--channel-names", "CD3"],
            "the model needs channel(s) 'DAPI' that the image does not have; its channels are 'CD3'", 1),
        (&["infer", "--model", m, "--image", image, "--out", res, "--overlay", "outline"], "unknown overlay mode 'outline'", 1),
        (&["infer", "--model", m, "--image", image, "--out", res, "--display-range", "0-100"], "display range '0-100' is not MIN:MAX", 1),
        (&["infer", "--model", m, "--image", image, "--out", res, "--downsample", "0"], "downsample must be a positive number, got 0", 1),
    ];
    for (args, expected, code) in cases {
        fails_with_one_line(args, expected, code);
    }
}

/// `--region` from a QuPath-style GeoJSON annotation: only its tiles run,
/// the outputs cover its box, objects are clipped with `--clip`.
fn regions(model: &str, image: &str, results: &std::path::Path) {
    let l_shape = r#"{"type": "Feature", "properties": {"objectType": "annotation"}, "geometry": {"type": "Polygon",
        "coordinates": [[[40, 40], [400, 40], [400, 200], [200, 200], [200, 460], [40, 460], [40, 40]]]}}"#;
    let region = results.join("region.geojson");
    std::fs::write(&region, l_shape).unwrap();
    let res = results.join("region");
    let r = region.to_str().unwrap();
    let out = run(&["infer", "--model", model, "--image", image, "--out", res.to_str().unwrap(), "--tile", "128", "--overlap", "32",
        "--region", r, "--objects", "geojson", "--clip", r, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let area = 360 * 160 + 160 * 260;
    assert_eq!(report["region"]["pixels"], area);
    assert_eq!(report["measurements"]["total_pixels"], area);
    assert_eq!(report["region"]["bounds"], serde_json::json!({"x": 40, "y": 40, "width": 360, "height": 420}));
    let (run_tiles, skipped) = (report["tiles"].as_u64().unwrap(), report["region"]["tiles_skipped"].as_u64().unwrap());
    assert!(skipped > 0 && run_tiles < 36, "fewer than the whole image's 6x6 tiles: {run_tiles} run, {skipped} left out");
    let class_map = image::open(res.join("class_map.png")).unwrap().to_luma8();
    assert_eq!(class_map.dimensions(), (360, 420));
    assert_eq!(class_map.get_pixel(300, 300).0[0], 255, "outside the L");
    let overlay = image::open(res.join("overlay.png")).unwrap();
    assert_eq!((overlay.width(), overlay.height()), (360, 420));
    let geojson: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(res.join("objects.geojson")).unwrap()).unwrap();
    for f in geojson["features"].as_array().unwrap() {
        for p in f["geometry"]["coordinates"][0].as_array().unwrap() {
            let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
            assert!((40.0..=400.0).contains(&x) && (40.0..=460.0).contains(&y) && !(x > 200.0 && y > 200.0), "({x}, {y}) outside the L");
        }
    }
    let bow_tie = results.join("bow_tie.wkt");
    std::fs::write(&bow_tie, "POLYGON ((0 0, 10 10, 10 0, 0 10, 0 0))").unwrap();
    let outside = results.join("outside.wkt");
    std::fs::write(&outside, "POLYGON ((600 0, 700 0, 700 50, 600 0))").unwrap();
    let small = results.join("small_mask.png");
    image::GrayImage::from_pixel(8, 8, image::Luma([255])).save(&small).unwrap();
    let res = res.to_str().unwrap();
    let cases: [(&[&str], &str, i32); 4] = [
        (&["infer", "--model", model, "--image", image, "--out", res, "--region", bow_tie.to_str().unwrap()], "region polygon 0 is not valid", 1),
        (&["infer", "--model", model, "--image", image, "--out", res, "--region", outside.to_str().unwrap()], "lies outside the 512x512 image", 1),
        (&["infer", "--model", model, "--image", image, "--out", res, "--region-mask", small.to_str().unwrap()], "the region mask is 8x8 but the image is 512x512", 1),
        (&["infer", "--model", model, "--image", image, "--out", res, "--region", small.to_str().unwrap()], "small_mask.png", 3),
    ];
    for (args, expected, code) in cases {
        fails_with_one_line(args, expected, code);
    }
}

/// The overlay over the image by default and the colours alone on request;
/// the image's channels named for the model (trained on "DAPI").
fn overlays_and_channel_names(model: &str, image: &str, results: &std::path::Path) {
    let blended = image::open(results.join("overlay.png")).unwrap();
    assert_eq!(blended.color(), image::ColorType::Rgb8);
    let res = results.join("named");
    let out = run(&["infer", "--model", model, "--image", image, "--out", res.to_str().unwrap(), "--overlay", "classes",
        "--channel-names", "dapi", "--no-class-map"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let classes = image::open(res.join("overlay.png")).unwrap();
    assert_eq!(classes.color(), image::ColorType::Rgba8);
    let out = run(&["infer", "--model", model, "--image", image, "--out", res.to_str().unwrap(), "--display-range", "0:1000",
        "--channel-names", "DAPI", "--no-class-map"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(image::open(res.join("overlay.png")).unwrap().color(), image::ColorType::Rgb8);
}

/// Runs a command that must fail with the exit code of its error class (1
/// for a bad argument, 3 for a file) and one `error: ` line containing `expected`.
fn fails_with_one_line(args: &[&str], expected: &str, code: i32) {
    let out = run(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("error: ") && err.contains(expected), "{args:?}: {err}");
}

#[test]
fn bad_input_gives_one_line_and_a_failing_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("m");
    let ihc = data("ihc-dab");
    let (ihc, out) = (ihc.to_str().unwrap(), out_dir.to_str().unwrap());
    let weights = dir.path().to_str().unwrap();
    let cases: [(&[&str], &str, i32); 10] = [
        (&["train", "--data", "/nonexistent", "--out", out], "/nonexistent", 3),
        (&["train", "--data", ihc, "--out", out, "--encoder", "vgg99"], "unknown encoder 'vgg99'", 1),
        (&["train", "--data", ihc, "--out", out, "--tile-size", "100"], "multiple of 32", 1),
        (&["train", "--data", ihc, "--out", out, "--samples-per-epoch", "0"], "samples_per_epoch must be from 1 to 16777216, got 0", 1),
        (&["train", "--data", ihc, "--out", out, "--device", "cuda:7"], "CUDA", 1),
        (&["train", "--data", ihc, "--out", out, "--encoder-lr-factor", "2"], "encoder_lr_factor must be in (0, 1]", 1),
        (&["train", "--data", ihc, "--out", out, "--architecture", "segformer"], "unknown architecture 'segformer'", 1),
        (&["train", "--data", ihc, "--out", out, "--architecture", "pan", "--tile-size", "64"], "pan needs tile_size of at least 128", 1),
        (&["train", "--data", ihc, "--out", out, "--architecture", "linknet", "--encoder", "mit_b0"], "linknet", 1),
        (
            &["train", "--data", ihc, "--out", out, "--encoder", "resnet50", "--encoder-weights", "lunit-bt", "--weights-dir", weights],
            "resnet50_lunit-bt.safetensors",
            1,
        ),
    ];
    for (args, expected, code) in cases {
        fails_with_one_line(args, expected, code);
        assert!(!out_dir.exists());
    }
}

#[test]
fn catalog_lists_encoders_with_freeze_groups() {
    let out = run(&["catalog"]);
    assert!(out.status.success());
    let catalog: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let encoders = catalog[0]["encoders"].as_array().unwrap();
    assert_eq!(catalog[0]["name"], "unet");
    assert_eq!(catalog.as_array().unwrap().len(), 9);
    assert_eq!(encoders.len(), 15);
    let r18 = encoders.iter().find(|e| e["name"] == "resnet18").unwrap();
    assert_eq!(r18["model_parameters"], 14_328_354);
    assert_eq!(r18["freeze_groups"][1]["name"], "layer1");
    assert_eq!(r18["pretrained"][0]["file_stem"], "resnet18_imagenet");
}

#[test]
fn catalog_recommends_transfer_settings_by_data_size() {
    let out = run(&["catalog", "--recommend", "--encoder", "resnet18", "--tiles", "120", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["size_class"], "small");
    assert_eq!(r["frozen_groups"], serde_json::json!(["stem", "layer1", "layer2", "layer3"]));
    assert_eq!(r["encoder_lr_factor"], 0.1);

    let ihc = data("ihc-dab");
    let out = run(&["catalog", "--recommend", "--encoder", "mobilenet_v2", "--data", ihc.to_str().unwrap(), "--tile-size", "64"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("--encoder-lr-factor"), "{text}");

    fails_with_one_line(&["catalog", "--recommend", "--encoder", "vgg99", "--tiles", "5"], "unknown encoder 'vgg99'", 1);
    fails_with_one_line(&["catalog", "--recommend"], "--tiles", 1);
}
