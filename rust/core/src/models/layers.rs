//! Building blocks shared by the encoders and decoders, with PyTorch's
//! initialisation and parameter names.

use crate::onnx::GraphBuilder;
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

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

impl Module for Conv2d {
    fn forward(&self, xs: &Tensor) -> Tensor {
        let c = &self.inner;
        xs.conv2d(&c.ws, c.bs.as_ref(), [self.stride; 2], [self.padding; 2], [self.dilation; 2], self.groups)
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

impl Module for ConvTranspose2d {
    fn forward(&self, xs: &Tensor) -> Tensor {
        xs.apply(&self.inner)
    }
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

impl Module for GroupNorm {
    fn forward(&self, xs: &Tensor) -> Tensor {
        self.inner.forward(xs)
    }
}

pub fn group_norm(p: nn::Path, groups: i64, channels: i64) -> GroupNorm {
    let cfg = nn::GroupNormConfig::default();
    GroupNorm { eps: cfg.eps, inner: nn::group_norm(p, groups, channels, cfg) }
}

/// smp's `Conv2dReLU` with BatchNorm: a convolution without bias (BatchNorm
/// follows) padded to keep the size, BatchNorm, ReLU; named `0.*` and `1.*`.
#[derive(Debug)]
pub struct ConvBnRelu {
    pub conv: Conv2d,
    pub bn: BatchNorm2d,
}

impl ConvBnRelu {
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, kernel: i64) -> Self {
        Self::strided(p, c_in, c_out, kernel, 1)
    }

    pub fn strided(p: nn::Path, c_in: i64, c_out: i64, kernel: i64, stride: i64) -> Self {
        ConvBnRelu { conv: conv2d(&p / "0", c_in, c_out, kernel, stride, kernel / 2, 1, false), bn: batch_norm_default(&p / "1", c_out) }
    }

    pub fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply(&self.conv).apply_t(&self.bn, train).relu()
    }

    pub fn export_onnx(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = g.conv(x, &self.conv, Some(&self.bn));
        g.relu(&y)
    }
}

/// `F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=True)`
/// for sizes that are not a fixed multiple of `x`'s. Bilinear resizing is
/// linear, `A_h · x · A_wᵀ`, and the matrices come from tensor ops alone, so
/// that a traced model follows the sizes of its input instead of baking in
/// those of the trace.
pub fn resize_bilinear_like(x: &Tensor, like: &Tensor) -> Tensor {
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

/// Nearest 2x upsampling, as `F.interpolate(x, scale_factor=2)`: a scale
/// factor, not a size, keeps traced models size-agnostic. The ONNX twin is
/// `GraphBuilder::upsample2x`.
pub fn upsample_nearest2x(x: &Tensor) -> Tensor {
    x.upsample_nearest2d_vec(None::<&[i64]>, [2.0, 2.0].as_slice())
}

/// Bilinear upsampling by an integer `scale` with `align_corners=True`, as
/// `nn.UpsamplingBilinear2d` (smp's heads) does; by scale factor, so traced
/// models stay size-agnostic. The ONNX twin is
/// `GraphBuilder::upsample_bilinear_align_corners`.
pub fn upsample_bilinear_align_corners(x: &Tensor, scale: i64) -> Tensor {
    let s = scale as f64;
    x.upsample_bilinear2d_vec(None::<&[i64]>, true, [s, s].as_slice())
}

/// Squeeze-and-excitation channel gates: global average pool, 1x1
/// convolution (with bias), ReLU, 1x1 convolution, sigmoid. Families name
/// the two convolutions differently, hence their paths as arguments.
#[derive(Debug)]
pub struct ExcitationGate {
    squeeze: Conv2d,
    excite: Conv2d,
}

impl ExcitationGate {
    pub fn new(squeeze: nn::Path, excite: nn::Path, channels: i64, reduced: i64) -> ExcitationGate {
        ExcitationGate { squeeze: conv2d(squeeze, channels, reduced, 1, 1, 0, 1, true), excite: conv2d(excite, reduced, channels, 1, 1, 0, 1, true) }
    }

    /// The `[N, C, 1, 1]` gates of `x`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.adaptive_avg_pool2d([1, 1]).apply(&self.squeeze).relu().apply(&self.excite).sigmoid()
    }

    pub fn export_onnx(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = g.global_average_pool(x);
        let y = g.conv(&y, &self.squeeze, None);
        let y = g.relu(&y);
        let y = g.conv(&y, &self.excite, None);
        g.sigmoid(&y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

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
