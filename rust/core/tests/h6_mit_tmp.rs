//! TEMPORARY (helper h6): dilated mit end to end; deleted after the run.
mod common;

use common::{data, quick_config};
use dlclassifier::data::TrainingData;
use dlclassifier::inference::{Backend, BackendChoice, InferenceOptions, OnnxBackend, TorchScriptBackend};
use dlclassifier::model_dir;
use dlclassifier::models::{Architecture, EncoderKind};
use dlclassifier::train::{self, JobControl};
use ndarray::{Array3, Array4, ArrayView4, Axis};

fn run(backend: &dyn Backend, input: ArrayView4<f32>) -> Array4<f32> {
    let mut out = None;
    backend.run(input, &mut |logits| { out = Some(logits.to_owned()); Ok(()) }).unwrap();
    out.unwrap()
}

#[test]
fn h6_mit_e2e() {
    let data = TrainingData::load(data("nuclei-dsb2018")).unwrap();
    for architecture in [Architecture::DeepLabV3, Architecture::DeepLabV3Plus, Architecture::Pan] {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join(architecture.name());
        let config = train::TrainingConfig { architecture, encoder: EncoderKind::MitB0, epochs: 2, samples_per_epoch: Some(9), ..quick_config() };
        let outcome = train::train(&data, &config, &dir, &JobControl::new(), &mut |_| {}).unwrap();
        let onnx_path = model_dir::export_onnx_dir(&dir).unwrap();
        let options = |backend| InferenceOptions { backend, device: "cpu".parse().unwrap(), ..InferenceOptions::default() };
        let onnx = OnnxBackend::open(&onnx_path, &options(BackendChoice::Onnx)).unwrap();
        let torch = TorchScriptBackend::open(&dir.join(model_dir::TORCHSCRIPT_FILE), &options(BackendChoice::Torch)).unwrap();
        let image = &data.validation[0].image;
        let (c, h, w) = image.dim();
        let mut crop = Array3::from_shape_fn((c, 128, 160), |(c, y, x)| image[[c, y % h, x % w]]);
        outcome.metadata.input_config.normalization.apply(&mut crop).unwrap();
        let input = crop.insert_axis(Axis(0));
        let reference = run(&torch, input.view());
        let diff = (&run(&onnx, input.view()) - &reference).iter().fold(0f32, |m, v| m.max(v.abs()));
        eprintln!("{architecture}/mit_b0: losses {:?}, ONNX vs TorchScript max abs diff {diff}", outcome.history.iter().map(|r| (r.train_loss, r.val_loss)).collect::<Vec<_>>());
    }
}
