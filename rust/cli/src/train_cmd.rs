//! `dlclassifier train`.

use clap::Args;
use dlclassifier::data::TrainingData;
use dlclassifier::settings::{EarlyStopping, LossKind, SchedulerConfig, TrainingConfig, DEFAULT_TILE_SIZE};
use dlclassifier::job::JobControl;
use dlclassifier::tasks::pixel::{self, TrainingPlan, MIN_STEPS_PER_EPOCH};
use dlclassifier::{Error, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Args)]
pub struct TrainArgs {
    /// Training-data folder (config.json, train/, validation/).
    #[arg(long)]
    data: PathBuf,
    /// Model folder to create.
    #[arg(long, required_unless_present = "plan")]
    out: Option<PathBuf>,
    /// Print the settings the run would use, and why, then stop without training.
    #[arg(long)]
    plan: bool,
    /// Start from the settings in a JSON file (TrainingConfig fields).
    #[arg(long, conflicts_with = "from_model")]
    config: Option<PathBuf>,
    /// Start from the settings a previous model was trained with.
    #[arg(long)]
    from_model: Option<PathBuf>,
    /// Model name recorded in metadata.json.
    #[arg(long)]
    name: Option<String>,
    /// unet, unet++, deeplabv3, deeplabv3+, fpn, pspnet, manet, linknet or pan.
    #[arg(long)]
    architecture: Option<String>,
    /// Encoder (the Python extension's --backbone): resnet18, resnet34, resnet50, resnext50_32x4d,
    /// se_resnet50, mobilenet_v2, efficientnet-b0 .. efficientnet-b4, densenet121, vgg16_bn, mit_b0, mit_b2.
    #[arg(long, visible_alias = "backbone")]
    encoder: Option<String>,
    /// Epochs to train at most; early stopping may end the run sooner.
    #[arg(long)]
    epochs: Option<usize>,
    /// Training crops per optimizer step, 1 to 4096.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Side of the square training crops, a multiple of 32 up to 8192.
    #[arg(long, visible_alias = "patch-size")]
    tile_size: Option<usize>,
    /// Random crops drawn per epoch, 1 to 16777216.
    #[arg(long)]
    samples_per_epoch: Option<usize>,
    /// Peak learning rate of AdamW.
    #[arg(long)]
    learning_rate: Option<f64>,
    /// Encoder learning rate relative to --learning-rate, in (0, 1]
    /// (discriminative learning rates; see `catalog --recommend`).
    #[arg(long)]
    encoder_lr_factor: Option<f64>,
    /// AdamW weight decay.
    #[arg(long)]
    weight_decay: Option<f64>,
    /// cross_entropy or ce_dice.
    #[arg(long)]
    loss: Option<String>,
    /// onecycle, cosine, step or none (the Python extension's names and
    /// labels, e.g. "One Cycle", are accepted).
    #[arg(long)]
    scheduler: Option<String>,
    /// Intensity augmentation: auto (from the images), brightfield (colour
    /// jitter), fluorescence (per-channel scaling) or none.
    #[arg(long)]
    intensity_mode: Option<String>,
    /// Early-stopping patience in epochs.
    #[arg(long)]
    patience: Option<usize>,
    /// Train every epoch; keep the best one's weights all the same.
    #[arg(long)]
    no_early_stopping: bool,
    /// Encoder freeze groups to keep fixed (see `dlclassifier catalog`).
    #[arg(long, value_delimiter = ',')]
    freeze: Vec<String>,
    /// Local state dict of a whole model to initialise from (.safetensors, .pt, .pth).
    #[arg(long)]
    init_weights: Option<PathBuf>,
    /// Pretrained encoder weights: a weight-set name listed by `dlclassifier
    /// catalog` (imagenet, lunit-swav...) found in --weights-dir, or a file.
    #[arg(long)]
    encoder_weights: Option<String>,
    /// Folder of named weight files.
    #[arg(long)]
    weights_dir: Option<PathBuf>,
    /// auto, cpu, cuda, cuda:N or mps.
    #[arg(long)]
    device: Option<String>,
    /// CPU threads of libtorch.
    #[arg(long)]
    threads: Option<usize>,
    /// Seed of every random choice (crops, augmentation, initial weights).
    #[arg(long)]
    seed: Option<u64>,
    /// Keep BatchNorm's running statistics from training steps instead of
    /// recomputing them on the training images before each validation.
    #[arg(long)]
    no_bn_calibration: bool,
    /// Disable mixed precision on CUDA.
    #[arg(long)]
    no_amp: bool,
    /// Start over instead of continuing an interrupted run.
    #[arg(long)]
    no_resume: bool,
    /// Replace an existing model folder.
    #[arg(long)]
    overwrite: bool,
    /// Print one JSON line per epoch instead of a progress bar.
    #[arg(long)]
    json: bool,
}

/// `train`'s options with the default of each in its help: the engine's
/// values read from `TrainingConfig::default()`, so that the help cannot
/// drift, and what leaving the others out means.
pub fn with_defaults(command: clap::Command) -> clap::Command {
    let defaults = serde_json::to_value(TrainingConfig::default()).expect("the defaults serialize");
    let text = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let mut shown: Vec<(&str, String)> = ["architecture", "encoder", "epochs", "batch_size", "learning_rate", "encoder_lr_factor", "weight_decay", "loss", "device", "seed"]
        .into_iter()
        .map(|id| (id, text(&defaults[id])))
        .collect();
    shown.extend([
        ("scheduler", text(&defaults["scheduler"]["type"])),
        ("patience", text(&defaults["early_stopping"]["patience"])),
        ("intensity_mode", text(&defaults["augmentation"]["intensity_mode"])),
        ("tile_size", format!("the smallest training image side in multiples of 32, at most {DEFAULT_TILE_SIZE} (see --plan)")),
        ("samples_per_epoch", format!("enough to cover the training images once, at least {MIN_STEPS_PER_EPOCH} batches")),
        ("threads", "all cores".into()),
        ("name", "the --out folder's name".into()),
        ("config", "none: the engine's defaults".into()),
        ("from_model", "none".into()),
        ("freeze", "none".into()),
        ("init_weights", "none: random initialisation".into()),
        ("encoder_weights", "none".into()),
        ("weights_dir", "$DLC_WEIGHTS_DIR, else ~/.cache/dlclassifier/weights".into()),
    ]);
    for flag in ["plan", "no_early_stopping", "no_bn_calibration", "no_amp", "no_resume", "overwrite", "json"] {
        shown.push((flag, "off".into()));
    }
    shown.into_iter().fold(command, |command, (id, value)| {
        command.mut_arg(id, |arg| {
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            arg.help(format!("{help} [default: {value}]"))
        })
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(&format!("\"{text}\"")).map_err(|_| Error::config(format!("unknown {what} '{text}'")))
}

impl TrainArgs {
    fn config(&self) -> Result<TrainingConfig> {
        let mut c = match (&self.config, &self.from_model) {
            (Some(path), _) => dlclassifier::model_dir::read_json(path)?,
            (None, Some(model)) => TrainingConfig::from_model(model)?,
            (None, None) => TrainingConfig::default(),
        };
        // Settings from another run must not resume or overwrite by accident.
        c.resume = !self.no_resume;
        c.overwrite = self.overwrite;
        // A new model gets its own name (by default the output folder's).
        c.name = self.name.clone();
        if let Some(v) = &self.architecture {
            c.architecture = v.parse()?;
        }
        if let Some(v) = &self.encoder {
            c.encoder = v.parse()?;
        }
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = &self.$field { c.$field = v.clone(); })* };
        }
        set!(epochs, batch_size, learning_rate, encoder_lr_factor, weight_decay, seed);
        if let Some(v) = self.tile_size {
            c.tile_size = Some(v);
        }
        if let Some(v) = &self.intensity_mode {
            c.augmentation.intensity_mode = parse_json("intensity mode", v)?;
        }
        if let Some(v) = self.samples_per_epoch {
            c.samples_per_epoch = Some(v);
        }
        if let Some(v) = &self.loss {
            c.loss = LossKind::from_name(v)?;
        }
        if let Some(v) = &self.scheduler {
            c.scheduler = SchedulerConfig::from_name(v)?;
        }
        if let Some(p) = self.patience {
            c.early_stopping = Some(EarlyStopping { patience: p, ..c.early_stopping.unwrap_or_default() });
        }
        if self.no_early_stopping {
            c.early_stopping = None;
        }
        if !self.freeze.is_empty() {
            c.frozen_groups = self.freeze.clone();
        }
        if let Some(p) = &self.init_weights {
            c.init_weights = Some(p.clone());
        }
        if let Some(w) = &self.encoder_weights {
            c.encoder_weights = Some(w.clone());
        }
        if let Some(d) = &self.weights_dir {
            c.weights_dir = Some(d.clone());
        }
        if let Some(d) = &self.device {
            c.device = d.parse()?;
        }
        if let Some(t) = self.threads {
            c.threads = Some(t);
        }
        if self.no_bn_calibration {
            c.calibrate_batch_norm = false;
        }
        if self.no_amp {
            c.amp = false;
        }
        c.validate()?;
        Ok(c)
    }
}

pub fn run(args: TrainArgs) -> Result<()> {
    let config = args.config()?;
    let data = TrainingData::load(&args.data)?;
    // Training prints the plan only once every check has passed, so bad
    // input still gets one error line.
    let plan = match (&args.out, args.plan) {
        (Some(out), false) => pixel::preflight(&data, &config, out)?.plan,
        _ => pixel::plan(&data, &config)?,
    };
    if args.json {
        if args.plan {
            println!("{}", serde_json::to_string(&plan).unwrap_or_default());
        }
    } else {
        print_plan(&plan);
    }
    let (Some(out), false) = (&args.out, args.plan) else { return Ok(()) };
    let bar = if args.json { ProgressBar::hidden() } else { ProgressBar::new(config.epochs as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} epoch {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
            .expect("valid template"),
    );
    let control = JobControl::new();
    let outcome = pixel::train(&data, &config, out, &control, &mut |r| {
        if args.json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        }
        bar.set_position(r.epoch as u64);
        bar.set_message(format!(
            "loss {:.4} val {:.4} mIoU {:.3} (best {:.3} @{})",
            r.train_loss, r.val_loss, r.metrics.mean_iou, r.best_score, r.best_epoch
        ));
    })?;
    bar.finish();
    let best = outcome.metadata.best_epoch.as_ref();
    eprintln!(
        "model written to {} ({:?}, {} epochs; best epoch {} mean IoU {:.4}, pixel accuracy {:.4})",
        outcome.model_dir.display(),
        outcome.metadata.status,
        outcome.metadata.epochs_trained,
        best.map_or(0, |b| b.epoch),
        best.map_or(0.0, |b| b.metrics.mean_iou),
        best.map_or(0.0, |b| b.metrics.pixel_accuracy),
    );
    Ok(())
}

/// The plan as a table on stderr: the setting, its value, and why.
fn print_plan(plan: &TrainingPlan) {
    eprintln!("training plan (* chosen from the data):");
    for c in &plan.choices {
        eprintln!("  {}{:<28} {:<12} {}", if c.chosen { '*' } else { ' ' }, c.setting, c.value, c.reason);
    }
}
