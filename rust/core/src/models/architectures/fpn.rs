//! The FPN decoder of segmentation_models_pytorch with its defaults: a
//! 256-channel feature pyramid (nearest 2x upsampling), 128-channel
//! segmentation blocks (conv, GroupNorm(32), ReLU, bilinear 2x) merged by
//! addition, spatial dropout 0.2, and a 1x1 head upsampling 4x.

use super::{Decoder, SegmentationHead};
use crate::models::layers::{conv2d, group_norm, upsample_bilinear_align_corners, upsample_nearest2x, Conv2d, GroupNorm};
use crate::onnx::GraphBuilder;
use tch::nn;
use tch::Tensor;

const PYRAMID_CHANNELS: i64 = 256;
const SEGMENTATION_CHANNELS: i64 = 128;
const DROPOUT: f64 = 0.2;

pub fn build(root: &nn::Path, encoder_channels: &[i64], classes: i64) -> Box<dyn Decoder> {
    Box::new(Fpn::new(root, encoder_channels, classes))
}

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

    fn forward(&self, xs: &Tensor) -> Tensor {
        let x = xs.apply(&self.conv).apply(&self.norm).relu();
        if self.upsample {
            upsample_bilinear_align_corners(&x, 2)
        } else {
            x
        }
    }

    fn export_onnx(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = g.conv(x, &self.conv, None);
        let y = g.group_norm(&y, &self.norm);
        let y = g.relu(&y);
        if self.upsample {
            g.upsample_bilinear_align_corners(&y, 2)
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

impl Decoder for Fpn {
    fn forward(&self, features: &[Tensor], train: bool) -> Tensor {
        let mut pyramid = vec![features[5].apply(&self.top)];
        for (conv, skip) in self.lateral.iter().zip(features[2..5].iter().rev()) {
            let coarser = upsample_nearest2x(pyramid.last().expect("the top level"));
            pyramid.push(coarser + skip.apply(conv));
        }
        let merged = pyramid
            .iter()
            .zip(&self.seg_blocks)
            .map(|(level, blocks)| blocks.iter().fold(level.shallow_clone(), |x, block| block.forward(&x)))
            .reduce(|sum, x| sum + x)
            .expect("four levels");
        self.head.forward(&merged.feature_dropout(DROPOUT, train))
    }

    fn export_onnx(&self, g: &mut GraphBuilder, features: &[String]) -> String {
        let mut pyramid = vec![g.conv(&features[5], &self.top, None)];
        for (conv, skip) in self.lateral.iter().zip(features[2..5].iter().rev()) {
            let coarser = g.upsample2x(pyramid.last().expect("the top level"));
            let lateral = g.conv(skip, conv, None);
            pyramid.push(g.add(&coarser, &lateral));
        }
        let mut merged: Option<String> = None;
        for (level, blocks) in pyramid.iter().zip(&self.seg_blocks) {
            let x = blocks.iter().fold(level.clone(), |x, block| block.export_onnx(g, &x));
            merged = Some(match merged {
                Some(sum) => g.add(&sum, &x),
                None => x,
            });
        }
        self.head.export_onnx(g, &merged.expect("four levels"))
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
