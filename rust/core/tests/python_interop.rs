//! Interoperability with the Python stack we replace: smp state dicts load
//! into our models, and our TorchScript files load in Python torch with the
//! same outputs. Needs the test Python environment (`scripts/deps.sh python`),
//! found through `DLC_PYTHON`, which `make test` sets.

mod common;

use dlclassifier::model_dir;
use dlclassifier::models::{weights, Architecture, EncoderKind, ModelSpec, SegmentationModel};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

fn python() -> String {
    std::env::var("DLC_PYTHON").expect("set DLC_PYTHON to the test venv's python (make test does: scripts/deps.sh python)")
}

fn run_python(script: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(python()).arg(common::repo().join(script)).args(args).output().expect("python runs");
    eprintln!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn io(dir: &Path) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(dir.join("io.safetensors")).unwrap().into_iter().collect()
}

/// One parity case: architecture, encoder, input channels, classes, input side.
type Case = (Architecture, EncoderKind, i64, i64, i64);

/// Builds each case in smp with random weights and trained-like BatchNorm
/// statistics (one Python process for all), loads its state dict (as
/// safetensors and as a PyTorch pickle) strictly into our model and compares
/// the eval logits.
fn assert_smp_parity(cases: &[Case]) {
    let cases: Vec<Case> = cases.iter().copied().filter(|(a, e, ..)| selected(*a, *e)).collect();
    // A filter that leaves nothing must not pass as if it had compared something.
    assert!(!cases.is_empty(), "DLC_PARITY_ONLY selects none of this test's cases: name the test that has them too");
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![dir.path().to_str().unwrap().to_string()];
    args.extend(cases.iter().map(|(a, e, c, k, size)| format!("{}:{}:{c}:{k}:{size}", a.smp_class(), e.name())));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(run_python("tests/python/smp_state_dict.py", &args).status.success());
    for (i, &(architecture, encoder, c, k, _)) in cases.iter().enumerate() {
        let case_dir = dir.path().join(i.to_string());
        let io = io(&case_dir);
        for file in ["state_dict.safetensors", "model.pth"] {
            let vs = VarStore::new(Device::Cpu);
            let model = SegmentationModel::new(&vs.root(), ModelSpec { architecture, encoder, in_channels: c, num_classes: k }).unwrap();
            let report = weights::load_state_dict(&vs, &case_dir.join(file), true).unwrap();
            assert!(report.is_exact(), "{architecture}/{encoder} {file}: {:?}", report.problems());
            let logits = tch::no_grad(|| model.forward_t(&io["input"], false));
            let diff = (&logits - &io["expected"]).abs().max().double_value(&[]);
            eprintln!("{architecture}/{encoder} c{c} k{k} from {file}: max abs diff {diff}");
            assert!(diff <= 1e-4, "{architecture}/{encoder} from {file}: max abs diff {diff}");
        }
    }
}

/// Cases whose `arch/encoder` contains `DLC_PARITY_ONLY`, when set (for
/// working on one model).
fn selected(architecture: Architecture, encoder: EncoderKind) -> bool {
    std::env::var("DLC_PARITY_ONLY").map_or(true, |only| format!("{architecture}/{encoder}").contains(&only))
}

#[test]
fn every_encoder_under_unet_gives_smps_logits() {
    // tests/smp_parity.rs covers these from committed fixtures.
    let with_fixtures = [EncoderKind::ResNet18, EncoderKind::ResNet50, EncoderKind::MobileNetV2];
    let channels = [1, 2, 3, 4];
    // Other channel counts too: smp's first convolution adapts to them.
    let cases: Vec<Case> = EncoderKind::ALL
        .into_iter()
        .enumerate()
        .filter(|(_, e)| !with_fixtures.contains(e))
        .map(|(i, encoder)| (Architecture::Unet, encoder, channels[i % 4], 2 + (i % 3) as i64, 64))
        .collect();
    assert_smp_parity(&cases);
}

#[test]
fn every_architecture_gives_smps_logits() {
    let cases: Vec<Case> = Architecture::ALL
        .into_iter()
        .filter(|a| *a != Architecture::Unet)
        .map(|a| (a, EncoderKind::ResNet18, 3, 3, a.min_input_size().max(64)))
        .collect();
    assert_smp_parity(&cases);
}

#[test]
fn mismatched_state_dicts_are_refused_with_every_problem_listed() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run_python("tests/python/smp_state_dict.py", &[dir.path().to_str().unwrap(), "Unet:resnet18:3:2"]).status.success());
    let vs = VarStore::new(Device::Cpu);
    // Wrong encoder and channel count for that file.
    SegmentationModel::new(&vs.root(), ModelSpec { architecture: Architecture::Unet, encoder: EncoderKind::ResNet34, in_channels: 1, num_classes: 2 }).unwrap();
    let err = weights::load_state_dict(&vs, &dir.path().join("0/state_dict.safetensors"), true).unwrap_err().to_string();
    assert!(err.contains("missing: encoder.layer1.2.conv1.weight"), "{err}");
    assert!(err.contains("shape mismatch: encoder.conv1.weight is [64, 1, 7, 7] in the model, [64, 3, 7, 7] in the file"), "{err}");
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a tensor file").unwrap();
    let err = weights::load_state_dict(&vs, &garbage, true).unwrap_err().to_string();
    assert!(err.contains("cannot read weights"), "{err}");
}

#[test]
fn our_torchscript_loads_in_python_torch_with_the_same_output() {
    tch::manual_seed(11);
    let spec = ModelSpec { architecture: Architecture::Unet, encoder: EncoderKind::MobileNetV2, in_channels: 3, num_classes: 3 };
    let vs = VarStore::new(Device::Cpu);
    let model = SegmentationModel::new(&vs.root(), spec).unwrap();
    // Non-trivial BatchNorm statistics, as after training.
    let _ = tch::no_grad(|| model.forward_t(&(Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu)) * 2.0 + 0.5), true));
    let dir = tempfile::tempdir().unwrap();
    let pt = dir.path().join(model_dir::TORCHSCRIPT_FILE);
    model_dir::export_torchscript(spec, &vs, 64, &pt).unwrap();
    // A different size than the trace's: the exported graph must not bake in shapes.
    let input = Tensor::randn([2, 3, 96, 128], (Kind::Float, Device::Cpu));
    let expected = tch::no_grad(|| model.forward_t(&input, false));
    let io_file = dir.path().join("io.safetensors");
    Tensor::write_safetensors(&[("input", &input), ("expected", &expected)], &io_file).unwrap();
    // Float32 sums in another order (other thread counts) differ relative to the logits' size.
    let atol = 1e-4 * expected.abs().max().double_value(&[]).max(1.0);
    let out = run_python("tests/python/torchscript_parity.py", &[pt.to_str().unwrap(), io_file.to_str().unwrap(), "--atol", &atol.to_string()]);
    assert!(out.status.success(), "Python torch disagrees with our model");
}

#[test]
fn encoders_that_change_a_decoder_give_smps_logits() {
    let cases = [
        // DeepLabV3+ dilates stage 5 (output stride 16), DeepLabV3 stages 4 and 5 (8).
        (Architecture::DeepLabV3Plus, EncoderKind::MobileNetV2, 3),
        (Architecture::DeepLabV3Plus, EncoderKind::EfficientNetB0, 3),
        (Architecture::DeepLabV3Plus, EncoderKind::ResNeXt50_32x4d, 3),
        (Architecture::DeepLabV3, EncoderKind::EfficientNetB2, 1),
        (Architecture::DeepLabV3, EncoderKind::SeResNet50, 2),
        (Architecture::DeepLabV3Plus, EncoderKind::MitB0, 3),
        // FPN reads strides 4..32 only, past the Mix Transformer's empty stride-2 feature.
        (Architecture::Fpn, EncoderKind::MitB0, 3),
        // VGG encoders get smp's center block (which UNet++ builds but never runs).
        (Architecture::UnetPlusPlus, EncoderKind::Vgg16Bn, 2),
        (Architecture::Pan, EncoderKind::MobileNetV2, 3),
        // PSPNet stops each encoder family after stage 3.
        (Architecture::PspNet, EncoderKind::Vgg16Bn, 3),
        (Architecture::PspNet, EncoderKind::DenseNet121, 1),
        (Architecture::PspNet, EncoderKind::MitB2, 3),
        (Architecture::PspNet, EncoderKind::MobileNetV2, 2),
        (Architecture::PspNet, EncoderKind::EfficientNetB1, 3),
    ];
    let cases: Vec<Case> = cases.into_iter().map(|(a, e, c)| (a, e, c, 2, a.min_input_size().max(64))).collect();
    assert_smp_parity(&cases);
}
