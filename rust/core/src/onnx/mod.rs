//! ONNX export of segmentation models, written from the model definition.
//! Our own exporter rather than `torch.onnx`, so that exporting needs no
//! Python and the graph mirrors exactly the layers that were trained.

pub(crate) mod graph;
pub mod proto;

pub use graph::GraphBuilder;

use crate::models::{ModelSpec, SegmentationModel};
use crate::{Error, Result};
use prost::Message;
use proto::tensor_shape_proto::{dimension, Dimension};
use proto::{type_proto, DataType, ModelProto, OperatorSetIdProto, TensorShapeProto, TypeProto, ValueInfoProto};
use std::path::Path;
use tch::nn::VarStore;
use tch::Device;

/// Operator set of the default domain; 17 is widely supported and has every
/// operator the models need.
pub const OPSET: i64 = 17;
/// The IR version that goes with opset 17.
pub const IR_VERSION: i64 = 8;
/// Name of the graph input, float32 `[batch, channels, height, width]`.
pub const INPUT: &str = "input";
/// Name of the graph output, float32 logits `[batch, classes, height, width]`.
pub const OUTPUT: &str = "output";

/// Writes the eval-mode model as ONNX to `path`. Batch size, height and width
/// stay symbolic, so any input whose sides are multiples of the output stride runs.
pub fn export_onnx(spec: ModelSpec, trained: &VarStore, path: &Path) -> Result<()> {
    // A CPU copy, wherever training ran, so that reading the weights is cheap.
    let mut vs = VarStore::new(Device::Cpu);
    let model = SegmentationModel::new(&vs.root(), spec)?;
    vs.copy(trained)?;
    let mut g = GraphBuilder::default();
    let logits = tch::no_grad(|| model.export_onnx(&mut g, INPUT));
    let graph = g.into_graph("dlclassifier", image_value(INPUT, spec.in_channels), image_value(OUTPUT, spec.num_classes), &logits);
    let model = ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(OPSET) }],
        producer_name: Some("dlclassifier".to_string()),
        producer_version: Some(crate::VERSION.to_string()),
        graph: Some(graph),
        ..Default::default()
    };
    std::fs::write(path, model.encode_to_vec()).map_err(|e| Error::io(path, e))
}

/// A float32 `[batch, channels, height, width]` value with symbolic batch and sides.
fn image_value(name: &str, channels: i64) -> ValueInfoProto {
    let param = |p: &str| Dimension { value: Some(dimension::Value::DimParam(p.to_string())), ..Default::default() };
    let dim = vec![param("batch"), Dimension { value: Some(dimension::Value::DimValue(channels)), ..Default::default() }, param("height"), param("width")];
    let tensor = type_proto::Tensor { elem_type: Some(DataType::Float as i32), shape: Some(TensorShapeProto { dim }) };
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..Default::default() }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Architecture, EncoderKind};
    use std::collections::HashSet;

    /// `dim_value` or `dim_param` of each dimension of a float tensor value.
    fn dims(value: &ValueInfoProto) -> Vec<String> {
        let t = value.tensor_type().expect("a tensor");
        assert_eq!(t.elem_type, Some(DataType::Float as i32));
        let dim = &t.shape.as_ref().expect("a shape").dim;
        dim.iter()
            .map(|d| match &d.value {
                Some(dimension::Value::DimValue(v)) => v.to_string(),
                Some(dimension::Value::DimParam(p)) => p.clone(),
                None => "?".to_string(),
            })
            .collect()
    }

    #[test]
    fn exported_model_decodes_with_named_symbolic_io_and_a_well_ordered_graph() {
        let spec = ModelSpec { architecture: Architecture::Unet, encoder: EncoderKind::MobileNetV2, in_channels: 1, num_classes: 3 };
        let vs = VarStore::new(Device::Cpu);
        SegmentationModel::new(&vs.root(), spec).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.onnx");
        export_onnx(spec, &vs, &path).unwrap();

        let model = ModelProto::decode(std::fs::read(&path).unwrap().as_slice()).unwrap();
        assert_eq!((model.ir_version, model.producer_name.as_deref()), (Some(IR_VERSION), Some("dlclassifier")));
        assert_eq!(model.opset_import, vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(OPSET) }]);
        let graph = model.graph.unwrap();
        assert_eq!(graph.input.len(), 1);
        assert_eq!(graph.output.len(), 1);
        assert_eq!(graph.input[0].name.as_deref(), Some(INPUT));
        assert_eq!(graph.output[0].name.as_deref(), Some(OUTPUT));
        assert_eq!(dims(&graph.input[0]), ["batch", "1", "height", "width"]);
        assert_eq!(dims(&graph.output[0]), ["batch", "3", "height", "width"]);

        // Every node reads only the input, initializers or earlier outputs, and
        // no value is produced twice.
        let mut known: HashSet<String> = graph.initializer.iter().map(|t| t.name.clone().unwrap()).collect();
        known.insert(INPUT.to_string());
        known.insert(String::new());
        for node in &graph.node {
            for input in &node.input {
                assert!(known.contains(input), "{:?} reads undefined {input}", node.name);
            }
            for output in &node.output {
                assert!(known.insert(output.clone()), "{output} defined twice");
            }
        }
        assert!(known.contains(OUTPUT));
    }
}
