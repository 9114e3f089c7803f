//! PyTorch `torch.save` files (`.pth`/`.pt` pickles, plain state dicts and
//! training checkpoints) load by name into our encoders and models, with the
//! same outputs as in Python; wrong encoders, Python objects, TorchScript
//! archives and malicious pickles are refused. Needs the test Python
//! environment, found through `DLC_PYTHON` (`make test` sets it).

use dlclassifier::models::{weights, Architecture, EncoderKind, ModelSpec, SegmentationModel};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

/// The files of `tests/python/save_state_dicts.py`, written once per test
/// run into the target's scratch folder (they take ~400 MB; not left in /tmp).
fn files() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("torch_pickles");
        let _ = std::fs::remove_dir_all(&dir);
        let python = std::env::var("DLC_PYTHON").expect("set DLC_PYTHON to the test venv's python (make test does: scripts/deps.sh python)");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/save_state_dicts.py");
        let out = Command::new(python).arg(script).arg(&dir).output().expect("python runs");
        eprintln!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "save_state_dicts.py failed");
        dir
    })
}

fn safetensors(name: &str) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(files().join(name)).unwrap().into_iter().collect()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double)).abs().max().double_value(&[])
}

/// Loads `file` into a bare resnet18 encoder and compares its features with
/// the references `{prefix}1..5`.
fn check_resnet18(file: &str, prefix: &str) -> weights::LoadReport {
    let vs = VarStore::new(Device::Cpu);
    let encoder = EncoderKind::ResNet18.build(&vs.root(), 3);
    let report = weights::load_state_dict(&vs, &files().join(file), false).unwrap();
    assert!(report.missing.is_empty() && report.mismatched.is_empty(), "{file}: {:?}", report.problems());
    // torchvision's classifier has no place in an encoder.
    assert_eq!(report.unexpected, ["fc.bias", "fc.weight"], "{file}");
    let reference = safetensors("resnet18_ref.safetensors");
    let features = tch::no_grad(|| encoder.features(&reference["input"], false, 5));
    assert_eq!(features.len(), 6);
    for (i, f) in features.iter().enumerate().skip(1) {
        let diff = max_diff(f, &reference[&format!("{prefix}{i}")]);
        assert!(diff <= 1e-4, "{file}: feature {i} differs by {diff}");
    }
    report
}

#[test]
fn torchvision_state_dict_gives_identical_features() {
    let report = check_resnet18("resnet18.pth", "f");
    assert!(report.notes.is_empty(), "{:?}", report.notes);
}

#[test]
fn nested_checkpoint_with_module_prefix_and_channels_last_weights_loads() {
    let report = check_resnet18("resnet18_nested.pth", "f");
    assert!(report.notes.iter().any(|n| n.contains("under the checkpoint key 'state_dict'") && n.contains("epoch")), "{:?}", report.notes);
    assert!(report.notes.iter().any(|n| n.contains("stripped the prefix 'module.'")), "{:?}", report.notes);
}

#[test]
fn float16_state_dict_loads_as_its_rounded_values() {
    check_resnet18("resnet18_half.pt", "h");
}

#[test]
fn dtypes_and_strided_views_are_rebuilt_exactly() {
    let read: HashMap<String, Tensor> = weights::read_named_tensors(&files().join("tensors.pt")).unwrap().into_iter().collect();
    let reference = safetensors("tensors_ref.safetensors");
    assert_eq!(read.len(), reference.len());
    for (name, kind) in [("f32", Kind::Float), ("f16", Kind::Half), ("bf16", Kind::BFloat16), ("f64", Kind::Double), ("i64", Kind::Int64)] {
        assert_eq!(read[name].kind(), kind, "{name}");
    }
    for (name, expected) in &reference {
        let got = &read[name];
        assert_eq!(got.size(), expected.size(), "{name}");
        assert!(got.is_contiguous(), "{name}");
        let equal = got.to_kind(expected.kind()).equal(expected);
        assert!(equal, "{name}: {got:?} vs {expected:?}");
    }
}

#[test]
fn smp_training_checkpoint_gives_a_usable_model() {
    let vs = VarStore::new(Device::Cpu);
    let spec = ModelSpec { architecture: Architecture::Unet, encoder: EncoderKind::ResNet18, in_channels: 1, num_classes: 2 };
    let model = SegmentationModel::new(&vs.root(), spec).unwrap();
    let report = weights::load_state_dict(&vs, &files().join("unet_checkpoint.pt"), true).unwrap();
    assert!(report.is_exact(), "{:?}", report.problems());
    // The best epoch's weights, not the last epoch's.
    assert!(report.notes.iter().any(|n| n.contains("'best_model_state'") && n.contains("model_state_dict")), "{:?}", report.notes);
    let io = safetensors("unet_ref.safetensors");
    let logits = tch::no_grad(|| model.forward_t(&io["input"], false));
    let diff = max_diff(&logits, &io["expected"]);
    assert!(diff <= 1e-4, "max abs diff {diff}");
}

#[test]
fn wrong_encoders_are_refused_with_every_mismatch_listed() {
    let vs = VarStore::new(Device::Cpu);
    SegmentationModel::new(&vs.root(), ModelSpec { architecture: Architecture::Unet, encoder: EncoderKind::ResNet18, in_channels: 1, num_classes: 2 }).unwrap();
    // The model's encoder lives under `encoder.`; compare a bare encoder instead.
    let bare = VarStore::new(Device::Cpu);
    EncoderKind::ResNet18.build(&bare.root(), 3);
    let err = weights::load_state_dict(&bare, &files().join("resnet34.pth"), true).unwrap_err().to_string();
    assert!(err.contains("does not fit the model"), "{err}");
    assert!(err.contains("unexpected: layer1.2.conv1.weight") && err.contains("unexpected: layer4.2.bn2.running_var"), "{err}");
    let err = weights::load_state_dict(&bare, &files().join("mobilenet_v2.pth"), true).unwrap_err().to_string();
    assert!(err.contains("missing: conv1.weight") && err.contains("unexpected: features.0.0.weight"), "{err}");
    // A resnet18 checkpoint whose first conv has 1 input channel, into a 3-channel encoder.
    let err = weights::load_state_dict(&bare, &files().join("unet_checkpoint.pt"), true).unwrap_err().to_string();
    assert!(err.contains("missing: conv1.weight") && err.contains("note: took the state dict under the checkpoint key 'best_model_state'"), "{err}");
    let err = weights::load_state_dict(&vs, &files().join("resnet18.pth"), true).unwrap_err().to_string();
    assert!(err.contains("missing: encoder.conv1.weight") && err.contains("unexpected: conv1.weight"), "{err}");
    // Non-strict loads still list the shape mismatch and copy nothing mis-shaped.
    let unet3 = VarStore::new(Device::Cpu);
    SegmentationModel::new(&unet3.root(), ModelSpec { architecture: Architecture::Unet, encoder: EncoderKind::ResNet18, in_channels: 3, num_classes: 2 }).unwrap();
    let report = weights::load_state_dict(&unet3, &files().join("unet_checkpoint.pt"), false).unwrap();
    assert_eq!(report.mismatched, [("encoder.conv1.weight".to_string(), vec![64, 3, 7, 7], vec![64, 1, 7, 7])]);
}

#[test]
fn python_objects_torchscript_and_malicious_pickles_are_refused() {
    let vs = VarStore::new(Device::Cpu);
    EncoderKind::ResNet18.build(&vs.root(), 3);
    let err = weights::load_state_dict(&vs, &files().join("module.pt"), false).unwrap_err().to_string();
    assert!(err.contains("'torch.nn.modules.conv.Conv2d'") && err.contains("state_dict()"), "{err}");
    let err = weights::load_state_dict(&vs, &files().join("evil.pt"), false).unwrap_err().to_string();
    assert!(err.contains("'posix.system'") || err.contains("'nt.system'"), "{err}");
    assert!(!files().join("EXECUTED").exists(), "the pickle's payload ran");
    let err = weights::load_state_dict(&vs, &files().join("script.pt"), false).unwrap_err().to_string();
    assert!(err.contains("TorchScript"), "{err}");
    // Not a zip at all, under a torch extension.
    let junk = files().join("junk.pth");
    std::fs::write(&junk, b"\x80\x02}q\x00.").unwrap();
    let err = weights::load_state_dict(&vs, &junk, false).unwrap_err().to_string();
    assert!(err.contains("legacy"), "{err}");
}

#[test]
fn a_torchvision_file_is_a_named_pretrained_encoder_for_training() {
    // Placed in a weights folder under the documented name of resnet18's ImageNet set.
    let weights_dir = tempfile::tempdir().unwrap();
    std::fs::copy(files().join("resnet18.pth"), weights_dir.path().join("resnet18_imagenet.pth")).unwrap();
    let data = dlclassifier::data::TrainingData::load(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/nuclei-dsb2018")).unwrap();
    let config = dlclassifier::settings::TrainingConfig {
        encoder: EncoderKind::ResNet18,
        encoder_weights: Some("imagenet".into()),
        weights_dir: Some(weights_dir.path().to_path_buf()),
        // Frozen, so the trained model still holds the file's encoder weights.
        frozen_groups: EncoderKind::ResNet18.freeze_groups().iter().map(|g| g.name.to_string()).collect(),
        tile_size: Some(64),
        batch_size: 2,
        epochs: 1,
        samples_per_epoch: Some(4),
        device: "cpu".parse().unwrap(),
        early_stopping: None,
        ..Default::default()
    };
    let out = tempfile::tempdir().unwrap();
    let outcome = dlclassifier::tasks::pixel::train(&data, &config, &out.path().join("m"), &dlclassifier::job::JobControl::new(), &mut |_| {}).unwrap();
    assert!(outcome.metadata.architecture.use_pretrained);
    let saved: HashMap<String, Tensor> =
        Tensor::read_safetensors(out.path().join("m").join(dlclassifier::model_dir::WEIGHTS_FILE)).unwrap().into_iter().collect();
    // The nuclei images have one channel: smp's adaptation sums the RGB kernels.
    let file: HashMap<String, Tensor> = weights::read_named_tensors(&files().join("resnet18.pth")).unwrap().into_iter().collect();
    assert_eq!(max_diff(&saved["encoder.layer3.1.conv2.weight"], &file["layer3.1.conv2.weight"]), 0.0);
    assert!(max_diff(&saved["encoder.conv1.weight"], &file["conv1.weight"].sum_dim_intlist([1].as_slice(), true, Kind::Float)) < 1e-6);
}
