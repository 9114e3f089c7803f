//! Building blocks shared by the encoders and decoders, with PyTorch's
//! initialisation and parameter names.

use tch::nn;

/// A convolution as `torch.nn.Conv2d` names it (`weight`, optional `bias`).
pub fn conv2d(
    p: nn::Path,
    c_in: i64,
    c_out: i64,
    kernel: i64,
    stride: i64,
    padding: i64,
    groups: i64,
    bias: bool,
) -> nn::Conv2D {
    let cfg = nn::ConvConfig { stride, padding, groups, bias, ..Default::default() };
    nn::conv2d(p, c_in, c_out, kernel, cfg)
}

/// A `torch.nn.BatchNorm2d` with PyTorch's initialisation (weight 1, bias 0),
/// not tch's uniform default.
pub fn batch_norm(p: nn::Path, channels: i64, eps: f64, momentum: f64) -> nn::BatchNorm {
    let cfg = nn::BatchNormConfig {
        eps,
        momentum,
        ws_init: nn::Init::Const(1.0),
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    };
    nn::batch_norm2d(p, channels, cfg)
}

/// `batch_norm` with PyTorch's default eps and momentum.
pub fn batch_norm_default(p: nn::Path, channels: i64) -> nn::BatchNorm {
    batch_norm(p, channels, 1e-5, 0.1)
}
