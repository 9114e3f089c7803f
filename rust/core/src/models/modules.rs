//! The parameterised PyTorch modules our blocks are built from, with
//! PyTorch's initialisation and parameter names. They hold their variables
//! and the geometry the ONNX recorder needs (which tch hides), and know how
//! BatchNorm folds into a convolution; the operators (`ops`) run them.

use tch::nn;
use tch::{Kind, Tensor};

/// A `torch.nn.Conv2d` (`weight`, optional `bias`). It keeps its geometry,
/// which tch's `Conv2D` hides, because the ONNX export needs it and dilated
/// encoders (DeepLab, PAN) change it after construction, as smp does.
#[derive(Debug)]
pub struct Conv2d {
    pub inner: nn::Conv2D,
    pub stride: i64,
    pub padding: i64,
    pub dilation: i64,
    pub groups: i64,
}

impl Conv2d {
    /// smp's `replace_strides_with_dilation`: stride 1, the given dilation,
    /// and the padding that keeps the size.
    pub fn dilate(&mut self, rate: i64) {
        let kernel = self.inner.ws.size()[2];
        self.stride = 1;
        self.dilation = rate;
        self.padding = kernel / 2 * rate;
    }
}

/// A `torch.nn.ConvTranspose2d` (`weight` shaped `[in, out / groups, k, k]`,
/// `bias`), keeping the geometry that tch's `ConvTranspose2D` hides, for the
/// ONNX export.
#[derive(Debug)]
pub struct ConvTranspose2d {
    pub inner: nn::ConvTranspose2D,
    pub stride: i64,
    pub padding: i64,
}

/// A transposed convolution with bias, as `torch.nn.ConvTranspose2d` names it.
pub fn conv_transpose2d(p: nn::Path, c_in: i64, c_out: i64, kernel: i64, stride: i64, padding: i64) -> ConvTranspose2d {
    let cfg = nn::ConvTransposeConfig { stride, padding, ..Default::default() };
    ConvTranspose2d { inner: nn::conv_transpose2d(p, c_in, c_out, kernel, cfg), stride, padding }
}

/// A `torch.nn.BatchNorm2d`. It keeps `eps`, private in tch, so that the ONNX
/// export can fold it into the preceding convolution.
#[derive(Debug)]
pub struct BatchNorm2d {
    pub inner: nn::BatchNorm,
    pub eps: f64,
}

impl BatchNorm2d {
    /// Eval-mode BatchNorm is a per-channel affine map, so it folds into the
    /// convolution before it: one node instead of two, and the graph cannot
    /// be run with batch statistics by mistake. Returns the convolution's
    /// new weight and bias; `out_axis` is the weight's output-channel axis (0
    /// for a convolution, 1 for a transposed one). f64 keeps the folded
    /// values within f32 rounding of the originals.
    pub fn fold(&self, conv_weight: &Tensor, conv_bias: Option<&Tensor>, out_axis: usize) -> (Tensor, Tensor) {
        let f64 = |t: &Tensor| t.to_kind(Kind::Double);
        let affine = |t: &Option<Tensor>| f64(t.as_ref().expect("our BatchNorms are affine"));
        let scale = affine(&self.inner.ws) / (f64(&self.inner.running_var) + self.eps).sqrt();
        let mut shape = [1i64; 4];
        shape[out_axis] = -1;
        let weight = f64(conv_weight) * scale.view(shape);
        let conv_bias = conv_bias.map_or_else(|| scale.zeros_like(), f64);
        let bias = (conv_bias - f64(&self.inner.running_mean)) * &scale + affine(&self.inner.bs);
        (weight.to_kind(Kind::Float), bias.to_kind(Kind::Float))
    }
}

/// A convolution as `torch.nn.Conv2d` names it.
pub fn conv2d(
    p: nn::Path,
    c_in: i64,
    c_out: i64,
    kernel: i64,
    stride: i64,
    padding: i64,
    groups: i64,
    bias: bool,
) -> Conv2d {
    let cfg = nn::ConvConfig { stride, padding, groups, bias, ..Default::default() };
    Conv2d { inner: nn::conv2d(p, c_in, c_out, kernel, cfg), stride, padding, dilation: 1, groups }
}

/// A `torch.nn.BatchNorm2d` with PyTorch's initialisation (weight 1, bias 0),
/// not tch's uniform default.
pub fn batch_norm(p: nn::Path, channels: i64, eps: f64, momentum: f64) -> BatchNorm2d {
    let cfg = nn::BatchNormConfig {
        eps,
        momentum,
        ws_init: nn::Init::Const(1.0),
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    };
    BatchNorm2d { inner: nn::batch_norm2d(p, channels, cfg), eps }
}

/// `batch_norm` with PyTorch's default eps and momentum.
pub fn batch_norm_default(p: nn::Path, channels: i64) -> BatchNorm2d {
    batch_norm(p, channels, 1e-5, 0.1)
}

/// A `torch.nn.GroupNorm` (`weight` 1, `bias` 0, eps 1e-5 as PyTorch). It
/// keeps `eps`, private in tch, for the ONNX export.
#[derive(Debug)]
pub struct GroupNorm {
    pub inner: nn::GroupNorm,
    pub eps: f64,
}

pub fn group_norm(p: nn::Path, groups: i64, channels: i64) -> GroupNorm {
    let cfg = nn::GroupNormConfig::default();
    GroupNorm { eps: cfg.eps, inner: nn::group_norm(p, groups, channels, cfg) }
}

/// A `torch.nn.LayerNorm` over the last axis. It keeps `eps`, private in
/// tch, for the ONNX export.
#[derive(Debug)]
pub struct LayerNorm {
    pub inner: nn::LayerNorm,
    pub eps: f64,
}

pub fn layer_norm(p: nn::Path, dim: i64, eps: f64) -> LayerNorm {
    LayerNorm { inner: nn::layer_norm(p, vec![dim], nn::LayerNormConfig { eps, ..Default::default() }), eps }
}
