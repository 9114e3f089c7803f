//! `dlclassifier devices` (what this machine can run on, and how much memory
//! is in use) and `dlclassifier estimate` (peak memory of a run before starting it).

use clap::Args;
use dlclassifier::device::{available_devices, memory_info, memory_snapshot, DeviceChoice};
use dlclassifier::memory_estimate::{estimate_inference, estimate_training, gib, suggest_batch, MemoryEstimate};
use dlclassifier::models::{ModelSpec, OUTPUT_STRIDE};
use dlclassifier::{Error, Result};

#[derive(Args)]
pub struct DevicesArgs {
    /// One JSON document instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn devices(args: DevicesArgs) -> Result<()> {
    let rows: Vec<serde_json::Value> = available_devices()
        .into_iter()
        .map(|d| {
            let choice: Option<DeviceChoice> = d.id.parse().ok();
            // MPS memory cannot be queried; a failed query shows as null.
            let memory = choice.and_then(|c| memory_info(c).ok());
            let used = choice.and_then(|c| c.resolve().ok()).and_then(|device| memory_snapshot(device).ok());
            serde_json::json!({ "device": d, "memory": memory, "in_use": used })
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows).map_err(|e| Error::config(e.to_string()))?);
        return Ok(());
    }
    for row in &rows {
        let d = &row["device"];
        let bytes = |v: &serde_json::Value| v.as_u64().map_or("?".to_string(), gib);
        let mut line = format!("{:<8} {}", d["id"].as_str().unwrap_or_default(), d["name"].as_str().unwrap_or_default());
        if let Some(threads) = d["threads"].as_u64() {
            line += &format!(", {threads} threads (libtorch uses {})", d["torch_threads"]);
        }
        if !row["memory"].is_null() {
            line += &format!(", {} free of {}", bytes(&row["memory"]["free"]), bytes(&row["memory"]["total"]));
        }
        if !row["in_use"].is_null() {
            let who = if d["id"] == "cpu" { "this process" } else { "device" };
            line += &format!(", {who} uses {} (peak {})", bytes(&row["in_use"]["current"]), bytes(&row["in_use"]["peak"]));
        }
        println!("{line}");
    }
    if !tch::Cuda::is_available() {
        println!("no CUDA device (libtorch reports none)");
    }
    Ok(())
}

#[derive(Args)]
pub struct EstimateArgs {
    /// Encoder of the model.
    #[arg(long, default_value = "resnet34")]
    encoder: String,
    /// Architecture of the model.
    #[arg(long, default_value = "unet")]
    architecture: String,
    /// Tile side in pixels.
    #[arg(long, default_value_t = 512)]
    tile: usize,
    /// Tiles per batch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Input channels of the images.
    #[arg(long, default_value_t = 3)]
    channels: i64,
    /// Classes the model predicts.
    #[arg(long, default_value_t = 2)]
    classes: i64,
    /// Mixed precision (training) or fp16 (inference), as on a CUDA device.
    #[arg(long)]
    amp: bool,
    /// Estimate inference instead of training.
    #[arg(long)]
    inference: bool,
    /// Also suggest the largest batch that fits this many bytes.
    #[arg(long, conflicts_with = "budget_gib")]
    budget: Option<u64>,
    /// As --budget, in GiB.
    #[arg(long)]
    budget_gib: Option<f64>,
    /// Print JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

pub fn estimate(args: EstimateArgs) -> Result<()> {
    let spec = ModelSpec {
        architecture: args.architecture.parse()?,
        encoder: args.encoder.parse()?,
        in_channels: args.channels,
        num_classes: args.classes,
    };
    if args.tile % OUTPUT_STRIDE as usize != 0 {
        return Err(Error::config(format!("--tile must be a multiple of {OUTPUT_STRIDE}, got {}", args.tile)));
    }
    let estimate = if args.inference { estimate_inference } else { estimate_training };
    let requested = estimate(spec, args.tile, args.batch, args.amp)?;
    let budget = args.budget.or(args.budget_gib.map(|g| (g * (1u64 << 30) as f64) as u64));
    let suggested = budget.map(|b| suggest_batch(spec, args.tile, args.amp, args.inference, b)).transpose()?;
    if args.json {
        let value = serde_json::json!({ "estimate": requested, "budget": budget, "suggested": suggested });
        println!("{}", serde_json::to_string_pretty(&value).map_err(|e| Error::config(e.to_string()))?);
        return Ok(());
    }
    print(if args.inference { "inference" } else { "training" }, &requested);
    if let (Some(b), Some(s)) = (budget, suggested) {
        println!("largest batch within {}: {} ({})", gib(b), s.batch_size, gib(s.total));
    }
    Ok(())
}

fn print(what: &str, e: &MemoryEstimate) {
    println!("{what}, batch {} of {}x{} tiles: about {} at the peak", e.batch_size, e.tile_size, e.tile_size, gib(e.total));
    println!(
        "  weights {}, gradients {}, optimizer {}, activations {}",
        gib(e.parameters),
        gib(e.gradients),
        gib(e.optimizer),
        gib(e.activations)
    );
}
