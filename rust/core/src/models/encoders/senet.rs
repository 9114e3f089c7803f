//! SE-ResNet-50 encoder (Cadene's pretrainedmodels SENet layout, as
//! segmentation_models_pytorch uses it).

use super::{dilation_rates, Encoder, Features};
use crate::models::layers::{batch_norm_default as bn, conv2d, BatchNorm2d, Conv2d};
use crate::onnx::graph::{int, ints};
use crate::onnx::GraphBuilder;
use tch::nn;
use tch::Tensor;

const REDUCTION: i64 = 16;

/// Squeeze-and-excitation: channel gates from the globally pooled input,
/// with 1x1 convolutions (with bias) as the two fully connected layers.
#[derive(Debug)]
struct SeModule {
    fc1: Conv2d,
    fc2: Conv2d,
}

impl SeModule {
    fn new(p: nn::Path, channels: i64) -> Self {
        SeModule {
            fc1: conv2d(&p / "fc1", channels, channels / REDUCTION, 1, 1, 0, 1, true),
            fc2: conv2d(&p / "fc2", channels / REDUCTION, channels, 1, 1, 0, 1, true),
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        let gate = xs.adaptive_avg_pool2d([1, 1]).apply(&self.fc1).relu().apply(&self.fc2).sigmoid();
        xs * gate
    }

    fn export_onnx(&self, g: &mut GraphBuilder, x: &str) -> String {
        let pooled = g.global_average_pool(x);
        let reduced = g.conv(&pooled, &self.fc1, None);
        let reduced = g.relu(&reduced);
        let expanded = g.conv(&reduced, &self.fc2, None);
        let gate = g.sigmoid(&expanded);
        g.mul(x, &gate)
    }
}

/// `SEResNetBottleneck`: 1x1 (strided, Caffe style), 3x3, 1x1, then the SE
/// gate before the residual sum.
#[derive(Debug)]
struct Bottleneck {
    /// `conv1`/`bn1`..`conv3`/`bn3`, with a ReLU between consecutive pairs.
    convs: Vec<(Conv2d, BatchNorm2d)>,
    se: SeModule,
    /// `downsample.0`/`downsample.1`.
    downsample: Option<(Conv2d, BatchNorm2d)>,
}

impl Bottleneck {
    fn new(p: nn::Path, c_in: i64, planes: i64, stride: i64) -> Self {
        let c_out = planes * 4;
        let downsample = (stride != 1 || c_in != c_out)
            .then(|| (conv2d(&p / "downsample" / "0", c_in, c_out, 1, stride, 0, 1, false), bn(&p / "downsample" / "1", c_out)));
        // (in, out, kernel, stride) per conv.
        let shapes = [(c_in, planes, 1, stride), (planes, planes, 3, 1), (planes, c_out, 1, 1)];
        let convs = shapes
            .into_iter()
            .enumerate()
            .map(|(i, (ci, co, k, s))| {
                let n = i + 1;
                (conv2d(&p / format!("conv{n}"), ci, co, k, s, k / 2, 1, false), bn(&p / format!("bn{n}"), co))
            })
            .collect();
        Bottleneck { convs, se: SeModule::new(&p / "se_module", c_out), downsample }
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
            Some((conv, bn)) => xs.apply(conv).apply_t(bn, train),
            None => xs.shallow_clone(),
        };
        (self.se.forward(&ys) + identity).relu()
    }

    fn export_onnx(&self, g: &mut GraphBuilder, x: &str) -> String {
        let mut ys = x.to_string();
        for (i, (conv, bn)) in self.convs.iter().enumerate() {
            if i > 0 {
                ys = g.relu(&ys);
            }
            ys = g.conv(&ys, conv, Some(bn));
        }
        let gated = self.se.export_onnx(g, &ys);
        let identity = match &self.downsample {
            Some((conv, bn)) => g.conv(x, conv, Some(bn)),
            None => x.to_string(),
        };
        let sum = g.add(&gated, &identity);
        g.relu(&sum)
    }
}

/// SE-ResNet-50: `layer0` (7x7 stem) and `layer1`..`layer4` of 3, 4, 6, 3
/// bottlenecks, without pooling and classifier.
#[derive(Debug)]
pub struct SeResNet {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    layers: [Vec<Bottleneck>; 4],
    out_channels: [i64; 6],
}

impl SeResNet {
    pub fn new(p: &nn::Path, in_channels: i64) -> SeResNet {
        let depths = [3, 4, 6, 3];
        let mut c_in = 64;
        let layers = std::array::from_fn(|i| {
            let planes = 64 << i;
            let lp = p / format!("layer{}", i + 1);
            (0..depths[i])
                .map(|b| {
                    let stride = if i > 0 && b == 0 { 2 } else { 1 };
                    let block = Bottleneck::new(&lp / b, c_in, planes, stride);
                    c_in = planes * 4;
                    block
                })
                .collect()
        });
        SeResNet {
            conv1: conv2d(p / "layer0" / "conv1", in_channels, 64, 7, 2, 3, 1, false),
            bn1: bn(p / "layer0" / "bn1", 64),
            layers,
            out_channels: [in_channels, 64, 256, 512, 1024, 2048],
        }
    }
}

impl Encoder for SeResNet {
    fn features(&self, xs: &Tensor, train: bool) -> Features {
        let mut features = vec![xs.shallow_clone()];
        let mut x = xs.apply(&self.conv1).apply_t(&self.bn1, train).relu();
        features.push(x.shallow_clone());
        // SENet's pool has no padding but rounds up.
        x = x.max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], true);
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
            // Stages 2..5 are layer1..layer4. The SE convolutions are 1x1 on a
            // 1x1 map, where dilation changes nothing.
            for block in &mut self.layers[stage - 2] {
                for (conv, _) in block.convs.iter_mut().chain(&mut block.downsample) {
                    conv.dilate(rate);
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
        let attributes = vec![ints("kernel_shape", &[3, 3]), ints("strides", &[2, 2]), int("ceil_mode", 1)];
        x = g.node("MaxPool", &[&x], attributes);
        for layer in &self.layers {
            for block in layer {
                x = block.export_onnx(g, &x);
            }
            features.push(x.clone());
        }
        features
    }
}
