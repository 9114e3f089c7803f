//! Our ONNX export against the reference tools: onnx's checker accepts the
//! files and Python onnxruntime computes what tch computes, for every encoder.
//! Needs the test Python environment, found through `DLC_PYTHON` (`make test` sets it).

mod common;

use dlclassifier::model_dir::{self, class_color, ArchitectureMeta, ClassMeta, InputConfig, ModelMetadata, RunStatus, METADATA_VERSION};
use dlclassifier::models::{Architecture, EncoderKind, ModelSpec, SegmentationModel};
use dlclassifier::normalization::{NormalizationConfig, NormalizationStats};
use dlclassifier::models::export_onnx;
use dlclassifier::onnx::proto::tensor_shape_proto::dimension::Value as Dim;
use dlclassifier::onnx::proto::{DataType, ModelProto};
use prost::Message;
use dlclassifier::settings::TrainingConfig;
use std::path::Path;
use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

const OPTS: (Kind, Device) = (Kind::Float, Device::Cpu);

/// Runs a script of `tests/python`, showing its output; true when it succeeds.
fn run_python(script: &str, args: &[&str]) -> bool {
    let python = std::env::var("DLC_PYTHON").expect("set DLC_PYTHON to the test venv's python (make test does: scripts/deps.sh python)");
    let out = Command::new(python).arg(common::repo().join("tests/python").join(script)).args(args).output().expect("python runs");
    eprintln!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out.status.success()
}

/// One Python process that checks model after model (its imports take a
/// second each time): whether onnx's checker accepts a model and onnxruntime
/// computes `expected` from `input` of its `io`, within 1e-4.
struct Parity {
    child: Child,
    results: Lines<BufReader<ChildStdout>>,
}

impl Parity {
    fn start() -> Parity {
        let python = std::env::var("DLC_PYTHON").expect("set DLC_PYTHON to the test venv's python (make test does: scripts/deps.sh python)");
        let mut child = Command::new(python)
            .arg(common::repo().join("tests/python/onnx_parity.py"))
            .args(["--stdin", "--atol", "1e-4"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python runs");
        let results = BufReader::new(child.stdout.take().unwrap()).lines();
        Parity { child, results }
    }

    /// Whether onnxruntime agrees on `model`; shows the script's result line.
    fn agrees(&mut self, model: &Path, io: &Path) -> bool {
        writeln!(self.child.stdin.as_mut().unwrap(), "{}\t{}", model.display(), io.display()).unwrap();
        let line = self.results.next().expect("a result line").unwrap();
        eprintln!("{line}");
        line.starts_with(&format!("{}: ", model.display())) && line.ends_with(" OK")
    }

    /// Whether the script ended successfully after the last model.
    fn finish(mut self) -> bool {
        drop(self.child.stdin.take());
        self.child.wait().unwrap().success()
    }
}

/// A model whose BatchNorms hold non-default affine parameters and running
/// statistics, as after training, so that folding them is really tested.
fn trained_like(spec: ModelSpec) -> (VarStore, SegmentationModel) {
    let vs = VarStore::new(Device::Cpu);
    let model = SegmentationModel::new(&vs.root(), spec).unwrap();
    tch::no_grad(|| {
        for (name, mut var) in vs.variables() {
            if var.dim() == 1 && !name.contains("running") {
                var += Tensor::randn_like(&var) * 0.1;
            }
        }
        // Enough passes for the running statistics to follow the activations
        // (momentum 0.1), which keeps the logits in a trained network's range.
        let side = spec.architecture.min_input_size().max(64);
        for _ in 0..20 {
            let _ = model.forward_t(&(Tensor::randn([2, spec.in_channels, side, side], OPTS) * 2.0 + 0.5), true);
        }
    });
    (vs, model)
}

/// Writes a random `[n, C, h, w]` input and the model's eval output on it to
/// `io`. The output is computed in f64: the exact value that the f32 graphs
/// of tch and onnxruntime each approximate, which halves the gap to compare.
fn write_io(vs: &mut VarStore, model: &SegmentationModel, size: [i64; 4], io: &Path) {
    let input = Tensor::randn(size, OPTS);
    vs.double();
    let expected = tch::no_grad(|| model.forward_t(&input.to_kind(Kind::Double), false)).to_kind(Kind::Float);
    vs.float();
    Tensor::write_safetensors(&[("input", &input), ("expected", &expected)], io).unwrap();
}

#[test]
fn every_encoder_exports_onnx_that_onnxruntime_runs_like_tch() {
    // Single-channel, RGB and 4-channel inputs; 2 and 3 classes.
    let shapes = [(1, 2), (3, 3), (4, 2), (3, 2), (4, 3)].into_iter().cycle();
    let mut parity = Parity::start();
    for (encoder, (in_channels, num_classes)) in EncoderKind::ALL.into_iter().zip(shapes) {
        let spec = ModelSpec { architecture: Architecture::Unet, encoder, in_channels, num_classes };
        let (mut vs, model) = trained_like(spec);
        let dir = tempfile::tempdir().unwrap();
        let onnx = dir.path().join(model_dir::ONNX_FILE);
        export_onnx(spec, &vs, &onnx).unwrap();
        // Not square and not the training size: the graph must not bake in shapes.
        let io = dir.path().join("io.safetensors");
        write_io(&mut vs, &model, [2, in_channels, 64, 96], &io);
        eprintln!("{encoder} ({in_channels} channels, {num_classes} classes):");
        assert!(parity.agrees(&onnx, &io), "{encoder}: onnxruntime disagrees with tch");
    }
    assert!(parity.finish(), "the parity script failed");
}

#[test]
fn every_architecture_exports_onnx_that_onnxruntime_runs_like_tch() {
    // Each architecture on another encoder: dilated ones for DeepLab and PAN.
    let cases = [
        (Architecture::UnetPlusPlus, EncoderKind::Vgg16Bn),
        (Architecture::DeepLabV3, EncoderKind::MobileNetV2),
        (Architecture::DeepLabV3Plus, EncoderKind::EfficientNetB0),
        (Architecture::Fpn, EncoderKind::MitB0),
        (Architecture::PspNet, EncoderKind::DenseNet121),
        // MAnet's position attention on 1000+ channel encoders (resnet50,
        // se_resnet50, densenet121) is ill-conditioned in float32: tch's own
        // f32 result is 1e-4 to 3e-4 from the f64 one at random weights.
        (Architecture::MaNet, EncoderKind::EfficientNetB1),
        (Architecture::LinkNet, EncoderKind::ResNet34),
        (Architecture::Pan, EncoderKind::MobileNetV2),
    ];
    let mut parity = Parity::start();
    for (architecture, encoder) in cases {
        let spec = ModelSpec { architecture, encoder, in_channels: 2, num_classes: 3 };
        let (mut vs, model) = trained_like(spec);
        let dir = tempfile::tempdir().unwrap();
        let onnx = dir.path().join(model_dir::ONNX_FILE);
        export_onnx(spec, &vs, &onnx).unwrap();
        let side = architecture.min_input_size().max(64);
        let io = dir.path().join("io.safetensors");
        write_io(&mut vs, &model, [2, 2, side, side + 32], &io);
        eprintln!("{architecture}/{encoder}:");
        assert!(parity.agrees(&onnx, &io), "{architecture}/{encoder}: onnxruntime disagrees with tch");
    }
    assert!(parity.finish(), "the parity script failed");
}

fn metadata(spec: ModelSpec) -> ModelMetadata {
    let channels = spec.in_channels as usize;
    let stats = |v: f64| vec![v; channels];
    ModelMetadata {
        metadata_version: METADATA_VERSION,
        id: "test".into(),
        name: "test".into(),
        created: "2024-01-01T00:00:00Z".into(),
        library_version: dlclassifier::VERSION.into(),
        architecture: ArchitectureMeta {
            kind: spec.architecture,
            backbone: spec.encoder,
            use_pretrained: false,
            in_channels: spec.in_channels,
            num_classes: spec.num_classes,
        },
        input_config: InputConfig {
            num_channels: channels,
            channel_names: (0..channels).map(|c| format!("channel {c}")).collect(),
            bit_depth: None,
            normalization: NormalizationStats {
                config: NormalizationConfig { per_channel: true, ..Default::default() },
                num_channels: channels,
                min: stats(0.0),
                max: stats(1.0),
                mean: stats(0.5),
                std: stats(0.25),
                p_low: stats(0.0),
                p_high: stats(1.0),
            },
        },
        classes: (0..spec.num_classes as usize).map(|index| ClassMeta { index, name: format!("class {index}"), color: class_color(index) }).collect(),
        tile_size: 64,
        downsample: 1.0,
        training_pixel_size_um: None,
        status: RunStatus::Completed,
        epochs_trained: 1,
        best_epoch: None,
        trained_on: "cpu".into(),
        training: TrainingConfig::default(),
    }
}

#[test]
fn model_folders_export_onnx_on_demand_and_bad_folders_are_refused() {
    let spec = ModelSpec { architecture: Architecture::Unet, encoder: EncoderKind::ResNet18, in_channels: 2, num_classes: 2 };
    let (mut vs, model) = trained_like(spec);
    let dir = tempfile::tempdir().unwrap();
    vs.save(dir.path().join(model_dir::WEIGHTS_FILE)).unwrap();
    metadata(spec).write(dir.path()).unwrap();

    let onnx = model_dir::export_onnx_dir(dir.path()).unwrap();
    assert_eq!(onnx, dir.path().join(model_dir::ONNX_FILE));
    let scratch = tempfile::tempdir().unwrap();
    let io = scratch.path().join("io.safetensors");
    write_io(&mut vs, &model, [1, 2, 32, 64], &io);
    let mut parity = Parity::start();
    assert!(parity.agrees(&onnx, &io), "onnxruntime disagrees with tch");
    assert!(parity.finish(), "the parity script failed");
    let mut files: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, [model_dir::METADATA_FILE, model_dir::ONNX_FILE, model_dir::WEIGHTS_FILE], "no temporary file is left");

    // Corrupt weights: a clear error naming the file, and the previous model.onnx untouched.
    let previous = std::fs::read(&onnx).unwrap();
    std::fs::write(dir.path().join(model_dir::WEIGHTS_FILE), b"not a tensor file").unwrap();
    let err = model_dir::export_onnx_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains(model_dir::WEIGHTS_FILE) && err.contains("cannot read weights"), "{err}");
    assert_eq!(std::fs::read(&onnx).unwrap(), previous);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3, "no temporary file is left");

    let empty = tempfile::tempdir().unwrap();
    let err = model_dir::export_onnx_dir(empty.path()).unwrap_err().to_string();
    assert!(err.contains("metadata.json is missing"), "{err}");
    std::fs::write(empty.path().join(model_dir::METADATA_FILE), "{ not json").unwrap();
    let err = model_dir::export_onnx_dir(empty.path()).unwrap_err().to_string();
    assert!(err.contains(model_dir::METADATA_FILE) && err.contains("invalid JSON"), "{err}");
}

#[test]
fn onnx_files_from_elsewhere_decode_with_their_inputs_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreign.onnx");
    assert!(run_python("onnx_foreign_model.py", &[path.to_str().unwrap()]));
    let model = ModelProto::decode(std::fs::read(&path).unwrap().as_slice()).unwrap();
    assert_eq!(model.opset_import.len(), 2);
    let graph = model.graph.unwrap();
    let described: Vec<(&str, DataType, Vec<String>)> = graph
        .input
        .iter()
        .chain(&graph.output)
        .map(|v| {
            let t = v.tensor_type().unwrap();
            let dims = t.shape.as_ref().unwrap().dim.iter().map(|d| match &d.value {
                Some(Dim::DimValue(n)) => n.to_string(),
                Some(Dim::DimParam(p)) => p.clone(),
                None => "?".to_string(),
            });
            (v.name.as_deref().unwrap(), DataType::try_from(t.elem_type.unwrap()).unwrap(), dims.collect())
        })
        .collect();
    let dims = |d: &[&str]| d.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        described,
        [
            ("image", DataType::Uint8, dims(&["N", "3", "256", "?"])),
            ("cond", DataType::Bool, vec![]),
            ("probs", DataType::Float16, dims(&["N", "3"])),
            ("which", DataType::Int64, vec![]),
        ]
    );
    assert!(graph.value_info[0].tensor_type().is_none(), "a sequence is not a tensor");
}
