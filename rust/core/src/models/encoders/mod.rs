//! Encoders (backbones): one file per family, torchvision / smp parameter names.

mod densenet;
mod efficientnet;
mod mix_transformer;
mod mobilenet_v2;
mod resnet;
mod vgg;

use super::ops::{Eager, OnnxRecorder, Ops};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use tch::{nn, Tensor};

/// An encoder's forward pass on one backend.
pub trait Encode<O: Ops> {
    /// Feature maps of the input and of stages 1..`depth`, finest first
    /// (strides 1..32; 5 stages: all, PSPNet reads 3 and the stages it does
    /// not read are not computed). An encoder without a stage at some stride
    /// (smp's Mix Transformers at 2) gives an empty, 0-channel map of that
    /// resolution there.
    fn encode(&self, o: &mut O, x: &O::Value, depth: usize) -> Vec<O::Value>;
}

/// A backbone producing the multi-scale features a decoder consumes, on
/// both backends.
pub trait Encoder: Encode<Eager> + for<'g> Encode<OnnxRecorder<'g>> + fmt::Debug + Send {
    /// Channels of each feature.
    fn out_channels(&self) -> &[i64];
    /// The eager features of `xs`.
    fn features(&self, xs: &Tensor, train: bool, depth: usize) -> Vec<Tensor> {
        self.encode(&mut Eager::new(train), xs, depth)
    }
    /// smp's `make_dilated`: stages finer than `output_stride` (16 or 8) keep
    /// their resolution, their convolutions dilated instead of strided (see
    /// [`dilation_rates`]). Encoders whose kind does not
    /// [`EncoderKind::supports_dilation`] refuse.
    fn make_dilated(&mut self, output_stride: i64) -> Result<()> {
        Err(Error::config(format!("this encoder cannot be dilated to output stride {output_stride}")))
    }
}

/// (stage, dilation rate) pairs of smp's `make_dilated` for an output stride:
/// stage 4 has stride 16, stage 5 stride 32.
pub fn dilation_rates(output_stride: i64) -> Vec<(usize, i64)> {
    match output_stride {
        8 => vec![(4, 2), (5, 4)],
        16 => vec![(5, 2)],
        _ => vec![],
    }
}

/// The encoders the engine can build, named as segmentation_models_pytorch names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EncoderKind {
    #[serde(rename = "resnet18")]
    ResNet18,
    #[serde(rename = "resnet34")]
    ResNet34,
    #[serde(rename = "resnet50")]
    ResNet50,
    #[serde(rename = "mobilenet_v2")]
    MobileNetV2,
    #[serde(rename = "efficientnet-b0")]
    EfficientNetB0,
    #[serde(rename = "resnext50_32x4d")]
    ResNeXt50_32x4d,
    #[serde(rename = "efficientnet-b1")]
    EfficientNetB1,
    #[serde(rename = "efficientnet-b2")]
    EfficientNetB2,
    #[serde(rename = "efficientnet-b3")]
    EfficientNetB3,
    #[serde(rename = "efficientnet-b4")]
    EfficientNetB4,
    #[serde(rename = "se_resnet50")]
    SeResNet50,
    #[serde(rename = "densenet121")]
    DenseNet121,
    #[serde(rename = "vgg16_bn")]
    Vgg16Bn,
    #[serde(rename = "mit_b0")]
    MitB0,
    #[serde(rename = "mit_b2")]
    MitB2,
}

/// A set of encoder parameters that can be frozen together, from the input side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FreezeGroup {
    pub name: &'static str,
    /// Variable-name prefixes (below `encoder.`) that belong to the group.
    pub prefixes: Vec<String>,
}

impl EncoderKind {
    pub const ALL: [EncoderKind; 15] = [
        EncoderKind::ResNet18,
        EncoderKind::ResNet34,
        EncoderKind::ResNet50,
        EncoderKind::MobileNetV2,
        EncoderKind::EfficientNetB0,
        EncoderKind::ResNeXt50_32x4d,
        EncoderKind::EfficientNetB1,
        EncoderKind::EfficientNetB2,
        EncoderKind::EfficientNetB3,
        EncoderKind::EfficientNetB4,
        EncoderKind::SeResNet50,
        EncoderKind::DenseNet121,
        EncoderKind::Vgg16Bn,
        EncoderKind::MitB0,
        EncoderKind::MitB2,
    ];

    /// The smp name, e.g. `resnet34`.
    pub fn name(self) -> &'static str {
        match self {
            EncoderKind::ResNet18 => "resnet18",
            EncoderKind::ResNet34 => "resnet34",
            EncoderKind::ResNet50 => "resnet50",
            EncoderKind::MobileNetV2 => "mobilenet_v2",
            EncoderKind::EfficientNetB0 => "efficientnet-b0",
            EncoderKind::ResNeXt50_32x4d => "resnext50_32x4d",
            EncoderKind::EfficientNetB1 => "efficientnet-b1",
            EncoderKind::EfficientNetB2 => "efficientnet-b2",
            EncoderKind::EfficientNetB3 => "efficientnet-b3",
            EncoderKind::EfficientNetB4 => "efficientnet-b4",
            EncoderKind::SeResNet50 => "se_resnet50",
            EncoderKind::DenseNet121 => "densenet121",
            EncoderKind::Vgg16Bn => "vgg16_bn",
            EncoderKind::MitB0 => "mit_b0",
            EncoderKind::MitB2 => "mit_b2",
        }
    }

    /// Whether smp can dilate this encoder (DeepLab and PAN need it).
    pub fn supports_dilation(self) -> bool {
        !matches!(self, EncoderKind::DenseNet121 | EncoderKind::Vgg16Bn)
    }

    /// Whether the encoder has a stride-2 stage: Mix Transformers have none
    /// (smp passes an empty feature there).
    pub fn has_stride2_feature(self) -> bool {
        !matches!(self, EncoderKind::MitB0 | EncoderKind::MitB2)
    }

    /// torchvision's VGG, for which smp adds a center block to UNet and UNet++.
    pub fn is_vgg(self) -> bool {
        matches!(self, EncoderKind::Vgg16Bn)
    }

    /// Builds the encoder's variables under `p` (normally `encoder`).
    pub fn build(self, p: &nn::Path, in_channels: i64) -> Box<dyn Encoder> {
        match self {
            EncoderKind::ResNet18 => Box::new(resnet::ResNet::new(p, in_channels, resnet::RESNET18)),
            EncoderKind::ResNet34 => Box::new(resnet::ResNet::new(p, in_channels, resnet::RESNET34)),
            EncoderKind::ResNet50 => Box::new(resnet::ResNet::new(p, in_channels, resnet::RESNET50)),
            EncoderKind::ResNeXt50_32x4d => Box::new(resnet::ResNet::new(p, in_channels, resnet::RESNEXT50_32X4D)),
            EncoderKind::MobileNetV2 => Box::new(mobilenet_v2::MobileNetV2::new(p, in_channels)),
            EncoderKind::EfficientNetB0 => Box::new(efficientnet::EfficientNet::new(p, in_channels, efficientnet::B0)),
            EncoderKind::EfficientNetB1 => Box::new(efficientnet::EfficientNet::new(p, in_channels, efficientnet::B1)),
            EncoderKind::EfficientNetB2 => Box::new(efficientnet::EfficientNet::new(p, in_channels, efficientnet::B2)),
            EncoderKind::EfficientNetB3 => Box::new(efficientnet::EfficientNet::new(p, in_channels, efficientnet::B3)),
            EncoderKind::EfficientNetB4 => Box::new(efficientnet::EfficientNet::new(p, in_channels, efficientnet::B4)),
            EncoderKind::SeResNet50 => Box::new(resnet::ResNet::new(p, in_channels, resnet::SE_RESNET50)),
            EncoderKind::DenseNet121 => Box::new(densenet::DenseNet::new(p, in_channels)),
            EncoderKind::Vgg16Bn => Box::new(vgg::Vgg::new(p, in_channels)),
            EncoderKind::MitB0 => Box::new(mix_transformer::MixTransformer::new(p, in_channels, mix_transformer::B0)),
            EncoderKind::MitB2 => Box::new(mix_transformer::MixTransformer::new(p, in_channels, mix_transformer::B2)),
        }
    }

    /// Freezable groups in input-to-output order; freezing group `i` means
    /// freezing groups `0..=i` in practice, since early features are the most generic.
    pub fn freeze_groups(self) -> Vec<FreezeGroup> {
        fn group(name: &'static str, prefixes: &[&str]) -> FreezeGroup {
            FreezeGroup { name, prefixes: prefixes.iter().map(|p| p.to_string()).collect() }
        }
        fn indexed(base: &str, range: std::ops::Range<usize>) -> Vec<String> {
            range.map(|i| format!("{base}.{i}.")).collect()
        }
        match self {
            EncoderKind::ResNet18 | EncoderKind::ResNet34 | EncoderKind::ResNet50 | EncoderKind::ResNeXt50_32x4d => vec![
                group("stem", &["conv1.", "bn1."]),
                group("layer1", &["layer1."]),
                group("layer2", &["layer2."]),
                group("layer3", &["layer3."]),
                group("layer4", &["layer4."]),
            ],
            EncoderKind::MobileNetV2 => [("stem", 0..2), ("stage2", 2..4), ("stage3", 4..7), ("stage4", 7..14), ("stage5", 14..19)]
                .into_iter()
                .map(|(name, r)| FreezeGroup { name, prefixes: indexed("features", r) })
                .collect(),
            EncoderKind::EfficientNetB0
            | EncoderKind::EfficientNetB1
            | EncoderKind::EfficientNetB2
            | EncoderKind::EfficientNetB3
            | EncoderKind::EfficientNetB4 => {
                // Stage ends (block indices) as segmentation_models_pytorch splits them.
                let [a, b, c, end] = match self {
                    EncoderKind::EfficientNetB0 => [3, 5, 9, 16],
                    EncoderKind::EfficientNetB1 | EncoderKind::EfficientNetB2 => [5, 8, 16, 23],
                    EncoderKind::EfficientNetB3 => [5, 8, 18, 26],
                    _ => [6, 10, 22, 32],
                };
                let mut groups = vec![group("stem", &["_conv_stem.", "_bn0."])];
                for (name, r) in [("stage2", 0..a), ("stage3", a..b), ("stage4", b..c)] {
                    groups.push(FreezeGroup { name, prefixes: indexed("_blocks", r) });
                }
                let mut last = indexed("_blocks", c..end);
                last.extend(["_conv_head.".to_string(), "_bn1.".to_string()]);
                groups.push(FreezeGroup { name: "stage5", prefixes: last });
                groups
            }
            EncoderKind::SeResNet50 => vec![
                group("stem", &["layer0."]),
                group("layer1", &["layer1."]),
                group("layer2", &["layer2."]),
                group("layer3", &["layer3."]),
                group("layer4", &["layer4."]),
            ],
            EncoderKind::DenseNet121 => vec![
                group("stem", &["features.conv0.", "features.norm0."]),
                group("stage2", &["features.denseblock1.", "features.transition1."]),
                group("stage3", &["features.denseblock2.", "features.transition2."]),
                group("stage4", &["features.denseblock3.", "features.transition3."]),
                group("stage5", &["features.denseblock4.", "features.norm5."]),
            ],
            EncoderKind::Vgg16Bn => ["stem", "stage2", "stage3", "stage4", "stage5"]
                .into_iter()
                .zip(vgg::stage_ranges())
                .map(|(name, r)| FreezeGroup { name, prefixes: indexed("features", r) })
                .collect(),
            EncoderKind::MitB0 | EncoderKind::MitB2 => mix_transformer::freeze_groups(),
        }
    }
}

impl fmt::Display for EncoderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EncoderKind {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        EncoderKind::ALL.into_iter().find(|e| e.name() == s).ok_or_else(|| {
            let known: Vec<_> = EncoderKind::ALL.iter().map(|e| e.name()).collect();
            crate::Error::config(format!("unknown encoder '{s}'; known: {}", known.join(", ")))
        })
    }
}
