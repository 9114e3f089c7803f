//! The UNet decoder of segmentation_models_pytorch (BatchNorm, nearest 2x
//! upsampling, no attention, no center block) and its segmentation head.

use super::{Decoder, SegmentationHead};
use crate::models::layers::ConvBnRelu;
use crate::onnx::GraphBuilder;
use tch::{nn, Tensor};

/// smp's default decoder widths, coarsest first.
pub const DECODER_CHANNELS: [i64; 5] = [256, 128, 64, 32, 16];

#[derive(Debug)]
struct DecoderBlock {
    conv1: ConvBnRelu,
    conv2: ConvBnRelu,
}

/// Upsamples each level 2x, concatenates the encoder skip of that scale and
/// applies two conv-BN-ReLU layers; a 3x3 head at full resolution.
#[derive(Debug)]
pub struct Unet {
    blocks: Vec<DecoderBlock>,
    head: SegmentationHead,
}

impl Unet {
    /// `encoder_channels` as `Encoder::out_channels` returns them (input first).
    pub fn new(root: &nn::Path, encoder_channels: &[i64], classes: i64) -> Unet {
        let p = &(root / "decoder");
        // The input itself (stride 1) is never a skip.
        let reversed: Vec<i64> = encoder_channels[1..].iter().rev().copied().collect();
        let mut c_in = reversed[0];
        let blocks = DECODER_CHANNELS
            .iter()
            .enumerate()
            .map(|(i, &c_out)| {
                let skip = reversed.get(i + 1).copied().unwrap_or(0);
                let bp = p / "blocks" / i;
                let block = DecoderBlock {
                    conv1: ConvBnRelu::new(&bp / "conv1", c_in + skip, c_out, 3),
                    conv2: ConvBnRelu::new(&bp / "conv2", c_out, c_out, 3),
                };
                c_in = c_out;
                block
            })
            .collect();
        let head = SegmentationHead::new(&(root / "segmentation_head"), DECODER_CHANNELS[DECODER_CHANNELS.len() - 1], classes, 3, 1);
        Unet { blocks, head }
    }
}

impl Decoder for Unet {
    fn forward(&self, features: &[Tensor], train: bool) -> Tensor {
        let mut levels = features[1..].iter().rev();
        let mut x = levels.next().expect("encoder features").shallow_clone();
        for block in &self.blocks {
            // A scale factor, not the skip's size, keeps traced models size-agnostic.
            x = x.upsample_nearest2d_vec(None::<&[i64]>, [2.0, 2.0].as_slice());
            if let Some(skip) = levels.next() {
                x = Tensor::cat(&[&x, skip], 1);
            }
            x = block.conv2.forward(&block.conv1.forward(&x, train), train);
        }
        self.head.forward(&x)
    }

    fn export_onnx(&self, g: &mut GraphBuilder, features: &[String]) -> String {
        let mut levels = features[1..].iter().rev();
        let mut x = levels.next().expect("encoder features").clone();
        for block in &self.blocks {
            x = g.upsample2x(&x);
            if let Some(skip) = levels.next() {
                x = g.concat(&[&x, skip]);
            }
            let y = block.conv1.export_onnx(g, &x);
            x = block.conv2.export_onnx(g, &y);
        }
        self.head.export_onnx(g, &x)
    }
}
