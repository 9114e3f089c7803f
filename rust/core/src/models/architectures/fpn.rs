//! The FPN decoder of segmentation_models_pytorch with its defaults: a
//! 256-channel feature pyramid (nearest 2x upsampling), 128-channel
//! segmentation blocks (conv, GroupNorm(32), ReLU, bilinear 2x) merged by
//! addition, spatial dropout 0.2, and a 1x1 head upsampling 4x.

use super::{Decode, Descriptor, SegmentationHead};
use crate::models::modules::{conv2d, group_norm, Conv2d, GroupNorm};
use crate::models::ops::{Ops, Share};
use crate::models::OUTPUT_STRIDE;
use tch::nn;

pub(super) const DESCRIPTOR: Descriptor = Descriptor {
    output_stride: 32,
    encoder_depth: 5,
    min_input_size: OUTPUT_STRIDE,
    needs_stride2_feature: false,
    build: |root, _, channels, classes| Box::new(Fpn::new(root, channels, classes)),
};

const PYRAMID_CHANNELS: i64 = 256;
const SEGMENTATION_CHANNELS: i64 = 128;
const DROPOUT: f64 = 0.2;

/// smp's `Conv3x3GNReLU`: variables `block.0` (conv) and `block.1` (GroupNorm).
#[derive(Debug)]
struct ConvGnRelu {
    conv: Conv2d,
    norm: GroupNorm,
    upsample: bool,
}

impl ConvGnRelu {
    fn new(p: &nn::Path, c_in: i64, c_out: i64, upsample: bool) -> ConvGnRelu {
        let p = p / "block";
        ConvGnRelu { conv: conv2d(&p / "0", c_in, c_out, 3, 1, 1, 1, false), norm: group_norm(&p / "1", 32, c_out), upsample }
    }

    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let y = o.conv(x, &self.conv, None);
        let y = o.group_norm(&y, &self.norm);
        let y = o.relu(&y);
        if self.upsample {
            o.upsample_bilinear(&y, 2)
        } else {
            y
        }
    }
}

#[derive(Debug)]
pub struct Fpn {
    /// `p5`: the coarsest features to pyramid width.
    top: Conv2d,
    /// `p4`, `p3`, `p2` (`skip_conv`): the finer features to pyramid width.
    lateral: Vec<Conv2d>,
    /// `seg_blocks`, one per pyramid level coarsest first, each upsampling
    /// its level to stride 4.
    seg_blocks: Vec<Vec<ConvGnRelu>>,
    head: SegmentationHead,
}

impl Fpn {
    /// `encoder_channels` as `Encoder::out_channels` returns them (input first).
    pub fn new(root: &nn::Path, encoder_channels: &[i64], classes: i64) -> Fpn {
        let p = &(root / "decoder");
        let [.., c2, c3, c4, c5] = *encoder_channels else { panic!("an encoder has five stages") };
        let top = conv2d(p / "p5", c5, PYRAMID_CHANNELS, 1, 1, 0, 1, true);
        let lateral = [("p4", c4), ("p3", c3), ("p2", c2)]
            .into_iter()
            .map(|(name, c)| conv2d(p / name / "skip_conv", c, PYRAMID_CHANNELS, 1, 1, 0, 1, true))
            .collect();
        let seg_blocks = [3, 2, 1, 0]
            .into_iter()
            .enumerate()
            .map(|(i, upsamples)| {
                let bp = p / "seg_blocks" / i / "block";
                let first = ConvGnRelu::new(&(&bp / 0), PYRAMID_CHANNELS, SEGMENTATION_CHANNELS, upsamples > 0);
                let rest = (1..upsamples).map(|j| ConvGnRelu::new(&(&bp / j), SEGMENTATION_CHANNELS, SEGMENTATION_CHANNELS, true));
                std::iter::once(first).chain(rest).collect()
            })
            .collect();
        let head = SegmentationHead::new(&(root / "segmentation_head"), SEGMENTATION_CHANNELS, classes, 1, 4);
        Fpn { top, lateral, seg_blocks, head }
    }
}

impl<O: Ops> Decode<O> for Fpn {
    fn decode(&self, o: &mut O, features: &[O::Value]) -> O::Value {
        let mut pyramid = vec![o.conv(&features[5], &self.top, None)];
        for (conv, skip) in self.lateral.iter().zip(features[2..5].iter().rev()) {
            let coarser = o.upsample_nearest2x(pyramid.last().expect("the top level"));
            let lateral = o.conv(skip, conv, None);
            pyramid.push(o.add(&coarser, &lateral));
        }
        let mut merged: Option<O::Value> = None;
        for (level, blocks) in pyramid.iter().zip(&self.seg_blocks) {
            let x = blocks.iter().fold(level.share(), |x, block| block.forward(o, &x));
            merged = Some(match merged {
                Some(sum) => o.add(&sum, &x),
                None => x,
            });
        }
        let merged = o.train_only(merged.expect("four levels"), |x| x.feature_dropout(DROPOUT, true));
        self.head.forward(o, &merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::VarStore;
    use tch::Device;

    #[test]
    fn variables_are_named_as_smp_names_them() {
        let vs = VarStore::new(Device::Cpu);
        Fpn::new(&vs.root(), &[3, 64, 64, 128, 256, 512], 2);
        let names: Vec<String> = vs.variables().into_keys().collect();
        for name in [
            "decoder.p5.weight",
            "decoder.p5.bias",
            "decoder.p4.skip_conv.weight",
            "decoder.p2.skip_conv.bias",
            "decoder.seg_blocks.0.block.2.block.0.weight",
            "decoder.seg_blocks.0.block.2.block.1.bias",
            "decoder.seg_blocks.3.block.0.block.1.weight",
            "segmentation_head.0.weight",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} missing from {names:?}");
        }
        // p5, 3 skip convs and the head with bias; 3+2+1+1 conv + GroupNorm blocks.
        assert_eq!(names.len(), 2 * 5 + 3 * 7);
    }
}
