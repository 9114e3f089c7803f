//! A minimal ONNX graph builder for the operators our models use. Every
//! helper adds one node and returns the name of the value it produces, so the
//! export code of a model reads like its `forward`.

use super::proto::{AttributeProto, AttributeType, DataType, GraphProto, NodeProto, TensorProto, ValueInfoProto};
use crate::models::layers::{BatchNorm2d, Conv2d};
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

    /// The nodes so far, in execution order.
    pub(crate) fn nodes(&self) -> &[NodeProto] {
        &self.nodes
    }

    /// The dimensions of the initializer `name`.
    pub(crate) fn initializer_dims(&self, name: &str) -> Option<&[i64]> {
        self.initializers.iter().find(|t| t.name.as_deref() == Some(name)).map(|t| t.dims.as_slice())
    }

    /// `conv` with its own symmetric padding, `bn` (eval mode) folded in.
    pub(crate) fn conv(&mut self, x: &str, conv: &Conv2d, bn: Option<&BatchNorm2d>) -> String {
        self.conv_padded(x, conv, bn, [conv.padding; 4])
    }

    /// `conv` with ONNX `pads` `[top, left, bottom, right]`, which may be
    /// asymmetric, instead of its own; `bn` (eval mode) folded in.
    pub(crate) fn conv_padded(&mut self, x: &str, conv: &Conv2d, bn: Option<&BatchNorm2d>, pads: [i64; 4]) -> String {
        let (weight, bias) = match bn {
            Some(bn) => {
                let (w, b) = fold_batch_norm(conv, bn);
                (w, Some(b))
            }
            None => (conv.inner.ws.shallow_clone(), conv.inner.bs.as_ref().map(Tensor::shallow_clone)),
        };
        let w = self.tensor("weight", &weight);
        let b = bias.map(|b| self.tensor("bias", &b));
        let mut inputs = vec![x, w.as_str()];
        inputs.extend(b.as_deref());
        let attributes = vec![
            ints("kernel_shape", &weight.size()[2..]),
            ints("strides", &[conv.stride; 2]),
            ints("dilations", &[conv.dilation; 2]),
            ints("pads", &pads),
            int("group", conv.groups),
        ];
        self.node("Conv", &inputs, attributes)
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
    fn prune(&mut self, result: &str) {
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
/// with batch statistics by mistake. f64 keeps the folded values within f32
/// rounding of the originals.
fn fold_batch_norm(conv: &Conv2d, bn: &BatchNorm2d) -> (Tensor, Tensor) {
    let f64 = |t: &Tensor| t.to_kind(Kind::Double);
    let affine = |t: &Option<Tensor>| f64(t.as_ref().expect("our BatchNorms are affine"));
    let scale = affine(&bn.inner.ws) / (f64(&bn.inner.running_var) + bn.eps).sqrt();
    let weight = f64(&conv.inner.ws) * scale.view([-1, 1, 1, 1]);
    let conv_bias = conv.inner.bs.as_ref().map_or_else(|| scale.zeros_like(), f64);
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
    use crate::models::layers::{batch_norm, conv2d};
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
            let (w, b) = tch::no_grad(|| fold_batch_norm(&conv, &bn));
            let folded = x.conv2d(&w, Some(&b), [2, 2], [1, 1], [1, 1], groups);
            let diff = (folded - expected).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "bias {bias}, groups {groups}: max abs diff {diff}");
        }
    }
}
