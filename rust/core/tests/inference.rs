//! The inference engine on real trained models: the tile buffer API, both
//! backends, imported ONNX models, the cache and bad input.

mod common;

use common::{data, quick_config};
use dlclassifier::data::{read_image, TrainingData};
use dlclassifier::inference::{Backend, BackendChoice, InferenceOptions, OnnxBackend, TorchScriptBackend};
use dlclassifier::job::JobControl;
use dlclassifier::model_dir::{self, ModelMetadata};
use dlclassifier::models::{Architecture, EncoderKind, ModelSpec, SegmentationModel};
use dlclassifier::non_finite::NonFinite;
use dlclassifier::normalization::Normalizer;
use dlclassifier::settings;
use dlclassifier::tasks::pixel::{self, open_cached, tiles, Dtype, Order, Outputs, Predictor, ProbabilityFormat, TileLayout};
use ndarray::{s, Array3, Array4, ArrayView4};
use once_cell::sync::Lazy;
use std::path::{Path, PathBuf};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

/// One quickly trained RGB model (ihc-dab: 8-bit, 3 classes) shared by the tests.
static MODEL: Lazy<(tempfile::TempDir, PathBuf)> = Lazy::new(|| {
    let data = TrainingData::load(data("ihc-dab")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("ihc");
    let config = settings::TrainingConfig { epochs: 1, tile_size: Some(64), samples_per_epoch: Some(8), ..quick_config() };
    pixel::train(&data, &config, &dir, &JobControl::new(), &mut |_| {}).unwrap();
    (out, dir)
});

fn model() -> &'static Path {
    &MODEL.1
}

fn cpu(backend: BackendChoice) -> InferenceOptions {
    InferenceOptions { backend, threads: Some(2), ..Default::default() }
}

/// A crop of a real validation image, CHW in raw 0..255 values.
fn crop(height: usize, width: usize) -> Array3<f32> {
    let dir = data("ihc-dab/validation/images");
    let first = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).min().unwrap();
    read_image(first).unwrap().slice(s![.., ..height, ..width]).to_owned()
}

fn hwc_bytes(image: &Array3<f32>) -> Vec<u8> {
    image.view().permuted_axes([1, 2, 0]).iter().map(|&v| v as u8).collect()
}

fn max_diff(a: ArrayView4<f32>, b: ArrayView4<f32>) -> f32 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn layout(count: usize, image: &Array3<f32>, order: Order, dtype: Dtype) -> TileLayout {
    let (channels, height, width) = image.dim();
    TileLayout { count, channels, height, width, order, dtype }
}

#[test]
fn the_engine_normalizes_tiles_exactly_as_training_did() {
    let meta = ModelMetadata::read(model()).unwrap();
    let stats = &meta.input_config.normalization;
    let image = crop(64, 96);
    let mut expected = image.clone();
    stats.apply(&mut expected).unwrap();
    let norm = Normalizer::from_stats(stats);
    let bytes = hwc_bytes(&image);
    let decoded = tiles::decode(&bytes, &layout(1, &image, Order::Hwc, Dtype::U8), &norm, tiles::Padding::to_multiple(32), NonFinite::Refuse).unwrap();
    assert_eq!(decoded.slice(s![0, .., .., ..]), expected, "bit-identical to training's normalization");
    // Every dtype and order carries the same values to the same input.
    let chw_f32: Vec<u8> = image.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let hwc_u16: Vec<u8> = image.view().permuted_axes([1, 2, 0]).iter().flat_map(|&v| (v as u16).to_ne_bytes()).collect();
    for (buf, order, dtype) in [(chw_f32, Order::Chw, Dtype::F32), (hwc_u16, Order::Hwc, Dtype::U16)] {
        assert_eq!(tiles::decode(&buf, &layout(1, &image, order, dtype), &norm, tiles::Padding::to_multiple(32), NonFinite::Refuse).unwrap(), decoded, "{order:?} {dtype:?}");
    }
}

#[test]
fn tile_predictions_equal_the_trained_network_on_training_normalized_input() {
    let meta = ModelMetadata::read(model()).unwrap();
    // Not a multiple of 32: the engine pads by reflection and crops back.
    let image = crop(80, 100);
    let mut normalized = image.clone();
    meta.input_config.normalization.apply(&mut normalized).unwrap();
    let padded = tiles::decode_array(normalized.insert_axis(ndarray::Axis(0)).view(), &Normalizer::identity(3), tiles::Padding::to_multiple(32), NonFinite::Refuse).unwrap();
    let mut vs = VarStore::new(Device::Cpu);
    let net = SegmentationModel::new(&vs.root(), meta.spec()).unwrap();
    vs.load(model().join(model_dir::WEIGHTS_FILE)).unwrap();
    let x = Tensor::from_slice(padded.as_slice().unwrap()).view([1, 3, 96, 128]);
    let logits = tch::no_grad(|| net.forward_t(&x, false)).softmax(1, Kind::Float).narrow(2, 0, 80).narrow(3, 0, 100).contiguous();
    let expected = Array4::from_shape_vec((1, 3, 80, 100), Vec::<f32>::try_from(&logits.flatten(0, -1)).unwrap()).unwrap();

    let bytes = hwc_bytes(&image);
    for backend in [BackendChoice::Onnx, BackendChoice::Torch] {
        let predictor = Predictor::open(model(), &cpu(backend)).unwrap();
        let l = layout(1, &image, Order::Hwc, Dtype::U8);
        let mut probs = vec![0u8; 3 * 80 * 100 * 4];
        let mut bytes_out = vec![0u8; 3 * 80 * 100];
        let mut classes = vec![0u8; 80 * 100];
        predictor.predict(&bytes, &l, Outputs { probabilities: Some((&mut probs, ProbabilityFormat::F32)), class_map: Some(&mut classes) }).unwrap();
        predictor.predict(&bytes, &l, Outputs { probabilities: Some((&mut bytes_out, ProbabilityFormat::U8)), class_map: None }).unwrap();
        // HWC in, so probabilities come back [H, W, K].
        let hwk: Vec<f32> = probs.chunks_exact(4).map(|b| f32::from_ne_bytes(b.try_into().unwrap())).collect();
        let got = Array3::from_shape_vec((80, 100, 3), hwk).unwrap().permuted_axes([2, 0, 1]).insert_axis(ndarray::Axis(0)).to_owned();
        let diff = max_diff(got.view(), expected.view());
        assert!(diff < 1e-4, "{backend:?}: max abs diff {diff}");
        for (i, pixel) in got.slice(s![0, .., .., ..]).permuted_axes([1, 2, 0]).to_shape((8000, 3)).unwrap().outer_iter().enumerate() {
            let best = (0..3).fold(0, |b, c| if pixel[c] > pixel[b] { c } else { b });
            assert_eq!(classes[i] as usize, best, "class map is the argmax");
            for c in 0..3 {
                assert_eq!(bytes_out[i * 3 + c], (pixel[c] * 255.0).round() as u8);
            }
        }
        // The raw-float path the tiling engine uses agrees.
        let raw = image.clone().insert_axis(ndarray::Axis(0));
        let diff = max_diff(predictor.predict_probabilities(raw.view()).unwrap().view(), expected.view());
        assert!(diff < 1e-4, "{backend:?} float path: {diff}");
    }
}

/// Random-init model with non-trivial BatchNorm statistics, exported both ways.
fn exported(encoder: EncoderKind, in_channels: i64, dir: &Path) -> VarStore {
    let spec = ModelSpec { architecture: Architecture::Unet, encoder, in_channels, num_classes: 3 };
    tch::manual_seed(7);
    let vs = VarStore::new(Device::Cpu);
    let net = SegmentationModel::new(&vs.root(), spec).unwrap();
    let x = Tensor::randn([2, in_channels, 64, 64], (Kind::Float, Device::Cpu)) * 2.0 + 0.5;
    let _ = tch::no_grad(|| net.forward_t(&x, true));
    // Deep random networks reach logits in the hundreds; scale the head so
    // they are in a trained model's range (about ±10), where an absolute
    // tolerance means what it says.
    let largest = tch::no_grad(|| net.forward_t(&x, false)).abs().max().double_value(&[]);
    tch::no_grad(|| {
        for (name, mut t) in vs.variables() {
            if name.starts_with("segmentation_head") {
                let _ = t.f_mul_(&Tensor::from(10.0 / largest)).unwrap();
            }
        }
    });
    model_dir::export_torchscript(spec, &vs, 64, &dir.join(model_dir::TORCHSCRIPT_FILE)).unwrap();
    dlclassifier::models::export_onnx(spec, &vs, &dir.join(model_dir::ONNX_FILE)).unwrap();
    vs
}

fn run(backend: &dyn Backend, input: ArrayView4<f32>) -> Array4<f32> {
    let mut out = None;
    backend.run(input, &mut |logits| {
        out = Some(logits.to_owned());
        Ok(())
    })
    .unwrap();
    out.unwrap()
}

#[test]
fn onnx_runtime_and_torchscript_agree_for_every_encoder() {
    for encoder in EncoderKind::ALL {
        let dir = tempfile::tempdir().unwrap();
        let channels = if encoder == EncoderKind::ResNet18 { 4 } else { 3 };
        exported(encoder, channels, dir.path());
        let onnx = OnnxBackend::open(&dir.path().join(model_dir::ONNX_FILE), &cpu(BackendChoice::Onnx)).unwrap();
        let torch = TorchScriptBackend::open(&dir.path().join(model_dir::TORCHSCRIPT_FILE), &cpu(BackendChoice::Torch)).unwrap();
        let input = Array4::from_shape_fn((2, channels as usize, 64, 96), |(n, c, y, x)| ((n * 31 + c * 17 + y * 7 + x * 3) % 23) as f32 / 11.0 - 1.0);
        let reference = run(&torch, input.view());
        let diff = max_diff(run(&onnx, input.view()).view(), reference.view());
        let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
        eprintln!("{encoder}: ONNX vs TorchScript max abs diff {diff}, max |logit| {scale}");
        assert!(diff <= 1e-4, "{encoder}: ONNX vs TorchScript max abs diff {diff}");
    }
}

#[test]
fn one_predictor_serves_many_threads() {
    let options = InferenceOptions { concurrent_runs: 2, ..cpu(BackendChoice::Onnx) };
    let predictor = Predictor::open(model(), &options).unwrap();
    let image = crop(64, 64);
    let bytes = hwc_bytes(&image);
    let l = layout(1, &image, Order::Hwc, Dtype::U8);
    let mut expected = vec![0u8; 64 * 64];
    predictor.predict(&bytes, &l, Outputs { probabilities: None, class_map: Some(&mut expected) }).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..5 {
                    let mut got = vec![0u8; 64 * 64];
                    predictor.predict(&bytes, &l, Outputs { probabilities: None, class_map: Some(&mut got) }).unwrap();
                    assert_eq!(got, expected);
                }
            });
        }
    });
}

#[test]
fn cached_models_are_shared_until_their_folder_changes() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("m");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(model()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
    }
    let options = cpu(BackendChoice::Auto);
    let a = open_cached(&copy, &options).unwrap();
    let b = open_cached(&copy, &options).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert!(a.info().backend.starts_with("onnxruntime"), "auto picks ONNX Runtime on the CPU: {}", a.info().backend);
    let torch = open_cached(&copy, &cpu(BackendChoice::Torch)).unwrap();
    assert!(torch.info().backend.starts_with("torchscript"));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let meta = ModelMetadata::read(&copy).unwrap();
    meta.write(&copy).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a, &open_cached(&copy, &options).unwrap()), "a rewritten model is reloaded");
}

#[test]
fn imported_onnx_models_take_their_shapes_from_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("external.onnx");
    std::fs::copy(model().join(model_dir::ONNX_FILE), &onnx).unwrap();
    let bare = Predictor::open_onnx(&onnx, None, &cpu(BackendChoice::Auto)).unwrap();
    let info = bare.info();
    assert_eq!((info.in_channels, info.num_classes, info.name.as_str(), info.fixed_size), (3, 3, "external", None));
    // With the trained model's metadata it predicts exactly as the model folder does.
    let with_meta = Predictor::open_onnx(&onnx, Some(&model().join(model_dir::METADATA_FILE)), &cpu(BackendChoice::Auto)).unwrap();
    assert_eq!(with_meta.info().classes[2].name, "DAB");
    let native = Predictor::open(model(), &cpu(BackendChoice::Onnx)).unwrap();
    let image = crop(64, 64).insert_axis(ndarray::Axis(0));
    assert_eq!(with_meta.predict_probabilities(image.view()).unwrap(), native.predict_probabilities(image.view()).unwrap());
    assert!(Predictor::open_onnx(&onnx, None, &cpu(BackendChoice::Torch)).is_err());

    let meta = dir.path().join("meta.json");
    std::fs::write(&meta, r#"{"architecture": {"num_classes": 5}}"#).unwrap();
    let err = Predictor::open_onnx(&onnx, Some(&meta), &cpu(BackendChoice::Auto)).err().unwrap().to_string();
    assert!(err.contains("metadata says 5 classes but the graph says 3"), "{err}");
}

fn open_err(dir: &Path) -> String {
    Predictor::open(dir, &cpu(BackendChoice::Auto)).err().expect("must fail").to_string()
}

#[test]
fn bad_input_and_broken_model_files_give_clear_errors() {
    let predictor = Predictor::open(model(), &cpu(BackendChoice::Onnx)).unwrap();
    let image = crop(64, 64);
    let bytes = hwc_bytes(&image);
    let good = layout(2, &image, Order::Hwc, Dtype::U8);
    let two = [bytes.clone(), bytes.clone()].concat();
    let mut out = vec![0u8; 2 * 64 * 64];
    let predict = |buf: &[u8], l: TileLayout, out: Option<&mut [u8]>| {
        predictor.predict(buf, &l, Outputs { probabilities: None, class_map: out }).err().map(|e| e.to_string()).unwrap_or_default()
    };
    assert!(predict(&two, TileLayout { channels: 1, ..good }, Some(&mut out)).contains("model expects 3 input channels, tiles have 1"));
    assert!(predict(&bytes, good, Some(&mut out)).contains("tile buffer holds 12288 bytes but 2 3x64x64 uint8 tiles need 24576"));
    assert!(predict(&two, TileLayout { dtype: Dtype::F32, ..good }, Some(&mut out)).contains("float32 tiles need 98304"));
    assert!(predict(&two, good, Some(&mut out[..100])).contains("class map output buffer holds 100 bytes, needs 8192"));
    assert!(predict(&two, good, None).contains("no output buffer given"));
    assert!(predict(&two, TileLayout { count: 0, ..good }, Some(&mut out)).contains("must not be empty"));

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    assert!(open_err(&broken).contains("metadata.json is missing"));
    std::fs::copy(model().join(model_dir::METADATA_FILE), broken.join(model_dir::METADATA_FILE)).unwrap();
    std::fs::write(broken.join(model_dir::ONNX_FILE), b"definitely not protobuf").unwrap();
    let err = open_err(&broken);
    assert!(err.contains("model.onnx") && err.contains("ONNX Runtime"), "{err}");
    // An ONNX file of another model (4 input channels) beside this metadata.
    exported(EncoderKind::MobileNetV2, 4, &broken);
    let err = open_err(&broken);
    assert!(err.contains("does not match its metadata.json"), "{err}");
    std::fs::remove_file(broken.join(model_dir::ONNX_FILE)).unwrap();
    std::fs::write(broken.join(model_dir::TORCHSCRIPT_FILE), b"junk").unwrap();
    assert!(open_err(&broken).contains("cannot load TorchScript model"));
    assert!(Predictor::open(model(), &InferenceOptions { fp16: true, ..cpu(BackendChoice::Torch) }).err().unwrap().to_string().contains("fp16"));
    assert!(Predictor::open(model(), &InferenceOptions { concurrent_runs: 0, ..cpu(BackendChoice::Onnx) }).is_err());
}

#[test]
fn rust_and_python_onnxruntime_compute_the_same_logits() {
    let predictor = Predictor::open(model(), &InferenceOptions { threads: Some(1), ..cpu(BackendChoice::Onnx) }).unwrap();
    let image = crop(96, 128).insert_axis(ndarray::Axis(0));
    let input = tiles::decode_array(image.view(), predictor.normalizer(), tiles::Padding::to_multiple(32), NonFinite::Refuse).unwrap();
    let logits = run(predictor.backend(), input.view());
    let dir = tempfile::tempdir().unwrap();
    let io = dir.path().join("io.safetensors");
    let tensor = |a: &Array4<f32>| Tensor::from_slice(a.as_slice().unwrap()).view(a.shape().iter().map(|&d| d as i64).collect::<Vec<_>>().as_slice());
    Tensor::write_safetensors(&[("input", tensor(&input)), ("expected", tensor(&logits))], &io).unwrap();
    let python = std::env::var("DLC_PYTHON").expect("set DLC_PYTHON to the test venv's python (make test does)");
    let script = common::repo().join("tests/python/onnx_parity.py");
    let model_file = model().join(model_dir::ONNX_FILE);
    let out = std::process::Command::new(python).arg(script).args([model_file.as_os_str(), io.as_os_str()]).args(["--atol", "1e-5"]).output().unwrap();
    eprintln!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "Python onnxruntime disagrees with ours beyond 1e-5");
}
