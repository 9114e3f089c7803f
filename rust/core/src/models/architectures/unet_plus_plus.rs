//! The UNet++ decoder of segmentation_models_pytorch (BatchNorm, nearest 2x
//! upsampling, no attention, no center block): nested UNet blocks `x_{depth}_{layer}`
//! with dense skips, and a 3x3 head at full resolution.

use super::unet::DECODER_CHANNELS;
use super::{Decoder, SegmentationHead};
use crate::models::layers::ConvBnRelu;
use crate::onnx::GraphBuilder;
use std::collections::HashMap;
use tch::{nn, Tensor};

/// Where a block reads a value from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// An entry of the encoder's features (index 0 is the input).
    Feature(usize),
    /// The output of block `x_{depth}_{layer}`.
    Block(usize, usize),
}

/// smp's UNet++ `DecoderBlock`: 2x upsampling of `input`, concatenation
/// with the skips, two conv-BN-ReLU layers.
#[derive(Debug)]
struct Step {
    key: (usize, usize),
    input: Source,
    skips: Vec<Source>,
    conv1: ConvBnRelu,
    conv2: ConvBnRelu,
}

/// The blocks in smp's execution order; the last one's output feeds the head.
#[derive(Debug)]
struct UnetPlusPlus {
    steps: Vec<Step>,
    head: SegmentationHead,
}

/// `encoder_channels` as `Encoder::out_channels` returns them (input first).
pub fn build(root: &nn::Path, encoder_channels: &[i64], classes: i64) -> Box<dyn Decoder> {
    let p = &(root / "decoder" / "blocks");
    // As smp: encoder levels coarsest first without the input; a block's skip
    // width is the width of the encoder level it ends at.
    let levels = encoder_channels.len() - 1;
    let reversed: Vec<i64> = encoder_channels[1..].iter().rev().copied().collect();
    let in_channels: Vec<i64> = std::iter::once(reversed[0]).chain(DECODER_CHANNELS[..DECODER_CHANNELS.len() - 1].iter().copied()).collect();
    let skip_channels: Vec<i64> = reversed[1..].iter().copied().chain([0]).collect();
    let depth = DECODER_CHANNELS.len() - 1;
    let level = |r: usize| Source::Feature(levels - r);

    let mut steps = Vec::new();
    let mut step = |key: (usize, usize), input: Source, skips: Vec<Source>, c_in: i64, c_skip: i64, c_out: i64| {
        let bp = p / format!("x_{}_{}", key.0, key.1);
        steps.push(Step {
            key,
            input,
            skips,
            conv1: ConvBnRelu::new(&bp / "conv1", c_in + c_skip, c_out, 3),
            conv2: ConvBnRelu::new(&bp / "conv2", c_out, c_out, 3),
        });
    };
    for offset in 0..depth {
        for d in 0..depth - offset {
            let l = d + offset;
            let input = if offset == 0 { level(d) } else { Source::Block(d, l - 1) };
            let mut skips: Vec<Source> = (d + 1..=l).map(|i| Source::Block(i, l)).collect();
            skips.push(level(l + 1));
            // Column 0 carries the decoder widths; deeper columns keep the skip width.
            let (c_in, c_out) = if d == 0 { (in_channels[l], DECODER_CHANNELS[l]) } else { (skip_channels[l - 1], skip_channels[l]) };
            step((d, l), input, skips, c_in, skip_channels[l] * (l + 1 - d) as i64, c_out);
        }
    }
    step((0, depth), Source::Block(0, depth - 1), Vec::new(), in_channels[depth], 0, DECODER_CHANNELS[depth]);

    let head = SegmentationHead::new(&(root / "segmentation_head"), DECODER_CHANNELS[depth], classes, 3, 1);
    Box::new(UnetPlusPlus { steps, head })
}

impl UnetPlusPlus {
    /// Runs the blocks over `features` with `apply(step, input, skips)`, shared
    /// by `forward` and `export_onnx`; returns the last block's output.
    fn run<T>(&self, features: &[T], mut apply: impl FnMut(&Step, &T, &[&T]) -> T) -> T {
        let mut outputs: HashMap<(usize, usize), T> = HashMap::new();
        for step in &self.steps {
            let get = |s: &Source| match *s {
                Source::Feature(i) => &features[i],
                Source::Block(d, l) => outputs.get(&(d, l)).expect("blocks run after their inputs"),
            };
            let skips: Vec<&T> = step.skips.iter().map(get).collect();
            let y = apply(step, get(&step.input), &skips);
            outputs.insert(step.key, y);
        }
        let last = self.steps.last().expect("UNet++ has blocks").key;
        outputs.remove(&last).expect("the last block ran")
    }
}

impl Decoder for UnetPlusPlus {
    fn forward(&self, features: &[Tensor], train: bool) -> Tensor {
        let x = self.run(features, |step, x, skips| {
            // A scale factor, not the skip's size, keeps traced models size-agnostic.
            let up = x.upsample_nearest2d_vec(None::<&[i64]>, [2.0, 2.0].as_slice());
            let x = if skips.is_empty() { up } else { Tensor::cat(&[&[&up][..], skips].concat(), 1) };
            step.conv2.forward(&step.conv1.forward(&x, train), train)
        });
        self.head.forward(&x)
    }

    fn export_onnx(&self, g: &mut GraphBuilder, features: &[String]) -> String {
        let x = self.run(features, |step, x, skips| {
            let up = g.upsample2x(x);
            let x = if skips.is_empty() {
                up
            } else {
                let inputs: Vec<&str> = std::iter::once(up.as_str()).chain(skips.iter().map(|s| s.as_str())).collect();
                g.concat(&inputs)
            };
            let y = step.conv1.export_onnx(g, &x);
            step.conv2.export_onnx(g, &y)
        });
        self.head.export_onnx(g, &x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::VarStore;
    use tch::{Device, Kind};

    /// resnet34's `out_channels`.
    const RESNET34: [i64; 6] = [3, 64, 64, 128, 256, 512];

    #[test]
    fn parameters_match_smp_for_resnet34() {
        let vs = VarStore::new(Device::Cpu);
        let _decoder = build(&vs.root(), &RESNET34, 2);
        // smp.UnetPlusPlus("resnet34", encoder_weights=None, classes=2): decoder
        // 4,793,792 parameters, segmentation_head 290; 132 decoder state-dict entries
        // (num_batches_tracked included, which tch does not keep: 22 BatchNorms).
        let count: i64 = vs.trainable_variables().iter().map(Tensor::numel).map(|n| n as i64).sum();
        assert_eq!(count, 4_793_792 + 290);
        let vars = vs.variables();
        assert_eq!(vars.keys().filter(|k| k.starts_with("decoder.")).count(), 132 - 22);
        for (name, shape) in [
            ("decoder.blocks.x_1_3.conv1.0.weight", [64, 256, 3, 3]),
            ("decoder.blocks.x_0_3.conv1.0.weight", [32, 320, 3, 3]),
            ("decoder.blocks.x_0_4.conv1.0.weight", [16, 32, 3, 3]),
            ("segmentation_head.0.weight", [2, 16, 3, 3]),
        ] {
            assert_eq!(vars[name].size(), shape, "{name}");
        }
    }

    #[test]
    fn logits_have_the_input_resolution() {
        let vs = VarStore::new(Device::Cpu);
        let decoder = build(&vs.root(), &RESNET34, 3);
        let features: Vec<Tensor> =
            RESNET34.iter().enumerate().map(|(i, &c)| Tensor::randn([2, c, 64 >> i, 96 >> i], (Kind::Float, Device::Cpu))).collect();
        assert_eq!(decoder.forward(&features, true).size(), [2, 3, 64, 96]);
    }
}
