//! The LinkNet decoder of segmentation_models_pytorch (BatchNorm): each block
//! narrows 4x with a 1x1 convolution, upsamples 2x with a transposed
//! convolution, widens to the next skip's channels and adds that skip.

use super::{Decode, Decoder, Descriptor, SegmentationHead};
use crate::models::layers::ConvBnRelu;
use crate::models::modules::{batch_norm_default, conv_transpose2d, BatchNorm2d, ConvTranspose2d};
use crate::models::ops::{Ops, Share};
use crate::models::OUTPUT_STRIDE;
use tch::nn;

/// smp refuses Mix Transformers: their empty stride-2 feature would be a block width.
pub(super) const DESCRIPTOR: Descriptor = Descriptor {
    output_stride: 32,
    encoder_depth: 5,
    min_input_size: OUTPUT_STRIDE,
    needs_stride2_feature: true,
    build: |root, _, channels, classes| build(root, channels, classes),
};

/// smp's `prefinal_channels`: the last block's width, the head's input.
const PREFINAL_CHANNELS: i64 = 32;

/// smp's `TransposeX2`: a 4x4 stride-2 transposed convolution, BatchNorm, ReLU.
#[derive(Debug)]
struct TransposeX2 {
    conv: ConvTranspose2d,
    bn: BatchNorm2d,
}

impl TransposeX2 {
    fn new(p: nn::Path, c_in: i64, c_out: i64) -> TransposeX2 {
        TransposeX2 { conv: conv_transpose2d(&p / "0", c_in, c_out, 4, 2, 1), bn: batch_norm_default(&p / "1", c_out) }
    }

    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let y = o.conv_transpose(x, &self.conv, Some(&self.bn));
        o.relu(&y)
    }
}

/// Variables under `block.0` .. `block.2`, as smp's `nn.Sequential` names them.
#[derive(Debug)]
struct DecoderBlock {
    reduce: ConvBnRelu,
    up: TransposeX2,
    expand: ConvBnRelu,
}

impl DecoderBlock {
    fn new(p: nn::Path, c_in: i64, c_out: i64) -> DecoderBlock {
        let p = &p / "block";
        let mid = c_in / 4;
        DecoderBlock {
            reduce: ConvBnRelu::new(&p / "0", c_in, mid, 1),
            up: TransposeX2::new(&p / "1", mid, mid),
            expand: ConvBnRelu::new(&p / "2", mid, c_out, 1),
        }
    }
}

#[derive(Debug)]
struct Linknet {
    blocks: Vec<DecoderBlock>,
    head: SegmentationHead,
}

/// `encoder_channels` as `Encoder::out_channels` returns them (input first).
fn build(root: &nn::Path, encoder_channels: &[i64], classes: i64) -> Box<dyn Decoder> {
    let p = &(root / "decoder" / "blocks");
    // Coarsest first, the input (stride 1) left out; the last block ends at the prefinal width.
    let mut channels: Vec<i64> = encoder_channels[1..].iter().rev().copied().collect();
    channels.push(PREFINAL_CHANNELS);
    let blocks = channels.windows(2).enumerate().map(|(i, w)| DecoderBlock::new(p / i, w[0], w[1])).collect();
    let head = SegmentationHead::new(&(root / "segmentation_head"), PREFINAL_CHANNELS, classes, 1, 1);
    Box::new(Linknet { blocks, head })
}

impl<O: Ops> Decode<O> for Linknet {
    fn decode(&self, o: &mut O, features: &[O::Value]) -> O::Value {
        let mut levels = features[1..].iter().rev();
        let mut x = levels.next().expect("encoder features").share();
        for block in &self.blocks {
            let y = block.reduce.forward(o, &x);
            let y = block.up.forward(o, &y);
            let y = block.expand.forward(o, &y);
            // Not in place: autograd needs the ReLU's output.
            x = match levels.next() {
                Some(skip) => o.add(&y, skip),
                None => y,
            };
        }
        self.head.forward(o, &x)
    }
}
