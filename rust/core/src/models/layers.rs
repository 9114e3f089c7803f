//! Building blocks shared by the encoders and decoders, with PyTorch's
//! initialisation and parameter names.

use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

/// A `torch.nn.Conv2d` (`weight`, optional `bias`). It keeps its geometry
/// because tch's `Conv2D` hides it and the ONNX export needs it.
#[derive(Debug)]
pub struct Conv2d {
    pub inner: nn::Conv2D,
    pub stride: i64,
    pub padding: i64,
    pub groups: i64,
}

impl Module for Conv2d {
    fn forward(&self, xs: &Tensor) -> Tensor {
        self.inner.forward(xs)
    }
}

/// A `torch.nn.BatchNorm2d`. It keeps `eps`, private in tch, so that the ONNX
/// export can fold it into the preceding convolution.
#[derive(Debug)]
pub struct BatchNorm2d {
    pub inner: nn::BatchNorm,
    pub eps: f64,
}

impl ModuleT for BatchNorm2d {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.inner.forward_t(xs, train)
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
    Conv2d { inner: nn::conv2d(p, c_in, c_out, kernel, cfg), stride, padding, groups }
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
