//! The UNet decoder of segmentation_models_pytorch (BatchNorm, nearest 2x
//! upsampling, no attention; a center block for VGG encoders) and its
//! segmentation head. Its block also builds UNet++.

use super::{Decode, Descriptor, SegmentationHead};
use crate::models::layers::ConvBnRelu;
use crate::models::ops::{Ops, Share};
use crate::models::OUTPUT_STRIDE;
use tch::nn;

pub(super) const DESCRIPTOR: Descriptor = Descriptor {
    output_stride: 32,
    encoder_depth: 5,
    min_input_size: OUTPUT_STRIDE,
    needs_stride2_feature: false,
    build: |root, encoder, channels, classes| Box::new(Unet::new(root, channels, classes, encoder.is_vgg())),
};

/// smp's default decoder widths, coarsest first.
pub const DECODER_CHANNELS: [i64; 5] = [256, 128, 64, 32, 16];

/// smp's UNet `DecoderBlock`: 2x nearest upsampling, concatenation with the
/// skips of that scale, two conv-BN-ReLU layers.
#[derive(Debug)]
pub(super) struct DecoderBlock {
    conv1: ConvBnRelu,
    conv2: ConvBnRelu,
}

impl DecoderBlock {
    /// `c_skip`: the channels of all skips together.
    pub(super) fn new(p: &nn::Path, c_in: i64, c_skip: i64, c_out: i64) -> DecoderBlock {
        DecoderBlock { conv1: ConvBnRelu::new(p / "conv1", c_in + c_skip, c_out, 3), conv2: ConvBnRelu::new(p / "conv2", c_out, c_out, 3) }
    }

    pub(super) fn forward<O: Ops>(&self, o: &mut O, x: &O::Value, skips: &[&O::Value]) -> O::Value {
        let up = o.upsample_nearest2x(x);
        let x = if skips.is_empty() { up } else { o.concat(&[&[&up][..], skips].concat()) };
        let y = self.conv1.forward(o, &x);
        self.conv2.forward(o, &y)
    }
}

/// smp's `UnetCenterBlock`, which UNet and UNet++ add for VGG encoders: two
/// conv-BN-ReLU layers at the coarsest level, named `decoder.center.{0,1}`.
pub(super) fn center_block(p: &nn::Path, channels: i64) -> [ConvBnRelu; 2] {
    [0, 1].map(|i| ConvBnRelu::new(p / "center" / i, channels, channels, 3))
}

/// Upsamples each level 2x, concatenates the encoder skip of that scale and
/// applies two conv-BN-ReLU layers; a 3x3 head at full resolution.
#[derive(Debug)]
pub struct Unet {
    center: Option<[ConvBnRelu; 2]>,
    blocks: Vec<DecoderBlock>,
    head: SegmentationHead,
}

impl Unet {
    /// `encoder_channels` as `Encoder::out_channels` returns them (input
    /// first); `center` as smp sets it (for VGG encoders).
    pub fn new(root: &nn::Path, encoder_channels: &[i64], classes: i64, center: bool) -> Unet {
        let p = &(root / "decoder");
        // The input itself (stride 1) is never a skip.
        let reversed: Vec<i64> = encoder_channels[1..].iter().rev().copied().collect();
        let mut c_in = reversed[0];
        let blocks = DECODER_CHANNELS
            .iter()
            .enumerate()
            .map(|(i, &c_out)| {
                let skip = reversed.get(i + 1).copied().unwrap_or(0);
                let block = DecoderBlock::new(&(p / "blocks" / i), c_in, skip, c_out);
                c_in = c_out;
                block
            })
            .collect();
        let head = SegmentationHead::new(&(root / "segmentation_head"), DECODER_CHANNELS[DECODER_CHANNELS.len() - 1], classes, 3, 1);
        Unet { center: center.then(|| center_block(p, reversed[0])), blocks, head }
    }
}

impl<O: Ops> Decode<O> for Unet {
    fn decode(&self, o: &mut O, features: &[O::Value]) -> O::Value {
        let mut levels = features[1..].iter().rev();
        let mut x = levels.next().expect("encoder features").share();
        for conv in self.center.iter().flatten() {
            x = conv.forward(o, &x);
        }
        for block in &self.blocks {
            x = block.forward(o, &x, &levels.next().into_iter().collect::<Vec<_>>());
        }
        self.head.forward(o, &x)
    }
}

