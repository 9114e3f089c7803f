//! smp's PSPNet decoder: the stride-8 features (smp stops the encoder at
//! depth 3) average-pooled into 1, 2, 3 and 6 bins, each pooled map through a
//! 1x1 conv-ReLU and resized back bilinearly with aligned corners; those maps
//! and the features concatenated, fused by a 1x1 conv-BN-ReLU, dropout, and a
//! 3x3 head upsampling 8x.
//!
//! Neither resize may bake in the feature size: TorchScript is traced at one
//! tile size and ONNX graphs keep height and width symbolic.

use super::{Decode, Decoder, Descriptor, SegmentationHead};
use crate::models::layers::ConvBnRelu;
use crate::models::modules::{batch_norm_default, conv2d, BatchNorm2d, Conv2d};
use crate::models::ops::{Ops, Share};
use crate::models::OUTPUT_STRIDE;
use tch::nn;

/// smp's `encoder_depth=3`: the encoder stops after the stride-8 stage.
pub(super) const DESCRIPTOR: Descriptor = Descriptor {
    output_stride: 32,
    encoder_depth: 3,
    min_input_size: OUTPUT_STRIDE,
    needs_stride2_feature: false,
    build: |root, _, channels, classes| build(root, channels, classes),
};

/// smp's PSPNet reads `features[3]` (stride 8), the last its encoder depth computes.
const FEATURE_INDEX: usize = 3;
const POOL_SIZES: [i64; 4] = [1, 2, 3, 6];
const OUT_CHANNELS: i64 = 512;
const DROPOUT: f64 = 0.2;
const UPSAMPLING: i64 = 8;

/// smp's `PSPBlock`: adaptive average pooling to `size` x `size` bins, then
/// `Conv2dReLU` with kernel 1. A single bin gets no BatchNorm (it cannot train
/// on 1x1 maps), so that convolution has a bias instead.
#[derive(Debug)]
struct PspBlock {
    size: i64,
    conv: Conv2d,
    bn: Option<BatchNorm2d>,
}

impl PspBlock {
    fn new(p: nn::Path, c_in: i64, c_out: i64, size: i64) -> PspBlock {
        let p = &p / "pool" / 1;
        let bn = (size > 1).then(|| batch_norm_default(&p / 1, c_out));
        PspBlock { size, conv: conv2d(&p / 0, c_in, c_out, 1, 1, 0, 1, bn.is_none()), bn }
    }

    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let pooled = o.adaptive_avg_pool(x, self.size);
        let y = o.conv(&pooled, &self.conv, self.bn.as_ref());
        let y = o.relu(&y);
        o.resize_bilinear_like(&y, x)
    }
}

#[derive(Debug)]
struct PspNet {
    blocks: Vec<PspBlock>,
    conv: ConvBnRelu,
    head: SegmentationHead,
}

impl<O: Ops> Decode<O> for PspNet {
    fn decode(&self, o: &mut O, features: &[O::Value]) -> O::Value {
        let x = &features[FEATURE_INDEX];
        let mut branches: Vec<O::Value> = self.blocks.iter().map(|b| b.forward(o, x)).collect();
        branches.push(x.share());
        let y = o.concat(&branches.iter().collect::<Vec<_>>());
        let y = self.conv.forward(o, &y);
        let y = o.train_only(y, |y| y.feature_dropout(DROPOUT, true));
        self.head.forward(o, &y)
    }
}

fn build(root: &nn::Path, encoder_channels: &[i64], classes: i64) -> Box<dyn Decoder> {
    let p = &(root / "decoder");
    let c = encoder_channels[FEATURE_INDEX];
    let branch = c / POOL_SIZES.len() as i64;
    let blocks = POOL_SIZES.iter().enumerate().map(|(i, &size)| PspBlock::new(p / "psp" / "blocks" / i, c, branch, size)).collect();
    let conv = ConvBnRelu::new(p / "conv", 2 * c, OUT_CHANNELS, 1);
    let head = SegmentationHead::new(&(root / "segmentation_head"), OUT_CHANNELS, classes, 3, UPSAMPLING);
    Box::new(PspNet { blocks, conv, head })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::VarStore;
    use tch::{Device, Kind, Tensor};

    #[test]
    fn only_the_single_bin_branch_lacks_batch_norm_and_the_decoder_reads_stride_8() {
        let vs = VarStore::new(Device::Cpu);
        let decoder = build(&vs.root(), &[3, 8, 8, 16, 32, 64], 2);
        let names: Vec<String> = vs.variables().into_keys().collect();
        let has = |n: &str| names.iter().any(|m| m == n);
        assert!(has("decoder.psp.blocks.0.pool.1.0.bias") && !has("decoder.psp.blocks.0.pool.1.1.weight"), "{names:?}");
        assert!(has("decoder.psp.blocks.3.pool.1.1.running_var") && !has("decoder.psp.blocks.3.pool.1.0.bias"), "{names:?}");
        assert!(has("decoder.conv.0.weight") && has("segmentation_head.0.bias"), "{names:?}");
        let features: Vec<Tensor> = [3, 8, 8, 16, 32, 64]
            .iter()
            .zip([1, 2, 4, 8, 16, 32])
            .map(|(&c, s)| Tensor::randn([2, c, 64 / s, 96 / s], (Kind::Float, Device::Cpu)))
            .collect();
        assert_eq!(decoder.forward(&features, true).size(), [2, 2, 64, 96]);
    }
}
