//! Building blocks shared by the encoders and decoders, written once over
//! the operators ([`Ops`]) so that they run eagerly and export alike.

use super::modules::{batch_norm_default, conv2d, BatchNorm2d, Conv2d};
use super::ops::Ops;
use tch::nn;

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

    pub fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let y = o.conv(x, &self.conv, Some(&self.bn));
        o.relu(&y)
    }
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
    pub fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let y = o.global_avg_pool(x);
        let y = o.conv(&y, &self.squeeze, None);
        let y = o.relu(&y);
        let y = o.conv(&y, &self.excite, None);
        o.sigmoid(&y)
    }
}

#[cfg(test)]
mod tests {
    use super::super::modules::{batch_norm, conv_transpose2d};
    use super::*;
    use crate::models::ops::Eager;
    use tch::{Kind, Tensor};
    use tch::nn::VarStore;
    use tch::Device;

    /// Random running statistics and affine parameters, so that a fold that
    /// ignores any of them cannot pass.
    fn randomise(bn: &BatchNorm2d, channels: i64) {
        let opts = (Kind::Float, Device::Cpu);
        tch::no_grad(|| {
            let n = &bn.inner;
            n.running_mean.shallow_clone().copy_(&Tensor::randn([channels], opts));
            n.running_var.shallow_clone().copy_(&(Tensor::rand([channels], opts) + 0.05));
            n.ws.as_ref().unwrap().shallow_clone().copy_(&Tensor::randn([channels], opts));
            n.bs.as_ref().unwrap().shallow_clone().copy_(&Tensor::randn([channels], opts));
        });
    }

    #[test]
    fn folded_batch_norm_equals_conv_then_batch_norm() {
        let vs = VarStore::new(Device::Cpu);
        let opts = (Kind::Float, Device::Cpu);
        // Grouped, strided, with and without a conv bias, and a non-default eps.
        for (bias, groups, eps) in [(false, 1, 1e-5), (true, 4, 1e-3)] {
            let conv = conv2d(vs.root() / format!("conv{groups}"), 8, 12, 3, 2, 1, groups, bias);
            let bn = batch_norm(vs.root() / format!("bn{groups}"), 12, eps, 0.1);
            randomise(&bn, 12);
            let x = Tensor::randn([2, 8, 9, 7], opts);
            let expected = tch::no_grad(|| Eager::new(false).conv(&x, &conv, Some(&bn)));
            let (w, b) = tch::no_grad(|| bn.fold(&conv.inner.ws, conv.inner.bs.as_ref(), 0));
            let folded = x.conv2d(&w, Some(&b), [2, 2], [1, 1], [1, 1], groups);
            let diff = (folded - expected).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "bias {bias}, groups {groups}: max abs diff {diff}");
        }
    }

    #[test]
    fn folded_batch_norm_equals_transposed_conv_then_batch_norm() {
        let vs = VarStore::new(Device::Cpu);
        let opts = (Kind::Float, Device::Cpu);
        // Different in and out widths, so a fold along the wrong axis cannot pass.
        let conv = conv_transpose2d(vs.root() / "up", 6, 10, 4, 2, 1);
        let bn = batch_norm(vs.root() / "bn", 10, 1e-5, 0.1);
        randomise(&bn, 10);
        let x = Tensor::randn([2, 6, 5, 7], opts);
        let expected = tch::no_grad(|| Eager::new(false).conv_transpose(&x, &conv, Some(&bn)));
        let (w, b) = tch::no_grad(|| bn.fold(&conv.inner.ws, conv.inner.bs.as_ref(), 1));
        let folded = x.conv_transpose2d(&w, Some(&b), [2, 2], [1, 1], [0, 0], 1, [1, 1]);
        let diff = (folded - expected).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "max abs diff {diff}");
    }
}
