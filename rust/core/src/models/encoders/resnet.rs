//! ResNet encoders (torchvision layout, as segmentation_models_pytorch uses them).

use super::{dilation_rates, Encoder, Features};
use crate::models::layers::{batch_norm_default as bn, conv2d, BatchNorm2d, Conv2d};
use crate::onnx::GraphBuilder;
use tch::nn;
use tch::Tensor;

#[derive(Debug)]
struct Downsample {
    conv: Conv2d,
    bn: BatchNorm2d,
}

/// A basic (3x3, 3x3) or bottleneck (1x1, 3x3, 1x1) residual block.
#[derive(Debug)]
struct Block {
    /// `conv1`/`bn1`, `conv2`/`bn2`(, `conv3`/`bn3`), with a ReLU between consecutive pairs.
    convs: Vec<(Conv2d, BatchNorm2d)>,
    downsample: Option<Downsample>,
}

impl Block {
    /// `groups` and `width_per_group` as torchvision's (32 and 4 for ResNeXt-50 32x4d).
    fn new(p: nn::Path, bottleneck: bool, c_in: i64, planes: i64, stride: i64, groups: i64, width_per_group: i64) -> Block {
        let expansion = if bottleneck { 4 } else { 1 };
        let width = planes * width_per_group / 64 * groups;
        let c_out = planes * expansion;
        let downsample = (stride != 1 || c_in != c_out).then(|| Downsample {
            conv: conv2d(&p / "downsample" / "0", c_in, c_out, 1, stride, 0, 1, false),
            bn: bn(&p / "downsample" / "1", c_out),
        });
        // (in, out, kernel, stride, groups) per conv; torchvision strides the 3x3 conv.
        let shapes = if bottleneck {
            vec![(c_in, width, 1, 1, 1), (width, width, 3, stride, groups), (width, c_out, 1, 1, 1)]
        } else {
            vec![(c_in, planes, 3, stride, 1), (planes, planes, 3, 1, 1)]
        };
        let convs = shapes
            .into_iter()
            .enumerate()
            .map(|(i, (ci, co, k, s, g))| {
                let n = i + 1;
                (conv2d(&p / format!("conv{n}"), ci, co, k, s, k / 2, g, false), bn(&p / format!("bn{n}"), co))
            })
            .collect();
        Block { convs, downsample }
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut ys = xs.shallow_clone();
        for (i, (conv, bn)) in self.convs.iter().enumerate() {
            if i > 0 {
                ys = ys.relu();
            }
            ys = ys.apply(conv).apply_t(bn, train);
        }
        let identity = match &self.downsample {
            Some(d) => xs.apply(&d.conv).apply_t(&d.bn, train),
            None => xs.shallow_clone(),
        };
        (ys + identity).relu()
    }

    fn export_onnx(&self, g: &mut GraphBuilder, x: &str) -> String {
        let mut ys = x.to_string();
        for (i, (conv, bn)) in self.convs.iter().enumerate() {
            if i > 0 {
                ys = g.relu(&ys);
            }
            ys = g.conv(&ys, conv, Some(bn));
        }
        let identity = match &self.downsample {
            Some(d) => g.conv(x, &d.conv, Some(&d.bn)),
            None => x.to_string(),
        };
        let sum = g.add(&ys, &identity);
        g.relu(&sum)
    }
}

/// A torchvision ResNet without its pooling and classifier.
#[derive(Debug)]
pub struct ResNet {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    layers: [Vec<Block>; 4],
    out_channels: [i64; 6],
}

impl ResNet {
    /// `depths` holds the number of blocks in layer1..layer4; `groups` and
    /// `width_per_group` (1 and 64 for plain ResNets) give the ResNeXt variants.
    pub fn new(p: &nn::Path, in_channels: i64, depths: [usize; 4], bottleneck: bool, groups: i64, width_per_group: i64) -> ResNet {
        let expansion = if bottleneck { 4 } else { 1 };
        let mut c_in = 64;
        let layers = std::array::from_fn(|i| {
            let planes = 64 << i;
            let stride = if i == 0 { 1 } else { 2 };
            let lp = p / format!("layer{}", i + 1);
            (0..depths[i])
                .map(|b| {
                    let block = Block::new(&lp / b, bottleneck, c_in, planes, if b == 0 { stride } else { 1 }, groups, width_per_group);
                    c_in = planes * expansion;
                    block
                })
                .collect()
        });
        ResNet {
            conv1: conv2d(p / "conv1", in_channels, 64, 7, 2, 3, 1, false),
            bn1: bn(p / "bn1", 64),
            layers,
            out_channels: [in_channels, 64, 64 * expansion, 128 * expansion, 256 * expansion, 512 * expansion],
        }
    }
}

impl Encoder for ResNet {
    fn features(&self, xs: &Tensor, train: bool) -> Features {
        let mut features = vec![xs.shallow_clone()];
        let mut x = xs.apply(&self.conv1).apply_t(&self.bn1, train).relu();
        features.push(x.shallow_clone());
        x = x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        for layer in &self.layers {
            for block in layer {
                x = block.forward(&x, train);
            }
            features.push(x.shallow_clone());
        }
        features
    }

    fn out_channels(&self) -> &[i64] {
        &self.out_channels
    }

    fn make_dilated(&mut self, output_stride: i64) -> crate::Result<()> {
        for (stage, rate) in dilation_rates(output_stride) {
            // Stages 2..5 are layer1..layer4.
            for block in &mut self.layers[stage - 2] {
                for (conv, _) in &mut block.convs {
                    conv.dilate(rate);
                }
                if let Some(d) = &mut block.downsample {
                    d.conv.dilate(rate);
                }
            }
        }
        Ok(())
    }

    fn export_onnx(&self, g: &mut GraphBuilder, input: &str) -> Vec<String> {
        let mut features = vec![input.to_string()];
        let stem = g.conv(input, &self.conv1, Some(&self.bn1));
        let mut x = g.relu(&stem);
        features.push(x.clone());
        x = g.max_pool(&x, 3, 2, 1);
        for layer in &self.layers {
            for block in layer {
                x = block.export_onnx(g, &x);
            }
            features.push(x.clone());
        }
        features
    }
}
