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

/// A procedural RGB image of round cells (disks of pixel centres), one in
/// each 32-pixel square at a position and radius (5 to 11 pixels) hashed
/// from the square, 2 pixels apart at least: cells are
/// (0.9, 0.9, 0.1), the rest (0.1, 0.1, 0.9), so that [`pointwise_onnx`]'s
/// model with 3 channels and 2 classes gives class 1 exactly in the cells.
pub struct Cells {
    pub width: usize,
    pub height: usize,
}

impl Cells {
    /// The centre and radius of the cell in the 32-pixel square `(sx, sy)`.
    fn cell(sx: usize, sy: usize) -> (i64, i64, i64) {
        let h = (sx as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (sy as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        let h = h ^ (h >> 29);
        ((sx * 32) as i64 + 12 + ((h >> 8) % 8) as i64, (sy * 32) as i64 + 12 + ((h >> 16) % 8) as i64, 5 + (h % 7) as i64)
    }
}

impl dlclassifier::tiling::RegionReader for Cells {
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
        let (inside, outside) = ([0.9f32, 0.9, 0.1], [0.1f32, 0.1, 0.9]);
        let mut out = ndarray::Array3::zeros((3, h, w));
        for c in 0..3 {
            out.index_axis_mut(ndarray::Axis(0), c).fill(outside[c]);
        }
        // Each row of each square the region touches: the cell's span in that row.
        for sy in y / 32..=(y + h - 1) / 32 {
            for sx in x / 32..=(x + w - 1) / 32 {
                let (ox, oy, r) = Cells::cell(sx, sy);
                for py in (oy - r).max(y as i64)..=(oy + r).min((y + h) as i64 - 1) {
                    let dy = py - oy;
                    let half = ((r * r - dy * dy) as f64).sqrt().floor() as i64;
                    let (x0, x1) = ((ox - half).max(x as i64), (ox + half).min((x + w) as i64 - 1));
                    for c in 0..x1 - x0 + 1 {
                        for (ch, v) in inside.iter().enumerate() {
                            out[[ch, (py as usize) - y, (x0 + c) as usize - x]] = *v;
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}
