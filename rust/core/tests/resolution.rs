//! Inference at the model's resolution: a model run at downsample 2 or 4
//! gives full-resolution results that match downsampling the image by hand,
//! predicting it whole and upsampling the probabilities.

mod common;

use dlclassifier::inference::{BackendChoice, InferenceOptions};
use dlclassifier::job::JobControl;
use dlclassifier::tasks::pixel::apply::{apply_to_image, OutputOptions};
use dlclassifier::tasks::pixel::Predictor;
use dlclassifier::tiling::{predict_image, BlendMode, Downsampled, InMemoryImage, ProbabilityMap, RegionReader, TileModel, TilingOptions, Upsampling};
use dlclassifier::Result;
use ndarray::{s, Array2, Array3, Array4, ArrayView3, ArrayView4, Axis};

/// Class 1 where a pixel stands out from its 3x3 neighbourhood (edges
/// clamped): fine texture that downsampling averages away, so the model's
/// answer depends on the scale it is run at.
struct Texture;

impl Texture {
    fn pixels(image: ArrayView3<f32>) -> Array3<f32> {
        let (_, h, w) = image.dim();
        let mut out = Array3::zeros((2, h, w));
        for y in 0..h {
            for x in 0..w {
                let (y0, y1, x0, x1) = (y.saturating_sub(1), (y + 2).min(h), x.saturating_sub(1), (x + 2).min(w));
                let mean = image.slice(s![0, y0..y1, x0..x1]).mean().unwrap();
                let logit = 8.0 * (image[[0, y, x]] - mean).abs() - 1.0;
                let p = 1.0 / (1.0 + (-logit).exp());
                out[[0, y, x]] = 1.0 - p;
                out[[1, y, x]] = p;
            }
        }
        out
    }
}

impl TileModel for Texture {
    fn in_channels(&self) -> usize {
        1
    }

    fn num_classes(&self) -> usize {
        2
    }

    fn predict(&self, tiles: ArrayView4<f32>) -> Result<Array4<f32>> {
        let outputs: Vec<_> = tiles.outer_iter().map(Texture::pixels).collect();
        Ok(ndarray::stack(Axis(0), &outputs.iter().map(|o| o.view()).collect::<Vec<_>>()).unwrap())
    }
}

/// A smooth background with checkerboards of 1, 2, 4 and 8 pixel squares in
/// four bands of columns.
fn textured(h: usize, w: usize) -> Array3<f32> {
    Array3::from_shape_fn((1, h, w), |(_, y, x)| {
        let square = [1, 2, 4, 8][(4 * x / w).min(3)];
        let checker = if ((x / square) + (y / square)) % 2 == 0 { 0.3 } else { -0.3 };
        0.5 + 0.2 * ((x as f32) / 40.0).sin() * ((y as f32) / 30.0).cos() + if (y / 16) % 2 == 0 { checker } else { 0.0 }
    })
}

/// Block means of `factor` x `factor` pixels, partial blocks at the edges.
fn downsample_by_hand(image: &Array3<f32>, factor: usize) -> Array3<f32> {
    let (c, h, w) = image.dim();
    Array3::from_shape_fn((c, h.div_ceil(factor), w.div_ceil(factor)), |(c, j, i)| {
        image.slice(s![c, j * factor..((j + 1) * factor).min(h), i * factor..((i + 1) * factor).min(w)]).mean().unwrap()
    })
}

/// Bilinear at each full-resolution pixel's centre, clamped at the edges.
fn upsample_by_hand(probs: &Array3<f32>, factor: usize, h: usize, w: usize) -> Array3<f32> {
    let (k, dh, dw) = probs.dim();
    let at = |i: usize, len: usize| {
        let v = ((i as f64 + 0.5) / factor as f64 - 0.5).clamp(0.0, (len - 1) as f64);
        let a = (v.floor() as usize).min(len - 1);
        (a, (a + 1).min(len - 1), (v - a as f64) as f32)
    };
    Array3::from_shape_fn((k, h, w), |(k, y, x)| {
        let ((y0, y1, ty), (x0, x1, tx)) = (at(y, dh), at(x, dw));
        let row = |r: usize| probs[[k, r, x0]] * (1.0 - tx) + probs[[k, r, x1]] * tx;
        row(y0) * (1.0 - ty) + row(y1) * ty
    })
}

fn labels(probs: &Array3<f32>) -> Array2<u8> {
    probs.map_axis(Axis(0), |p| if p[1] > p[0] { 1 } else { 0 })
}

fn iou(a: &Array2<u8>, b: &Array2<u8>, class: u8) -> f64 {
    let both = a.iter().zip(b).filter(|(x, y)| **x == class && **y == class).count();
    let either = a.iter().zip(b).filter(|(x, y)| **x == class || **y == class).count();
    both as f64 / either.max(1) as f64
}

#[test]
fn a_scale_dependent_model_run_downsampled_matches_the_hand_made_reference() {
    let (h, w) = (149, 203);
    let image = textured(h, w);
    let full = labels(&Texture::pixels(image.view()));
    for factor in [2usize, 4] {
        let reference = labels(&upsample_by_hand(&Texture::pixels(downsample_by_hand(&image, factor).view()), factor, h, w));
        let source = InMemoryImage(image.clone());
        let down = Downsampled::new(&source, factor as f64).unwrap();
        assert_eq!((down.width(), down.height()), (w.div_ceil(factor), h.div_ceil(factor)));
        let mut map = ProbabilityMap::new(2, h, w);
        let mut sink = Upsampling::new(&mut map, factor as f64, w, h).unwrap();
        let options = TilingOptions { tile_size: 32, overlap: 8, blend: BlendMode::Linear, batch_size: 3, tta: false };
        predict_image(&down, &Texture, &options, &mut sink, &JobControl::new(), &mut |_| {}).unwrap();
        let got = labels(&map.0);
        assert_eq!(got.dim(), (h, w));
        for class in [0, 1] {
            let score = iou(&got, &reference, class);
            assert!(score >= 0.98, "downsample {factor}, class {class}: IoU {score:.4} against the reference");
        }
        // Not scale-invariant: at full resolution the answer differs.
        let full_score = iou(&full, &reference, 1);
        assert!(full_score < 0.9, "downsample {factor}: full resolution agrees too well ({full_score:.3}) to tell scales apart");
    }
}

/// An image that reports its pixel size.
struct Calibrated(InMemoryImage, f64);

impl RegionReader for Calibrated {
    fn width(&self) -> usize {
        self.0.width()
    }

    fn height(&self) -> usize {
        self.0.height()
    }

    fn channels(&self) -> usize {
        self.0.channels()
    }

    fn pixel_size(&self) -> Option<f64> {
        Some(self.1)
    }

    fn read(&self, x: usize, y: usize, w: usize, h: usize) -> Result<Array3<f32>> {
        self.0.read(x, y, w, h)
    }
}

#[test]
fn apply_runs_at_the_models_pixel_size_and_writes_full_resolution_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("pointwise.onnx");
    common::pointwise_onnx(&onnx, 1, 2, None);
    // Trained on 0.5 µm pixels downsampled 2x: the model saw 1 µm pixels.
    let metadata = dir.path().join("metadata.json");
    std::fs::write(&metadata, r#"{"downsample": 2.0, "training_pixel_size_um": 0.5}"#).unwrap();
    let options = InferenceOptions { backend: BackendChoice::Onnx, threads: Some(1), ..Default::default() };
    let predictor = Predictor::open_onnx(&onnx, Some(&metadata), &options).unwrap();
    let (h, w) = (97, 130);
    // Signed values so that both classes of the pointwise model occur.
    let image = Array3::from_shape_fn((1, h, w), |(_, y, x)| ((x as f32) / 9.0).sin() + ((y as f32) / 7.0).cos() * 0.5);
    let tiling = TilingOptions { tile_size: 32, overlap: 8, ..TilingOptions::default() };
    let cases = [
        // (image pixel size, explicit downsample) -> downsample used
        (None, None, 2.0),
        (Some(0.25), None, 4.0),
        (Some(0.25), Some(2.0), 2.0),
        (Some(1.0), None, 1.0),
    ];
    for (pixel_size, downsample, expected) in cases {
        let out = dir.path().join(format!("out-{expected}-{pixel_size:?}"));
        let outputs = OutputOptions { downsample, ..OutputOptions::default() };
        let report = match pixel_size {
            Some(p) => apply_to_image(&predictor, &Calibrated(InMemoryImage(image.clone()), p), &out, &tiling, &outputs, &JobControl::new(), &mut |_| {}),
            None => apply_to_image(&predictor, &InMemoryImage(image.clone()), &out, &tiling, &outputs, &JobControl::new(), &mut |_| {}),
        }
        .unwrap();
        assert_eq!(report.downsample, expected, "pixel size {pixel_size:?}, downsample {downsample:?}");
        assert_eq!(report.measurements.total_pixels, (h * w) as u64);
        let class_map = dlclassifier::data::read_mask(out.join("class_map.png")).unwrap();
        assert_eq!(class_map.dim(), (h, w));
        let factor = expected as usize;
        let down = downsample_by_hand(&image, factor);
        let (dh, dw) = (down.dim().1, down.dim().2);
        let whole = predictor.predict_probabilities(down.insert_axis(Axis(0)).view()).unwrap();
        let reference = labels(&upsample_by_hand(&whole.index_axis(Axis(0), 0).to_owned(), factor, h, w));
        assert_eq!(reference.dim(), (h, w), "{dh}x{dw}");
        for class in [0, 1] {
            let score = iou(&class_map, &reference, class);
            assert!(score >= 0.98, "downsample {expected}, class {class}: IoU {score:.4}");
        }
        if pixel_size.is_some() && outputs.pixel_size.is_none() {
            assert_eq!(report.measurements.area_unit.as_deref(), Some("µm^2"), "the reader's pixel size calibrates areas");
        }
    }
}

#[test]
fn resolutions_that_cannot_work_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("pointwise.onnx");
    common::pointwise_onnx(&onnx, 1, 2, None);
    let options = InferenceOptions { backend: BackendChoice::Onnx, threads: Some(1), ..Default::default() };
    let predictor = Predictor::open_onnx(&onnx, None, &options).unwrap();
    let image = InMemoryImage(Array3::zeros((1, 5, 6)));
    let tiling = TilingOptions { tile_size: 32, overlap: 0, ..TilingOptions::default() };
    let cases: [(Box<dyn RegionReader>, Option<f64>, &str); 4] = [
        (Box::new(image.clone()), Some(0.0), "downsample must be a positive number, got 0"),
        (Box::new(image.clone()), Some(f64::NAN), "downsample must be a positive number, got NaN"),
        (Box::new(image.clone()), Some(8.0), "downsample 8 leaves the width of 6 pixels smaller than one pixel"),
        (Box::new(Calibrated(image, -1.0)), None, "the image's pixel size must be a positive number, got -1"),
    ];
    for (i, (reader, downsample, message)) in cases.into_iter().enumerate() {
        let out = dir.path().join(format!("refused-{i}"));
        let outputs = OutputOptions { downsample, ..OutputOptions::default() };
        let e = apply_to_image(&predictor, reader.as_ref(), &out, &tiling, &outputs, &JobControl::new(), &mut |_| {}).unwrap_err().to_string();
        assert!(e.contains(message), "{e}");
        assert!(!out.exists(), "nothing is written for a refused run");
    }
}
