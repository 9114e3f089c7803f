//! [`Ops`] computed with tch: what training, evaluation, BatchNorm
//! calibration and TorchScript tracing run. BatchNorm uses batch statistics
//! in training and calibration, and regularisers act only in training mode.

use super::Ops;
use crate::models::modules::{BatchNorm2d, Conv2d, ConvTranspose2d, GroupNorm, LayerNorm};
use tch::nn::{Linear, Module, ModuleT};
use tch::{Kind, Tensor};

/// Plain tensor calls, in training, eval or calibration mode.
#[derive(Debug, Clone, Copy)]
pub struct Eager {
    train: bool,
    /// Calibration: BatchNorm normalises with batch statistics and folds
    /// them into its running statistics with this momentum; all else is eval.
    calibration_momentum: Option<f64>,
}

impl Eager {
    pub fn new(train: bool) -> Eager {
        Eager { train, calibration_momentum: None }
    }

    /// An eval-mode pass that updates BatchNorm running statistics by
    /// `momentum` (1 replaces them; `1 / (k + 1)` on the k-th of a series of
    /// batches makes them the plain average of the series).
    pub fn calibrating(momentum: f64) -> Eager {
        Eager { train: false, calibration_momentum: Some(momentum) }
    }

    fn norm(&self, y: Tensor, bn: Option<&BatchNorm2d>) -> Tensor {
        match bn {
            Some(bn) => self.apply_batch_norm(&y, bn),
            None => y,
        }
    }

    fn apply_batch_norm(&self, x: &Tensor, bn: &BatchNorm2d) -> Tensor {
        match self.calibration_momentum {
            None => bn.inner.forward_t(x, self.train),
            Some(momentum) => {
                let b = &bn.inner;
                let cudnn = true;
                x.batch_norm(b.ws.as_ref(), b.bs.as_ref(), Some(&b.running_mean), Some(&b.running_var), true, momentum, bn.eps, cudnn)
            }
        }
    }
}

impl Ops for Eager {
    type Value = Tensor;

    fn conv(&mut self, x: &Tensor, conv: &Conv2d, bn: Option<&BatchNorm2d>) -> Tensor {
        let c = &conv.inner;
        let y = x.conv2d(&c.ws, c.bs.as_ref(), [conv.stride; 2], [conv.padding; 2], [conv.dilation; 2], conv.groups);
        self.norm(y, bn)
    }

    fn conv_padded(&mut self, x: &Tensor, conv: &Conv2d, bn: Option<&BatchNorm2d>, pad: [i64; 4]) -> Tensor {
        if pad.iter().all(|&p| p == 0) {
            self.conv(x, conv, bn)
        } else {
            self.conv(&x.constant_pad_nd(pad), conv, bn)
        }
    }

    fn conv_transpose(&mut self, x: &Tensor, conv: &ConvTranspose2d, bn: Option<&BatchNorm2d>) -> Tensor {
        self.norm(conv.inner.forward(x), bn)
    }

    fn batch_norm(&mut self, x: &Tensor, bn: &BatchNorm2d) -> Tensor {
        self.apply_batch_norm(x, bn)
    }

    fn group_norm(&mut self, x: &Tensor, gn: &GroupNorm) -> Tensor {
        gn.inner.forward(x)
    }

    fn layer_norm(&mut self, x: &Tensor, ln: &LayerNorm) -> Tensor {
        ln.inner.forward(x)
    }

    fn linear(&mut self, x: &Tensor, linear: &Linear) -> Tensor {
        linear.forward(x)
    }

    fn relu(&mut self, x: &Tensor) -> Tensor {
        x.relu()
    }

    fn sigmoid(&mut self, x: &Tensor) -> Tensor {
        x.sigmoid()
    }

    fn gelu(&mut self, x: &Tensor) -> Tensor {
        x.gelu("none")
    }

    fn clamp(&mut self, x: &Tensor, min: f64, max: f64) -> Tensor {
        x.clamp(min, max)
    }

    fn softmax(&mut self, x: &Tensor, axis: i64) -> Tensor {
        x.softmax(axis, None::<Kind>)
    }

    fn add(&mut self, a: &Tensor, b: &Tensor) -> Tensor {
        a + b
    }

    fn mul(&mut self, a: &Tensor, b: &Tensor) -> Tensor {
        a * b
    }

    fn scale(&mut self, x: &Tensor, factor: f64) -> Tensor {
        x * factor
    }

    fn matmul(&mut self, a: &Tensor, b: &Tensor) -> Tensor {
        a.matmul(b)
    }

    fn concat(&mut self, xs: &[&Tensor]) -> Tensor {
        Tensor::cat(xs, 1)
    }

    fn max_pool(&mut self, x: &Tensor, kernel: i64, stride: i64, padding: i64, ceil_mode: bool) -> Tensor {
        x.max_pool2d([kernel; 2], [stride; 2], [padding; 2], [1, 1], ceil_mode)
    }

    fn avg_pool(&mut self, x: &Tensor, kernel: i64) -> Tensor {
        x.avg_pool2d([kernel; 2], [kernel; 2], [0, 0], false, true, None::<i64>)
    }

    fn global_avg_pool(&mut self, x: &Tensor) -> Tensor {
        x.adaptive_avg_pool2d([1, 1])
    }

    fn adaptive_avg_pool(&mut self, x: &Tensor, bins: i64) -> Tensor {
        x.adaptive_avg_pool2d([bins, bins])
    }

    /// By scale factor, not size, so that traced models stay size-agnostic.
    fn upsample_nearest2x(&mut self, x: &Tensor) -> Tensor {
        x.upsample_nearest2d_vec(None::<&[i64]>, [2.0, 2.0].as_slice())
    }

    /// By scale factor, not size, so that traced models stay size-agnostic.
    fn upsample_bilinear(&mut self, x: &Tensor, scale: i64) -> Tensor {
        let s = scale as f64;
        x.upsample_bilinear2d_vec(None::<&[i64]>, true, [s, s].as_slice())
    }

    fn resize_bilinear_like(&mut self, x: &Tensor, like: &Tensor) -> Tensor {
        resize_bilinear_like(x, like)
    }

    fn expand_as(&mut self, x: &Tensor, like: &Tensor) -> Tensor {
        x.expand_as(like)
    }

    fn permute(&mut self, x: &Tensor, perm: &[i64]) -> Tensor {
        x.permute(perm)
    }

    fn flatten(&mut self, x: &Tensor, start: i64) -> Tensor {
        x.flatten(start, -1)
    }

    fn split_heads(&mut self, x: &Tensor, heads: i64, head_dim: i64) -> Tensor {
        x.flatten(1, -2).unflatten(-1, [heads, head_dim])
    }

    fn reshape_as(&mut self, x: &Tensor, like: &Tensor) -> Tensor {
        x.reshape_as(like)
    }

    fn slice(&mut self, x: &Tensor, axes: &[i64], starts: &[i64], ends: &[i64], steps: &[i64]) -> Tensor {
        let mut y = x.shallow_clone();
        for (((&axis, &start), &end), &step) in axes.iter().zip(starts).zip(ends).zip(steps) {
            y = y.slice(axis, start, end, step);
        }
        y
    }

    fn contiguous(&mut self, x: Tensor) -> Tensor {
        x.contiguous()
    }

    fn train_only(&mut self, x: Tensor, regularise: impl FnOnce(Tensor) -> Tensor) -> Tensor {
        if self.train {
            regularise(x)
        } else {
            x
        }
    }
}

/// `F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=True)`
/// for sizes that are not a fixed multiple of `x`'s. Bilinear resizing is
/// linear, `A_h · x · A_wᵀ`, and the matrices come from tensor ops alone, so
/// that a traced model follows the sizes of its input instead of baking in
/// those of the trace.
fn resize_bilinear_like(x: &Tensor, like: &Tensor) -> Tensor {
    // Pixel indices 0..n along the height and width of a `[N, C, H, W]` map.
    let indices = |t: &Tensor, axis: i64| t.select(0, 0).select(0, 0).select(1 - axis, 0).ones_like().cumsum(0, x.kind()) - 1.0;
    // Tent weights put dst pixel i at src position i (n_src - 1) / (n_dst - 1).
    let matrix = |axis: i64| {
        let (src, dst) = (indices(x, axis), indices(like, axis));
        let positions = &dst * (src.max() / dst.max().clamp_min(1.0));
        (-(positions.unsqueeze(1) - src.unsqueeze(0)).abs() + 1.0).relu()
    };
    matrix(0).matmul(x).matmul(&matrix(1).tr())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn resize_like_is_torchs_bilinear_with_aligned_corners() {
        let opts = (Kind::Float, Device::Cpu);
        let x = Tensor::randn([2, 3, 2, 5], opts);
        for (h, w) in [(5, 10), (1, 1), (2, 5), (4, 3)] {
            let like = Tensor::zeros([1, 1, h, w], opts);
            let expected = x.upsample_bilinear2d([h, w], true, None, None);
            let diff = (resize_bilinear_like(&x, &like) - expected).abs().max().double_value(&[]);
            assert!(diff < 1e-6, "{h}x{w}: max abs diff {diff}");
        }
    }
}
