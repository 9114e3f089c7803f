//! smp's MAnet decoder: a position-attention block (PAB) on the coarsest
//! features, then per scale a multi-scale fusion attention block (MFAB: the
//! upsampled map and its encoder skip gate each other through
//! squeeze-and-excitation), a plain UNet block where there is no skip, and a
//! 3x3 head at full resolution.

use super::unet::DECODER_CHANNELS;
use super::{Decode, Decoder, Descriptor, SegmentationHead};
use crate::models::layers::{ConvBnRelu, ExcitationGate};
use crate::models::modules::{conv2d, Conv2d};
use crate::models::ops::Ops;
use crate::models::OUTPUT_STRIDE;
use tch::nn;

pub(super) const DESCRIPTOR: Descriptor = Descriptor {
    output_stride: 32,
    encoder_depth: 5,
    min_input_size: OUTPUT_STRIDE,
    needs_stride2_feature: false,
    build: |root, _, channels, classes| build(root, channels, classes),
};

/// smp's default `decoder_pab_channels`.
const PAB_CHANNELS: i64 = 64;
/// The squeeze-and-excitation reduction of the MFAB blocks.
const REDUCTION: i64 = 16;

/// A convolution with bias, padded to keep the size.
fn biased_conv(p: nn::Path, c_in: i64, c_out: i64, kernel: i64) -> Conv2d {
    conv2d(p, c_in, c_out, kernel, 1, kernel / 2, 1, true)
}

/// smp's `PABBlock`: every position attends to every other one.
#[derive(Debug)]
struct PositionAttention {
    top_conv: Conv2d,
    center_conv: Conv2d,
    bottom_conv: Conv2d,
    out_conv: Conv2d,
}

impl PositionAttention {
    fn new(p: nn::Path, c: i64) -> PositionAttention {
        PositionAttention {
            top_conv: biased_conv(&p / "top_conv", c, PAB_CHANNELS, 1),
            center_conv: biased_conv(&p / "center_conv", c, PAB_CHANNELS, 1),
            bottom_conv: biased_conv(&p / "bottom_conv", c, c, 3),
            out_conv: biased_conv(&p / "out_conv", c, c, 3),
        }
    }

    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let positions_last = |o: &mut O, conv: &Conv2d| {
            let y = o.conv(x, conv, None);
            o.flatten(&y, 2)
        };
        let top = positions_last(o, &self.top_conv);
        let center = positions_last(o, &self.center_conv);
        let center = o.permute(&center, &[0, 2, 1]);
        let bottom = positions_last(o, &self.bottom_conv);
        let bottom = o.permute(&bottom, &[0, 2, 1]);
        let map = o.matmul(&center, &top);
        // smp's softmax runs over each image's whole [HW, HW] map, not per row.
        let flat = o.flatten(&map, 1);
        let weights = o.softmax(&flat, 1);
        let map = o.reshape_as(&weights, &map);
        // smp reinterprets the [N, HW, C] product as [N, C, H, W], without transposing.
        let attended = o.matmul(&map, &bottom);
        let attended = o.reshape_as(&attended, x);
        let y = o.add(x, &attended);
        o.conv(&y, &self.out_conv, None)
    }
}

/// smp's `SE_hl` / `SE_ll`: an `nn.Sequential` with its convolutions at `1` and `3`.
fn excitation(p: nn::Path, c: i64) -> ExcitationGate {
    ExcitationGate::new(&p / 1, &p / 3, c, (c / REDUCTION).max(1))
}

/// The part of smp's `MFABBlock` before its two output convolutions: the
/// coarse map brought to the skip's channels, upsampled, gated by the sum of
/// both excitations, and concatenated with the skip.
#[derive(Debug)]
struct Fusion {
    hl_conv: [ConvBnRelu; 2],
    se_hl: ExcitationGate,
    se_ll: ExcitationGate,
}

impl Fusion {
    fn new(p: &nn::Path, c_in: i64, skip: i64) -> Fusion {
        Fusion {
            hl_conv: [ConvBnRelu::new(p / "hl_conv" / 0, c_in, c_in, 3), ConvBnRelu::new(p / "hl_conv" / 1, c_in, skip, 1)],
            se_hl: excitation(p / "SE_hl", skip),
            se_ll: excitation(p / "SE_ll", skip),
        }
    }

    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value, skip: &O::Value) -> O::Value {
        let y = self.hl_conv[0].forward(o, x);
        let y = self.hl_conv[1].forward(o, &y);
        let y = o.upsample_nearest2x(&y);
        let high = self.se_hl.forward(o, &y);
        let low = self.se_ll.forward(o, skip);
        let attention = o.add(&high, &low);
        let gated = o.mul(&y, &attention);
        o.concat(&[&gated, skip])
    }
}

/// smp's `MFABBlock` where the scale has an encoder skip, else its plain
/// `DecoderBlock` (nearest 2x upsampling, then the same two convolutions).
#[derive(Debug)]
struct Block {
    fusion: Option<Fusion>,
    conv1: ConvBnRelu,
    conv2: ConvBnRelu,
}

impl Block {
    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value, skip: Option<&O::Value>) -> O::Value {
        let y = match (&self.fusion, skip) {
            (Some(fusion), Some(skip)) => fusion.forward(o, x, skip),
            _ => o.upsample_nearest2x(x),
        };
        let y = self.conv1.forward(o, &y);
        self.conv2.forward(o, &y)
    }
}

#[derive(Debug)]
struct MaNet {
    center: PositionAttention,
    blocks: Vec<Block>,
    head: SegmentationHead,
}

impl<O: Ops> Decode<O> for MaNet {
    fn decode(&self, o: &mut O, features: &[O::Value]) -> O::Value {
        let mut levels = features[1..].iter().rev();
        let mut x = self.center.forward(o, levels.next().expect("encoder features"));
        for block in &self.blocks {
            x = block.forward(o, &x, levels.next());
        }
        self.head.forward(o, &x)
    }
}

fn build(root: &nn::Path, encoder_channels: &[i64], classes: i64) -> Box<dyn Decoder> {
    let p = &(root / "decoder");
    // The input itself (stride 1) is never a skip.
    let reversed: Vec<i64> = encoder_channels[1..].iter().rev().copied().collect();
    let center = PositionAttention::new(p / "center", reversed[0]);
    let mut c_in = reversed[0];
    let blocks = DECODER_CHANNELS
        .iter()
        .enumerate()
        .map(|(i, &c_out)| {
            let bp = p / "blocks" / i;
            // As smp, a scale whose skip has no channels gets the plain block.
            let skip = reversed.get(i + 1).copied().unwrap_or(0);
            let fusion = (skip > 0).then(|| Fusion::new(&bp, c_in, skip));
            let c_cat = if skip > 0 { 2 * skip } else { c_in };
            let block = Block {
                fusion,
                conv1: ConvBnRelu::new(&bp / "conv1", c_cat, c_out, 3),
                conv2: ConvBnRelu::new(&bp / "conv2", c_out, c_out, 3),
            };
            c_in = c_out;
            block
        })
        .collect();
    let head = SegmentationHead::new(&(root / "segmentation_head"), DECODER_CHANNELS[DECODER_CHANNELS.len() - 1], classes, 3, 1);
    Box::new(MaNet { center, blocks, head })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::VarStore;
    use tch::{Device, Kind, Tensor};

    #[test]
    fn blocks_with_a_skip_fuse_it_and_the_last_is_plain() {
        let vs = VarStore::new(Device::Cpu);
        let channels = [3, 8, 8, 16, 32, 64];
        let decoder = build(&vs.root(), &channels, 2);
        let names: Vec<String> = vs.variables().into_keys().collect();
        let has = |n: &str| names.iter().any(|m| m == n);
        for n in [
            "decoder.center.top_conv.bias",
            "decoder.center.out_conv.weight",
            "decoder.blocks.0.hl_conv.1.1.weight",
            "decoder.blocks.3.SE_ll.3.bias",
        ] {
            assert!(has(n), "{n} missing from {names:?}");
        }
        assert!(!has("decoder.blocks.4.SE_hl.1.weight") && has("decoder.blocks.4.conv1.0.weight"), "{names:?}");
        let features: Vec<Tensor> = channels
            .iter()
            .zip([1, 2, 4, 8, 16, 32])
            .map(|(&c, s)| Tensor::randn([2, c, 64 / s, 96 / s], (Kind::Float, Device::Cpu)))
            .collect();
        assert_eq!(decoder.forward(&features, true).size(), [2, 2, 64, 96]);
    }
}
