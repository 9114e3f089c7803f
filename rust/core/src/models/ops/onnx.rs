//! [`Ops`] recorded as ONNX nodes: the eval-mode forward as a graph. Values
//! are graph value names; BatchNorm is folded into the convolution before it,
//! and training-only regularisers vanish.

use super::Ops;
use crate::models::modules::{BatchNorm2d, Conv2d, ConvTranspose2d, GroupNorm, LayerNorm};
use crate::onnx::GraphBuilder;
use tch::nn::Linear;
use tch::Tensor;

/// Adds every operator it is given to a graph.
#[derive(Debug)]
pub struct OnnxRecorder<'g> {
    g: &'g mut GraphBuilder,
}

impl<'g> OnnxRecorder<'g> {
    pub fn new(g: &'g mut GraphBuilder) -> OnnxRecorder<'g> {
        OnnxRecorder { g }
    }
}

/// A convolution's weight and bias with `bn` folded in; `out_axis` is the
/// weight's output-channel axis.
fn weights(weight: &Tensor, bias: Option<&Tensor>, bn: Option<&BatchNorm2d>, out_axis: usize) -> (Tensor, Option<Tensor>) {
    match bn {
        Some(bn) => {
            let (w, b) = bn.fold(weight, bias, out_axis);
            (w, Some(b))
        }
        None => (weight.shallow_clone(), bias.map(Tensor::shallow_clone)),
    }
}

fn affine(t: &Option<Tensor>) -> &Tensor {
    t.as_ref().expect("our normalisation layers are affine")
}

impl Ops for OnnxRecorder<'_> {
    type Value = String;

    fn conv(&mut self, x: &String, conv: &Conv2d, bn: Option<&BatchNorm2d>) -> String {
        self.conv_padded(x, conv, bn, [0; 4])
    }

    /// The zero padding joins the Conv's own: ONNX `pads` may be asymmetric.
    fn conv_padded(&mut self, x: &String, conv: &Conv2d, bn: Option<&BatchNorm2d>, pad: [i64; 4]) -> String {
        let (w, b) = weights(&conv.inner.ws, conv.inner.bs.as_ref(), bn, 0);
        let [left, right, top, bottom] = pad.map(|p| p + conv.padding);
        self.g.conv(x, &w, b.as_ref(), conv.stride, conv.dilation, [top, left, bottom, right], conv.groups)
    }

    fn conv_transpose(&mut self, x: &String, conv: &ConvTranspose2d, bn: Option<&BatchNorm2d>) -> String {
        // Output channels are the second axis of a transposed convolution's weight.
        let (w, b) = weights(&conv.inner.ws, conv.inner.bs.as_ref(), bn, 1);
        self.g.conv_transpose(x, &w, b.as_ref(), conv.stride, conv.padding)
    }

    fn batch_norm(&mut self, x: &String, bn: &BatchNorm2d) -> String {
        let n = &bn.inner;
        self.g.batch_norm(x, affine(&n.ws), affine(&n.bs), &n.running_mean, &n.running_var, bn.eps)
    }

    fn group_norm(&mut self, x: &String, gn: &GroupNorm) -> String {
        self.g.group_norm(x, affine(&gn.inner.ws), affine(&gn.inner.bs), gn.inner.num_groups, gn.eps)
    }

    fn layer_norm(&mut self, x: &String, ln: &LayerNorm) -> String {
        self.g.layer_norm(x, affine(&ln.inner.ws), affine(&ln.inner.bs), ln.eps)
    }

    fn linear(&mut self, x: &String, linear: &Linear) -> String {
        self.g.linear(x, &linear.ws, linear.bs.as_ref())
    }

    fn relu(&mut self, x: &String) -> String {
        self.g.relu(x)
    }

    fn sigmoid(&mut self, x: &String) -> String {
        self.g.sigmoid(x)
    }

    fn gelu(&mut self, x: &String) -> String {
        self.g.gelu(x)
    }

    fn clamp(&mut self, x: &String, min: f64, max: f64) -> String {
        self.g.clip(x, min as f32, max as f32)
    }

    fn softmax(&mut self, x: &String, axis: i64) -> String {
        self.g.softmax(x, axis)
    }

    fn add(&mut self, a: &String, b: &String) -> String {
        self.g.add(a, b)
    }

    fn mul(&mut self, a: &String, b: &String) -> String {
        self.g.mul(a, b)
    }

    fn scale(&mut self, x: &String, factor: f64) -> String {
        self.g.scale(x, factor as f32)
    }

    fn matmul(&mut self, a: &String, b: &String) -> String {
        self.g.matmul(a, b)
    }

    fn concat(&mut self, xs: &[&String]) -> String {
        let xs: Vec<&str> = xs.iter().map(|x| x.as_str()).collect();
        self.g.concat(&xs)
    }

    fn max_pool(&mut self, x: &String, kernel: i64, stride: i64, padding: i64, ceil_mode: bool) -> String {
        self.g.max_pool(x, kernel, stride, padding, ceil_mode)
    }

    fn avg_pool(&mut self, x: &String, kernel: i64) -> String {
        self.g.average_pool(x, kernel)
    }

    fn global_avg_pool(&mut self, x: &String) -> String {
        self.g.global_average_pool(x)
    }

    fn adaptive_avg_pool(&mut self, x: &String, bins: i64) -> String {
        self.g.adaptive_average_pool(x, bins)
    }

    fn upsample_nearest2x(&mut self, x: &String) -> String {
        self.g.upsample2x(x)
    }

    fn upsample_bilinear(&mut self, x: &String, scale: i64) -> String {
        self.g.upsample_bilinear_align_corners(x, scale)
    }

    fn resize_bilinear_like(&mut self, x: &String, like: &String) -> String {
        self.g.resize_bilinear_align_corners_like(x, like)
    }

    fn expand_as(&mut self, x: &String, like: &String) -> String {
        self.g.expand_as(x, like)
    }

    fn permute(&mut self, x: &String, perm: &[i64]) -> String {
        self.g.transpose(x, perm)
    }

    fn flatten(&mut self, x: &String, start: i64) -> String {
        let mut shape = vec![0; start as usize];
        shape.push(-1);
        self.g.reshape(x, &shape)
    }

    fn split_heads(&mut self, x: &String, heads: i64, head_dim: i64) -> String {
        self.g.reshape(x, &[0, -1, heads, head_dim])
    }

    fn reshape_as(&mut self, x: &String, like: &String) -> String {
        self.g.reshape_like(x, like)
    }

    fn slice(&mut self, x: &String, axes: &[i64], starts: &[i64], ends: &[i64], steps: &[i64]) -> String {
        self.g.slice(x, axes, starts, ends, steps)
    }

    fn contiguous(&mut self, x: String) -> String {
        x
    }

    fn train_only(&mut self, x: String, _regularise: impl FnOnce(Tensor) -> Tensor) -> String {
        x
    }
}
