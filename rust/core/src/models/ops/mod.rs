//! The operators every model block is written in, once: [`Eager`] computes
//! them with tch (training, evaluation, TorchScript tracing), and
//! [`OnnxRecorder`] records them as an ONNX graph (eval mode, BatchNorm folded
//! into the convolution before it). Blocks are generic over [`Ops`], so the
//! eager path monomorphises to plain tensor calls.

mod eager;
mod onnx;

pub use eager::Eager;
pub use onnx::OnnxRecorder;

use super::modules::{BatchNorm2d, Conv2d, ConvTranspose2d, GroupNorm, LayerNorm};
use tch::nn::Linear;
use tch::Tensor;

/// A handle to a value that can be kept twice (a feature map read by the
/// decoder and by the next stage).
pub trait Share {
    fn share(&self) -> Self;
}

impl Share for Tensor {
    fn share(&self) -> Tensor {
        self.shallow_clone()
    }
}

impl Share for String {
    fn share(&self) -> String {
        self.clone()
    }
}

/// The operators of our models, on `[N, C, H, W]` maps unless said otherwise.
/// Shapes are never read as numbers, so traced and exported models keep
/// their input size free.
pub trait Ops {
    /// A tensor, or the name of a graph value.
    type Value: Share;

    /// `conv` with its own padding, then `bn` if given (folded when recorded).
    fn conv(&mut self, x: &Self::Value, conv: &Conv2d, bn: Option<&BatchNorm2d>) -> Self::Value;
    /// `conv` after zero padding `pad` (`[left, right, top, bottom]`, as
    /// `F.pad`), then `bn` if given.
    fn conv_padded(&mut self, x: &Self::Value, conv: &Conv2d, bn: Option<&BatchNorm2d>, pad: [i64; 4]) -> Self::Value;
    fn conv_transpose(&mut self, x: &Self::Value, conv: &ConvTranspose2d, bn: Option<&BatchNorm2d>) -> Self::Value;
    /// BatchNorm on its own, where no convolution precedes it.
    fn batch_norm(&mut self, x: &Self::Value, bn: &BatchNorm2d) -> Self::Value;
    fn group_norm(&mut self, x: &Self::Value, gn: &GroupNorm) -> Self::Value;
    /// LayerNorm over the last axis.
    fn layer_norm(&mut self, x: &Self::Value, ln: &LayerNorm) -> Self::Value;
    /// `torch.nn.Linear` on the last axis.
    fn linear(&mut self, x: &Self::Value, linear: &Linear) -> Self::Value;

    fn relu(&mut self, x: &Self::Value) -> Self::Value;
    fn sigmoid(&mut self, x: &Self::Value) -> Self::Value;
    /// Exact (erf) GELU.
    fn gelu(&mut self, x: &Self::Value) -> Self::Value;
    fn clamp(&mut self, x: &Self::Value, min: f64, max: f64) -> Self::Value;
    fn softmax(&mut self, x: &Self::Value, axis: i64) -> Self::Value;

    /// Elementwise, broadcasting.
    fn add(&mut self, a: &Self::Value, b: &Self::Value) -> Self::Value;
    fn mul(&mut self, a: &Self::Value, b: &Self::Value) -> Self::Value;
    fn scale(&mut self, x: &Self::Value, factor: f64) -> Self::Value;
    /// Batched matrix product of the last two axes.
    fn matmul(&mut self, a: &Self::Value, b: &Self::Value) -> Self::Value;
    /// Concatenation along channels.
    fn concat(&mut self, xs: &[&Self::Value]) -> Self::Value;

    /// Square max pooling with symmetric padding; `ceil_mode` rounds the output up.
    fn max_pool(&mut self, x: &Self::Value, kernel: i64, stride: i64, padding: i64, ceil_mode: bool) -> Self::Value;
    /// Square average pooling, stride equal to the kernel, no padding.
    fn avg_pool(&mut self, x: &Self::Value, kernel: i64) -> Self::Value;
    /// The `[N, C, 1, 1]` channel means.
    fn global_avg_pool(&mut self, x: &Self::Value) -> Self::Value;
    /// `adaptive_avg_pool2d` to `bins` x `bins`.
    fn adaptive_avg_pool(&mut self, x: &Self::Value, bins: i64) -> Self::Value;

    /// Nearest 2x upsampling, as `F.interpolate(x, scale_factor=2)`.
    fn upsample_nearest2x(&mut self, x: &Self::Value) -> Self::Value;
    /// Bilinear upsampling by an integer `scale` with aligned corners, as
    /// `nn.UpsamplingBilinear2d` (smp's heads).
    fn upsample_bilinear(&mut self, x: &Self::Value, scale: i64) -> Self::Value;
    /// Bilinear resizing with aligned corners to the height and width of
    /// `like`, as `F.interpolate(x, size=like.shape[2:], align_corners=True)`.
    fn resize_bilinear_like(&mut self, x: &Self::Value, like: &Self::Value) -> Self::Value;
    /// Broadcasts `x` (e.g. a pooled `[N, C, 1, 1]` map) to the shape of `like`.
    fn expand_as(&mut self, x: &Self::Value, like: &Self::Value) -> Self::Value;

    fn permute(&mut self, x: &Self::Value, perm: &[i64]) -> Self::Value;
    /// Merges the axes from `start` to the last into one.
    fn flatten(&mut self, x: &Self::Value, start: i64) -> Self::Value;
    /// `[N, ..., heads * head_dim]` tokens to `[N, L, heads, head_dim]`.
    fn split_heads(&mut self, x: &Self::Value, heads: i64, head_dim: i64) -> Self::Value;
    fn reshape_as(&mut self, x: &Self::Value, like: &Self::Value) -> Self::Value;
    /// `x[..., start:end:step, ...]` along each of `axes`.
    fn slice(&mut self, x: &Self::Value, axes: &[i64], starts: &[i64], ends: &[i64], steps: &[i64]) -> Self::Value;
    /// A contiguous copy where the layout matters for speed; a no-op in a graph.
    fn contiguous(&mut self, x: Self::Value) -> Self::Value;

    /// `regularise(x)` in training (dropout, stochastic depth), `x` otherwise.
    fn train_only(&mut self, x: Self::Value, regularise: impl FnOnce(Tensor) -> Tensor) -> Self::Value;
}
