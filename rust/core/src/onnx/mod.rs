//! Our own ONNX writer rather than `torch.onnx`, so that exporting needs no
//! Python: protos, a graph builder, and the conventions of our model files.
//! It knows nothing of models; `models::export` records them through it.

pub(crate) mod graph;
pub mod proto;

pub use graph::GraphBuilder;

use crate::{Error, Result};
use prost::Message;
use proto::tensor_shape_proto::{dimension, Dimension};
use proto::{type_proto, DataType, GraphProto, ModelProto, OperatorSetIdProto, TensorShapeProto, TypeProto, ValueInfoProto};
use std::path::Path;

/// Operator set of the default domain; 17 is widely supported and has every
/// operator the models need.
pub const OPSET: i64 = 17;
/// The IR version that goes with opset 17.
pub const IR_VERSION: i64 = 8;
/// Name of the graph input, float32 `[batch, channels, height, width]`.
pub const INPUT: &str = "input";
/// Name of the graph output, float32 logits `[batch, classes, height, width]`.
pub const OUTPUT: &str = "output";

/// Writes `graph` to `path` as a model of our opset, produced by this version.
pub fn write_model(graph: GraphProto, path: &Path) -> Result<()> {
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
pub fn image_value(name: &str, channels: i64) -> ValueInfoProto {
    let param = |p: &str| Dimension { value: Some(dimension::Value::DimParam(p.to_string())), ..Default::default() };
    let dim = vec![param("batch"), Dimension { value: Some(dimension::Value::DimValue(channels)), ..Default::default() }, param("height"), param("width")];
    let tensor = type_proto::Tensor { elem_type: Some(DataType::Float as i32), shape: Some(TensorShapeProto { dim }) };
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..Default::default() }),
        ..Default::default()
    }
}
