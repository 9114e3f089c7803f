//! `dlclassifier bench-train`: training throughput of the engine's own step on
//! synthetic batches, mirroring `bench/smp_train_bench.py` for a same-run ratio.

use clap::Args;
use dlclassifier::models::{Architecture, ModelSpec, SegmentationModel};
use dlclassifier::settings::LossKind;
use dlclassifier::train::{Loss, StepRunner};
use dlclassifier::Result;
use std::time::Instant;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

#[derive(Args)]
pub struct BenchArgs {
    /// Encoder of the benchmarked UNet.
    #[arg(long, default_value = "resnet18")]
    encoder: String,
    /// Input channels.
    #[arg(long, default_value_t = 1)]
    in_channels: i64,
    /// Classes.
    #[arg(long, default_value_t = 2)]
    classes: i64,
    /// Tile side in pixels.
    #[arg(long, default_value_t = 256)]
    tile: i64,
    /// Tiles per step.
    #[arg(long, default_value_t = 4)]
    batch: i64,
    /// CPU threads.
    #[arg(long, default_value_t = 1)]
    threads: i32,
    /// Untimed steps first.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Seed of the synthetic batches and weights.
    #[arg(long, default_value_t = 0)]
    seed: i64,
}

pub fn run(a: BenchArgs) -> Result<()> {
    tch::set_num_threads(a.threads);
    tch::manual_seed(a.seed);
    let spec = ModelSpec { architecture: Architecture::Unet, encoder: a.encoder.parse()?, in_channels: a.in_channels, num_classes: a.classes };
    let vs = VarStore::new(Device::Cpu);
    let model = SegmentationModel::new(&vs.root(), spec)?;
    let mut runner = StepRunner::new(&vs, Loss::new(LossKind::CrossEntropy, None, 255, Device::Cpu), 1e-3, 1e-4, None, false)?;
    // Four distinct batches, cycled, with 5% unlabelled pixels: the Python script's data.
    let batches: Vec<(Tensor, Tensor)> = (0..4)
        .map(|_| {
            let opts = (Kind::Float, Device::Cpu);
            let x = Tensor::randn([a.batch, a.in_channels, a.tile, a.tile], opts);
            let y = Tensor::randint(a.classes, [a.batch, a.tile, a.tile], (Kind::Int64, Device::Cpu));
            let ignore = Tensor::rand([a.batch, a.tile, a.tile], opts).lt(0.05);
            (x, y.masked_fill(&ignore, 255))
        })
        .collect();
    let mut step = |i: usize| {
        let (x, y) = &batches[i % batches.len()];
        runner.step(&model, x, y, 1e-3)
    };
    (0..a.warmup).for_each(|i| {
        step(i);
    });
    let start = Instant::now();
    (0..a.steps).for_each(|i| {
        step(a.warmup + i);
    });
    let seconds = start.elapsed().as_secs_f64();
    let result = serde_json::json!({
        "samples_per_s": (a.steps as i64 * a.batch) as f64 / seconds,
        "seconds": seconds,
        "steps": a.steps,
        "batch": a.batch,
        "tile": a.tile,
        "threads": a.threads,
        "encoder": spec.encoder.name(),
        "in_channels": a.in_channels,
        "classes": a.classes,
    });
    println!("{result}");
    Ok(())
}
