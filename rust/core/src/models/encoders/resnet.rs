//! Residual encoders as segmentation_models_pytorch uses them: torchvision's
//! ResNet and ResNeXt, and SE-ResNet in Cadene's pretrainedmodels layout.

use super::{dilation_rates, Encode, Encoder};
use crate::models::layers::ExcitationGate;
use crate::models::modules::{batch_norm_default as bn, conv2d, BatchNorm2d, Conv2d};
use crate::models::ops::{Ops, Share};
use tch::nn;

/// What distinguishes the members of the family.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Blocks in layer1..layer4.
    pub depths: [usize; 4],
    /// Bottleneck (1x1, 3x3, 1x1) rather than basic (3x3, 3x3) blocks.
    pub bottleneck: bool,
    /// torchvision's `groups` and `width_per_group` (1 and 64 for plain
    /// ResNets, 32 and 4 for ResNeXt-50 32x4d).
    pub groups: i64,
    pub width_per_group: i64,
    /// Cadene's SENet: stem under `layer0.`, a max pool without padding that
    /// rounds up, the stride on the first 1x1 conv (Caffe style) and a
    /// squeeze-and-excitation gate in every block.
    pub senet: bool,
}

pub const RESNET18: Layout = Layout { depths: [2, 2, 2, 2], bottleneck: false, groups: 1, width_per_group: 64, senet: false };
pub const RESNET34: Layout = Layout { depths: [3, 4, 6, 3], ..RESNET18 };
pub const RESNET50: Layout = Layout { bottleneck: true, ..RESNET34 };
pub const RESNEXT50_32X4D: Layout = Layout { groups: 32, width_per_group: 4, ..RESNET50 };
pub const SE_RESNET50: Layout = Layout { senet: true, ..RESNET50 };

/// A basic or bottleneck residual block, with an SE gate for SENets.
#[derive(Debug)]
struct Block {
    /// `conv1`/`bn1`, `conv2`/`bn2`(, `conv3`/`bn3`), with a ReLU between consecutive pairs.
    convs: Vec<(Conv2d, BatchNorm2d)>,
    /// SENet's `se_module.fc1`/`fc2`, reducing 16-fold.
    se: Option<ExcitationGate>,
    /// `downsample.0`/`downsample.1`.
    downsample: Option<(Conv2d, BatchNorm2d)>,
}

impl Block {
    fn new(p: nn::Path, layout: &Layout, c_in: i64, planes: i64, stride: i64) -> Block {
        let c_out = if layout.bottleneck { planes * 4 } else { planes };
        let downsample =
            (stride != 1 || c_in != c_out).then(|| (conv2d(&p / "downsample" / "0", c_in, c_out, 1, stride, 0, 1, false), bn(&p / "downsample" / "1", c_out)));
        let width = planes * layout.width_per_group / 64 * layout.groups;
        // (in, out, kernel, stride, groups) per conv; torchvision strides the 3x3 conv.
        let shapes = match (layout.bottleneck, layout.senet) {
            (true, false) => vec![(c_in, width, 1, 1, 1), (width, width, 3, stride, layout.groups), (width, c_out, 1, 1, 1)],
            (true, true) => vec![(c_in, planes, 1, stride, 1), (planes, planes, 3, 1, 1), (planes, c_out, 1, 1, 1)],
            (false, _) => vec![(c_in, planes, 3, stride, 1), (planes, planes, 3, 1, 1)],
        };
        let convs = shapes
            .into_iter()
            .enumerate()
            .map(|(i, (ci, co, k, s, g))| {
                let n = i + 1;
                (conv2d(&p / format!("conv{n}"), ci, co, k, s, k / 2, g, false), bn(&p / format!("bn{n}"), co))
            })
            .collect();
        let se = layout.senet.then(|| ExcitationGate::new(&p / "se_module" / "fc1", &p / "se_module" / "fc2", c_out, c_out / 16));
        Block { convs, se, downsample }
    }

    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let mut ys = x.share();
        for (i, (conv, bn)) in self.convs.iter().enumerate() {
            if i > 0 {
                ys = o.relu(&ys);
            }
            ys = o.conv(&ys, conv, Some(bn));
        }
        if let Some(se) = &self.se {
            let gate = se.forward(o, &ys);
            ys = o.mul(&ys, &gate);
        }
        let identity = match &self.downsample {
            Some((conv, bn)) => o.conv(x, conv, Some(bn)),
            None => x.share(),
        };
        let sum = o.add(&ys, &identity);
        o.relu(&sum)
    }
}

/// A residual network without its pooling and classifier.
#[derive(Debug)]
pub struct ResNet {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    senet: bool,
    layers: [Vec<Block>; 4],
    out_channels: [i64; 6],
}

impl ResNet {
    pub fn new(p: &nn::Path, in_channels: i64, layout: Layout) -> ResNet {
        let expansion = if layout.bottleneck { 4 } else { 1 };
        let mut c_in = 64;
        let layers = std::array::from_fn(|i| {
            let planes = 64 << i;
            let lp = p / format!("layer{}", i + 1);
            (0..layout.depths[i])
                .map(|b| {
                    let stride = if i > 0 && b == 0 { 2 } else { 1 };
                    let block = Block::new(&lp / b, &layout, c_in, planes, stride);
                    c_in = planes * expansion;
                    block
                })
                .collect()
        });
        let stem = if layout.senet { p / "layer0" } else { p.clone() };
        ResNet {
            conv1: conv2d(&stem / "conv1", in_channels, 64, 7, 2, 3, 1, false),
            bn1: bn(&stem / "bn1", 64),
            senet: layout.senet,
            layers,
            out_channels: [in_channels, 64, 64 * expansion, 128 * expansion, 256 * expansion, 512 * expansion],
        }
    }
}

impl<O: Ops> Encode<O> for ResNet {
    fn encode(&self, o: &mut O, x: &O::Value, depth: usize) -> Vec<O::Value> {
        let mut features = vec![x.share()];
        let stem = o.conv(x, &self.conv1, Some(&self.bn1));
        let mut x = o.relu(&stem);
        features.push(x.share());
        x = if self.senet { o.max_pool(&x, 3, 2, 0, true) } else { o.max_pool(&x, 3, 2, 1, false) };
        for layer in self.layers.iter().take(depth.saturating_sub(1)) {
            for block in layer {
                x = block.forward(o, &x);
            }
            features.push(x.share());
        }
        features
    }
}

impl Encoder for ResNet {
    fn out_channels(&self) -> &[i64] {
        &self.out_channels
    }

    fn make_dilated(&mut self, output_stride: i64) -> crate::Result<()> {
        for (stage, rate) in dilation_rates(output_stride) {
            // Stages 2..5 are layer1..layer4. SE convolutions are 1x1 on a
            // 1x1 map, where dilation changes nothing.
            for block in &mut self.layers[stage - 2] {
                for (conv, _) in block.convs.iter_mut().chain(&mut block.downsample) {
                    conv.dilate(rate);
                }
            }
        }
        Ok(())
    }
}
