//! The UNet++ decoder of segmentation_models_pytorch (BatchNorm, nearest 2x
//! upsampling, no attention, no center block): nested UNet blocks `x_{depth}_{layer}`
//! with dense skips, and a 3x3 head at full resolution.

use super::unet::{center_block, DecoderBlock, DECODER_CHANNELS};
use super::{Decode, Decoder, Descriptor, SegmentationHead};
use crate::models::layers::ConvBnRelu;
use crate::models::ops::Ops;
use crate::models::OUTPUT_STRIDE;
use std::collections::HashMap;
use tch::nn;

/// smp refuses Mix Transformers: their empty stride-2 feature would be a block width.
pub(super) const DESCRIPTOR: Descriptor = Descriptor {
    output_stride: 32,
    encoder_depth: 5,
    min_input_size: OUTPUT_STRIDE,
    needs_stride2_feature: true,
    build: |root, encoder, channels, classes| build(root, channels, classes, encoder.is_vgg()),
};

/// Where a block reads a value from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// An entry of the encoder's features (index 0 is the input).
    Feature(usize),
    /// The output of block `x_{depth}_{layer}`.
    Block(usize, usize),
}

/// Block `x_{depth}_{layer}`: its input, its skips and the UNet block on them.
#[derive(Debug)]
struct Step {
    key: (usize, usize),
    input: Source,
    skips: Vec<Source>,
    block: DecoderBlock,
}

/// The blocks in smp's execution order; the last one's output feeds the head.
#[derive(Debug)]
struct UnetPlusPlus {
    steps: Vec<Step>,
    /// smp 0.5.0 creates the VGG center block for UNet++ but never runs it;
    /// kept so that its state dicts load.
    _center: Option<[ConvBnRelu; 2]>,
    head: SegmentationHead,
}

/// `encoder_channels` as `Encoder::out_channels` returns them (input first);
/// `center` as smp sets it (for VGG encoders).
fn build(root: &nn::Path, encoder_channels: &[i64], classes: i64, center: bool) -> Box<dyn Decoder> {
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
        let block = DecoderBlock::new(&(p / format!("x_{}_{}", key.0, key.1)), c_in, c_skip, c_out);
        steps.push(Step { key, input, skips, block });
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
    let center = center.then(|| center_block(&(root / "decoder"), reversed[0]));
    Box::new(UnetPlusPlus { steps, _center: center, head })
}

impl<O: Ops> Decode<O> for UnetPlusPlus {
    /// Runs the blocks in order, each on the outputs it reads, then the head
    /// on the last one's.
    fn decode(&self, o: &mut O, features: &[O::Value]) -> O::Value {
        let mut outputs: HashMap<(usize, usize), O::Value> = HashMap::new();
        for step in &self.steps {
            let get = |s: &Source| match *s {
                Source::Feature(i) => &features[i],
                Source::Block(d, l) => outputs.get(&(d, l)).expect("blocks run after their inputs"),
            };
            let skips: Vec<&O::Value> = step.skips.iter().map(get).collect();
            let y = step.block.forward(o, get(&step.input), &skips);
            outputs.insert(step.key, y);
        }
        let last = self.steps.last().expect("UNet++ has blocks").key;
        let x = outputs.remove(&last).expect("the last block ran");
        self.head.forward(o, &x)
    }
}
