//! ResNet encoders (torchvision layout, as segmentation_models_pytorch uses them).

use super::{Encoder, Features};
use crate::models::layers::{batch_norm_default as bn, conv2d};
use tch::nn;
use tch::Tensor;

#[derive(Debug)]
struct Downsample {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
}

#[derive(Debug)]
enum Block {
    Basic {
        conv1: nn::Conv2D,
        bn1: nn::BatchNorm,
        conv2: nn::Conv2D,
        bn2: nn::BatchNorm,
        downsample: Option<Downsample>,
    },
    Bottleneck {
        conv1: nn::Conv2D,
        bn1: nn::BatchNorm,
        conv2: nn::Conv2D,
        bn2: nn::BatchNorm,
        conv3: nn::Conv2D,
        bn3: nn::BatchNorm,
        downsample: Option<Downsample>,
    },
}

impl Block {
    fn new(p: nn::Path, bottleneck: bool, c_in: i64, planes: i64, stride: i64) -> Block {
        let expansion = if bottleneck { 4 } else { 1 };
        let c_out = planes * expansion;
        let downsample = (stride != 1 || c_in != c_out).then(|| Downsample {
            conv: conv2d(&p / "downsample" / "0", c_in, c_out, 1, stride, 0, 1, false),
            bn: bn(&p / "downsample" / "1", c_out),
        });
        if bottleneck {
            Block::Bottleneck {
                conv1: conv2d(&p / "conv1", c_in, planes, 1, 1, 0, 1, false),
                bn1: bn(&p / "bn1", planes),
                conv2: conv2d(&p / "conv2", planes, planes, 3, stride, 1, 1, false),
                bn2: bn(&p / "bn2", planes),
                conv3: conv2d(&p / "conv3", planes, c_out, 1, 1, 0, 1, false),
                bn3: bn(&p / "bn3", c_out),
                downsample,
            }
        } else {
            Block::Basic {
                conv1: conv2d(&p / "conv1", c_in, planes, 3, stride, 1, 1, false),
                bn1: bn(&p / "bn1", planes),
                conv2: conv2d(&p / "conv2", planes, planes, 3, 1, 1, 1, false),
                bn2: bn(&p / "bn2", planes),
                downsample,
            }
        }
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let (ys, downsample) = match self {
            Block::Basic { conv1, bn1, conv2, bn2, downsample } => (
                xs.apply(conv1).apply_t(bn1, train).relu().apply(conv2).apply_t(bn2, train),
                downsample,
            ),
            Block::Bottleneck { conv1, bn1, conv2, bn2, conv3, bn3, downsample } => (
                xs.apply(conv1)
                    .apply_t(bn1, train)
                    .relu()
                    .apply(conv2)
                    .apply_t(bn2, train)
                    .relu()
                    .apply(conv3)
                    .apply_t(bn3, train),
                downsample,
            ),
        };
        let identity = match downsample {
            Some(d) => xs.apply(&d.conv).apply_t(&d.bn, train),
            None => xs.shallow_clone(),
        };
        (ys + identity).relu()
    }
}

/// A torchvision ResNet without its pooling and classifier.
#[derive(Debug)]
pub struct ResNet {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    layers: [Vec<Block>; 4],
    out_channels: [i64; 6],
}

impl ResNet {
    /// `depths` holds the number of blocks in layer1..layer4.
    pub fn new(p: &nn::Path, in_channels: i64, depths: [usize; 4], bottleneck: bool) -> ResNet {
        let expansion = if bottleneck { 4 } else { 1 };
        let mut c_in = 64;
        let layers = std::array::from_fn(|i| {
            let planes = 64 << i;
            let stride = if i == 0 { 1 } else { 2 };
            let lp = p / format!("layer{}", i + 1);
            (0..depths[i])
                .map(|b| {
                    let block = Block::new(&lp / b, bottleneck, c_in, planes, if b == 0 { stride } else { 1 });
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
}
