//! A minimal ONNX graph builder for the operators our models use. Every
//! helper adds one node and returns the name of the value it produces, so the
//! export code of a model reads like its `forward`.

use super::proto::{AttributeProto, AttributeType, DataType, GraphProto, NodeProto, TensorProto, ValueInfoProto};
use crate::models::layers::{BatchNorm2d, Conv2d, ConvTranspose2d, GroupNorm};
use tch::{Kind, Tensor};

/// Nodes and initializers of a graph under construction.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    count: usize,
}

impl GraphBuilder {
    /// A name no other value or node of this graph has.
    fn fresh(&mut self, base: &str) -> String {
        self.count += 1;
        format!("{base}_{}", self.count)
    }

    /// Adds one `op` node of the default domain; returns its output's name.
    /// Model files use it for the operators only they need.
    pub(crate) fn node(&mut self, op: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> String {
        let name = self.fresh(op);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![name.clone()],
            name: Some(name.clone()),
            op_type: Some(op.to_string()),
            attribute,
            ..Default::default()
        });
        name
    }

    fn initializer(&mut self, name: String, dims: &[i64], values: &[f32]) -> String {
        self.initializers.push(TensorProto {
            dims: dims.to_vec(),
            data_type: Some(DataType::Float as i32),
            name: Some(name.clone()),
            raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
            ..Default::default()
        });
        name
    }

    /// A float32 initializer holding `t`, under a fresh name.
    pub(crate) fn tensor(&mut self, base: &str, t: &Tensor) -> String {
        let values = Vec::<f32>::try_from(t.to_kind(Kind::Float).reshape([-1])).expect("a CPU tensor converts to f32");
        let name = self.fresh(base);
        self.initializer(name, &t.size(), &values)
    }

    /// A constant under a fixed name, stored once however many nodes use it.
    pub(crate) fn constant(&mut self, name: &str, dims: &[i64], values: &[f32]) -> String {
        if !self.initializers.iter().any(|t| t.name.as_deref() == Some(name)) {
            self.initializer(name.to_string(), dims, values);
        }
        name.to_string()
    }

    /// A 1-D int64 constant (a `Reshape` shape, `Slice` bounds), named after
    /// its values and stored once however many nodes use it.
    pub(crate) fn constant_ints(&mut self, values: &[i64]) -> String {
        let name = format!("ints_{}", values.iter().map(i64::to_string).collect::<Vec<_>>().join("_"));
        if !self.initializers.iter().any(|t| t.name.as_deref() == Some(name.as_str())) {
            self.initializers.push(TensorProto {
                dims: vec![values.len() as i64],
                data_type: Some(DataType::Int64 as i32),
                name: Some(name.clone()),
                raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
                ..Default::default()
            });
        }
        name
    }

    /// The nodes so far, in execution order.
    pub(crate) fn nodes(&self) -> &[NodeProto] {
        &self.nodes
    }

    /// The dimensions of the initializer `name`.
    pub(crate) fn initializer_dims(&self, name: &str) -> Option<&[i64]> {
        self.initializers.iter().find(|t| t.name.as_deref() == Some(name)).map(|t| t.dims.as_slice())
    }

    /// The values of the float initializer `name`.
    pub(crate) fn initializer_values(&self, name: &str) -> Option<Vec<f32>> {
        let t = self.initializers.iter().find(|t| t.name.as_deref() == Some(name))?;
        let raw = t.raw_data.as_ref()?;
        (t.data_type == Some(DataType::Float as i32)).then(|| raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }

    /// `conv` with its own symmetric padding, `bn` (eval mode) folded in.
    pub(crate) fn conv(&mut self, x: &str, conv: &Conv2d, bn: Option<&BatchNorm2d>) -> String {
        self.conv_padded(x, conv, bn, [conv.padding; 4])
    }

    /// `conv` with ONNX `pads` `[top, left, bottom, right]`, which may be
    /// asymmetric, instead of its own; `bn` (eval mode) folded in.
    pub(crate) fn conv_padded(&mut self, x: &str, conv: &Conv2d, bn: Option<&BatchNorm2d>, pads: [i64; 4]) -> String {
        let mut inputs = vec![x.to_string()];
        inputs.extend(self.conv_weights(&conv.inner.ws, conv.inner.bs.as_ref(), bn, 0));
        let attributes = vec![
            ints("kernel_shape", &conv.inner.ws.size()[2..]),
            ints("strides", &[conv.stride; 2]),
            ints("dilations", &[conv.dilation; 2]),
            ints("pads", &pads),
            int("group", conv.groups),
        ];
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.node("Conv", &inputs, attributes)
    }

    /// A transposed convolution (ungrouped, undilated), `bn` (eval mode) folded in.
    pub(crate) fn conv_transpose(&mut self, x: &str, conv: &ConvTranspose2d, bn: Option<&BatchNorm2d>) -> String {
        let mut inputs = vec![x.to_string()];
        // Output channels are the second axis of a transposed convolution's weight.
        inputs.extend(self.conv_weights(&conv.inner.ws, conv.inner.bs.as_ref(), bn, 1));
        let attributes = vec![
            ints("kernel_shape", &conv.inner.ws.size()[2..]),
            ints("strides", &[conv.stride; 2]),
            ints("pads", &[conv.padding; 4]),
        ];
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.node("ConvTranspose", &inputs, attributes)
    }

    /// Initializers for a convolution's weight and bias (if any), `bn` folded in.
    fn conv_weights(&mut self, weight: &Tensor, bias: Option<&Tensor>, bn: Option<&BatchNorm2d>, out_axis: usize) -> Vec<String> {
        let (weight, bias) = match bn {
            Some(bn) => {
                let (w, b) = fold_batch_norm(weight, bias, bn, out_axis);
                (w, Some(b))
            }
            None => (weight.shallow_clone(), bias.map(Tensor::shallow_clone)),
        };
        let mut names = vec![self.tensor("weight", &weight)];
        names.extend(bias.map(|b| self.tensor("bias", &b)));
        names
    }

    /// Eval-mode BatchNorm as its own node, where no convolution precedes it
    /// to fold it into (pre-activation blocks such as DenseNet's).
    pub(crate) fn batch_norm(&mut self, x: &str, bn: &BatchNorm2d) -> String {
        let n = &bn.inner;
        let scale = self.tensor("scale", n.ws.as_ref().expect("our BatchNorms are affine"));
        let bias = self.tensor("bias", n.bs.as_ref().expect("our BatchNorms are affine"));
        let mean = self.tensor("mean", &n.running_mean);
        let var = self.tensor("var", &n.running_var);
        self.node("BatchNormalization", &[x, &scale, &bias, &mean, &var], vec![float("epsilon", bn.eps as f32)])
    }

    pub fn relu(&mut self, x: &str) -> String {
        self.node("Relu", &[x], vec![])
    }

    pub fn sigmoid(&mut self, x: &str) -> String {
        self.node("Sigmoid", &[x], vec![])
    }

    /// Clamps to `[min, max]` (ReLU6 is `clip(x, 0, 6)`).
    pub fn clip(&mut self, x: &str, min: f32, max: f32) -> String {
        // Clip takes its bounds as scalar inputs since opset 11.
        let lo = self.constant(&format!("scalar_{min}"), &[], &[min]);
        let hi = self.constant(&format!("scalar_{max}"), &[], &[max]);
        self.node("Clip", &[x, &lo, &hi], vec![])
    }

    pub fn add(&mut self, a: &str, b: &str) -> String {
        self.node("Add", &[a, b], vec![])
    }

    pub fn mul(&mut self, a: &str, b: &str) -> String {
        self.node("Mul", &[a, b], vec![])
    }

    /// Concatenates along channels.
    pub fn concat(&mut self, xs: &[&str]) -> String {
        self.node("Concat", xs, vec![int("axis", 1)])
    }

    /// Nearest-neighbour 2x upsampling exactly as torch's `upsample_nearest2d`
    /// with scale 2 (source index `floor(dst / 2)`), by scale so that the graph
    /// accepts any input size.
    pub fn upsample2x(&mut self, x: &str) -> String {
        let scales = self.constant("upsample2x_scales", &[4], &[1.0, 1.0, 2.0, 2.0]);
        let attributes = vec![
            string("mode", "nearest"),
            string("coordinate_transformation_mode", "asymmetric"),
            string("nearest_mode", "floor"),
        ];
        // The empty input is the unused region of interest.
        self.node("Resize", &[x, "", &scales], attributes)
    }

    /// Bilinear upsampling by an integer `scale` with `align_corners=True`,
    /// as `torch.nn.UpsamplingBilinear2d` (smp's segmentation heads) does.
    pub fn upsample_bilinear_align_corners(&mut self, x: &str, scale: i64) -> String {
        let s = scale as f32;
        let scales = self.constant(&format!("upsample{scale}x_scales"), &[4], &[1.0, 1.0, s, s]);
        let attributes = vec![string("mode", "linear"), string("coordinate_transformation_mode", "align_corners")];
        self.node("Resize", &[x, "", &scales], attributes)
    }

    /// Square max pooling with symmetric padding (padding never wins the max).
    pub fn max_pool(&mut self, x: &str, kernel: i64, stride: i64, padding: i64) -> String {
        let attributes = vec![ints("kernel_shape", &[kernel; 2]), ints("strides", &[stride; 2]), ints("pads", &[padding; 4])];
        self.node("MaxPool", &[x], attributes)
    }

    pub fn global_average_pool(&mut self, x: &str) -> String {
        self.node("GlobalAveragePool", &[x], vec![])
    }

    /// Broadcasts `x` (e.g. a pooled `[N, C, 1, 1]` map) to the shape of
    /// `like`, read at run time, as torch's `expand_as`.
    pub fn expand_as(&mut self, x: &str, like: &str) -> String {
        let shape = self.node("Shape", &[like], vec![]);
        self.node("Expand", &[x, &shape], vec![])
    }

    /// Bilinear resizing with `align_corners=True` to the height and width of
    /// `like`, read at run time, as `F.interpolate(x, size=like.shape[2:])`.
    pub fn resize_bilinear_align_corners_like(&mut self, x: &str, like: &str) -> String {
        let batch_channels = self.node("Shape", &[x], vec![int("end", 2)]);
        let sides = self.node("Shape", &[like], vec![int("start", 2)]);
        let sizes = self.node("Concat", &[&batch_channels, &sides], vec![int("axis", 0)]);
        let attributes = vec![string("mode", "linear"), string("coordinate_transformation_mode", "align_corners")];
        // Empty inputs: the unused region of interest and scales.
        self.node("Resize", &[x, "", "", &sizes], attributes)
    }

    /// `torch.nn.GroupNorm` (opset 17 has no GroupNormalization): the mean
    /// and variance of each group, as `[N, C, 1, 1]` maps, then the
    /// per-channel affine map.
    pub(crate) fn group_norm(&mut self, x: &str, gn: &GroupNorm) -> String {
        let mean = self.group_mean(x, gn);
        let centered = self.node("Sub", &[x, &mean], vec![]);
        let squared = self.mul(&centered, &centered);
        let variance = self.group_mean(&squared, gn);
        let eps = self.constant(&format!("scalar_{}", gn.eps as f32), &[], &[gn.eps as f32]);
        let shifted = self.add(&variance, &eps);
        let std = self.node("Sqrt", &[&shifted], vec![]);
        let affine = |t: &Option<Tensor>| t.as_ref().expect("our GroupNorms are affine").view([-1, 1, 1]);
        let weight = self.tensor("weight", &affine(&gn.inner.ws));
        let bias = self.tensor("bias", &affine(&gn.inner.bs));
        let scale = self.node("Div", &[&weight, &std], vec![]);
        let scaled = self.mul(&centered, &scale);
        self.add(&scaled, &bias)
    }

    /// The mean of `x`'s channel group, for every channel. Averaging over the
    /// width, then the height, then the group keeps every float sum short:
    /// ONNX Runtime sums naively, and one sum over a whole group (H W C / G
    /// values) drifts from torch by 1e-4 at 1024-pixel tiles.
    fn group_mean(&mut self, x: &str, gn: &GroupNorm) -> String {
        let (groups, channels) = (gn.inner.num_groups, gn.inner.num_channels);
        let rows = self.node("ReduceMean", &[x], vec![ints("axes", &[3])]);
        let per_channel = self.node("ReduceMean", &[&rows], vec![ints("axes", &[2])]);
        let grouped_shape = self.constant_ints(&[0, groups, -1]);
        let grouped = self.node("Reshape", &[&per_channel, &grouped_shape], vec![]);
        let per_group = self.node("ReduceMean", &[&grouped], vec![ints("axes", &[2])]);
        let repeats = self.constant_ints(&[1, 1, channels / groups]);
        let repeated = self.node("Expand", &[&per_group, &repeats], vec![]);
        let map_shape = self.constant_ints(&[0, -1, 1, 1]);
        self.node("Reshape", &[&repeated, &map_shape], vec![])
    }

    /// The finished graph; the value `result` is renamed to `output`'s name.
    /// Nodes that do not lead to `result` (encoder stages a decoder does not
    /// read) and initializers no node reads are left out.
    pub fn into_graph(mut self, name: &str, input: ValueInfoProto, output: ValueInfoProto, result: &str) -> GraphProto {
        self.prune(result);
        let output_name = output.name.clone().unwrap_or_default();
        for value in self.nodes.iter_mut().flat_map(|n| n.output.iter_mut()) {
            if value == result {
                value.clone_from(&output_name);
            }
        }
        GraphProto {
            node: self.nodes,
            name: Some(name.to_string()),
            initializer: self.initializers,
            input: vec![input],
            output: vec![output],
            ..Default::default()
        }
    }
}

impl GraphBuilder {
    /// Keeps only the nodes `result` depends on, and the initializers they read.
    pub(crate) fn prune(&mut self, result: &str) {
        let mut needed: std::collections::HashSet<String> = [result.to_string()].into();
        let mut keep = vec![false; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate().rev() {
            if node.output.iter().any(|o| needed.contains(o)) {
                keep[i] = true;
                needed.extend(node.input.iter().cloned());
            }
        }
        let mut flags = keep.into_iter();
        self.nodes.retain(|_| flags.next().unwrap_or(false));
        self.initializers.retain(|t| t.name.as_ref().is_some_and(|n| needed.contains(n)));
    }
}

/// Eval-mode BatchNorm is a per-channel affine map, so it folds into the
/// convolution before it: one node instead of two, and the graph cannot be run
/// with batch statistics by mistake. `out_axis` is the weight's output-channel
/// axis (0 for `Conv`, 1 for `ConvTranspose`). f64 keeps the folded values
/// within f32 rounding of the originals.
fn fold_batch_norm(conv_weight: &Tensor, conv_bias: Option<&Tensor>, bn: &BatchNorm2d, out_axis: usize) -> (Tensor, Tensor) {
    let f64 = |t: &Tensor| t.to_kind(Kind::Double);
    let affine = |t: &Option<Tensor>| f64(t.as_ref().expect("our BatchNorms are affine"));
    let scale = affine(&bn.inner.ws) / (f64(&bn.inner.running_var) + bn.eps).sqrt();
    let mut shape = [1i64; 4];
    shape[out_axis] = -1;
    let weight = f64(conv_weight) * scale.view(shape);
    let conv_bias = conv_bias.map_or_else(|| scale.zeros_like(), f64);
    let bias = (conv_bias - f64(&bn.inner.running_mean)) * &scale + affine(&bn.inner.bs);
    (weight.to_kind(Kind::Float), bias.to_kind(Kind::Float))
}

pub(crate) fn attribute(name: &str, kind: AttributeType) -> AttributeProto {
    AttributeProto { name: Some(name.to_string()), r#type: Some(kind as i32), ..Default::default() }
}

pub(crate) fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { i: Some(value), ..attribute(name, AttributeType::Int) }
}

pub(crate) fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto { f: Some(value), ..attribute(name, AttributeType::Float) }
}

pub(crate) fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto { ints: values.to_vec(), ..attribute(name, AttributeType::Ints) }
}

pub(crate) fn string(name: &str, value: &str) -> AttributeProto {
    AttributeProto { s: Some(value.as_bytes().to_vec()), ..attribute(name, AttributeType::String) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::layers::{batch_norm, conv2d, conv_transpose2d};
    use tch::nn::{Module, ModuleT, VarStore};
    use tch::Device;

    #[test]
    fn folded_batch_norm_equals_conv_then_batch_norm() {
        let vs = VarStore::new(Device::Cpu);
        let opts = (Kind::Float, Device::Cpu);
        // Grouped, strided, with and without a conv bias, and a non-default eps.
        for (bias, groups, eps) in [(false, 1, 1e-5), (true, 4, 1e-3)] {
            let conv = conv2d(vs.root() / format!("conv{groups}"), 8, 12, 3, 2, 1, groups, bias);
            let bn = batch_norm(vs.root() / format!("bn{groups}"), 12, eps, 0.1);
            tch::no_grad(|| {
                let n = &bn.inner;
                n.running_mean.shallow_clone().copy_(&Tensor::randn([12], opts));
                n.running_var.shallow_clone().copy_(&(Tensor::rand([12], opts) + 0.05));
                n.ws.as_ref().unwrap().shallow_clone().copy_(&Tensor::randn([12], opts));
                n.bs.as_ref().unwrap().shallow_clone().copy_(&Tensor::randn([12], opts));
            });
            let x = Tensor::randn([2, 8, 9, 7], opts);
            let expected = tch::no_grad(|| bn.forward_t(&conv.forward(&x), false));
            let (w, b) = tch::no_grad(|| fold_batch_norm(&conv.inner.ws, conv.inner.bs.as_ref(), &bn, 0));
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
        tch::no_grad(|| {
            let n = &bn.inner;
            n.running_mean.shallow_clone().copy_(&Tensor::randn([10], opts));
            n.running_var.shallow_clone().copy_(&(Tensor::rand([10], opts) + 0.05));
            n.ws.as_ref().unwrap().shallow_clone().copy_(&Tensor::randn([10], opts));
        });
        let x = Tensor::randn([2, 6, 5, 7], opts);
        let expected = tch::no_grad(|| bn.forward_t(&conv.forward(&x), false));
        let (w, b) = tch::no_grad(|| fold_batch_norm(&conv.inner.ws, conv.inner.bs.as_ref(), &bn, 1));
        let folded = x.conv_transpose2d(&w, Some(&b), [2, 2], [1, 1], [0, 0], 1, [1, 1]);
        let diff = (folded - expected).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "max abs diff {diff}");
    }
}
