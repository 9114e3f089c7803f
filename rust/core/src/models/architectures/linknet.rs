//! The LinkNet decoder of segmentation_models_pytorch (BatchNorm): each block
//! narrows 4x with a 1x1 convolution, upsamples 2x with a transposed
//! convolution, widens to the next skip's channels and adds that skip.

use super::{Decoder, SegmentationHead};
use crate::models::layers::{batch_norm_default, conv_transpose2d, BatchNorm2d, ConvBnRelu, ConvTranspose2d};
use crate::onnx::GraphBuilder;
use tch::nn::Module;
use tch::{nn, Tensor};

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

    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        self.conv.forward(xs).apply_t(&self.bn, train).relu()
    }

    fn export_onnx(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = g.conv_transpose(x, &self.conv, Some(&self.bn));
        g.relu(&y)
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
pub fn build(root: &nn::Path, encoder_channels: &[i64], classes: i64) -> Box<dyn Decoder> {
    let p = &(root / "decoder" / "blocks");
    // Coarsest first, the input (stride 1) left out; the last block ends at the prefinal width.
    let mut channels: Vec<i64> = encoder_channels[1..].iter().rev().copied().collect();
    channels.push(PREFINAL_CHANNELS);
    let blocks = channels.windows(2).enumerate().map(|(i, w)| DecoderBlock::new(p / i, w[0], w[1])).collect();
    let head = SegmentationHead::new(&(root / "segmentation_head"), PREFINAL_CHANNELS, classes, 1, 1);
    Box::new(Linknet { blocks, head })
}

impl Decoder for Linknet {
    fn forward(&self, features: &[Tensor], train: bool) -> Tensor {
        let mut levels = features[1..].iter().rev();
        let mut x = levels.next().expect("encoder features").shallow_clone();
        for block in &self.blocks {
            let y = block.reduce.forward(&x, train);
            let y = block.up.forward(&y, train);
            let y = block.expand.forward(&y, train);
            // Not in place: autograd needs the ReLU's output.
            x = match levels.next() {
                Some(skip) => y + skip,
                None => y,
            };
        }
        self.head.forward(&x)
    }

    fn export_onnx(&self, g: &mut GraphBuilder, features: &[String]) -> String {
        let mut levels = features[1..].iter().rev();
        let mut x = levels.next().expect("encoder features").clone();
        for block in &self.blocks {
            let y = block.reduce.export_onnx(g, &x);
            let y = block.up.export_onnx(g, &y);
            let y = block.expand.export_onnx(g, &y);
            x = match levels.next() {
                Some(skip) => g.add(&y, skip),
                None => y,
            };
        }
        self.head.export_onnx(g, &x)
    }
}
