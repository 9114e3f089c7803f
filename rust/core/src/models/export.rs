//! ONNX export of segmentation models: the eval-mode forward, recorded
//! through [`OnnxRecorder`](super::ops::OnnxRecorder) instead of computed,
//! so the graph is the very code that trained.

use super::{ModelSpec, SegmentationModel};
use crate::onnx::{image_value, write_model, GraphBuilder, INPUT, OUTPUT};
use crate::Result;
use std::path::Path;
use tch::nn::VarStore;
use tch::Device;

/// Writes the eval-mode model as ONNX to `path`. Batch size, height and width
/// stay symbolic, so any input whose sides are multiples of the output stride runs.
pub fn export_onnx(spec: ModelSpec, trained: &VarStore, path: &Path) -> Result<()> {
    // A CPU copy, wherever training ran, so that reading the weights is cheap.
    let mut vs = VarStore::new(Device::Cpu);
    let model = SegmentationModel::new(&vs.root(), spec)?;
    vs.copy(trained)?;
    let mut g = GraphBuilder::default();
    let logits = tch::no_grad(|| model.record(&mut g, INPUT));
    let graph = g.into_graph("dlclassifier", image_value(INPUT, spec.in_channels), image_value(OUTPUT, spec.num_classes), &logits);
    write_model(graph, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Architecture, EncoderKind};
    use crate::onnx::proto::tensor_shape_proto::dimension;
    use crate::onnx::proto::{DataType, ModelProto, OperatorSetIdProto, ValueInfoProto};
    use crate::onnx::{IR_VERSION, OPSET};
    use prost::Message;
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
