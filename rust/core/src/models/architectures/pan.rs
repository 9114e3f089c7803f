//! The PAN decoder of segmentation_models_pytorch with its defaults: on an
//! encoder dilated to output stride 16, a Feature Pyramid Attention block
//! on the deepest features, three Global Attention Upsample blocks down to
//! stride 4 (32 channels, bilinear interpolation with aligned corners), and a
//! 3x3 head upsampling 4x.
//!
//! FPA max-pools its input three times, so smp (and this port) needs inputs
//! of at least 128x128: at 64x64 the third pooling would be empty.

use super::{Decode, Descriptor, SegmentationHead};
use crate::models::modules::{batch_norm_default, conv2d, BatchNorm2d, Conv2d};
use crate::models::ops::{Ops, Share};
use tch::nn;

/// On an encoder dilated to output stride 16; FPA's three poolings need 128x128.
pub(super) const DESCRIPTOR: Descriptor = Descriptor {
    output_stride: 16,
    encoder_depth: 5,
    min_input_size: 128,
    needs_stride2_feature: false,
    build: |root, _, channels, classes| Box::new(Pan::new(root, channels, classes)),
};

const DECODER_CHANNELS: i64 = 32;

/// PAN's own `ConvBnRelu`: a convolution with bias, BatchNorm and an
/// optional ReLU, named `conv.*` and `bn.*`.
#[derive(Debug)]
struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm2d,
    relu: bool,
}

impl ConvBn {
    fn new(p: &nn::Path, c_in: i64, c_out: i64, kernel: i64, relu: bool) -> ConvBn {
        ConvBn { conv: conv2d(p / "conv", c_in, c_out, kernel, 1, kernel / 2, 1, true), bn: batch_norm_default(p / "bn", c_out), relu }
    }

    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let y = o.conv(x, &self.conv, Some(&self.bn));
        if self.relu {
            o.relu(&y)
        } else {
            y
        }
    }
}

/// smp's `FPABlock`: a pyramid of max-pooled 7/5/3 convolutions to one
/// channel gates a 1x1 projection, plus a global-pooling branch.
#[derive(Debug)]
struct Fpa {
    branch1: ConvBn,
    mid: ConvBn,
    down1: ConvBn,
    down2: ConvBn,
    down3: [ConvBn; 2],
    conv2: ConvBn,
    conv1: ConvBn,
}

impl Fpa {
    fn new(p: &nn::Path, c_in: i64) -> Fpa {
        Fpa {
            branch1: ConvBn::new(&(p / "branch1" / 1), c_in, DECODER_CHANNELS, 1, true),
            mid: ConvBn::new(&(p / "mid" / 0), c_in, DECODER_CHANNELS, 1, true),
            down1: ConvBn::new(&(p / "down1" / 1), c_in, 1, 7, true),
            down2: ConvBn::new(&(p / "down2" / 1), 1, 1, 5, true),
            down3: [ConvBn::new(&(p / "down3" / 1), 1, 1, 3, true), ConvBn::new(&(p / "down3" / 2), 1, 1, 3, true)],
            conv2: ConvBn::new(&(p / "conv2"), 1, 1, 5, true),
            conv1: ConvBn::new(&(p / "conv1"), 1, 1, 7, true),
        }
    }

    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        // A [N, C, 1, 1] map: adding it broadcasts as smp's upsampling does.
        let pooled = o.global_avg_pool(x);
        let global = self.branch1.forward(o, &pooled);
        let mid = self.mid.forward(o, x);
        let x1 = o.max_pool(x, 2, 2, 0, false);
        let x1 = self.down1.forward(o, &x1);
        let x2 = o.max_pool(&x1, 2, 2, 0, false);
        let x2 = self.down2.forward(o, &x2);
        let x3 = o.max_pool(&x2, 2, 2, 0, false);
        let x3 = self.down3[0].forward(o, &x3);
        let x3 = self.down3[1].forward(o, &x3);
        // Floor pooling halves odd sides to less than half, so only the
        // last step (x1 is exactly half of x) is a plain 2x.
        let x3 = o.resize_bilinear_like(&x3, &x2);
        let y = self.conv2.forward(o, &x2);
        let y = o.add(&y, &x3);
        let y = o.resize_bilinear_like(&y, &x1);
        let c1 = self.conv1.forward(o, &x1);
        let y = o.add(&y, &c1);
        let y = o.upsample_bilinear(&y, 2);
        let y = o.mul(&y, &mid);
        o.add(&y, &global)
    }
}

/// smp's `GAUBlock`: the finer features, convolved, gated channel-wise by the
/// pooled coarser ones, plus the coarser ones upsampled.
#[derive(Debug)]
struct Gau {
    /// `conv1`: the gate, on the pooled coarser features.
    gate: ConvBn,
    /// `conv2`: the finer features to decoder width.
    conv: ConvBn,
    /// Whether the coarser features have half the finer ones' size (not so
    /// below the dilated last stage, where both have stride 16).
    upsample: bool,
}

impl Gau {
    fn new(p: &nn::Path, c_in: i64, upsample: bool) -> Gau {
        Gau {
            gate: ConvBn::new(&(p / "conv1" / 1), DECODER_CHANNELS, DECODER_CHANNELS, 1, false),
            conv: ConvBn::new(&(p / "conv2"), c_in, DECODER_CHANNELS, 3, true),
            upsample,
        }
    }

    fn forward<O: Ops>(&self, o: &mut O, fine: &O::Value, coarse: &O::Value) -> O::Value {
        let pooled = o.global_avg_pool(coarse);
        let gate = self.gate.forward(o, &pooled);
        let gate = o.sigmoid(&gate);
        // smp resizes to the finer size, which is 2x or the same size.
        let up = if self.upsample { o.upsample_bilinear(coarse, 2) } else { coarse.share() };
        let y = self.conv.forward(o, fine);
        let y = o.mul(&y, &gate);
        o.add(&up, &y)
    }
}

#[derive(Debug)]
pub struct Pan {
    fpa: Fpa,
    /// `gau3`, `gau2`, `gau1`: strides 16, 8 and 4.
    gaus: [Gau; 3],
    head: SegmentationHead,
}

impl Pan {
    /// `encoder_channels` as `Encoder::out_channels` returns them (input
    /// first), of an encoder dilated to output stride 16.
    pub fn new(root: &nn::Path, encoder_channels: &[i64], classes: i64) -> Pan {
        let p = &(root / "decoder");
        let [.., c2, c3, c4, c5] = *encoder_channels else { panic!("an encoder has five stages") };
        Pan {
            fpa: Fpa::new(&(p / "fpa"), c5),
            gaus: [Gau::new(&(p / "gau3"), c4, false), Gau::new(&(p / "gau2"), c3, true), Gau::new(&(p / "gau1"), c2, true)],
            head: SegmentationHead::new(&(root / "segmentation_head"), DECODER_CHANNELS, classes, 3, 4),
        }
    }
}

impl<O: Ops> Decode<O> for Pan {
    fn decode(&self, o: &mut O, features: &[O::Value]) -> O::Value {
        let mut x = self.fpa.forward(o, &features[5]);
        for (gau, fine) in self.gaus.iter().zip(features[2..5].iter().rev()) {
            x = gau.forward(o, fine, &x);
        }
        self.head.forward(o, &x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::architectures::Decoder;
    use tch::nn::VarStore;
    use tch::{Device, Kind, Tensor};

    #[test]
    fn variables_are_named_as_smp_names_them() {
        let vs = VarStore::new(Device::Cpu);
        Pan::new(&vs.root(), &[3, 64, 64, 128, 256, 512], 2);
        let names: Vec<String> = vs.variables().into_keys().collect();
        for name in [
            "decoder.fpa.branch1.1.conv.weight",
            "decoder.fpa.mid.0.bn.running_var",
            "decoder.fpa.down3.2.conv.bias",
            "decoder.fpa.conv1.bn.weight",
            "decoder.gau3.conv1.1.conv.weight",
            "decoder.gau1.conv2.bn.bias",
            "segmentation_head.0.weight",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} missing from {names:?}");
        }
        // 14 conv + BatchNorm pairs (conv weight and bias; BatchNorm weight,
        // bias, mean and var) and the head's weight and bias.
        let batch_norms = names.iter().filter(|n| n.ends_with("running_mean")).count();
        assert_eq!((batch_norms, names.len()), (14, 14 * 6 + 2));
    }

    #[test]
    fn logits_have_the_input_size_at_sides_that_halve_unevenly() {
        let vs = VarStore::new(Device::Cpu);
        let pan = Pan::new(&vs.root(), &[3, 64, 64, 128, 256, 512], 2);
        let (h, w) = (128, 160);
        let features: Vec<Tensor> = [(3, 1), (64, 2), (64, 4), (128, 8), (256, 16), (512, 16)]
            .iter()
            .map(|&(c, s)| Tensor::randn([2, c, h / s, w / s], (Kind::Float, Device::Cpu)))
            .collect();
        assert_eq!(pan.forward(&features, true).size(), [2, 2, h, w]);
    }
}
