//! Our models against segmentation_models_pytorch 0.5.0: same parameter names
//! and shapes, same parameter counts, and the same logits for the same weights.
//! Fixtures come from `scripts/make_smp_fixture.py`; the weight formula below
//! is the one documented there. Logits fixtures exist for the first five
//! encoders only; tests/python_interop.rs compares the others with smp itself.

use dlclassifier::models::{catalog, Architecture, EncoderKind, ModelSpec, SegmentationModel};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/smp")
}

/// The deterministic weight formula of `make_smp_fixture.py` (conv gain 4).
fn formula(name: &str, shape: &[i64]) -> Tensor {
    let h = name.bytes().enumerate().map(|(i, b)| (i as u64 + 1) * b as u64).sum::<u64>() % 9973;
    let numel: i64 = shape.iter().product();
    let fan_in = if shape.is_empty() { 1.0 } else { numel as f64 / shape[0] as f64 };
    let values: Vec<f32> = (0..numel)
        .map(|k| {
            let base = (0.618 * k as f64 + 0.1 * h as f64).sin();
            let v = if name.ends_with("running_var") {
                1.0 + 0.25 * base.abs()
            } else if name.ends_with("running_mean") {
                0.1 * base
            } else if shape.len() == 1 && name.ends_with("weight") {
                1.0 + 0.1 * base
            } else if name.ends_with("bias") {
                0.05 * base
            } else {
                base * (4.0 / fan_in).sqrt()
            };
            v as f32
        })
        .collect();
    Tensor::from_slice(&values).view(shape)
}

fn build_with_formula(spec: ModelSpec) -> (VarStore, SegmentationModel) {
    let vs = VarStore::new(Device::Cpu);
    let model = SegmentationModel::new(&vs.root(), spec).unwrap();
    tch::no_grad(|| {
        for (name, mut var) in vs.variables() {
            var.copy_(&formula(&name, &var.size()));
        }
    });
    (vs, model)
}

fn smp_keys(encoder: EncoderKind) -> BTreeMap<String, Vec<i64>> {
    let text = std::fs::read_to_string(fixtures().join(format!("keys_{}.txt", encoder.name()))).unwrap();
    text.lines()
        .filter(|l| !l.contains("num_batches_tracked"))
        .map(|l| {
            let (name, shape) = l.split_once('\t').unwrap();
            (name.to_string(), shape.split(',').filter(|s| !s.is_empty()).map(|d| d.parse().unwrap()).collect())
        })
        .collect()
}

fn spec(encoder: EncoderKind, in_channels: i64, num_classes: i64) -> ModelSpec {
    ModelSpec { architecture: Architecture::Unet, encoder, in_channels, num_classes }
}

#[test]
fn parameter_names_and_shapes_match_smp() {
    for encoder in EncoderKind::ALL {
        let vs = VarStore::new(Device::Cpu);
        SegmentationModel::new(&vs.root(), spec(encoder, 3, 2)).unwrap();
        let ours: BTreeMap<String, Vec<i64>> = vs.variables().into_iter().map(|(n, t)| (n, t.size())).collect();
        assert_eq!(ours, smp_keys(encoder), "state dict of {encoder}");
    }
}

#[test]
fn logits_match_smp_for_the_same_weights() {
    let cases = [
        (EncoderKind::ResNet18, 3, 2),
        (EncoderKind::ResNet34, 3, 2),
        (EncoderKind::ResNet50, 3, 2),
        (EncoderKind::MobileNetV2, 3, 2),
        (EncoderKind::EfficientNetB0, 3, 2),
        (EncoderKind::ResNet18, 1, 3),
    ];
    for (encoder, c, k) in cases {
        let file = fixtures().join(format!("unet_{}_c{c}_k{k}.safetensors", encoder.name()));
        let tensors: BTreeMap<String, Tensor> = Tensor::read_safetensors(&file).unwrap().into_iter().collect();
        let (_vs, model) = build_with_formula(spec(encoder, c, k));
        let logits = tch::no_grad(|| model.forward_t(&tensors["input"], false));
        let diff = (&logits - &tensors["logits"]).abs().max().double_value(&[]);
        let spread = tensors["logits"].std(true).double_value(&[]);
        assert!(spread > 0.01, "fixture for {encoder} is degenerate");
        assert!(diff <= 1e-4, "{encoder} c{c} k{k}: max abs diff {diff}");
    }
}

#[test]
fn catalog_lists_exactly_smps_combinations_with_smps_parameter_counts() {
    let text = std::fs::read_to_string(fixtures().join("architecture_counts.json")).unwrap();
    let smp: serde_json::Value = serde_json::from_str(&text).unwrap();
    let catalog = catalog::catalog().unwrap();
    for architecture in Architecture::ALL {
        let listed = &catalog.iter().find(|a| a.name == architecture.name()).unwrap().encoders;
        for encoder in EncoderKind::ALL {
            let expected = &smp[architecture.name()][encoder.name()];
            let info = listed.iter().find(|e| e.name == encoder.name());
            match (info, expected["unsupported"].as_str()) {
                (Some(info), None) => {
                    assert_eq!(info.model_parameters, expected["total"].as_i64().unwrap(), "{architecture}/{encoder}");
                    assert_eq!(info.encoder_parameters, expected["encoder"].as_i64().unwrap(), "{architecture}/{encoder}");
                    assert!(!info.freeze_groups.is_empty() && !info.pretrained.is_empty(), "{architecture}/{encoder}");
                }
                (None, Some(reason)) => {
                    let ours = architecture.check(encoder).unwrap_err().to_string();
                    eprintln!("{architecture}/{encoder}: smp: {reason}; we: {ours}");
                }
                (ours, smps) => panic!("{architecture}/{encoder}: listed by us: {}, smp's refusal: {smps:?}", ours.is_some()),
            }
        }
    }
    let counts: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("param_counts.json")).unwrap()).unwrap();
    let (total, _) = catalog::parameter_counts(spec(EncoderKind::MobileNetV2, 1, 3)).unwrap();
    assert_eq!(total, counts["mobilenet_v2"]["c1_k3"]["total"].as_i64().unwrap());
}

#[test]
fn freeze_groups_cover_every_encoder_parameter_once() {
    for encoder in EncoderKind::ALL {
        let groups = encoder.freeze_groups();
        for name in smp_keys(encoder).keys().filter_map(|k| k.strip_prefix("encoder.")) {
            let owners = groups.iter().filter(|g| g.prefixes.iter().any(|p| name.starts_with(p.as_str()))).count();
            assert_eq!(owners, 1, "{encoder}: {name} is in {owners} groups");
        }
    }
}

#[test]
fn wrong_inputs_are_refused_with_reasons() {
    let vs = VarStore::new(Device::Cpu);
    let model = SegmentationModel::new(&vs.root(), spec(EncoderKind::ResNet18, 3, 2)).unwrap();
    assert!(model.check_input(&[1, 3, 64, 96]).is_ok());
    assert!(model.check_input(&[1, 1, 64, 64]).unwrap_err().to_string().contains("expects 3 input channels"));
    assert!(model.check_input(&[1, 3, 50, 64]).unwrap_err().to_string().contains("multiples of 32"));
    assert!(SegmentationModel::new(&vs.root(), spec(EncoderKind::ResNet18, 3, 1)).is_err());
    let x = Tensor::zeros([2, 3, 64, 96], (Kind::Float, Device::Cpu));
    assert_eq!(tch::no_grad(|| model.forward_t(&x, false)).size(), vec![2, 2, 64, 96]);
}
