//! Dynamic loss scaling for float16 mixed precision (PyTorch's `GradScaler`):
//! small gradients would underflow in half precision without it.

use tch::Tensor;

const GROWTH_INTERVAL: u32 = 2000;
const INITIAL_SCALE: f64 = 65536.0;

#[derive(Debug)]
pub struct GradScaler {
    scale: f64,
    good_steps: u32,
}

impl Default for GradScaler {
    fn default() -> Self {
        GradScaler { scale: INITIAL_SCALE, good_steps: 0 }
    }
}

impl GradScaler {
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Divides the gradients by the scale. Returns `false` (and shrinks the
    /// scale) when any gradient overflowed, in which case the step must be skipped.
    pub fn unscale(&mut self, params: &[Tensor]) -> bool {
        let mut finite = true;
        tch::no_grad(|| {
            for p in params {
                let mut g = p.grad();
                if !g.defined() {
                    continue;
                }
                let _ = g.g_mul_scalar_(1.0 / self.scale);
                if finite && !bool::try_from(g.isfinite().all()).unwrap_or(false) {
                    finite = false;
                }
            }
        });
        self.update(finite);
        finite
    }

    fn update(&mut self, finite: bool) {
        if finite {
            self.good_steps += 1;
            if self.good_steps == GROWTH_INTERVAL {
                self.scale *= 2.0;
                self.good_steps = 0;
            }
        } else {
            self.scale /= 2.0;
            self.good_steps = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn unscales_and_backs_off_on_overflow() {
        let p = Tensor::ones([2], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let mut s = GradScaler::default();
        (&p * s.scale()).sum(Kind::Float).backward();
        assert!(s.unscale(&[p.shallow_clone()]));
        assert_eq!(Vec::<f32>::try_from(p.grad()).unwrap(), vec![1.0, 1.0]);

        let _ = p.grad().zero_();
        (&p * f64::INFINITY).sum(Kind::Float).backward();
        assert!(!s.unscale(&[p.shallow_clone()]));
        assert_eq!(s.scale(), INITIAL_SCALE / 2.0);
    }
}
