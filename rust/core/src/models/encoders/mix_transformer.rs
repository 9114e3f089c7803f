//! The Mix Vision Transformer encoders (SegFormer's MiT-B0 and B2) as
//! segmentation_models_pytorch builds them: four stages of an overlapping patch
//! embedding (a strided convolution and a LayerNorm), transformer blocks with
//! spatially reduced self-attention and a Mix-FFN (a depthwise 3x3 convolution
//! between its linear layers), and a final LayerNorm.
//!
//! Inside a stage, tokens stay in an `[N, H, W, C]` layout: linear layers and
//! LayerNorms act on the last axis, so only the convolutions need transposes,
//! and no reshape takes sizes read from the input (traced files stay size-agnostic).

use super::{dilation_rates, Encoder, Features, FreezeGroup};
use crate::models::layers::Conv2d;
use crate::onnx::graph::{float, int, ints};
use crate::onnx::GraphBuilder;
use tch::nn::{self, Init, LayerNorm, Linear, Module};
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

/// A `torch.nn.LayerNorm` over the last axis. It keeps `eps`, private in tch, for the ONNX export.
#[derive(Debug)]
struct Norm {
    inner: LayerNorm,
    eps: f64,
}

impl Module for Norm {
    fn forward(&self, xs: &Tensor) -> Tensor {
        self.inner.forward(xs)
    }
}

fn layer_norm(p: nn::Path, dim: i64, eps: f64) -> Norm {
    Norm { inner: nn::layer_norm(p, vec![dim], nn::LayerNormConfig { eps, ..Default::default() }), eps }
}

/// timm's `DropPath`: in training, drops the residual branch of whole samples
/// with probability `rate` and rescales the kept ones.
fn drop_path(x: Tensor, rate: f64, train: bool) -> Tensor {
    if !train || rate == 0.0 {
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
    sr: Option<(Conv2d, Norm)>,
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
    fn forward(&self, x: &Tensor) -> Tensor {
        let (heads, d) = (self.heads, self.head_dim());
        let tokens = x.flatten(1, 2);
        let q = tokens.apply(&self.q).unflatten(-1, [heads, d]).transpose(1, 2);
        let source = match &self.sr {
            Some((sr, norm)) => x.permute([0, 3, 1, 2]).apply(sr).flatten(2, 3).transpose(1, 2).apply(norm),
            None => tokens,
        };
        let kv = source.apply(&self.kv).unflatten(-1, [2, heads, d]).permute([2, 0, 3, 1, 4]);
        let attention = (q.matmul(&kv.get(0).transpose(-2, -1)) * self.scale()).softmax(-1, x.kind());
        attention.matmul(&kv.get(1)).transpose(1, 2).flatten(2, 3).apply(&self.proj).reshape_as(x)
    }

    fn export_onnx(&self, g: &mut GraphBuilder, x: &str) -> String {
        let (heads, d) = (self.heads, self.head_dim());
        let c = heads * d;
        let split_heads = |g: &mut GraphBuilder, t: &str, perm: &[i64]| {
            let shape = g.constant_ints(&[0, -1, heads, d]);
            let t = g.node("Reshape", &[t, &shape], vec![]);
            transpose(g, &t, perm)
        };
        let q = onnx_linear(g, x, &self.q.ws, self.q.bs.as_ref());
        let q = split_heads(g, &q, &[0, 2, 1, 3]);
        let source = match &self.sr {
            Some((sr, norm)) => {
                let y = transpose(g, x, &[0, 3, 1, 2]);
                let y = g.conv(&y, sr, None);
                let shape = g.constant_ints(&[0, c, -1]);
                let y = g.node("Reshape", &[&y, &shape], vec![]);
                let y = transpose(g, &y, &[0, 2, 1]);
                onnx_layer_norm(g, &y, norm)
            }
            None => x.to_string(),
        };
        // `kv` is the keys' then the values' linear layer, stacked.
        let kv_bias = self.kv.bs.as_ref().expect("MiT's kv has a bias");
        let k = onnx_linear(g, &source, &self.kv.ws.narrow(0, 0, c), Some(&kv_bias.narrow(0, 0, c)));
        let k = split_heads(g, &k, &[0, 2, 3, 1]);
        let v = onnx_linear(g, &source, &self.kv.ws.narrow(0, c, c), Some(&kv_bias.narrow(0, c, c)));
        let v = split_heads(g, &v, &[0, 2, 1, 3]);
        let scores = g.node("MatMul", &[&q, &k], vec![]);
        let scale = g.constant(&format!("scalar_{}", self.scale() as f32), &[], &[self.scale() as f32]);
        let scores = g.mul(&scores, &scale);
        let attention = g.node("Softmax", &[&scores], vec![int("axis", -1)]);
        let y = g.node("MatMul", &[&attention, &v], vec![]);
        let y = transpose(g, &y, &[0, 2, 1, 3]);
        let shape = g.node("Shape", &[x], vec![]);
        let y = g.node("Reshape", &[&y, &shape], vec![]);
        onnx_linear(g, &y, &self.proj.ws, self.proj.bs.as_ref())
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
    fn forward(&self, x: &Tensor) -> Tensor {
        x.apply(&self.fc1).permute([0, 3, 1, 2]).apply(&self.dwconv).permute([0, 2, 3, 1]).gelu("none").apply(&self.fc2)
    }

    fn export_onnx(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = onnx_linear(g, x, &self.fc1.ws, self.fc1.bs.as_ref());
        let y = transpose(g, &y, &[0, 3, 1, 2]);
        let y = g.conv(&y, &self.dwconv, None);
        let y = transpose(g, &y, &[0, 2, 3, 1]);
        let y = onnx_gelu(g, &y);
        onnx_linear(g, &y, &self.fc2.ws, self.fc2.bs.as_ref())
    }
}

/// A pre-norm transformer block: attention and Mix-FFN, each residual.
#[derive(Debug)]
struct Block {
    norm1: Norm,
    attn: Attention,
    norm2: Norm,
    mlp: Mlp,
    drop_path: f64,
}

impl Block {
    /// `[N, H, W, C]` in and out.
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let x = x + drop_path(self.attn.forward(&x.apply(&self.norm1)), self.drop_path, train);
        &x + drop_path(self.mlp.forward(&x.apply(&self.norm2)), self.drop_path, train)
    }

    fn export_onnx(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = onnx_layer_norm(g, x, &self.norm1);
        let y = self.attn.export_onnx(g, &y);
        let x = g.add(x, &y);
        let y = onnx_layer_norm(g, &x, &self.norm2);
        let y = self.mlp.export_onnx(g, &y);
        g.add(&x, &y)
    }
}

/// `patch_embedN` (convolution and LayerNorm), `blockN`, `normN`.
#[derive(Debug)]
struct Stage {
    proj: Conv2d,
    embed_norm: Norm,
    blocks: Vec<Block>,
    norm: Norm,
}

impl Stage {
    /// `[N, C, H, W]` in and out.
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = x.apply(&self.proj).permute([0, 2, 3, 1]).apply(&self.embed_norm);
        for block in &self.blocks {
            x = block.forward(&x, train);
        }
        x.apply(&self.norm).permute([0, 3, 1, 2]).contiguous()
    }

    fn export_onnx(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = g.conv(x, &self.proj, None);
        let y = transpose(g, &y, &[0, 2, 3, 1]);
        let mut y = onnx_layer_norm(g, &y, &self.embed_norm);
        for block in &self.blocks {
            y = block.export_onnx(g, &y);
        }
        let y = onnx_layer_norm(g, &y, &self.norm);
        transpose(g, &y, &[0, 3, 1, 2])
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

impl Encoder for MixTransformer {
    fn features(&self, xs: &Tensor, train: bool, depth: usize) -> Features {
        // Slicing, not a size read from `xs`, keeps traced models size-agnostic.
        let empty = xs.narrow(1, 0, 0).slice(2, 0, None, 2).slice(3, 0, None, 2);
        let mut features = vec![xs.shallow_clone(), empty];
        let mut x = xs.shallow_clone();
        for stage in self.stages.iter().take(depth.saturating_sub(1)) {
            x = stage.forward(&x, train);
            features.push(x.shallow_clone());
        }
        features
    }

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

    fn export_onnx(&self, g: &mut GraphBuilder, input: &str) -> Vec<String> {
        let starts = g.constant_ints(&[0, 0, 0]);
        let ends = g.constant_ints(&[0, i64::MAX, i64::MAX]);
        let axes = g.constant_ints(&[1, 2, 3]);
        let steps = g.constant_ints(&[1, 2, 2]);
        let empty = g.node("Slice", &[input, &starts, &ends, &axes, &steps], vec![]);
        let mut features = vec![input.to_string(), empty];
        let mut x = input.to_string();
        for stage in &self.stages {
            x = stage.export_onnx(g, &x);
            features.push(x.clone());
        }
        features
    }
}

fn transpose(g: &mut GraphBuilder, x: &str, perm: &[i64]) -> String {
    g.node("Transpose", &[x], vec![ints("perm", perm)])
}

/// `torch.nn.Linear` on the last axis: `x @ weight^T + bias`.
fn onnx_linear(g: &mut GraphBuilder, x: &str, weight: &Tensor, bias: Option<&Tensor>) -> String {
    let w = g.tensor("weight", &weight.tr());
    let y = g.node("MatMul", &[x, &w], vec![]);
    match bias {
        Some(b) => {
            let b = g.tensor("bias", b);
            g.add(&y, &b)
        }
        None => y,
    }
}

/// LayerNorm over the last axis (opset 17's `LayerNormalization`).
fn onnx_layer_norm(g: &mut GraphBuilder, x: &str, norm: &Norm) -> String {
    let scale = g.tensor("scale", norm.inner.ws.as_ref().expect("MiT's LayerNorms are affine"));
    let bias = g.tensor("bias", norm.inner.bs.as_ref().expect("MiT's LayerNorms are affine"));
    g.node("LayerNormalization", &[x, &scale, &bias], vec![int("axis", -1), float("epsilon", norm.eps as f32)])
}

/// Exact GELU, `0.5 x (1 + erf(x / sqrt 2))`, as torch computes it (opset 17 has no `Gelu`).
fn onnx_gelu(g: &mut GraphBuilder, x: &str) -> String {
    let inv_sqrt2 = std::f32::consts::FRAC_1_SQRT_2;
    let inv_sqrt2 = g.constant(&format!("scalar_{inv_sqrt2}"), &[], &[inv_sqrt2]);
    let one = g.constant("scalar_1", &[], &[1.0]);
    let half = g.constant("scalar_0.5", &[], &[0.5]);
    let y = g.mul(x, &inv_sqrt2);
    let y = g.node("Erf", &[&y], vec![]);
    let y = g.add(&y, &one);
    let y = g.mul(x, &y);
    g.mul(&y, &half)
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
