//! VGG-16 with BatchNorm (torchvision's `features` layout, as
//! segmentation_models_pytorch uses it). smp takes each stage's output before
//! its max pool, and the last pool's output, so the first "feature" is the
//! 64-channel full-resolution map rather than the input.

use super::{Encode, Encoder};
use crate::models::modules::{batch_norm_default as bn, conv2d, BatchNorm2d, Conv2d};
use crate::models::ops::{Ops, Share};
use tch::nn;

/// Output channels of the 3x3 convolutions of each stage (torchvision's configuration "D").
const STAGES: [&[i64]; 5] = [&[64, 64], &[128, 128], &[256, 256, 256], &[512, 512, 512], &[512, 512, 512]];

/// A torchvision `features` index of each conv (conv, BatchNorm, ReLU take
/// three indices, each max pool one), grouped by stage: the freeze groups.
pub fn stage_ranges() -> [std::ops::Range<usize>; 5] {
    let mut start = 0;
    STAGES.map(|convs| {
        let range = start..start + 3 * convs.len() + 1;
        start = range.end;
        range
    })
}

/// torchvision's `features`: per stage, (3x3 conv with bias, BatchNorm, ReLU)
/// repeated, then a 2x2 max pool.
#[derive(Debug)]
pub struct Vgg {
    stages: Vec<Vec<(Conv2d, BatchNorm2d)>>,
    out_channels: [i64; 6],
}

impl Vgg {
    pub fn new(p: &nn::Path, in_channels: i64) -> Vgg {
        let p = p / "features";
        let mut c_in = in_channels;
        let stages = STAGES
            .iter()
            .zip(stage_ranges())
            .map(|(convs, range)| {
                convs
                    .iter()
                    .enumerate()
                    .map(|(i, &c_out)| {
                        let index = range.start + 3 * i;
                        let layer = (conv2d(&p / index, c_in, c_out, 3, 1, 1, 1, true), bn(&p / (index + 1), c_out));
                        c_in = c_out;
                        layer
                    })
                    .collect()
            })
            .collect();
        Vgg { stages, out_channels: [64, 128, 256, 512, 512, 512] }
    }
}

impl<O: Ops> Encode<O> for Vgg {
    fn encode(&self, o: &mut O, x: &O::Value, depth: usize) -> Vec<O::Value> {
        let mut features = Vec::new();
        let mut x = x.share();
        for stage in &self.stages {
            for (conv, bn) in stage {
                let y = o.conv(&x, conv, Some(bn));
                x = o.relu(&y);
            }
            features.push(x.share());
            if features.len() > depth {
                return features;
            }
            x = o.max_pool(&x, 2, 2, 0, false);
        }
        features.push(x);
        features
    }
}

impl Encoder for Vgg {
    fn out_channels(&self) -> &[i64] {
        &self.out_channels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_ranges_follow_torchvisions_vgg16_bn_indices() {
        // The max pools of torchvision's vgg16_bn are features.6, 13, 23, 33 and 43.
        let ends: Vec<usize> = stage_ranges().iter().map(|r| r.end - 1).collect();
        assert_eq!(ends, [6, 13, 23, 33, 43]);
    }
}
