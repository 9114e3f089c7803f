//! EfficientNet encoders in the layout of `efficientnet_pytorch` (names such as
//! `_blocks.3._depthwise_conv`), which segmentation_models_pytorch uses for
//! `efficientnet-bN`: TensorFlow "same" padding, swish, squeeze-excitation,
//! drop-connect and TF BatchNorm constants.

use super::{dilation_rates, Encode, Encoder};
use crate::models::modules::{batch_norm, conv2d, BatchNorm2d, Conv2d};
use crate::models::ops::{Ops, Share};
use tch::nn;
use tch::{Kind, Tensor};

const BN_EPS: f64 = 1e-3;
/// TensorFlow's momentum 0.99 expressed the PyTorch way.
const BN_MOMENTUM: f64 = 0.01;
const DROP_CONNECT_RATE: f64 = 0.2;
const SE_RATIO: f64 = 0.25;

/// One row of the EfficientNet block table.
struct StageArgs {
    repeats: usize,
    kernel: i64,
    stride: i64,
    expand: i64,
    c_in: i64,
    c_out: i64,
}

/// The b0 block table, scaled for the other variants.
const B0_BLOCKS: [StageArgs; 7] = [
    StageArgs { repeats: 1, kernel: 3, stride: 1, expand: 1, c_in: 32, c_out: 16 },
    StageArgs { repeats: 2, kernel: 3, stride: 2, expand: 6, c_in: 16, c_out: 24 },
    StageArgs { repeats: 2, kernel: 5, stride: 2, expand: 6, c_in: 24, c_out: 40 },
    StageArgs { repeats: 3, kernel: 3, stride: 2, expand: 6, c_in: 40, c_out: 80 },
    StageArgs { repeats: 3, kernel: 5, stride: 1, expand: 6, c_in: 80, c_out: 112 },
    StageArgs { repeats: 4, kernel: 5, stride: 2, expand: 6, c_in: 112, c_out: 192 },
    StageArgs { repeats: 1, kernel: 3, stride: 1, expand: 6, c_in: 192, c_out: 320 },
];

/// Compound scaling of one EfficientNet variant, as `efficientnet_pytorch` defines it.
#[derive(Debug, Clone, Copy)]
pub struct Scaling {
    width: f64,
    depth: f64,
    /// The image size the "same" paddings are computed for (static padding).
    image_size: i64,
    /// Block indices where segmentation_models_pytorch ends stages 2..4
    /// (its `out_indexes[..3]` plus one).
    stage_idxs: [usize; 3],
}

pub const B0: Scaling = Scaling { width: 1.0, depth: 1.0, image_size: 224, stage_idxs: [3, 5, 9] };
pub const B1: Scaling = Scaling { width: 1.0, depth: 1.1, image_size: 240, stage_idxs: [5, 8, 16] };
pub const B2: Scaling = Scaling { width: 1.1, depth: 1.2, image_size: 260, stage_idxs: [5, 8, 16] };
pub const B3: Scaling = Scaling { width: 1.2, depth: 1.4, image_size: 300, stage_idxs: [5, 8, 18] };
pub const B4: Scaling = Scaling { width: 1.4, depth: 1.8, image_size: 380, stage_idxs: [6, 10, 22] };

impl Scaling {
    /// `round_filters` of `efficientnet_pytorch` (divisor 8).
    fn filters(&self, filters: i64) -> i64 {
        if self.width == 1.0 {
            return filters;
        }
        let divisor = 8;
        let f = filters as f64 * self.width;
        let mut new = divisor.max((f + divisor as f64 / 2.0) as i64 / divisor * divisor);
        if (new as f64) < 0.9 * f {
            new += divisor;
        }
        new
    }

    /// `round_repeats` of `efficientnet_pytorch`.
    fn repeats(&self, repeats: usize) -> usize {
        (self.depth * repeats as f64).ceil() as usize
    }
}

/// `calculate_output_image_size` of `efficientnet_pytorch`.
fn out_size(size: i64, stride: i64) -> i64 {
    (size + stride - 1) / stride
}

/// `x * sigmoid(x)`; opset 17 has no operator for it.
fn swish<O: Ops>(o: &mut O, x: &O::Value) -> O::Value {
    let s = o.sigmoid(x);
    o.mul(x, &s)
}

/// A convolution with TensorFlow "same" padding computed statically, as
/// `efficientnet_pytorch`'s `Conv2dStaticSamePadding` does, for the image size
/// the layer sees in the variant's nominal resolution: `k-1` split evenly for
/// stride 1; for stride 2, `k-2` with the extra pixel at the bottom/right when
/// that size is even and `k-1` when it is odd. Dilated, it drops that padding
/// for the convolution's own, as smp's `replace_strides_with_dilation` does.
#[derive(Debug)]
struct SameConv {
    conv: Conv2d,
    pad: [i64; 4],
}

impl SameConv {
    #[allow(clippy::too_many_arguments)]
    fn new(p: nn::Path, c_in: i64, c_out: i64, kernel: i64, stride: i64, groups: i64, bias: bool, image_size: i64) -> Self {
        let total = ((out_size(image_size, stride) - 1) * stride + kernel - image_size).max(0);
        let (lo, hi) = (total / 2, total - total / 2);
        SameConv { conv: conv2d(p, c_in, c_out, kernel, stride, 0, groups, bias), pad: [lo, hi, lo, hi] }
    }

    fn dilate(&mut self, rate: i64) {
        self.conv.dilate(rate);
        self.pad = [0; 4];
    }

    /// The convolution, then `bn` if given.
    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value, bn: Option<&BatchNorm2d>) -> O::Value {
        o.conv_padded(x, &self.conv, bn, self.pad)
    }
}

#[derive(Debug)]
struct MbConv {
    expand: Option<(SameConv, BatchNorm2d)>,
    depthwise: SameConv,
    bn1: BatchNorm2d,
    se_reduce: SameConv,
    se_expand: SameConv,
    project: SameConv,
    bn2: BatchNorm2d,
    skip: bool,
    drop_connect: f64,
}

impl MbConv {
    #[allow(clippy::too_many_arguments)]
    fn new(p: nn::Path, c_in: i64, c_out: i64, kernel: i64, stride: i64, expand: i64, drop_connect: f64, image_size: i64) -> Self {
        let hidden = c_in * expand;
        let squeezed = ((c_in as f64 * SE_RATIO) as i64).max(1);
        MbConv {
            expand: (expand != 1).then(|| {
                (
                    SameConv::new(&p / "_expand_conv", c_in, hidden, 1, 1, 1, false, image_size),
                    batch_norm(&p / "_bn0", hidden, BN_EPS, BN_MOMENTUM),
                )
            }),
            depthwise: SameConv::new(&p / "_depthwise_conv", hidden, hidden, kernel, stride, hidden, false, image_size),
            bn1: batch_norm(&p / "_bn1", hidden, BN_EPS, BN_MOMENTUM),
            se_reduce: SameConv::new(&p / "_se_reduce", hidden, squeezed, 1, 1, 1, true, 1),
            se_expand: SameConv::new(&p / "_se_expand", squeezed, hidden, 1, 1, 1, true, 1),
            project: SameConv::new(&p / "_project_conv", hidden, c_out, 1, 1, 1, false, 1),
            bn2: batch_norm(&p / "_bn2", c_out, BN_EPS, BN_MOMENTUM),
            skip: stride == 1 && c_in == c_out,
            drop_connect,
        }
    }

    /// Dilates every convolution; `skip` stays as the original stride decided.
    fn dilate(&mut self, rate: i64) {
        if let Some((conv, _)) = &mut self.expand {
            conv.dilate(rate);
        }
        for conv in [&mut self.depthwise, &mut self.se_reduce, &mut self.se_expand, &mut self.project] {
            conv.dilate(rate);
        }
    }

    fn forward<O: Ops>(&self, o: &mut O, xs: &O::Value) -> O::Value {
        let mut x = match &self.expand {
            Some((conv, bn)) => {
                let y = conv.forward(o, xs, Some(bn));
                swish(o, &y)
            }
            None => xs.share(),
        };
        let d = self.depthwise.forward(o, &x, Some(&self.bn1));
        x = swish(o, &d);
        let squeezed = o.global_avg_pool(&x);
        let reduced = self.se_reduce.forward(o, &squeezed, None);
        let activated = swish(o, &reduced);
        let expanded = self.se_expand.forward(o, &activated, None);
        let scale = o.sigmoid(&expanded);
        let scaled = o.mul(&x, &scale);
        x = self.project.forward(o, &scaled, Some(&self.bn2));
        if !self.skip {
            return x;
        }
        let drop_connect = self.drop_connect;
        if drop_connect > 0.0 {
            x = o.train_only(x, |x| drop_samples(x, drop_connect));
        }
        o.add(&x, xs)
    }
}

/// Stochastic depth: drops the whole residual branch per sample.
fn drop_samples(x: Tensor, rate: f64) -> Tensor {
    let keep = 1.0 - rate;
    let mask = (Tensor::rand([x.size()[0], 1, 1, 1], (Kind::Float, x.device())) + keep).floor();
    x / keep * mask
}

/// EfficientNet-bN as `efficientnet_pytorch` builds it, minus the classifier.
/// The unused head conv stays so that state dicts map one to one.
#[derive(Debug)]
pub struct EfficientNet {
    stem: SameConv,
    bn0: BatchNorm2d,
    blocks: Vec<MbConv>,
    stage_idxs: [usize; 3],
    out_channels: [i64; 6],
}

impl EfficientNet {
    pub fn new(p: &nn::Path, in_channels: i64, scaling: Scaling) -> EfficientNet {
        let total: usize = B0_BLOCKS.iter().map(|s| scaling.repeats(s.repeats)).sum();
        let mut blocks = Vec::with_capacity(total);
        let stem_out = scaling.filters(32);
        let stem = SameConv::new(p / "_conv_stem", in_channels, stem_out, 3, 2, 1, false, scaling.image_size);
        let mut size = out_size(scaling.image_size, 2);
        // Channels at the end of each block.
        let mut ends = Vec::with_capacity(total);
        for s in &B0_BLOCKS {
            let (s_in, s_out) = (scaling.filters(s.c_in), scaling.filters(s.c_out));
            for r in 0..scaling.repeats(s.repeats) {
                let idx = blocks.len();
                let (c_in, stride) = if r == 0 { (s_in, s.stride) } else { (s_out, 1) };
                let rate = DROP_CONNECT_RATE * idx as f64 / total as f64;
                blocks.push(MbConv::new(p / "_blocks" / idx, c_in, s_out, s.kernel, stride, s.expand, rate, size));
                size = out_size(size, stride);
                ends.push(s_out);
            }
        }
        // Present in smp's state dicts although its forward never uses them.
        let head = scaling.filters(1280);
        conv2d(p / "_conv_head", *ends.last().unwrap(), head, 1, 1, 0, 1, false);
        batch_norm(p / "_bn1", head, BN_EPS, BN_MOMENTUM);
        let [a, b, c] = scaling.stage_idxs;
        EfficientNet {
            stem,
            bn0: batch_norm(p / "_bn0", stem_out, BN_EPS, BN_MOMENTUM),
            out_channels: [in_channels, stem_out, ends[a - 1], ends[b - 1], ends[c - 1], ends[total - 1]],
            blocks,
            stage_idxs: scaling.stage_idxs,
        }
    }

    /// Block indices where stages 2..5 start, and the end of the last.
    fn stage_bounds(&self) -> [usize; 5] {
        let [a, b, c] = self.stage_idxs;
        [0, a, b, c, self.blocks.len()]
    }
}

impl<O: Ops> Encode<O> for EfficientNet {
    fn encode(&self, o: &mut O, x: &O::Value, depth: usize) -> Vec<O::Value> {
        let mut out = vec![x.share()];
        let stem = self.stem.forward(o, x, Some(&self.bn0));
        let mut x = swish(o, &stem);
        out.push(x.share());
        let bounds = self.stage_bounds();
        for w in bounds.windows(2).take(depth.saturating_sub(1)) {
            for block in &self.blocks[w[0]..w[1]] {
                x = block.forward(o, &x);
            }
            out.push(x.share());
        }
        out
    }
}

impl Encoder for EfficientNet {
    fn out_channels(&self) -> &[i64] {
        &self.out_channels
    }

    fn make_dilated(&mut self, output_stride: i64) -> crate::Result<()> {
        let bounds = self.stage_bounds();
        for (stage, rate) in dilation_rates(output_stride) {
            for block in &mut self.blocks[bounds[stage - 2]..bounds[stage - 1]] {
                block.dilate(rate);
            }
        }
        Ok(())
    }
}
