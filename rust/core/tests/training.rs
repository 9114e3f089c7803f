//! End-to-end training on the bundled real data sets.

mod common;

use common::{data, quick_config};
use dlclassifier::data::TrainingData;
use dlclassifier::model_dir::{self, ModelMetadata, RunStatus};
use dlclassifier::models::{EncoderKind, SegmentationModel};
use dlclassifier::history::EpochRecord;
use dlclassifier::settings::{self, EarlyStopping, LossKind, MonitorMetric};
use dlclassifier::job::JobControl;
use dlclassifier::tasks::pixel;
use dlclassifier::train::{checkpoint_dir, Loss};
use std::panic::{catch_unwind, AssertUnwindSafe};
use tch::nn::{ModuleT, VarStore};
use tch::{CModule, Device, Kind, Tensor};

#[test]
fn nuclei_reaches_mean_iou_080_and_writes_a_complete_model() {
    let data = TrainingData::load(data("nuclei-dsb2018")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("nuclei");
    let config = settings::TrainingConfig { epochs: 15, ..quick_config() };
    let mut seen = Vec::new();
    let outcome = pixel::train(&data, &config, &dir, &JobControl::new(), &mut |r| seen.push(r.clone())).unwrap();

    let best = outcome.metadata.best_epoch.clone().unwrap();
    assert!(best.metrics.mean_iou >= 0.80, "best validation mean IoU {}", best.metrics.mean_iou);
    assert_eq!(seen.len(), 15);
    assert_eq!(seen, outcome.history);
    for file in [model_dir::TORCHSCRIPT_FILE, model_dir::ONNX_FILE, model_dir::WEIGHTS_FILE, model_dir::METADATA_FILE, model_dir::HISTORY_FILE, model_dir::PLOT_FILE] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    assert!(!checkpoint_dir(&dir).exists(), "checkpoints are removed after a finished run");

    let meta = ModelMetadata::read(&dir).unwrap();
    assert_eq!(meta.status, RunStatus::Completed);
    assert_eq!(meta.architecture.backbone, EncoderKind::ResNet18);
    assert_eq!(meta.input_config.num_channels, 1);
    assert_eq!(meta.input_config.bit_depth, Some(16));
    assert_eq!(meta.classes.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["Background", "Nucleus"]);
    assert_eq!(meta.classes[1].color, "#FF0000");
    let resolved = pixel::plan(&data, &config).unwrap().config;
    assert_eq!((resolved.tile_size, resolved.samples_per_epoch), (Some(128), Some(16)), "given tile; epoch of 4 batches of 4");
    assert_eq!(meta.training, resolved, "the plan's choices are recorded");
    assert!(history_has_epoch_sizes(&outcome.history, 16, 4));
    assert_eq!(meta.input_config.normalization, outcome.metadata.input_config.normalization);
    let raw: serde_json::Value = model_dir::read_json(&dir.join(model_dir::METADATA_FILE)).unwrap();
    assert_eq!(raw["input_config"]["normalization"]["strategy"], "percentile_99", "the Python extension's layout");
    assert!(raw["input_config"]["normalization"]["p_high"][0].as_f64().unwrap() > 0.0);
    assert_eq!(settings::TrainingConfig::from_model(&dir).unwrap(), resolved);
    let history: Vec<EpochRecord> = model_dir::read_json(&dir.join(model_dir::HISTORY_FILE)).unwrap();
    assert_eq!(history, outcome.history);

    // The saved weights and the TorchScript trace are the same (best) model.
    let mut vs = VarStore::new(Device::Cpu);
    let model = SegmentationModel::new(&vs.root(), meta.spec()).unwrap();
    vs.load(dir.join(model_dir::WEIGHTS_FILE)).unwrap();
    let traced = CModule::load(dir.join(model_dir::TORCHSCRIPT_FILE)).unwrap();
    let x = Tensor::randn([1, 1, 96, 160], (Kind::Float, Device::Cpu));
    let ours = tch::no_grad(|| model.forward_t(&x, false));
    let theirs = traced.forward_ts(&[&x]).unwrap();
    assert!((&ours - &theirs).abs().max().double_value(&[]) < 1e-4);
}

fn history_has_epoch_sizes(history: &[EpochRecord], samples: usize, steps: usize) -> bool {
    history.iter().all(|r| (r.samples, r.steps) == (samples, steps))
}

#[test]
fn sparse_scribbles_train_and_unlabeled_pixels_never_reach_the_loss() {
    let data = TrainingData::load(data("bbbc007-scribbles")).unwrap();
    let labelled = data.train.iter().flat_map(|s| s.mask.iter()).filter(|&&v| v != 255).count();
    let total: usize = data.train.iter().map(|s| s.mask.len()).sum();
    assert!(labelled * 4 < total, "the set is sparse: {labelled} of {total} labelled");

    // The loss only sees labelled pixels: whatever the network predicts at
    // unlabelled pixels (here: replaced by noise) leaves it and its gradient unchanged.
    let sample = &data.train[0];
    let (h, w) = sample.mask.dim();
    let (h, w) = (h as i64 / 32 * 32, w as i64 / 32 * 32);
    let vs = VarStore::new(Device::Cpu);
    let model = SegmentationModel::new(&vs.root(), dlclassifier::models::ModelSpec {
        architecture: dlclassifier::models::Architecture::Unet,
        encoder: EncoderKind::ResNet18,
        in_channels: 1,
        num_classes: 2,
    })
    .unwrap();
    let image = Tensor::from_slice(sample.image.as_slice().unwrap()).view([1, 1, sample.image.dim().1 as i64, sample.image.dim().2 as i64]).narrow(2, 0, h).narrow(3, 0, w) / 255.0;
    let mask = Tensor::from_slice(sample.mask.as_slice().unwrap()).view([1, sample.mask.dim().0 as i64, sample.mask.dim().1 as i64]).narrow(1, 0, h).narrow(2, 0, w).to_kind(Kind::Int64);
    let unlabelled = mask.eq(255).unsqueeze(1).expand([1, 2, h, w], false);
    let logits = tch::no_grad(|| model.forward_t(&image, false));
    let noisy = logits.where_self(&unlabelled.logical_not(), &(Tensor::randn([1, 2, h, w], (Kind::Float, Device::Cpu)) * 10.0));
    for kind in [LossKind::CrossEntropy, LossKind::CeDice] {
        let loss = Loss::new(kind, Some(&[0.87, 1.17]), 255, Device::Cpu);
        let a = logits.detach().set_requires_grad(true);
        let b = noisy.detach().set_requires_grad(true);
        let (la, lb) = (loss.compute(&a, &mask), loss.compute(&b, &mask));
        assert!((la.double_value(&[]) - lb.double_value(&[])).abs() < 1e-6, "{kind:?}");
        lb.backward();
        assert_eq!(b.grad().masked_select(&unlabelled).abs().max().double_value(&[]), 0.0);
    }

    // And the sparse set trains end to end (images are ~100 px: crops are padded).
    let out = tempfile::tempdir().unwrap();
    let config = settings::TrainingConfig { tile_size: Some(96), epochs: 3, loss: LossKind::CrossEntropy, ..quick_config() };
    let outcome = pixel::train(&data, &config, &out.path().join("m"), &JobControl::new(), &mut |_| {}).unwrap();
    assert!(outcome.history.iter().all(|r| r.train_loss.is_finite() && r.val_loss.is_finite()));
    assert!(outcome.history[2].train_loss < outcome.history[0].train_loss);
}

#[test]
fn rgb_ihc_three_classes_train_end_to_end_with_all_augmentations() {
    let data = TrainingData::load(data("ihc-dab")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut config = settings::TrainingConfig { encoder: EncoderKind::MobileNetV2, epochs: 3, ..quick_config() };
    config.augmentation = serde_json::from_str(
        r#"{"color_jitter":{"brightness":0.2,"contrast":0.2,"saturation":0.2},"elastic":{"alpha":30.0,"sigma":5.0,"probability":0.5}}"#,
    )
    .unwrap();
    config.scheduler = settings::SchedulerConfig::Cosine { t0: 2, t_mult: 1, eta_min: 1e-5 };
    let outcome = pixel::train(&data, &config, &out.path().join("ihc"), &JobControl::new(), &mut |_| {}).unwrap();
    let meta = &outcome.metadata;
    assert_eq!(meta.architecture.num_classes, 3);
    assert_eq!(meta.input_config.channel_names, ["Red", "Green", "Blue"]);
    assert_eq!(outcome.history.len(), 3);
    assert!(outcome.history.iter().all(|r| r.metrics.per_class_iou.len() == 3));
    assert!(outcome.history.last().unwrap().metrics.pixel_accuracy > 0.5);
}

#[test]
fn cancel_keeps_the_best_epoch_and_a_killed_run_resumes() {
    let data = TrainingData::load(data("nuclei-dsb2018")).unwrap();
    let out = tempfile::tempdir().unwrap();
    // A lower encoder learning rate (a second optimizer group) must not get in the way of resuming.
    let config = settings::TrainingConfig { epochs: 4, samples_per_epoch: Some(4), encoder_lr_factor: 0.5, ..quick_config() };

    // Cancel after the second epoch: the model of the best epoch is written.
    let control = JobControl::new();
    let c = control.clone();
    let dir = out.path().join("cancelled");
    let outcome = pixel::train(&data, &config, &dir, &control, &mut |r| if r.epoch == 2 { c.cancel() }).unwrap();
    assert_eq!(outcome.metadata.status, RunStatus::Cancelled);
    assert_eq!(outcome.history.len(), 2);
    assert!(dir.join(model_dir::TORCHSCRIPT_FILE).is_file());

    // Cancelled before any epoch finished: nothing to keep, a clear error, no folder.
    let control = JobControl::new();
    control.cancel();
    let err = pixel::train(&data, &config, &out.path().join("none"), &control, &mut |_| {}).unwrap_err();
    assert!(matches!(err, dlclassifier::Error::Cancelled));
    assert!(!out.path().join("none").exists());

    // A run that dies after epoch 2 leaves checkpoints; the next run continues from them.
    let dir = out.path().join("resumed");
    let died = catch_unwind(AssertUnwindSafe(|| {
        pixel::train(&data, &config, &dir, &JobControl::new(), &mut |r| assert!(r.epoch < 2, "simulated crash"))
    }));
    assert!(died.is_err());
    assert!(!dir.exists() && checkpoint_dir(&dir).join("state.json").is_file());
    let mut epochs = Vec::new();
    let outcome = pixel::train(&data, &config, &dir, &JobControl::new(), &mut |r| epochs.push(r.epoch)).unwrap();
    assert_eq!(epochs, [3, 4], "resumed after the two finished epochs");
    assert_eq!(outcome.history.iter().map(|r| r.epoch).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert!(!checkpoint_dir(&dir).exists());
}

#[test]
fn pause_holds_between_epochs_and_early_stopping_restores_the_best() {
    let data = TrainingData::load(data("nuclei-dsb2018")).unwrap();
    let out = tempfile::tempdir().unwrap();
    // No epoch can beat the first by 10 in loss: stop after `patience` more,
    // judged epoch by epoch; a constant learning rate has no warm-up to wait for.
    let config = settings::TrainingConfig {
        epochs: 10,
        samples_per_epoch: Some(4),
        monitor: MonitorMetric::ValLoss,
        early_stopping: Some(EarlyStopping { patience: 2, min_delta: 10.0, smoothing: 1 }),
        scheduler: settings::SchedulerConfig::None,
        ..quick_config()
    };
    let control = JobControl::new();
    let c = control.clone();
    let mut paused_for = std::time::Duration::ZERO;
    let mut last = std::time::Instant::now();
    let outcome = pixel::train(&data, &config, &out.path().join("m"), &control, &mut |r| {
        if r.epoch == 1 {
            c.pause();
            let c = c.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(300));
                c.resume();
            });
            last = std::time::Instant::now();
        } else if r.epoch == 2 {
            paused_for = last.elapsed();
        }
    })
    .unwrap();
    assert!(paused_for >= std::time::Duration::from_millis(300), "epoch 2 waited for resume");
    assert_eq!(outcome.metadata.status, RunStatus::EarlyStopped);
    assert_eq!(outcome.history.len(), 3);
    assert_eq!(outcome.metadata.best_epoch.as_ref().unwrap().epoch, 1);
    assert_eq!(outcome.history[2].epochs_without_improvement, 2);

    // One-cycle warms up over the first 3 of 10 epochs: no stop before 3 + 2.
    let warming = settings::TrainingConfig { scheduler: settings::SchedulerConfig::default(), ..config };
    let outcome = pixel::train(&data, &warming, &out.path().join("w"), &JobControl::new(), &mut |_| {}).unwrap();
    assert_eq!((outcome.metadata.status, outcome.history.len()), (RunStatus::EarlyStopped, 5));
}

#[test]
fn frozen_groups_keep_their_weights() {
    let data = TrainingData::load(data("nuclei-dsb2018")).unwrap();
    let out = tempfile::tempdir().unwrap();
    // Start from known weights so that "unchanged" can be checked exactly.
    let init = out.path().join("init.safetensors");
    let vs = VarStore::new(Device::Cpu);
    SegmentationModel::new(&vs.root(), dlclassifier::models::ModelSpec {
        architecture: dlclassifier::models::Architecture::Unet,
        encoder: EncoderKind::ResNet18,
        in_channels: 1,
        num_classes: 2,
    })
    .unwrap();
    vs.save(&init).unwrap();
    let config = settings::TrainingConfig {
        epochs: 1,
        samples_per_epoch: Some(8),
        frozen_groups: vec!["stem".into(), "layer1".into()],
        encoder_lr_factor: 0.3,
        init_weights: Some(init.clone()),
        ..quick_config()
    };
    let dir = out.path().join("m");
    pixel::train(&data, &config, &dir, &JobControl::new(), &mut |_| {}).unwrap();
    let before: std::collections::HashMap<_, _> = Tensor::read_safetensors(&init).unwrap().into_iter().collect();
    let after: std::collections::HashMap<_, _> = Tensor::read_safetensors(dir.join(model_dir::WEIGHTS_FILE)).unwrap().into_iter().collect();
    let changed = |name: &str| (&before[name] - &after[name]).abs().max().double_value(&[]) > 0.0;
    assert!(!changed("encoder.conv1.weight") && !changed("encoder.layer1.1.conv2.weight"));
    assert!(changed("encoder.layer4.1.conv2.weight") && changed("segmentation_head.0.weight"));
    assert!(ModelMetadata::read(&dir).unwrap().architecture.use_pretrained);
}

#[test]
fn bad_settings_and_existing_outputs_are_refused_before_training() {
    let data = TrainingData::load(data("nuclei-dsb2018")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let err = pixel::train(&data, &settings::TrainingConfig { tile_size: Some(100), ..quick_config() }, &out.path().join("a"), &JobControl::new(), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("multiple of 32"), "{err}");
    std::fs::create_dir(out.path().join("taken")).unwrap();
    let err = pixel::train(&data, &quick_config(), &out.path().join("taken"), &JobControl::new(), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
    let config = settings::TrainingConfig { init_weights: Some(out.path().join("nope.safetensors")), ..quick_config() };
    let err = pixel::train(&data, &config, &out.path().join("b"), &JobControl::new(), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("weight file not found"), "{err}");
}
