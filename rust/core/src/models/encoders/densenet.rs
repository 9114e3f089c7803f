//! DenseNet-121 encoder (torchvision layout, features taken as
//! segmentation_models_pytorch takes them). DenseNet normalises before its
//! convolutions, so most BatchNorms have no convolution to fold into and are
//! exported on their own.

use super::{Encode, Encoder};
use crate::models::modules::{batch_norm_default as bn, conv2d, BatchNorm2d, Conv2d};
use crate::models::ops::{Ops, Share};
use tch::nn;

const GROWTH_RATE: i64 = 32;
/// Bottleneck width as a multiple of the growth rate.
const BN_SIZE: i64 = 4;
const BLOCK_LAYERS: [i64; 4] = [6, 12, 24, 16];
const INIT_FEATURES: i64 = 64;

/// `_DenseLayer`: norm1, ReLU, 1x1 conv1, norm2, ReLU, 3x3 conv2, producing
/// `GROWTH_RATE` new channels.
#[derive(Debug)]
struct DenseLayer {
    norm1: BatchNorm2d,
    conv1: Conv2d,
    norm2: BatchNorm2d,
    conv2: Conv2d,
}

impl DenseLayer {
    fn new(p: nn::Path, c_in: i64) -> Self {
        let width = BN_SIZE * GROWTH_RATE;
        DenseLayer {
            norm1: bn(&p / "norm1", c_in),
            conv1: conv2d(&p / "conv1", c_in, width, 1, 1, 0, 1, false),
            norm2: bn(&p / "norm2", width),
            conv2: conv2d(&p / "conv2", width, GROWTH_RATE, 3, 1, 1, 1, false),
        }
    }

    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let normed = o.batch_norm(x, &self.norm1);
        let y = o.relu(&normed);
        let y = o.conv(&y, &self.conv1, Some(&self.norm2));
        let y = o.relu(&y);
        o.conv(&y, &self.conv2, None)
    }
}

/// `_DenseBlock`: each layer reads the concatenation of the block input and
/// every earlier layer's output; the block returns the whole concatenation.
#[derive(Debug)]
struct DenseBlock {
    layers: Vec<DenseLayer>,
}

impl DenseBlock {
    fn new(p: nn::Path, c_in: i64, num_layers: i64) -> Self {
        let layers = (0..num_layers).map(|i| DenseLayer::new(&p / format!("denselayer{}", i + 1), c_in + i * GROWTH_RATE)).collect();
        DenseBlock { layers }
    }

    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        self.layers.iter().fold(x.share(), |x, layer| {
            let new = layer.forward(o, &x);
            o.concat(&[&x, &new])
        })
    }
}

/// `_Transition`: norm, ReLU (smp takes the feature here), 1x1 conv halving
/// the channels, 2x2 average pooling.
#[derive(Debug)]
struct Transition {
    norm: BatchNorm2d,
    conv: Conv2d,
}

impl Transition {
    fn new(p: nn::Path, c_in: i64) -> Self {
        Transition { norm: bn(&p / "norm", c_in), conv: conv2d(&p / "conv", c_in, c_in / 2, 1, 1, 0, 1, false) }
    }
}

/// torchvision's DenseNet-121 `features` without the classifier.
#[derive(Debug)]
pub struct DenseNet {
    conv0: Conv2d,
    norm0: BatchNorm2d,
    blocks: Vec<DenseBlock>,
    /// After blocks 1..3.
    transitions: Vec<Transition>,
    norm5: BatchNorm2d,
    out_channels: [i64; 6],
}

impl DenseNet {
    pub fn new(p: &nn::Path, in_channels: i64) -> DenseNet {
        let p = p / "features";
        let (mut blocks, mut transitions) = (Vec::new(), Vec::new());
        let mut out_channels = vec![in_channels, INIT_FEATURES];
        let mut c = INIT_FEATURES;
        for (i, num_layers) in BLOCK_LAYERS.into_iter().enumerate() {
            blocks.push(DenseBlock::new(&p / format!("denseblock{}", i + 1), c, num_layers));
            c += num_layers * GROWTH_RATE;
            out_channels.push(c);
            if i + 1 < BLOCK_LAYERS.len() {
                transitions.push(Transition::new(&p / format!("transition{}", i + 1), c));
                c /= 2;
            }
        }
        DenseNet {
            conv0: conv2d(&p / "conv0", in_channels, INIT_FEATURES, 7, 2, 3, 1, false),
            norm0: bn(&p / "norm0", INIT_FEATURES),
            blocks,
            transitions,
            norm5: bn(&p / "norm5", c),
            out_channels: out_channels.try_into().expect("input, stem and four blocks"),
        }
    }
}

impl<O: Ops> Encode<O> for DenseNet {
    fn encode(&self, o: &mut O, x: &O::Value, depth: usize) -> Vec<O::Value> {
        let mut features = vec![x.share()];
        let stem = o.conv(x, &self.conv0, Some(&self.norm0));
        let mut x = o.relu(&stem);
        features.push(x.share());
        x = o.max_pool(&x, 3, 2, 1, false);
        for (block, transition) in self.blocks.iter().zip(&self.transitions) {
            let y = block.forward(o, &x);
            let normed = o.batch_norm(&y, &transition.norm);
            let normed = o.relu(&normed);
            features.push(normed.share());
            if features.len() > depth {
                return features;
            }
            let reduced = o.conv(&normed, &transition.conv, None);
            x = o.avg_pool(&reduced, 2);
        }
        let last = self.blocks.last().expect("four dense blocks");
        let y = last.forward(o, &x);
        features.push(o.batch_norm(&y, &self.norm5));
        features
    }
}

impl Encoder for DenseNet {
    fn out_channels(&self) -> &[i64] {
        &self.out_channels
    }
}
