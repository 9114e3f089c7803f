//! Peak device memory of training or inference, estimated before starting,
//! and the largest batch that fits a budget.
//!
//! Activation sizes come from the model's own eval-mode graph (the ONNX
//! export, which mirrors `forward` layer by layer): one pass over its nodes
//! gives, per input pixel, the elements every layer produces, so any encoder
//! the exporter knows is covered. Everything scales with batch × tile², so
//! one pass serves every batch and tile size.

use crate::device::DeviceChoice;
use crate::models::{ModelSpec, SegmentationModel};
use crate::onnx::GraphBuilder;
use crate::settings::TrainingConfig;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::HashMap;
use tch::nn::VarStore;
use tch::Device;

/// Copies of every eval-graph layer output that training holds at its peak:
/// autograd saves about one (batch-norm inputs, folded away in the eval graph,
/// add; in-place and parameter-free layers take away), plus gradients in
/// flight. Measured on CPU: 1.0 (resnet18) to 1.3 (mobilenet_v2); see the tests.
const TRAINING_COPIES: f64 = 1.15;
/// Elements per pixel and class the loss (softmax, one-hot target, dice
/// terms and their gradients) holds at once.
const LOSS_COPIES_PER_CLASS: f64 = 6.0;
/// Inference keeps the encoder features for the skip connections while the
/// decoder runs; the live set is about this multiple of the largest single
/// layer (its input plus its output).
const INFERENCE_LIVE_FACTOR: f64 = 2.0;

/// What a run would need at its peak, in bytes, broken down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryEstimate {
    pub batch_size: usize,
    pub tile_size: usize,
    /// The weights.
    pub parameters: u64,
    /// Training only: one gradient per weight.
    pub gradients: u64,
    /// Training only: AdamW's two moments per weight.
    pub optimizer: u64,
    /// Layer outputs (kept for backward when training), the loss, and the
    /// input and output batches.
    pub activations: u64,
    pub total: u64,
}

/// Per-pixel profile of one model, from which any batch and tile size follow.
#[derive(Debug, Clone, Copy)]
struct Profile {
    parameters: u64,
    in_channels: f64,
    num_classes: f64,
    /// Σ over layers of output elements per input pixel.
    outputs_per_pixel: f64,
    /// Largest (inputs + output) elements of one layer per input pixel.
    largest_layer_per_pixel: f64,
}

impl Profile {
    fn of(spec: ModelSpec) -> Result<Profile> {
        let vs = VarStore::new(Device::Cpu);
        let model = SegmentationModel::new(&vs.root(), spec)?;
        let parameters = vs.trainable_variables().iter().map(|t| t.numel() as u64).sum();
        let mut g = GraphBuilder::default();
        let logits = tch::no_grad(|| model.record(&mut g, crate::onnx::INPUT));
        // Encoder stages the decoder does not read are not computed (PSPNet).
        g.prune(&logits);
        let (outputs_per_pixel, largest_layer_per_pixel) = layer_sizes(&g, spec.in_channels as f64)?;
        Ok(Profile {
            parameters,
            in_channels: spec.in_channels as f64,
            num_classes: spec.num_classes as f64,
            outputs_per_pixel,
            largest_layer_per_pixel,
        })
    }

    fn training(&self, tile_size: usize, batch_size: usize, half: bool) -> MemoryEstimate {
        let pixels = (batch_size * tile_size * tile_size) as f64;
        let element = if half { 2.0 } else { 4.0 };
        // The loss and the input/target batches stay float32 under autocast.
        let per_pixel = TRAINING_COPIES * self.outputs_per_pixel * element
            + (LOSS_COPIES_PER_CLASS * self.num_classes + self.in_channels + 2.0) * 4.0;
        let weights = self.parameters * 4;
        let activations = (per_pixel * pixels) as u64;
        MemoryEstimate {
            batch_size,
            tile_size,
            parameters: weights,
            gradients: weights,
            optimizer: 2 * weights,
            activations,
            total: 4 * weights + activations,
        }
    }

    fn inference(&self, tile_size: usize, batch_size: usize, half: bool) -> MemoryEstimate {
        let pixels = (batch_size * tile_size * tile_size) as f64;
        let element = if half { 2.0 } else { 4.0 };
        let per_pixel = INFERENCE_LIVE_FACTOR * self.largest_layer_per_pixel * element + (self.in_channels + 2.0 * self.num_classes) * 4.0;
        let weights = (self.parameters as f64 * element) as u64;
        let activations = (per_pixel * pixels) as u64;
        MemoryEstimate { batch_size, tile_size, parameters: weights, gradients: 0, optimizer: 0, activations, total: weights + activations }
    }
}

/// What the size rules know of one graph value.
#[derive(Debug, Clone, Copy)]
enum Value {
    /// An image-like `[N, C, h, w]` value: channels and area relative to the input.
    Pixels(f64, f64),
    /// A small value (a shape, an index, pooling matrices); `Some(area)` when
    /// it is, or is computed from, the shape of a value of that area.
    Small(Option<f64>),
}

/// Σ of all layer outputs and the largest (inputs + output) of one layer, in
/// elements per input pixel, by propagating channels and the spatial scale
/// through the graph. Layers without a rule of their own (activations,
/// normalizations, attention) are taken to be as large as their largest input.
fn layer_sizes(g: &GraphBuilder, in_channels: f64) -> Result<(f64, f64)> {
    let mut values: HashMap<&str, Value> = HashMap::from([(crate::onnx::INPUT, Value::Pixels(in_channels, 1.0))]);
    let (mut sum, mut largest) = (0.0f64, 0.0f64);
    for node in g.nodes() {
        let op = node.op_type.as_deref().unwrap_or_default();
        let inputs: Vec<Value> = node
            .input
            .iter()
            .map(|name| {
                values.get(name.as_str()).copied().or_else(|| g.initializer_dims(name).map(|_| Value::Small(None))).unwrap_or(Value::Small(None))
            })
            .collect();
        let pixels = |i: usize| match inputs.get(i) {
            Some(Value::Pixels(c, a)) => Ok((*c, *a)),
            _ => Err(Error::Model(format!("memory estimate: {op} expects an image as input {i}"))),
        };
        let shape_area = |i: usize| match inputs.get(i) {
            Some(Value::Small(area)) => *area,
            Some(Value::Pixels(_, a)) => Some(*a),
            None => None,
        };
        let stride = || node.attribute.iter().find(|a| a.name.as_deref() == Some("strides")).and_then(|a| a.ints.first()).copied().unwrap_or(1) as f64;
        let largest_input = inputs.iter().filter_map(|v| if let Value::Pixels(c, a) = v { Some((*c, *a)) } else { None }).max_by(|x, y| (x.0 * x.1).total_cmp(&(y.0 * y.1)));
        let out = match op {
            "Conv" | "ConvTranspose" => {
                let weight = g
                    .initializer_dims(&node.input[1])
                    .ok_or_else(|| Error::Model(format!("memory estimate: a {op} without weights")))?;
                let (_, area) = pixels(0)?;
                if op == "Conv" {
                    Value::Pixels(weight[0] as f64, area / (stride() * stride()))
                } else {
                    let group = node.attribute.iter().find(|a| a.name.as_deref() == Some("group")).and_then(|a| a.i).unwrap_or(1);
                    Value::Pixels((weight[1] * group) as f64, area * stride() * stride())
                }
            }
            "MaxPool" | "AveragePool" => {
                let (c, a) = pixels(0)?;
                Value::Pixels(c, a / (stride() * stride()))
            }
            // A [N, C, 1, 1] result: nothing per pixel.
            "GlobalAveragePool" => Value::Pixels(pixels(0)?.0, 0.0),
            "Concat" if inputs.iter().all(|v| matches!(v, Value::Pixels(..))) => {
                Value::Pixels((0..inputs.len()).map(|i| pixels(i).map(|v| v.0)).sum::<Result<f64>>()?, pixels(0)?.1)
            }
            "Resize" => {
                let (c, a) = pixels(0)?;
                match node.input.get(2).and_then(|s| g.initializer_values(s)) {
                    Some(scales) if scales.len() == 4 => Value::Pixels(c, a * (scales[2] * scales[3]) as f64),
                    // Resized to the size of another value, given through `sizes`.
                    _ => Value::Pixels(c, shape_area(3).unwrap_or(a)),
                }
            }
            "Expand" => {
                let (c, a) = pixels(0)?;
                Value::Pixels(c, shape_area(1).unwrap_or(a))
            }
            "Shape" => Value::Small(shape_area(0)),
            _ => match largest_input {
                Some((c, a)) => Value::Pixels(c, a),
                // Arithmetic on shapes and indices stays small.
                None => Value::Small((0..inputs.len()).find_map(shape_area)),
            },
        };
        if let Value::Pixels(c, a) = out {
            let read: f64 = inputs.iter().map(|v| if let Value::Pixels(c, a) = v { c * a } else { 0.0 }).sum();
            sum += c * a;
            largest = largest.max(c * a + read);
        }
        for output in &node.output {
            values.insert(output.as_str(), out);
        }
    }
    Ok((sum, largest))
}

fn check_sizes(tile_size: usize, batch_size: usize) -> Result<()> {
    limits::check_tile_size("tile_size", tile_size, None)?;
    limits::check_count("batch_size", batch_size, limits::MAX_BATCH_SIZE)
}

/// Peak memory of training `spec` on `tile_size`² tiles, `batch_size` at a
/// time; `half` for mixed precision (CUDA only). Assumes every weight trains:
/// frozen encoder groups lower the real peak.
pub fn estimate_training(spec: ModelSpec, tile_size: usize, batch_size: usize, half: bool) -> Result<MemoryEstimate> {
    check_sizes(tile_size, batch_size)?;
    Ok(Profile::of(spec)?.training(tile_size, batch_size, half))
}

/// Peak memory of running `spec` on `batch_size` tiles of `tile_size`² in
/// the engine's eager/TorchScript executor; `half` for fp16 (CUDA only).
/// ONNX Runtime plans its own arena and may differ.
pub fn estimate_inference(spec: ModelSpec, tile_size: usize, batch_size: usize, half: bool) -> Result<MemoryEstimate> {
    check_sizes(tile_size, batch_size)?;
    Ok(Profile::of(spec)?.inference(tile_size, batch_size, half))
}

/// Whether `config` would train in mixed precision: AMP on, on a CUDA device.
fn trains_in_half(config: &TrainingConfig) -> bool {
    config.amp
        && match config.device {
            DeviceChoice::Cuda(_) => true,
            DeviceChoice::Auto => tch::Cuda::is_available(),
            DeviceChoice::Cpu | DeviceChoice::Mps => false,
        }
}

fn config_spec(config: &TrainingConfig, in_channels: i64, num_classes: i64) -> ModelSpec {
    ModelSpec { architecture: config.architecture, encoder: config.encoder, in_channels, num_classes }
}

/// [`estimate_training`] for a training configuration and data with
/// `in_channels` channels and `num_classes` classes.
pub fn estimate_for_config(config: &TrainingConfig, in_channels: i64, num_classes: i64) -> Result<MemoryEstimate> {
    estimate_training(config_spec(config, in_channels, num_classes), config.tile(), config.batch_size, trains_in_half(config))
}

/// [`suggest_batch`] for training with `config` (its batch size ignored).
pub fn suggest_batch_for_config(config: &TrainingConfig, in_channels: i64, num_classes: i64, budget: u64) -> Result<MemoryEstimate> {
    suggest_batch(config_spec(config, in_channels, num_classes), config.tile(), trains_in_half(config), false, budget)
}

/// The largest batch whose estimated peak (training, or inference when
/// `inference`) fits `budget` bytes; an error when not even one tile fits.
pub fn suggest_batch(spec: ModelSpec, tile_size: usize, half: bool, inference: bool, budget: u64) -> Result<MemoryEstimate> {
    check_sizes(tile_size, 1)?;
    let profile = Profile::of(spec)?;
    let at = |batch| if inference { profile.inference(tile_size, batch, half) } else { profile.training(tile_size, batch, half) };
    let one = at(1);
    if one.total > budget {
        return Err(Error::config(format!(
            "even batch 1 needs {} for {tile_size}x{tile_size} tiles, more than the budget of {}",
            gib(one.total),
            gib(budget)
        )));
    }
    // The total is affine in the batch: fixed + batch × per-sample.
    let per_sample = one.activations.max(1);
    let fixed = one.total - one.activations;
    let batch = ((budget - fixed) / per_sample) as usize;
    Ok(at(batch.max(1)))
}

/// Bytes as GiB with two decimals, for messages.
pub use crate::limits::gib;
use crate::limits;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Architecture, EncoderKind};

    fn spec(encoder: EncoderKind) -> ModelSpec {
        ModelSpec { architecture: Architecture::Unet, encoder, in_channels: 3, num_classes: 2 }
    }

    #[test]
    fn every_encoder_has_a_profile_that_scales_with_batch_and_tile() {
        for encoder in EncoderKind::ALL {
            let one = estimate_training(spec(encoder), 128, 1, false).unwrap();
            let two = estimate_training(spec(encoder), 128, 2, false).unwrap();
            let big = estimate_training(spec(encoder), 256, 1, false).unwrap();
            assert_eq!(one.gradients, one.parameters);
            assert_eq!(one.optimizer, 2 * one.parameters);
            assert!(one.activations > 0 && two.activations.abs_diff(2 * one.activations) <= 1 && big.activations.abs_diff(4 * one.activations) <= 4);
            let half = estimate_training(spec(encoder), 128, 1, true).unwrap();
            assert!(half.activations < one.activations);
            let inference = estimate_inference(spec(encoder), 128, 1, false).unwrap();
            assert!(inference.total < one.total && inference.gradients == 0, "{encoder}: {inference:?} vs {one:?}");
        }
    }

    #[test]
    fn every_architecture_has_an_estimate_between_its_encoders_and_a_multiple_of_it() {
        let encoder_only = estimate_training(spec(EncoderKind::ResNet18), 256, 2, false).unwrap();
        for architecture in Architecture::ALL {
            let s = ModelSpec { architecture, encoder: EncoderKind::ResNet18, in_channels: 3, num_classes: 2 };
            let e = estimate_training(s, 256, 2, false).unwrap();
            let i = estimate_inference(s, 256, 2, false).unwrap();
            // Dilated encoders (DeepLab, PAN) keep their last stages at higher
            // resolution; no decoder costs more than a few encoders.
            assert!(e.activations > encoder_only.activations / 4 && e.activations < encoder_only.activations * 12, "{architecture}: {e:?} vs unet {encoder_only:?}");
            assert!(i.total < e.total && i.activations > 0, "{architecture}: {i:?}");
        }
    }

    #[test]
    fn suggested_batch_is_the_largest_that_fits() {
        let s = spec(EncoderKind::ResNet18);
        let budget = estimate_training(s, 128, 6, false).unwrap().total + 1000;
        let suggested = suggest_batch(s, 128, false, false, budget).unwrap();
        assert_eq!(suggested.batch_size, 6);
        assert!(suggested.total <= budget);
        let err = suggest_batch(s, 128, false, false, 1 << 20).unwrap_err().to_string();
        assert!(err.contains("even batch 1 needs") && err.contains("budget of 0.00 GiB"), "{err}");
        assert!(estimate_training(s, 0, 1, false).unwrap_err().to_string().contains("tile_size must be a positive multiple of 32"));
    }

    /// The child side of `estimates_are_within_30_percent_of_measured_cpu_peaks`:
    /// one training step or inference batch on a fresh model, printing the
    /// peak resident memory above the baseline with the model built.
    #[test]
    fn measure_in_child() {
        use crate::settings::LossKind;
        use crate::train::{Loss, StepRunner};
        use tch::nn::ModuleT;
        use tch::{Kind, Tensor};
        let Ok(request) = std::env::var("DLC_MEMORY_CHILD") else { return };
        let parts: Vec<&str> = request.split(',').collect();
        let (train, s, tile, batch) = (parts[0] == "train", spec(parts[1].parse().unwrap()), parts[2].parse::<i64>().unwrap(), parts[3].parse::<i64>().unwrap());
        tch::set_num_threads(1);
        let run = |tile: i64, batch: i64, measure: bool| {
            let vs = VarStore::new(Device::Cpu);
            let model = SegmentationModel::new(&vs.root(), s).unwrap();
            let x = Tensor::randn([batch, 3, tile, tile], (Kind::Float, Device::Cpu));
            let y = Tensor::randint(2, [batch, tile, tile], (Kind::Int64, Device::Cpu));
            let mut runner = StepRunner::new(&vs, Loss::new(LossKind::CeDice, None, 255, Device::Cpu), 1e-3, 1e-4, None, false).unwrap();
            // Clearing the refs resets the peak (VmHWM) to the current resident set.
            std::fs::write("/proc/self/clear_refs", "5").unwrap();
            let base = crate::device::memory_snapshot(Device::Cpu).unwrap().current;
            if train {
                // The second step is the steady state: gradients and AdamW's
                // moments, allocated by the first, stay while activations build up.
                runner.step(&model, &x, &y, 1e-3);
                runner.step(&model, &x, &y, 1e-3);
            } else {
                drop(tch::no_grad(|| model.forward_t(&x, false).softmax(1, Kind::Float)));
            }
            let peak = crate::device::memory_snapshot(Device::Cpu).unwrap().peak;
            if measure {
                println!("DLC_PEAK_ABOVE_BASE={}", peak.saturating_sub(base));
            }
        };
        // A small run first, so that code pages and thread pools touched by the
        // first step do not count as tensor memory.
        run(64, 1, false);
        run(tile, batch, true);
    }

    #[test]
    fn estimates_are_within_30_percent_of_measured_cpu_peaks() {
        let mut failures = Vec::new();
        for case in ["train,resnet18,128,2", "train,resnet18,128,4", "train,mobilenet_v2,128,4", "infer,resnet18,256,4"] {
            let output = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "memory_estimate::tests::measure_in_child", "--nocapture", "--test-threads=1"])
                .env("DLC_MEMORY_CHILD", case)
                // A fixed threshold makes glibc return every large freed block
                // at once, so the resident set follows live tensors.
                .env("MALLOC_MMAP_THRESHOLD_", "65536")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            // libtest prints the line after the test's name.
            let measured: u64 = stdout
                .split("DLC_PEAK_ABOVE_BASE=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_else(|| panic!("{case}: child failed: {stdout} {}", String::from_utf8_lossy(&output.stderr)))
                .parse()
                .unwrap();
            let parts: Vec<&str> = case.split(',').collect();
            let (s, tile, batch) = (spec(parts[1].parse().unwrap()), parts[2].parse().unwrap(), parts[3].parse().unwrap());
            let estimate = if parts[0] == "train" { estimate_training(s, tile, batch, false) } else { estimate_inference(s, tile, batch, false) }.unwrap();
            // The weights exist before the baseline; everything else is measured.
            let expected = estimate.total - estimate.parameters;
            let ratio = expected as f64 / measured as f64;
            eprintln!("{case}: estimated {expected} B above the weights ({estimate:?}), measured {measured} B, ratio {ratio:.2}");
            if !(0.7..=1.3).contains(&ratio) {
                failures.push(case);
            }
        }
        // Every case is measured and printed before failing.
        assert!(failures.is_empty(), "off by more than 30%: {failures:?}");
    }
}
