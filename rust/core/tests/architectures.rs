//! Every architecture end to end: two epochs of training on real data, then
//! the model folder's TorchScript and its ONNX export compute the same logits.

mod common;

use common::{data, quick_config};
use dlclassifier::data::TrainingData;
use dlclassifier::inference::{Backend, BackendChoice, InferenceOptions, OnnxBackend, TorchScriptBackend};
use dlclassifier::job::JobControl;
use dlclassifier::model_dir;
use dlclassifier::models::Architecture;
use dlclassifier::settings;
use dlclassifier::tasks::pixel::{self, Predictor};
use ndarray::{Array3, Array4, ArrayView4, Axis};

fn run(backend: &dyn Backend, input: ArrayView4<f32>) -> Array4<f32> {
    let mut out = None;
    backend
        .run(input, &mut |logits| {
            out = Some(logits.to_owned());
            Ok(())
        })
        .unwrap();
    out.unwrap()
}

#[test]
fn every_architecture_trains_two_epochs_on_real_data_and_its_onnx_matches_torchscript() {
    let data = TrainingData::load(data("nuclei-dsb2018")).unwrap();
    let only = std::env::var("DLC_PARITY_ONLY").unwrap_or_default();
    for architecture in Architecture::ALL.into_iter().filter(|a| a.name().contains(&only)) {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join(architecture.name());
        // An odd sample count leaves a last batch of one, which BatchNorm on
        // pooled 1x1 maps (ASPP, PSP, FPA) cannot train on alone.
        let config = settings::TrainingConfig { architecture, epochs: 2, samples_per_epoch: Some(9), ..quick_config() };
        let outcome = pixel::train(&data, &config, &dir, &JobControl::new(), &mut |_| {}).unwrap();
        assert_eq!(outcome.history.len(), 2, "{architecture}");
        for record in &outcome.history {
            assert!(record.train_loss.is_finite() && record.val_loss.is_finite(), "{architecture}: {record:?}");
        }

        let onnx_path = model_dir::export_onnx_dir(&dir).unwrap();
        let options = |backend| InferenceOptions { backend, device: "cpu".parse().unwrap(), ..InferenceOptions::default() };
        let onnx = OnnxBackend::open(&onnx_path, &options(BackendChoice::Onnx)).unwrap();
        let torch = TorchScriptBackend::open(&dir.join(model_dir::TORCHSCRIPT_FILE), &options(BackendChoice::Torch)).unwrap();
        // Real pixels, normalized as in training, at a size training never saw.
        let image = &data.validation[0].image;
        let (c, h, w) = image.dim();
        let mut crop = Array3::from_shape_fn((c, 128, 160), |(c, y, x)| image[[c, y % h, x % w]]);
        let raw = crop.clone();
        outcome.metadata.input_config.normalization.apply(&mut crop).unwrap();
        let input = crop.insert_axis(Axis(0));
        let reference = run(&torch, input.view());
        let diff = (&run(&onnx, input.view()) - &reference).iter().fold(0f32, |m, v| m.max(v.abs()));
        eprintln!("{architecture}: val loss {:.4}, ONNX vs TorchScript max abs diff {diff}", outcome.history[1].val_loss);
        assert!(diff <= 1e-4, "{architecture}: ONNX vs TorchScript max abs diff {diff}");

        // Through the predictor, a tile below PAN's minimum size is padded up to it.
        for backend in [BackendChoice::Onnx, BackendChoice::Torch] {
            let predictor = Predictor::open(&dir, &options(backend)).unwrap();
            let tile = raw.slice(ndarray::s![.., ..40, ..48]).insert_axis(Axis(0));
            let probabilities = predictor.predict_probabilities(tile).unwrap();
            assert_eq!(probabilities.dim(), (1, 2, 40, 48), "{architecture} {backend:?}");
            let total = probabilities.sum_axis(Axis(1));
            assert!(total.iter().all(|p| (p - 1.0).abs() < 1e-4), "{architecture} {backend:?}");
        }
    }
}
