//! The Mix Vision Transformer encoders (SegFormer's MiT-B0 and B2) as
//! segmentation_models_pytorch builds them: four stages of an overlapping patch
//! embedding (a strided convolution and a LayerNorm), transformer blocks with
//! spatially reduced self-attention and a Mix-FFN (a depthwise 3x3 convolution
//! between its linear layers), and a final LayerNorm.
//!
//! Inside a stage, tokens stay in an `[N, H, W, C]` layout: linear layers and
//! LayerNorms act on the last axis, so only the convolutions need transposes,
//! and no reshape takes sizes read from the input (traced files stay size-agnostic).

use super::{dilation_rates, Encode, Encoder, FreezeGroup};
use crate::models::modules::{layer_norm, Conv2d, LayerNorm};
use crate::models::ops::{Ops, Share};
use tch::nn::{self, Init, Linear};
use tch::Tensor;

/// Embedding widths and block counts of the four stages.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    embed_dims: [i64; 4],
    depths: [usize; 4],
}

pub const B0: Config = Config { embed_dims: [32, 64, 160, 256], depths: [2, 2, 2, 2] };
pub const B2: Config = Config { embed_dims: [64, 128, 320, 512], depths: [3, 4, 6, 3] };

/// Shared by every MiT variant smp ships.
const NUM_HEADS: [i64; 4] = [1, 2, 5, 8];
const SR_RATIOS: [i64; 4] = [8, 4, 2, 1];
const MLP_RATIO: i64 = 4;
/// smp's `norm_layer` (blocks and stage norms); the patch embeddings' and the
/// attention's reduction norms keep torch's default, 1e-5.
const NORM_EPS: f64 = 1e-6;
const DEFAULT_NORM_EPS: f64 = 1e-5;
/// smp's `drop_path_rate`: stochastic depth rising linearly over all blocks.
const DROP_PATH_RATE: f64 = 0.1;

/// The first patch embedding as the stem, then one group per stage: its
/// blocks and final norm with the patch embedding that feeds them.
pub fn freeze_groups() -> Vec<FreezeGroup> {
    let mut groups = vec![FreezeGroup { name: "stem", prefixes: vec!["patch_embed1.".to_string()] }];
    for (i, name) in ["block1", "block2", "block3", "block4"].into_iter().enumerate() {
        let n = i + 1;
        let mut prefixes = vec![format!("block{n}."), format!("norm{n}.")];
        if n > 1 {
            prefixes.push(format!("patch_embed{n}."));
        }
        groups.push(FreezeGroup { name, prefixes });
    }
    groups
}

/// A convolution with bias, initialised as MiT does (normal, std `sqrt(2 / fan_out)`).
fn conv(p: nn::Path, c_in: i64, c_out: i64, kernel: i64, stride: i64, padding: i64, groups: i64) -> Conv2d {
    let stdev = (2.0 / (kernel * kernel * c_out / groups) as f64).sqrt();
    let ws_init = Init::Randn { mean: 0.0, stdev };
    let cfg = nn::ConvConfig { stride, padding, groups, ws_init, bs_init: Init::Const(0.0), ..Default::default() };
    Conv2d { inner: nn::conv2d(p, c_in, c_out, kernel, cfg), stride, padding, dilation: 1, groups }
}

/// A linear layer with bias, initialised as MiT does (normal, std 0.02).
fn linear(p: nn::Path, c_in: i64, c_out: i64) -> Linear {
    let cfg = nn::LinearConfig { ws_init: Init::Randn { mean: 0.0, stdev: 0.02 }, bs_init: Some(Init::Const(0.0)), bias: true };
    nn::linear(p, c_in, c_out, cfg)
}

/// timm's `DropPath` in training: drops the residual branch of whole
/// samples with probability `rate` and rescales the kept ones.
fn drop_path(x: Tensor, rate: f64) -> Tensor {
    if rate == 0.0 {
        return x;
    }
    let keep = 1.0 - rate;
    let mut shape = vec![1; x.dim()];
    shape[0] = x.size()[0];
    let mask = Tensor::empty(shape, (x.kind(), x.device())).bernoulli_float_(keep) / keep;
    x * mask
}

/// Efficient self-attention: keys and values come from a copy of the tokens
/// downsampled by `sr_ratio` (a strided convolution and a LayerNorm).
#[derive(Debug)]
struct Attention {
    q: Linear,
    kv: Linear,
    proj: Linear,
    sr: Option<(Conv2d, LayerNorm)>,
    heads: i64,
}

impl Attention {
    fn new(p: nn::Path, dim: i64, heads: i64, sr_ratio: i64) -> Attention {
        Attention {
            q: linear(&p / "q", dim, dim),
            kv: linear(&p / "kv", dim, 2 * dim),
            proj: linear(&p / "proj", dim, dim),
            sr: (sr_ratio > 1).then(|| (conv(&p / "sr", dim, dim, sr_ratio, sr_ratio, 0, 1), layer_norm(&p / "norm", dim, DEFAULT_NORM_EPS))),
            heads,
        }
    }

    fn head_dim(&self) -> i64 {
        self.q.ws.size()[0] / self.heads
    }

    fn scale(&self) -> f64 {
        (self.head_dim() as f64).powf(-0.5)
    }

    /// `[N, H, W, C]` in and out.
    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let (heads, d) = (self.heads, self.head_dim());
        let c = heads * d;
        let q = o.linear(x, &self.q);
        let q = o.split_heads(&q, heads, d);
        let q = o.permute(&q, &[0, 2, 1, 3]);
        let source = match &self.sr {
            Some((sr, norm)) => {
                let y = o.permute(x, &[0, 3, 1, 2]);
                let y = o.conv(&y, sr, None);
                let y = o.flatten(&y, 2);
                let y = o.permute(&y, &[0, 2, 1]);
                o.layer_norm(&y, norm)
            }
            None => x.share(),
        };
        // `kv` is the keys' then the values' linear layer, stacked.
        let kv = o.linear(&source, &self.kv);
        let k = o.slice(&kv, &[-1], &[0], &[c], &[1]);
        let k = o.split_heads(&k, heads, d);
        let k = o.permute(&k, &[0, 2, 3, 1]);
        let v = o.slice(&kv, &[-1], &[c], &[2 * c], &[1]);
        let v = o.split_heads(&v, heads, d);
        let v = o.permute(&v, &[0, 2, 1, 3]);
        let scores = o.matmul(&q, &k);
        let scores = o.scale(&scores, self.scale());
        let attention = o.softmax(&scores, -1);
        let y = o.matmul(&attention, &v);
        let y = o.permute(&y, &[0, 2, 1, 3]);
        let y = o.reshape_as(&y, x);
        o.linear(&y, &self.proj)
    }
}

/// Mix-FFN: linear, depthwise 3x3 convolution, exact GELU, linear.
#[derive(Debug)]
struct Mlp {
    fc1: Linear,
    dwconv: Conv2d,
    fc2: Linear,
}

impl Mlp {
    fn new(p: nn::Path, dim: i64) -> Mlp {
        let hidden = dim * MLP_RATIO;
        Mlp {
            fc1: linear(&p / "fc1", dim, hidden),
            dwconv: conv(&p / "dwconv" / "dwconv", hidden, hidden, 3, 1, 1, hidden),
            fc2: linear(&p / "fc2", hidden, dim),
        }
    }

    /// `[N, H, W, C]` in and out.
    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let y = o.linear(x, &self.fc1);
        let y = o.permute(&y, &[0, 3, 1, 2]);
        let y = o.conv(&y, &self.dwconv, None);
        let y = o.permute(&y, &[0, 2, 3, 1]);
        let y = o.gelu(&y);
        o.linear(&y, &self.fc2)
    }
}

/// A pre-norm transformer block: attention and Mix-FFN, each residual.
#[derive(Debug)]
struct Block {
    norm1: LayerNorm,
    attn: Attention,
    norm2: LayerNorm,
    mlp: Mlp,
    drop_path: f64,
}

impl Block {
    /// `[N, H, W, C]` in and out.
    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let rate = self.drop_path;
        let y = o.layer_norm(x, &self.norm1);
        let y = self.attn.forward(o, &y);
        let y = o.train_only(y, |y| drop_path(y, rate));
        let x = o.add(x, &y);
        let y = o.layer_norm(&x, &self.norm2);
        let y = self.mlp.forward(o, &y);
        let y = o.train_only(y, |y| drop_path(y, rate));
        o.add(&x, &y)
    }
}

/// `patch_embedN` (convolution and LayerNorm), `blockN`, `normN`.
#[derive(Debug)]
struct Stage {
    proj: Conv2d,
    embed_norm: LayerNorm,
    blocks: Vec<Block>,
    norm: LayerNorm,
}

impl Stage {
    /// `[N, C, H, W]` in and out.
    fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value {
        let y = o.conv(x, &self.proj, None);
        let y = o.permute(&y, &[0, 2, 3, 1]);
        let mut y = o.layer_norm(&y, &self.embed_norm);
        for block in &self.blocks {
            y = block.forward(o, &y);
        }
        let y = o.layer_norm(&y, &self.norm);
        let y = o.permute(&y, &[0, 3, 1, 2]);
        o.contiguous(y)
    }
}

/// smp's `MixVisionTransformerEncoder`. It has no stride-2 stage: like smp, it
/// puts an empty (0-channel) feature of that resolution in its place.
#[derive(Debug)]
pub struct MixTransformer {
    stages: Vec<Stage>,
    out_channels: [i64; 6],
}

impl MixTransformer {
    pub fn new(p: &nn::Path, in_channels: i64, config: Config) -> MixTransformer {
        let total: usize = config.depths.iter().sum();
        let mut index = 0;
        let mut c_in = in_channels;
        let stages = (0..4)
            .map(|i| {
                let (n, dim) = (i + 1, config.embed_dims[i]);
                // Stage 1 embeds 7x7 patches at stride 4, the others 3x3 at stride 2.
                let (kernel, stride) = if i == 0 { (7, 4) } else { (3, 2) };
                let embed = p / format!("patch_embed{n}");
                let blocks = (0..config.depths[i])
                    .map(|b| {
                        let bp = p / format!("block{n}") / b;
                        let block = Block {
                            norm1: layer_norm(&bp / "norm1", dim, NORM_EPS),
                            attn: Attention::new(&bp / "attn", dim, NUM_HEADS[i], SR_RATIOS[i]),
                            norm2: layer_norm(&bp / "norm2", dim, NORM_EPS),
                            mlp: Mlp::new(&bp / "mlp", dim),
                            drop_path: DROP_PATH_RATE * index as f64 / (total - 1) as f64,
                        };
                        index += 1;
                        block
                    })
                    .collect();
                let stage = Stage {
                    proj: conv(&embed / "proj", c_in, dim, kernel, stride, kernel / 2, 1),
                    embed_norm: layer_norm(&embed / "norm", dim, DEFAULT_NORM_EPS),
                    blocks,
                    norm: layer_norm(p / format!("norm{n}"), dim, NORM_EPS),
                };
                c_in = dim;
                stage
            })
            .collect();
        let [a, b, c, d] = config.embed_dims;
        MixTransformer { stages, out_channels: [in_channels, 0, a, b, c, d] }
    }
}

impl<O: Ops> Encode<O> for MixTransformer {
    fn encode(&self, o: &mut O, x: &O::Value, depth: usize) -> Vec<O::Value> {
        // Slicing, not a size read from `x`, keeps traced models size-agnostic.
        let empty = o.slice(x, &[1, 2, 3], &[0, 0, 0], &[0, i64::MAX, i64::MAX], &[1, 2, 2]);
        let mut features = vec![x.share(), empty];
        let mut x = x.share();
        for stage in self.stages.iter().take(depth.saturating_sub(1)) {
            x = stage.forward(o, &x);
            features.push(x.share());
        }
        features
    }
}

impl Encoder for MixTransformer {
    fn out_channels(&self) -> &[i64] {
        &self.out_channels
    }

    /// As smp's `replace_strides_with_dilation` on `patch_embedN`, `blockN`
    /// and `normN`: every convolution of the stage, the attention's spatial
    /// reduction included (whose output then is 2 pixels larger each way).
    fn make_dilated(&mut self, output_stride: i64) -> crate::Result<()> {
        for (stage, rate) in dilation_rates(output_stride) {
            // Features 2..5 (strides 4..32) come from stages 0..3.
            let stage = &mut self.stages[stage - 2];
            stage.proj.dilate(rate);
            for block in &mut stage.blocks {
                block.mlp.dwconv.dilate(rate);
                if let Some((sr, _)) = &mut block.attn.sr {
                    sr.dilate(rate);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::VarStore;
    use tch::{CModule, Device, Kind};

    fn b0(in_channels: i64) -> (VarStore, MixTransformer) {
        let vs = VarStore::new(Device::Cpu);
        let encoder = MixTransformer::new(&(vs.root() / "encoder"), in_channels, B0);
        (vs, encoder)
    }

    #[test]
    fn features_have_smps_strides_and_widths_with_an_empty_stride_2_one() {
        let (_vs, encoder) = b0(2);
        let x = Tensor::randn([2, 2, 64, 96], (Kind::Float, Device::Cpu));
        let shapes: Vec<Vec<i64>> = tch::no_grad(|| encoder.features(&x, true, 5)).iter().map(Tensor::size).collect();
        let expected = [[2, 2, 64, 96], [2, 0, 32, 48], [2, 32, 16, 24], [2, 64, 8, 12], [2, 160, 4, 6], [2, 256, 2, 3]];
        assert_eq!(shapes, expected.map(|s| s.to_vec()));
        assert_eq!(encoder.out_channels(), &[2, 0, 32, 64, 160, 256]);
    }

    #[test]
    fn dilated_stages_keep_the_resolution_of_the_output_stride() {
        for (output_stride, sides) in [(16, [64, 32, 16, 8, 4, 4]), (8, [64, 32, 16, 8, 8, 8])] {
            let (_vs, mut encoder) = b0(3);
            encoder.make_dilated(output_stride).unwrap();
            let x = Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu));
            let features = tch::no_grad(|| encoder.features(&x, false, 5));
            assert_eq!(features.iter().map(|f| f.size()[2]).collect::<Vec<_>>(), sides);
        }
    }

    #[test]
    fn variables_are_named_as_smp_names_them() {
        let (vs, _) = b0(3);
        let names = vs.variables();
        for name in [
            "encoder.patch_embed1.proj.weight",
            "encoder.patch_embed4.norm.bias",
            "encoder.block1.0.attn.q.weight",
            "encoder.block1.1.attn.kv.bias",
            "encoder.block1.0.attn.sr.weight",
            "encoder.block3.1.attn.norm.weight",
            "encoder.block2.0.mlp.dwconv.dwconv.weight",
            "encoder.block4.1.mlp.fc2.bias",
            "encoder.norm4.weight",
        ] {
            assert!(names.contains_key(name), "{name} missing");
        }
        // The last stage attends at full resolution: no reduction.
        assert!(!names.keys().any(|n| n.starts_with("encoder.block4.0.attn.sr")));
        // 4 stages x (embed 4 + norm 2) + 8 blocks x 16 + 6 reducing blocks x 4 (sr, norm).
        assert_eq!(names.len(), 4 * 6 + 8 * 16 + 6 * 4);
        let groups = freeze_groups();
        for name in names.keys().filter_map(|n| n.strip_prefix("encoder.")) {
            assert_eq!(groups.iter().filter(|g| g.prefixes.iter().any(|p| name.starts_with(p.as_str()))).count(), 1, "{name}");
        }
    }

    #[test]
    fn a_traced_encoder_runs_at_other_sizes() {
        let (mut vs, encoder) = b0(3);
        vs.freeze();
        // A traced method has one output: all features, flattened side by side.
        let flat = |x: &Tensor| {
            let features: Vec<Tensor> = encoder.features(x, false, 5).iter().map(|f| f.flatten(1, -1)).collect();
            Tensor::cat(&features, 1)
        };
        let opts = (Kind::Float, Device::Cpu);
        let module = tch::no_grad(|| {
            CModule::create_by_tracing("MiT", "forward", &[Tensor::randn([1, 3, 64, 64], opts)], &mut |xs| vec![flat(&xs[0])])
        })
        .expect("traces");
        let x = Tensor::randn([2, 3, 64, 96], opts);
        let traced = tch::no_grad(|| module.forward_ts(&[&x])).expect("runs");
        let eager = tch::no_grad(|| flat(&x));
        assert_eq!(traced.size(), eager.size());
        assert!(traced.allclose(&eager, 1e-5, 1e-5, false));
    }
}
