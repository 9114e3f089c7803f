//! Runs restricted to a region: only the tiles the region needs are run,
//! and every output is the whole image's result inside the region.

mod common;

use dlclassifier::geometry::Polygon;
use dlclassifier::inference::{BackendChoice, InferenceOptions};
use dlclassifier::job::JobControl;
use dlclassifier::objects::ObjectOptions;
use dlclassifier::region::{Region, RegionSpec, OUTSIDE};
use dlclassifier::tasks::pixel::apply::{apply_to_image, ApplyReport, OutputOptions};
use dlclassifier::tasks::pixel::Predictor;
use dlclassifier::tiling::{BlendMode, InMemoryImage, TileGrid, TilingOptions};
use ndarray::{s, Array2, Array3};
use std::path::Path;

const W: usize = 200;
const H: usize = 160;

fn predictor(dir: &Path) -> Predictor {
    let onnx = dir.join("pointwise.onnx");
    common::pointwise_onnx(&onnx, 2, 3, None);
    let options = InferenceOptions { backend: BackendChoice::Onnx, threads: Some(1), ..Default::default() };
    Predictor::open_onnx(&onnx, None, &options).unwrap()
}

/// Two smooth channels, so that all three classes of the pointwise model occur in blobs.
fn image() -> InMemoryImage {
    InMemoryImage(Array3::from_shape_fn((2, H, W), |(c, y, x)| {
        let (x, y) = (x as f32, y as f32);
        if c == 0 { (x / 13.0).sin() + (y / 17.0).cos() * 0.7 } else { (y / 11.0).sin() - (x / 23.0).cos() * 0.5 }
    }))
}

/// An L: a bar along the top and a leg down the left, clockwise on screen.
fn l_shape() -> Polygon {
    let ring = vec![[20.5, 20.0], [180.0, 20.0], [180.0, 60.0], [60.0, 60.0], [60.0, 140.3], [20.5, 140.3], [20.5, 20.0]];
    Polygon { exterior: ring, holes: vec![] }
}

fn run(predictor: &Predictor, out: &Path, tiling: &TilingOptions, outputs: &OutputOptions) -> dlclassifier::Result<ApplyReport> {
    apply_to_image(predictor, &image(), out, tiling, outputs, &JobControl::new(), &mut |_| {})
}

fn class_map(dir: &Path) -> Array2<u8> {
    dlclassifier::data::read_mask(dir.join("class_map.png")).unwrap()
}

/// Whether each pixel's centre is inside the L, by point in polygon.
fn inside() -> Array2<bool> {
    let l = l_shape();
    Array2::from_shape_fn((H, W), |(y, x)| l.contains([x as f64 + 0.5, y as f64 + 0.5]))
}

#[test]
fn an_l_shaped_region_runs_only_its_tiles_and_reproduces_the_whole_images_classes() {
    let dir = tempfile::tempdir().unwrap();
    let predictor = predictor(dir.path());
    let inside = inside();
    let (rows, cols): (Vec<usize>, Vec<usize>) = inside.indexed_iter().filter(|(_, &v)| v).map(|((y, x), _)| (y, x)).unzip();
    let (x0, y0) = (*cols.iter().min().unwrap(), *rows.iter().min().unwrap());
    let (bw, bh) = (cols.iter().max().unwrap() + 1 - x0, rows.iter().max().unwrap() + 1 - y0);
    assert_eq!((x0, y0, bw, bh), (20, 20, 160, 120));
    for (tile_size, overlap, blend) in [(32, 0, BlendMode::CenterCrop), (64, 32, BlendMode::Linear), (64, 32, BlendMode::CenterCrop)] {
        let tiling = TilingOptions { tile_size, overlap, blend, batch_size: 2, tta: false };
        let whole_out = dir.path().join(format!("whole-{tile_size}-{blend}"));
        let objects = ObjectOptions { clip: Some(vec![l_shape()]), ..ObjectOptions::default() };
        let whole = OutputOptions { objects: Some(objects), ..OutputOptions::default() };
        run(&predictor, &whole_out, &tiling, &whole).unwrap();
        let out = dir.path().join(format!("region-{tile_size}-{blend}"));
        let outputs = OutputOptions {
            region: Some(Region::polygons(vec![l_shape()]).unwrap()),
            objects: Some(ObjectOptions::default()),
            truth: Some(class_map(&whole_out)),
            ..OutputOptions::default()
        };
        let report = run(&predictor, &out, &tiling, &outputs).unwrap();

        // The tiles run are those of the whole image's grid whose weight reaches a pixel of the L.
        let grid = TileGrid::new(H, W, tile_size, overlap).unwrap();
        let support = tiling.blend.support(&grid);
        let reaches = |origin: isize, v: usize| {
            let v = v as isize - origin;
            v >= support.start as isize && v < support.end as isize
        };
        let expected = (0..grid.count())
            .filter(|&t| rows.iter().zip(&cols).any(|(&y, &x)| reaches(grid.origin(t / grid.cols), y) && reaches(grid.origin(t % grid.cols), x)))
            .count();
        let region = report.region.as_ref().unwrap();
        assert_eq!(report.tiles, expected, "{tile_size}/{overlap}");
        assert!(region.tiles_skipped > 0, "the L leaves tiles out");
        assert_eq!(region.pixels, rows.len() as u64);
        assert_eq!((region.bounds.x, region.bounds.y, region.bounds.width, region.bounds.height), (x0, y0, bw, bh));

        // The class map covers the box: the whole image's classes inside the L, OUTSIDE elsewhere.
        let full = class_map(&whole_out);
        let mut masked = full.slice(s![y0..y0 + bh, x0..x0 + bw]).to_owned();
        masked.zip_mut_with(&inside.slice(s![y0..y0 + bh, x0..x0 + bw]), |c, &keep| if !keep { *c = OUTSIDE });
        assert_eq!(class_map(&out), masked);

        // Areas and shares are the masked class map's.
        for c in &report.measurements.classes {
            let count = masked.iter().filter(|&&v| usize::from(v) == c.index).count() as u64;
            assert_eq!(c.pixels, count, "class {}", c.index);
            let share = report.measurements.named.iter().find(|n| n.name == format!("{} %", c.name)).unwrap().value;
            assert!((share - 100.0 * count as f64 / rows.len() as f64).abs() < 1e-9);
        }
        assert_eq!(report.measurements.total_pixels, rows.len() as u64);
        assert_eq!(report.truth.as_ref().unwrap().pixel_accuracy, 1.0, "scored inside the region only");

        // Objects in image coordinates: those of the whole image clipped to the L.
        let objects = |dir: &Path| {
            let text = std::fs::read_to_string(dir.join("objects.geojson")).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            let mut shapes: Vec<String> = json["features"].as_array().unwrap().iter().map(|f| f["geometry"].to_string()).collect();
            shapes.sort();
            shapes
        };
        assert_eq!(objects(&out), objects(&whole_out));
        assert!(!objects(&out).is_empty());
    }
}

#[test]
fn a_mask_and_a_region_at_downsample_two_match_the_whole_image() {
    let dir = tempfile::tempdir().unwrap();
    let predictor = predictor(dir.path());
    let tiling = TilingOptions { tile_size: 32, overlap: 0, blend: BlendMode::CenterCrop, batch_size: 4, tta: false };
    let mask_file = dir.path().join("mask.png");
    let mask = inside().mapv(|v| if v { 255u8 } else { 0 });
    image::GrayImage::from_raw(W as u32, H as u32, mask.iter().copied().collect()).unwrap().save(&mask_file).unwrap();
    let from_mask = RegionSpec::Mask(mask_file).resolve().unwrap();
    let from_wkt = RegionSpec::Wkt(l_shape().to_wkt()).resolve().unwrap();
    for downsample in [1.0, 2.0] {
        let whole_out = dir.path().join(format!("whole-{downsample}"));
        run(&predictor, &whole_out, &tiling, &OutputOptions { downsample: Some(downsample), ..OutputOptions::default() }).unwrap();
        let full = class_map(&whole_out);
        for (name, region) in [("mask", &from_mask), ("wkt", &from_wkt)] {
            let out = dir.path().join(format!("{name}-{downsample}"));
            let outputs = OutputOptions { region: Some(region.clone()), downsample: Some(downsample), ..OutputOptions::default() };
            let report = run(&predictor, &out, &tiling, &outputs).unwrap();
            assert!(report.region.as_ref().unwrap().tiles_skipped > 0, "{name} at {downsample}");
            let got = class_map(&out);
            let inside = inside();
            let window = inside.slice(s![20..140, 20..180]);
            let differ = got
                .indexed_iter()
                .filter(|&((y, x), &c)| if window[[y, x]] { c != full[[y + 20, x + 20]] } else { c != OUTSIDE })
                .count();
            assert_eq!(differ, 0, "{name} at downsample {downsample}");
        }
    }
}

#[test]
fn regions_that_cannot_work_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let predictor = predictor(dir.path());
    let tiling = TilingOptions { tile_size: 32, overlap: 0, ..TilingOptions::default() };
    let polygon = |ring: Vec<[f64; 2]>| Polygon { exterior: ring, holes: vec![] };
    let bow_tie = polygon(vec![[0.0, 0.0], [10.0, 10.0], [10.0, 0.0], [0.0, 10.0], [0.0, 0.0]]);
    let outside = polygon(vec![[300.0, 10.0], [320.0, 10.0], [320.0, 30.0], [300.0, 10.0]]);
    // Between pixel centres: inside the image, but no centre inside.
    let sliver = polygon(vec![[10.6, 10.6], [11.4, 10.6], [11.4, 11.4], [10.6, 10.6]]);
    let wrong_mask = dir.path().join("small.png");
    image::GrayImage::new(10, 10).save(&wrong_mask).unwrap();
    let empty_mask = dir.path().join("empty.png");
    image::GrayImage::new(W as u32, H as u32).save(&empty_mask).unwrap();
    assert!(Region::polygons(vec![bow_tie]).unwrap_err().to_string().contains("region polygon 0 is not valid"));
    assert!(Region::polygons(vec![]).unwrap_err().to_string().contains("the region has no polygons"));
    let e = RegionSpec::Wkt("POLYGON EMPTY".into()).resolve().unwrap_err().to_string();
    assert!(e.contains("EMPTY"), "{e}");
    let cases = [
        (Region::Polygons(vec![outside]), "lies outside the 200x160 image"),
        (Region::Polygons(vec![sliver]), "covers no pixel centre"),
        (RegionSpec::Mask(wrong_mask).resolve().unwrap(), "the region mask is 10x10 but the image is 200x160"),
        (RegionSpec::Mask(empty_mask).resolve().unwrap(), "the region mask has no pixel inside"),
    ];
    for (i, (region, message)) in cases.into_iter().enumerate() {
        let out = dir.path().join(format!("refused-{i}"));
        let e = run(&predictor, &out, &tiling, &OutputOptions { region: Some(region), ..OutputOptions::default() }).unwrap_err().to_string();
        assert!(e.contains(message), "{e}");
        assert!(!out.exists(), "nothing is written for a refused run");
    }
}

#[test]
fn a_rectangle_classified_into_buffers_is_the_whole_images_there() {
    use dlclassifier::tasks::pixel::apply::ApplySettings;
    use dlclassifier::tasks::pixel::classify::classify_region;
    use dlclassifier::tasks::pixel::{Outputs, ProbabilityFormat};
    use dlclassifier::tiling::Window;
    let dir = tempfile::tempdir().unwrap();
    let predictor = predictor(dir.path());
    let window = Window { x: 50, y: 30, width: 70, height: 90 };
    for downsample in [1.0, 2.0] {
        let json = format!(r#"{{"tile_size": 32, "overlap": 0, "blend": "center_crop", "downsample": {downsample}}}"#);
        let settings: ApplySettings = serde_json::from_str(&json).unwrap();
        let whole_out = dir.path().join(format!("whole-{downsample}"));
        let tiling = settings.tiling(predictor.info());
        run(&predictor, &whole_out, &tiling, &OutputOptions { downsample: Some(downsample), ..OutputOptions::default() }).unwrap();
        let expected = class_map(&whole_out).slice(s![30..120, 50..120]).to_owned();
        let mut classes = vec![0u8; 70 * 90];
        let mut probabilities = vec![0u8; 3 * 70 * 90 * 4];
        let outputs = Outputs { probabilities: Some((&mut probabilities, ProbabilityFormat::F32)), class_map: Some(&mut classes) };
        classify_region(&predictor, &image(), window, &settings, outputs, &JobControl::new()).unwrap();
        assert_eq!(Array2::from_shape_vec((90, 70), classes.clone()).unwrap(), expected, "downsample {downsample}");
        let p: Vec<f32> = probabilities.chunks_exact(4).map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])).collect();
        let planes = ndarray::Array3::from_shape_vec((3, 90, 70), p).unwrap();
        for ((y, x), &c) in expected.indexed_iter() {
            let pixel = planes.slice(s![.., y, x]);
            assert!((pixel.sum() - 1.0).abs() < 1e-4 && pixel.iter().all(|&v| v <= pixel[usize::from(c)]), "({x}, {y}): {pixel}");
        }
    }
    let settings = ApplySettings::default();
    let mut small = vec![0u8; 10];
    let e = |window: Window, settings: &ApplySettings, buffer: &mut [u8]| {
        let outputs = Outputs { probabilities: None, class_map: Some(buffer) };
        classify_region(&predictor, &image(), window, settings, outputs, &JobControl::new()).unwrap_err().to_string()
    };
    assert!(e(window, &settings, &mut small).contains("class map output buffer holds 10 bytes, needs 6300"));
    assert!(e(Window { x: 190, ..window }, &settings, &mut small).contains("reaches outside the 200x160 image"));
    let with_output: ApplySettings = serde_json::from_str(r#"{"objects": {}}"#).unwrap();
    assert!(e(window, &with_output, &mut small).contains("takes tiling, downsample and pixel_size settings, not \"objects\""));
}
