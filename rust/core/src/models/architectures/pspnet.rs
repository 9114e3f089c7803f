//! smp's PSPNet decoder: the stride-8 features (smp stops the encoder at
//! depth 3) average-pooled into 1, 2, 3 and 6 bins, each pooled map through a
//! 1x1 conv-ReLU and resized back bilinearly with aligned corners; those maps
//! and the features concatenated, fused by a 1x1 conv-BN-ReLU, dropout, and a
//! 3x3 head upsampling 8x.
//!
//! Neither resize may bake in the feature size: TorchScript is traced at one
//! tile size and ONNX graphs keep height and width symbolic.

use super::{Decoder, SegmentationHead};
use crate::models::layers::{batch_norm_default, conv2d, resize_bilinear_like, BatchNorm2d, Conv2d, ConvBnRelu};
use crate::onnx::graph::{int, ints};
use crate::onnx::proto::DataType;
use crate::onnx::GraphBuilder;
use tch::{nn, Tensor};

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

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let mut y = x.adaptive_avg_pool2d([self.size, self.size]).apply(&self.conv);
        if let Some(bn) = &self.bn {
            y = y.apply_t(bn, train);
        }
        resize_bilinear_like(&y.relu(), x)
    }

    fn export_onnx(&self, g: &mut GraphBuilder, x: &str, rows: &SymbolicAxis, cols: &SymbolicAxis) -> String {
        let row_weights = bin_weights(g, rows, self.size);
        let col_weights = bin_weights(g, cols, self.size);
        let col_weights = g.node("Transpose", &[&col_weights], vec![ints("perm", &[1, 0])]);
        let pooled = g.node("MatMul", &[&row_weights, x], vec![]);
        let pooled = g.node("MatMul", &[&pooled, &col_weights], vec![]);
        let y = g.conv(&pooled, &self.conv, self.bn.as_ref());
        let y = g.relu(&y);
        g.resize_bilinear_align_corners_like(&y, x)
    }
}

/// One spatial axis of a value whose length is only known when the graph runs:
/// the length and the positions `0..length`, as float.
struct SymbolicAxis {
    length: String,
    positions: String,
}

impl SymbolicAxis {
    fn new(g: &mut GraphBuilder, x: &str, axis: i64) -> SymbolicAxis {
        let length = g.node("Shape", &[x], vec![int("start", axis), int("end", axis + 1)]);
        let length = g.node("Cast", &[&length], vec![int("to", DataType::Float as i64)]);
        // Without axes, Squeeze drops the single dimension: Range wants scalars.
        let length = g.node("Squeeze", &[&length], vec![]);
        let zero = g.constant("scalar_0", &[], &[0.0]);
        let one = g.constant("scalar_1", &[], &[1.0]);
        let positions = g.node("Range", &[&zero, &length, &one], vec![]);
        SymbolicAxis { length, positions }
    }
}

/// `[bins, L]` weights that average an axis of length L into `bins` as
/// `adaptive_avg_pool2d` does: bin i covers `[floor(iL / bins), ceil((i + 1)L / bins))`.
/// Float is exact here: the products are small integers, and a quotient that
/// is not an integer lies at least `1 / bins` away from one.
fn bin_weights(g: &mut GraphBuilder, axis: &SymbolicAxis, bins: i64) -> String {
    let column = |from: i64| (from..from + bins).map(|i| i as f32).collect::<Vec<f32>>();
    let first = g.constant(&format!("psp_bins{bins}_from0"), &[bins, 1], &column(0));
    let next = g.constant(&format!("psp_bins{bins}_from1"), &[bins, 1], &column(1));
    let divisor = g.constant(&format!("scalar_{bins}"), &[], &[bins as f32]);
    let bound = |g: &mut GraphBuilder, index: &str, round: &str| {
        let scaled = g.mul(index, &axis.length);
        let quotient = g.node("Div", &[&scaled, &divisor], vec![]);
        g.node(round, &[&quotient], vec![])
    };
    let start = bound(g, &first, "Floor");
    let end = bound(g, &next, "Ceil");
    let after_start = g.node("GreaterOrEqual", &[&axis.positions, &start], vec![]);
    let before_end = g.node("Less", &[&axis.positions, &end], vec![]);
    let inside = g.node("And", &[&after_start, &before_end], vec![]);
    let count = g.node("Sub", &[&end, &start], vec![]);
    let weight = g.node("Reciprocal", &[&count], vec![]);
    let zero = g.constant("scalar_0", &[], &[0.0]);
    g.node("Where", &[&inside, &weight, &zero], vec![])
}

#[derive(Debug)]
struct PspNet {
    blocks: Vec<PspBlock>,
    conv: ConvBnRelu,
    head: SegmentationHead,
}

impl Decoder for PspNet {
    fn forward(&self, features: &[Tensor], train: bool) -> Tensor {
        let x = &features[FEATURE_INDEX];
        let mut branches: Vec<Tensor> = self.blocks.iter().map(|b| b.forward(x, train)).collect();
        branches.push(x.shallow_clone());
        let y = self.conv.forward(&Tensor::cat(&branches, 1), train);
        self.head.forward(&y.feature_dropout(DROPOUT, train))
    }

    fn export_onnx(&self, g: &mut GraphBuilder, features: &[String]) -> String {
        let x = &features[FEATURE_INDEX];
        let rows = SymbolicAxis::new(g, x, 2);
        let cols = SymbolicAxis::new(g, x, 3);
        let mut branches: Vec<String> = self.blocks.iter().map(|b| b.export_onnx(g, x, &rows, &cols)).collect();
        branches.push(x.clone());
        let branches: Vec<&str> = branches.iter().map(String::as_str).collect();
        let y = g.concat(&branches);
        let y = self.conv.export_onnx(g, &y);
        self.head.export_onnx(g, &y)
    }
}

pub fn build(root: &nn::Path, encoder_channels: &[i64], classes: i64) -> Box<dyn Decoder> {
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
    use tch::{Device, Kind};

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
