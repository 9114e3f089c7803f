//! MobileNetV2 encoder (torchvision layout, ReLU6, as segmentation_models_pytorch uses it).

use super::{dilation_rates, Encode, Encoder};
use crate::models::modules::{batch_norm_default as bn, conv2d, BatchNorm2d, Conv2d};
use crate::models::ops::{Ops, Share};
use tch::nn;

/// torchvision's `Conv2dNormActivation`: conv (no bias), BatchNorm, ReLU6.
#[derive(Debug)]
struct ConvBnRelu6 {
    conv: Conv2d,
    bn: BatchNorm2d,
}

impl ConvBnRelu6 {
    fn new(p: nn::Path, c_in: i64, c_out: i64, kernel: i64, stride: i64, groups: i64) -> Self {
        ConvBnRelu6 {
            conv: conv2d(&p / "0", c_in, c_out, kernel, stride, (kernel - 1) / 2, groups, false),
            bn: bn(&p / "1", c_out),
        }
    }

    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let y = o.conv(x, &self.conv, Some(&self.bn));
        o.clamp(&y, 0.0, 6.0)
    }
}

#[derive(Debug)]
struct InvertedResidual {
    expand: Option<ConvBnRelu6>,
    depthwise: ConvBnRelu6,
    project: Conv2d,
    project_bn: BatchNorm2d,
    residual: bool,
}

impl InvertedResidual {
    fn new(p: nn::Path, c_in: i64, c_out: i64, stride: i64, expand_ratio: i64) -> Self {
        let hidden = c_in * expand_ratio;
        let p = &p / "conv";
        // torchvision numbers the sub-modules of `conv` consecutively, so the
        // indices shift by one when there is no expansion conv.
        let first = if expand_ratio == 1 { 0 } else { 1 };
        InvertedResidual {
            expand: (expand_ratio != 1).then(|| ConvBnRelu6::new(&p / 0, c_in, hidden, 1, 1, 1)),
            depthwise: ConvBnRelu6::new(&p / first, hidden, hidden, 3, stride, hidden),
            project: conv2d(&p / (first + 1), hidden, c_out, 1, 1, 0, 1, false),
            project_bn: bn(&p / (first + 2), c_out),
            residual: stride == 1 && c_in == c_out,
        }
    }

    fn forward<O: Ops>(&self, o: &mut O, xs: &O::Value) -> O::Value {
        let x = match &self.expand {
            Some(e) => e.forward(o, xs),
            None => xs.share(),
        };
        let d = self.depthwise.forward(o, &x);
        let y = o.conv(&d, &self.project, Some(&self.project_bn));
        if self.residual {
            o.add(&y, xs)
        } else {
            y
        }
    }
}

#[derive(Debug)]
enum Layer {
    Conv(ConvBnRelu6),
    Block(InvertedResidual),
}

impl Layer {
    /// Dilates every convolution of the layer. A block keeps its residual:
    /// torchvision decides it at construction, from the original stride.
    fn dilate(&mut self, rate: i64) {
        match self {
            Layer::Conv(c) => c.conv.dilate(rate),
            Layer::Block(b) => {
                if let Some(e) = &mut b.expand {
                    e.conv.dilate(rate);
                }
                b.depthwise.conv.dilate(rate);
                b.project.dilate(rate);
            }
        }
    }
}

/// torchvision's MobileNetV2 `features` (width 1.0), without the classifier.
#[derive(Debug)]
pub struct MobileNetV2 {
    features: Vec<Layer>,
    out_channels: [i64; 6],
}

/// (expand ratio, output channels, repeats, first stride), torchvision's table.
const SETTINGS: [(i64, i64, usize, i64); 7] =
    [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

/// Indices into `features` where segmentation_models_pytorch ends each stage.
const STAGE_ENDS: [usize; 5] = [2, 4, 7, 14, 19];

impl MobileNetV2 {
    pub fn new(p: &nn::Path, in_channels: i64) -> MobileNetV2 {
        let fp = p / "features";
        let mut features = vec![Layer::Conv(ConvBnRelu6::new(&fp / 0, in_channels, 32, 3, 2, 1))];
        let mut c_in = 32;
        for (t, c, n, s) in SETTINGS {
            for i in 0..n {
                let idx = features.len();
                features.push(Layer::Block(InvertedResidual::new(&fp / idx, c_in, c, if i == 0 { s } else { 1 }, t)));
                c_in = c;
            }
        }
        features.push(Layer::Conv(ConvBnRelu6::new(&fp / features.len(), c_in, 1280, 1, 1, 1)));
        MobileNetV2 { features, out_channels: [in_channels, 16, 24, 32, 96, 1280] }
    }
}

impl<O: Ops> Encode<O> for MobileNetV2 {
    fn encode(&self, o: &mut O, x: &O::Value, depth: usize) -> Vec<O::Value> {
        let mut out = vec![x.share()];
        let mut x = x.share();
        let mut start = 0;
        for end in STAGE_ENDS.into_iter().take(depth) {
            for layer in &self.features[start..end] {
                x = match layer {
                    Layer::Conv(c) => c.forward(o, &x),
                    Layer::Block(b) => b.forward(o, &x),
                };
            }
            out.push(x.share());
            start = end;
        }
        out
    }
}

impl Encoder for MobileNetV2 {
    fn out_channels(&self) -> &[i64] {
        &self.out_channels
    }

    fn make_dilated(&mut self, output_stride: i64) -> crate::Result<()> {
        for (stage, rate) in dilation_rates(output_stride) {
            for layer in &mut self.features[STAGE_ENDS[stage - 2]..STAGE_ENDS[stage - 1]] {
                layer.dilate(rate);
            }
        }
        Ok(())
    }
}
