//! smp's DeepLabV3 and DeepLabV3+ decoders: atrous spatial pyramid pooling
//! (ASPP) on the dilated encoder's last features; V3+ refines it with the
//! stride-4 features. smp's defaults throughout.

use super::{Decode, Decoder, Descriptor, SegmentationHead};
use crate::models::layers::ConvBnRelu;
use crate::models::modules::{batch_norm_default, conv2d, Conv2d};
use crate::models::ops::Ops;
use crate::models::OUTPUT_STRIDE;
use tch::nn;

/// On an encoder dilated to output stride 8.
pub(super) const V3: Descriptor = Descriptor {
    output_stride: 8,
    encoder_depth: 5,
    min_input_size: OUTPUT_STRIDE,
    needs_stride2_feature: false,
    build: |root, _, channels, classes| build_v3(root, channels, classes),
};

/// On an encoder dilated to output stride 16.
pub(super) const V3_PLUS: Descriptor = Descriptor {
    output_stride: 16,
    encoder_depth: 5,
    min_input_size: OUTPUT_STRIDE,
    needs_stride2_feature: false,
    build: |root, _, channels, classes| build_v3_plus(root, channels, classes),
};

const DECODER_CHANNELS: i64 = 256;
const ATROUS_RATES: [i64; 3] = [12, 24, 36];
const ASPP_DROPOUT: f64 = 0.5;
/// V3+'s reduction of the stride-4 features, as the paper proposes.
const HIGHRES_CHANNELS: i64 = 48;

/// A conv-BN-ReLU whose convolution may be smp's `SeparableConv2d`: a
/// depthwise convolution first, then `conv` as the pointwise one.
#[derive(Debug)]
struct Block {
    depthwise: Option<Conv2d>,
    conv: ConvBnRelu,
}

impl Block {
    /// A plain `kernel`-sized convolution with `dilation`, named `conv`, BatchNorm named `bn`.
    fn plain(conv: nn::Path, bn: nn::Path, c_in: i64, c_out: i64, kernel: i64, dilation: i64) -> Block {
        let mut c = conv2d(conv, c_in, c_out, kernel, 1, kernel / 2, 1, false);
        c.dilate(dilation);
        Block { depthwise: None, conv: ConvBnRelu { conv: c, bn: batch_norm_default(bn, c_out) } }
    }

    /// A separable 3x3 convolution with `dilation`, named `conv.0` (depthwise) and `conv.1` (pointwise).
    fn separable(conv: nn::Path, bn: nn::Path, c_in: i64, c_out: i64, dilation: i64) -> Block {
        let mut depthwise = conv2d(&conv / "0", c_in, c_in, 3, 1, 1, c_in, false);
        depthwise.dilate(dilation);
        let pointwise = conv2d(&conv / "1", c_in, c_out, 1, 1, 0, 1, false);
        Block { depthwise: Some(depthwise), conv: ConvBnRelu { conv: pointwise, bn: batch_norm_default(bn, c_out) } }
    }

    /// smp's `nn.Sequential(conv, bn, relu)`: `p.0` and `p.1`.
    fn sequential(p: &nn::Path, c_in: i64, c_out: i64, separable: bool, dilation: i64) -> Block {
        if separable {
            Block::separable(p / "0", p / "1", c_in, c_out, dilation)
        } else {
            Block::plain(p / "0", p / "1", c_in, c_out, 3, dilation)
        }
    }

    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        match &self.depthwise {
            Some(d) => {
                let y = o.conv(x, d, None);
                self.conv.forward(o, &y)
            }
            None => self.conv.forward(o, x),
        }
    }
}

/// smp's `ASPP`: a 1x1 branch, three atrous branches and an image-pooling
/// branch, concatenated and projected (with dropout) to `DECODER_CHANNELS`.
#[derive(Debug)]
struct Aspp {
    branches: Vec<Block>,
    pooling: Block,
    project: Block,
}

impl Aspp {
    fn new(p: &nn::Path, c_in: i64, separable: bool) -> Aspp {
        let convs = p / "convs";
        let c = DECODER_CHANNELS;
        let mut branches = vec![Block::plain(&convs / 0 / 0, &convs / 0 / 1, c_in, c, 1, 1)];
        for (i, rate) in ATROUS_RATES.into_iter().enumerate() {
            branches.push(Block::sequential(&(&convs / (i + 1)), c_in, c, separable, rate));
        }
        let pooling_p = &convs / (ATROUS_RATES.len() + 1);
        // Index 0 of smp's pooling branch is the parameterless AdaptiveAvgPool2d.
        let pooling = Block::plain(&pooling_p / 1, &pooling_p / 2, c_in, c, 1, 1);
        let branch_count = branches.len() as i64 + 1;
        let project = Block::plain(p / "project" / 0, p / "project" / 1, branch_count * c, c, 1, 1);
        Aspp { branches, pooling, project }
    }

    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let mut res: Vec<O::Value> = self.branches.iter().map(|b| b.forward(o, x)).collect();
        let squeezed = o.global_avg_pool(x);
        let pooled = self.pooling.forward(o, &squeezed);
        // Interpolating a 1x1 map is a broadcast; expanding keeps traced models size-agnostic.
        res.push(o.expand_as(&pooled, &res[0]));
        let cat = o.concat(&res.iter().collect::<Vec<_>>());
        let y = self.project.forward(o, &cat);
        o.train_only(y, |y| y.dropout(ASPP_DROPOUT, true))
    }
}

/// DeepLabV3: ASPP and a 3x3 conv-BN-ReLU at output stride 8; the head
/// upsamples the logits 8x.
#[derive(Debug)]
struct DeepLabV3 {
    aspp: Aspp,
    conv: Block,
    head: SegmentationHead,
}

impl<O: Ops> Decode<O> for DeepLabV3 {
    fn decode(&self, o: &mut O, features: &[O::Value]) -> O::Value {
        let x = self.aspp.forward(o, features.last().expect("encoder features"));
        let y = self.conv.forward(o, &x);
        self.head.forward(o, &y)
    }
}

/// `encoder_channels` as `Encoder::out_channels` returns them (input first).
fn build_v3(root: &nn::Path, encoder_channels: &[i64], classes: i64) -> Box<dyn Decoder> {
    let p = &(root / "decoder");
    let c_in = *encoder_channels.last().expect("encoder channels");
    let upsampling = V3.output_stride;
    Box::new(DeepLabV3 {
        aspp: Aspp::new(&(p / "aspp"), c_in, false),
        conv: Block::plain(p / "conv", p / "bn", DECODER_CHANNELS, DECODER_CHANNELS, 3, 1),
        head: SegmentationHead::new(&(root / "segmentation_head"), DECODER_CHANNELS, classes, 1, upsampling),
    })
}

/// DeepLabV3+: separable ASPP at output stride 16, upsampled to stride 4,
/// concatenated with the reduced stride-4 encoder features and fused by a
/// separable conv; the head upsamples the logits 4x.
#[derive(Debug)]
struct DeepLabV3Plus {
    aspp: Aspp,
    aspp_conv: Block,
    /// From the output stride to stride 4.
    up: i64,
    block1: ConvBnRelu,
    block2: Block,
    head: SegmentationHead,
}

/// The encoder feature `block1` reads: stride 4.
const HIGHRES_FEATURE: usize = 2;

impl<O: Ops> Decode<O> for DeepLabV3Plus {
    fn decode(&self, o: &mut O, features: &[O::Value]) -> O::Value {
        let x = self.aspp.forward(o, features.last().expect("encoder features"));
        let y = self.aspp_conv.forward(o, &x);
        let up = o.upsample_bilinear(&y, self.up);
        let high = self.block1.forward(o, &features[HIGHRES_FEATURE]);
        let cat = o.concat(&[&up, &high]);
        let fused = self.block2.forward(o, &cat);
        self.head.forward(o, &fused)
    }
}

/// `encoder_channels` as `Encoder::out_channels` returns them (input first).
fn build_v3_plus(root: &nn::Path, encoder_channels: &[i64], classes: i64) -> Box<dyn Decoder> {
    let p = &(root / "decoder");
    let c = DECODER_CHANNELS;
    let c_in = *encoder_channels.last().expect("encoder channels");
    let aspp = &(p / "aspp");
    Box::new(DeepLabV3Plus {
        aspp: Aspp::new(&(aspp / 0), c_in, true),
        // smp's `aspp` Sequential: ASPP, SeparableConv2d, BatchNorm, ReLU.
        aspp_conv: Block::separable(aspp / 1, aspp / 2, c, c, 1),
        up: V3_PLUS.output_stride / 4,
        block1: ConvBnRelu::new(p / "block1", encoder_channels[HIGHRES_FEATURE], HIGHRES_CHANNELS, 1),
        block2: Block::sequential(&(p / "block2"), HIGHRES_CHANNELS + c, c, true, 1),
        head: SegmentationHead::new(&(root / "segmentation_head"), c, classes, 1, 4),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::VarStore;
    use tch::{Device, Kind, Tensor};

    fn names(vs: &VarStore) -> Vec<String> {
        let mut names: Vec<String> = vs.variables().into_keys().filter(|n| !n.contains("running_")).collect();
        names.sort();
        names
    }

    #[test]
    fn separable_blocks_are_named_as_smp_names_them() {
        let vs = VarStore::new(Device::Cpu);
        build_v3_plus(&vs.root(), &[3, 64, 64, 128, 256, 512], 2);
        let names = names(&vs);
        for n in [
            "decoder.aspp.0.convs.0.0.weight",
            "decoder.aspp.0.convs.3.0.0.weight",
            "decoder.aspp.0.convs.3.0.1.weight",
            "decoder.aspp.0.convs.4.1.weight",
            "decoder.aspp.0.convs.4.2.bias",
            "decoder.aspp.0.project.1.weight",
            "decoder.aspp.1.0.weight",
            "decoder.aspp.1.1.weight",
            "decoder.aspp.2.weight",
            "decoder.block1.0.weight",
            "decoder.block2.0.1.weight",
            "decoder.block2.1.bias",
            "segmentation_head.0.bias",
        ] {
            assert!(names.iter().any(|m| m == n), "{n} missing from {names:?}");
        }
        // As many as smp's: 9 BatchNorms (weight, bias), 14 convolutions, the head's weight and bias.
        assert_eq!(names.len(), 9 * 2 + 14 + 2, "{names:?}");
    }

    #[test]
    fn v3_keeps_the_feature_size_and_trains_on_pairs() {
        let vs = VarStore::new(Device::Cpu);
        let decoder = build_v3(&vs.root(), &[3, 8, 8, 8, 8, 16], 3);
        let last = Tensor::randn([2, 16, 4, 5], (Kind::Float, Device::Cpu));
        let features: Vec<Tensor> = (0..6).map(|_| last.shallow_clone()).collect();
        assert_eq!(decoder.forward(&features, true).size(), [2, 3, 32, 40]);
        assert_eq!(decoder.forward(&features, false).size(), [2, 3, 32, 40]);
    }
}
