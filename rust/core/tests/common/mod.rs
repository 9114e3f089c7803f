//! Helpers shared by the integration tests.
#![allow(dead_code)]

use dlclassifier::settings::TrainingConfig;
use std::path::PathBuf;

/// The real data sets bundled in the repository (see data/README.md).
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data").join(name)
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Small, fast CPU settings for tests; each test adjusts what it checks.
pub fn quick_config() -> TrainingConfig {
    TrainingConfig {
        encoder: dlclassifier::models::EncoderKind::ResNet18,
        tile_size: Some(128),
        batch_size: 4,
        epochs: 2,
        threads: Some(2),
        device: "cpu".parse().unwrap(),
        early_stopping: None,
        ..TrainingConfig::default()
    }
}

/// Writes a tiny real ONNX model: a 1x1 convolution from `in_channels` to
/// `classes` logits (weights from a formula), with symbolic batch and sides
/// unless `size` fixes them. For tests of the machinery around a model.
pub fn pointwise_onnx(path: &std::path::Path, in_channels: i64, classes: i64, size: Option<i64>) {
    use dlclassifier::onnx::proto::*;
    use prost::Message;
    use tensor_shape_proto::{dimension::Value as Dim, Dimension};
    let dim = |v: Dim| Dimension { value: Some(v), ..Default::default() };
    let side = || dim(size.map_or_else(|| Dim::DimParam("side".into()), Dim::DimValue));
    let value = |name: &str, channels: i64| ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto { dim: vec![dim(Dim::DimParam("n".into())), dim(Dim::DimValue(channels)), side(), side()] }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let weights: Vec<u8> = (0..classes * in_channels).flat_map(|i| (((i * 7) % 5) as f32 - 2.0).to_le_bytes()).collect();
    let graph = GraphProto {
        node: vec![NodeProto {
            input: vec!["x".into(), "w".into()],
            output: vec!["y".into()],
            op_type: Some("Conv".into()),
            ..Default::default()
        }],
        initializer: vec![TensorProto {
            dims: vec![classes, in_channels, 1, 1],
            data_type: Some(DataType::Float as i32),
            name: Some("w".into()),
            raw_data: Some(weights),
            ..Default::default()
        }],
        input: vec![value("x", in_channels)],
        output: vec![value("y", classes)],
        name: Some("pointwise".into()),
        ..Default::default()
    };
    let model = ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(17) }],
        graph: Some(graph),
        ..Default::default()
    };
    std::fs::write(path, model.encode_to_vec()).unwrap();
}

/// A procedural RGB image (values 0..1): any region, computed on demand
/// without storing the image.
pub struct Synthetic {
    pub width: usize,
    pub height: usize,
}

impl dlclassifier::tiling::RegionReader for Synthetic {
    fn width(&self) -> usize {
        self.width
    }

    fn height(&self) -> usize {
        self.height
    }

    fn channels(&self) -> usize {
        3
    }

    fn read(&self, x: usize, y: usize, w: usize, h: usize) -> dlclassifier::Result<ndarray::Array3<f32>> {
        Ok(ndarray::Array3::from_shape_fn((3, h, w), |(c, i, j)| (((x + j) * (c + 1) + (y + i) * 7) % 255) as f32 / 255.0))
    }
}
