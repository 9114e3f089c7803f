//! smp's `SegmentationHead`: a convolution to class logits (with bias,
//! `kernel // 2` padding), then bilinear upsampling with aligned corners
//! when the decoder works below the input resolution.

use crate::models::modules::{conv2d, Conv2d};
use crate::models::ops::Ops;
use tch::nn;

#[derive(Debug)]
pub struct SegmentationHead {
    conv: Conv2d,
    upsampling: i64,
}

impl SegmentationHead {
    /// Variables under `p` (normally `segmentation_head`), named `0.weight`/`0.bias`.
    pub fn new(p: &nn::Path, c_in: i64, classes: i64, kernel: i64, upsampling: i64) -> SegmentationHead {
        SegmentationHead { conv: conv2d(p / "0", c_in, classes, kernel, 1, kernel / 2, 1, true), upsampling }
    }

    pub fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let y = o.conv(x, &self.conv, None);
        if self.upsampling > 1 {
            o.upsample_bilinear(&y, self.upsampling)
        } else {
            y
        }
    }
}
