//! A minimal ONNX graph builder for the operators our models use. Every
//! helper adds its nodes and returns the name of the value it produces. It
//! knows tensors and protos only; `models::ops` maps layers onto it.

use super::proto::{AttributeProto, AttributeType, DataType, GraphProto, NodeProto, TensorProto, ValueInfoProto};
use std::collections::HashMap;
use tch::{Kind, Tensor};

/// Nodes and initializers of a graph under construction.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    count: usize,
    /// `symbolic_axis` results by (value, axis).
    axes: HashMap<(String, i64), (String, String)>,
}

impl GraphBuilder {
    /// A name no other value or node of this graph has.
    fn fresh(&mut self, base: &str) -> String {
        self.count += 1;
        format!("{base}_{}", self.count)
    }

    /// Adds one `op` node of the default domain; returns its output's name.
    fn node(&mut self, op: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> String {
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
    fn tensor(&mut self, base: &str, t: &Tensor) -> String {
        let values = Vec::<f32>::try_from(t.to_kind(Kind::Float).reshape([-1])).expect("a CPU tensor converts to f32");
        let name = self.fresh(base);
        self.initializer(name, &t.size(), &values)
    }

    /// A constant under a fixed name, stored once however many nodes use it.
    fn constant(&mut self, name: &str, dims: &[i64], values: &[f32]) -> String {
        if !self.initializers.iter().any(|t| t.name.as_deref() == Some(name)) {
            self.initializer(name.to_string(), dims, values);
        }
        name.to_string()
    }

    /// A 1-D int64 constant (a `Reshape` shape, `Slice` bounds), named after
    /// its values and stored once however many nodes use it.
    fn constant_ints(&mut self, values: &[i64]) -> String {
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

    /// A convolution with ONNX `pads` `[top, left, bottom, right]` (which may
    /// be asymmetric); `weight` is `[out, in / group, kh, kw]`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(&mut self, x: &str, weight: &Tensor, bias: Option<&Tensor>, stride: i64, dilation: i64, pads: [i64; 4], group: i64) -> String {
        let mut inputs = vec![x.to_string(), self.tensor("weight", weight)];
        inputs.extend(bias.map(|b| self.tensor("bias", b)));
        let attributes = vec![
            ints("kernel_shape", &weight.size()[2..]),
            ints("strides", &[stride; 2]),
            ints("dilations", &[dilation; 2]),
            ints("pads", &pads),
            int("group", group),
        ];
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.node("Conv", &inputs, attributes)
    }

    /// A transposed convolution (ungrouped, undilated); `weight` is `[in, out, kh, kw]`.
    pub fn conv_transpose(&mut self, x: &str, weight: &Tensor, bias: Option<&Tensor>, stride: i64, padding: i64) -> String {
        let mut inputs = vec![x.to_string(), self.tensor("weight", weight)];
        inputs.extend(bias.map(|b| self.tensor("bias", b)));
        let attributes = vec![ints("kernel_shape", &weight.size()[2..]), ints("strides", &[stride; 2]), ints("pads", &[padding; 4])];
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.node("ConvTranspose", &inputs, attributes)
    }

    /// Eval-mode BatchNorm as its own node, where no convolution precedes it
    /// to fold it into (pre-activation blocks such as DenseNet's).
    pub fn batch_norm(&mut self, x: &str, scale: &Tensor, bias: &Tensor, mean: &Tensor, var: &Tensor, eps: f64) -> String {
        let scale = self.tensor("scale", scale);
        let bias = self.tensor("bias", bias);
        let mean = self.tensor("mean", mean);
        let var = self.tensor("var", var);
        self.node("BatchNormalization", &[x, &scale, &bias, &mean, &var], vec![float("epsilon", eps as f32)])
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

    /// Square max pooling with symmetric padding (padding never wins the
    /// max), output sides rounded up with `ceil_mode`.
    pub fn max_pool(&mut self, x: &str, kernel: i64, stride: i64, padding: i64, ceil_mode: bool) -> String {
        let mut attributes = vec![ints("kernel_shape", &[kernel; 2]), ints("strides", &[stride; 2]), ints("pads", &[padding; 4])];
        if ceil_mode {
            attributes.push(int("ceil_mode", 1));
        }
        self.node("MaxPool", &[x], attributes)
    }

    /// Square average pooling without padding, stride equal to the kernel.
    pub fn average_pool(&mut self, x: &str, kernel: i64) -> String {
        self.node("AveragePool", &[x], vec![ints("kernel_shape", &[kernel; 2]), ints("strides", &[kernel; 2])])
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

    /// `torch.nn.GroupNorm` (opset 17 has no GroupNormalization) with its
    /// per-channel `weight` and `bias`: the mean and variance of each group,
    /// as `[N, C, 1, 1]` maps, then the per-channel affine map.
    pub fn group_norm(&mut self, x: &str, weight: &Tensor, bias: &Tensor, groups: i64, eps: f64) -> String {
        let channels = weight.size()[0];
        let mean = self.group_mean(x, groups, channels);
        let centered = self.node("Sub", &[x, &mean], vec![]);
        let squared = self.mul(&centered, &centered);
        let variance = self.group_mean(&squared, groups, channels);
        let eps = self.constant(&format!("scalar_{}", eps as f32), &[], &[eps as f32]);
        let shifted = self.add(&variance, &eps);
        let std = self.node("Sqrt", &[&shifted], vec![]);
        let weight = self.tensor("weight", &weight.view([-1, 1, 1]));
        let bias = self.tensor("bias", &bias.view([-1, 1, 1]));
        let scale = self.node("Div", &[&weight, &std], vec![]);
        let scaled = self.mul(&centered, &scale);
        self.add(&scaled, &bias)
    }

    /// The mean of `x`'s channel group, for every channel. Averaging over the
    /// width, then the height, then the group keeps every float sum short:
    /// ONNX Runtime sums naively, and one sum over a whole group (H W C / G
    /// values) drifts from torch by 1e-4 at 1024-pixel tiles.
    fn group_mean(&mut self, x: &str, groups: i64, channels: i64) -> String {
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

    /// LayerNorm over the last axis (opset 17's `LayerNormalization`).
    pub fn layer_norm(&mut self, x: &str, scale: &Tensor, bias: &Tensor, eps: f64) -> String {
        let scale = self.tensor("scale", scale);
        let bias = self.tensor("bias", bias);
        self.node("LayerNormalization", &[x, &scale, &bias], vec![int("axis", -1), float("epsilon", eps as f32)])
    }

    /// `torch.nn.Linear` on the last axis: `x @ weight^T + bias`.
    pub fn linear(&mut self, x: &str, weight: &Tensor, bias: Option<&Tensor>) -> String {
        let w = self.tensor("weight", &weight.tr());
        let y = self.node("MatMul", &[x, &w], vec![]);
        match bias {
            Some(b) => {
                let b = self.tensor("bias", b);
                self.add(&y, &b)
            }
            None => y,
        }
    }

    /// Exact GELU, `0.5 x (1 + erf(x / sqrt 2))`, as torch computes it (opset 17 has no `Gelu`).
    pub fn gelu(&mut self, x: &str) -> String {
        let inv_sqrt2 = std::f32::consts::FRAC_1_SQRT_2;
        let inv_sqrt2 = self.constant(&format!("scalar_{inv_sqrt2}"), &[], &[inv_sqrt2]);
        let one = self.constant("scalar_1", &[], &[1.0]);
        let half = self.constant("scalar_0.5", &[], &[0.5]);
        let y = self.mul(x, &inv_sqrt2);
        let y = self.node("Erf", &[&y], vec![]);
        let y = self.add(&y, &one);
        let y = self.mul(x, &y);
        self.mul(&y, &half)
    }

    /// Multiplies by a scalar.
    pub fn scale(&mut self, x: &str, factor: f32) -> String {
        let factor = self.constant(&format!("scalar_{factor}"), &[], &[factor]);
        self.mul(x, &factor)
    }

    pub fn matmul(&mut self, a: &str, b: &str) -> String {
        self.node("MatMul", &[a, b], vec![])
    }

    pub fn softmax(&mut self, x: &str, axis: i64) -> String {
        self.node("Softmax", &[x], vec![int("axis", axis)])
    }

    pub fn transpose(&mut self, x: &str, perm: &[i64]) -> String {
        self.node("Transpose", &[x], vec![ints("perm", perm)])
    }

    /// `Reshape` to a fixed `shape` (0 keeps that axis, -1 takes the rest).
    pub fn reshape(&mut self, x: &str, shape: &[i64]) -> String {
        let shape = self.constant_ints(shape);
        self.node("Reshape", &[x, &shape], vec![])
    }

    /// Reshapes `x` to the shape of `like`, read at run time.
    pub fn reshape_like(&mut self, x: &str, like: &str) -> String {
        let shape = self.node("Shape", &[like], vec![]);
        self.node("Reshape", &[x, &shape], vec![])
    }

    /// `Slice` along `axes`, `ends` clamped to the axis length.
    pub fn slice(&mut self, x: &str, axes: &[i64], starts: &[i64], ends: &[i64], steps: &[i64]) -> String {
        let starts = self.constant_ints(starts);
        let ends = self.constant_ints(ends);
        let axes = self.constant_ints(axes);
        let steps = self.constant_ints(steps);
        self.node("Slice", &[x, &starts, &ends, &axes, &steps], vec![])
    }

    /// `adaptive_avg_pool2d` to `bins` x `bins` for sides known only when
    /// the graph runs: averaging matrices built from the shape, `A_h · x · A_wᵀ`.
    pub fn adaptive_average_pool(&mut self, x: &str, bins: i64) -> String {
        let rows = self.bin_weights(x, 2, bins);
        let cols = self.bin_weights(x, 3, bins);
        let cols = self.transpose(&cols, &[1, 0]);
        let pooled = self.matmul(&rows, x);
        self.matmul(&pooled, &cols)
    }

    /// `[bins, L]` weights that average axis `axis` (length L) of `x` into
    /// `bins` as `adaptive_avg_pool2d` does: bin i covers
    /// `[floor(iL / bins), ceil((i + 1)L / bins))`. Float is exact here: the
    /// products are small integers, and a quotient that is not an integer
    /// lies at least `1 / bins` away from one.
    fn bin_weights(&mut self, x: &str, axis: i64, bins: i64) -> String {
        let (length, positions) = self.symbolic_axis(x, axis);
        let column = |from: i64| (from..from + bins).map(|i| i as f32).collect::<Vec<f32>>();
        let first = self.constant(&format!("psp_bins{bins}_from0"), &[bins, 1], &column(0));
        let next = self.constant(&format!("psp_bins{bins}_from1"), &[bins, 1], &column(1));
        let divisor = self.constant(&format!("scalar_{bins}"), &[], &[bins as f32]);
        let bound = |g: &mut GraphBuilder, index: &str, round: &str| {
            let scaled = g.mul(index, &length);
            let quotient = g.node("Div", &[&scaled, &divisor], vec![]);
            g.node(round, &[&quotient], vec![])
        };
        let start = bound(self, &first, "Floor");
        let end = bound(self, &next, "Ceil");
        let after_start = self.node("GreaterOrEqual", &[&positions, &start], vec![]);
        let before_end = self.node("Less", &[&positions, &end], vec![]);
        let inside = self.node("And", &[&after_start, &before_end], vec![]);
        let count = self.node("Sub", &[&end, &start], vec![]);
        let weight = self.node("Reciprocal", &[&count], vec![]);
        let zero = self.constant("scalar_0", &[], &[0.0]);
        self.node("Where", &[&inside, &weight, &zero], vec![])
    }

    /// The length of axis `axis` of `x`, known only when the graph runs, and
    /// the positions `0..length`, as float; computed once per value and axis.
    fn symbolic_axis(&mut self, x: &str, axis: i64) -> (String, String) {
        let key = (x.to_string(), axis);
        if let Some(known) = self.axes.get(&key) {
            return known.clone();
        }
        let length = self.node("Shape", &[x], vec![int("start", axis), int("end", axis + 1)]);
        let length = self.node("Cast", &[&length], vec![int("to", DataType::Float as i64)]);
        // Without axes, Squeeze drops the single dimension: Range wants scalars.
        let length = self.node("Squeeze", &[&length], vec![]);
        let zero = self.constant("scalar_0", &[], &[0.0]);
        let one = self.constant("scalar_1", &[], &[1.0]);
        let positions = self.node("Range", &[&zero, &length, &one], vec![]);
        self.axes.insert(key, (length.clone(), positions.clone()));
        (length, positions)
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

fn attribute(name: &str, kind: AttributeType) -> AttributeProto {
    AttributeProto { name: Some(name.to_string()), r#type: Some(kind as i32), ..Default::default() }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { i: Some(value), ..attribute(name, AttributeType::Int) }
}

fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto { f: Some(value), ..attribute(name, AttributeType::Float) }
}

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto { ints: values.to_vec(), ..attribute(name, AttributeType::Ints) }
}

fn string(name: &str, value: &str) -> AttributeProto {
    AttributeProto { s: Some(value.as_bytes().to_vec()), ..attribute(name, AttributeType::String) }
}
