//! Decoder families (architectures), one file each, with smp's parameter
//! names: every decoder owns its variables under `decoder.*` and its
//! segmentation head under `segmentation_head.*`.

mod deeplab;
mod fpn;
mod head;
mod linknet;
mod manet;
mod pan;
mod pspnet;
mod unet;
mod unet_plus_plus;

use super::encoders::EncoderKind;
use crate::onnx::GraphBuilder;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use tch::{nn, Tensor};

pub use head::SegmentationHead;

/// A decoder with its segmentation head: encoder features in, logits at the
/// input's resolution out.
pub trait Decoder: fmt::Debug + Send {
    /// `features` as `Encoder::features` returns them (the input first).
    fn forward(&self, features: &[Tensor], train: bool) -> Tensor;
    /// `forward` in eval mode as ONNX, from the names `Encoder::export_onnx` returns.
    fn export_onnx(&self, g: &mut GraphBuilder, features: &[String]) -> String;
}

/// The architectures of segmentation_models_pytorch the engine builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Architecture {
    #[serde(rename = "unet")]
    Unet,
    #[serde(rename = "unet++", alias = "unetplusplus")]
    UnetPlusPlus,
    #[serde(rename = "deeplabv3")]
    DeepLabV3,
    #[serde(rename = "deeplabv3+", alias = "deeplabv3plus")]
    DeepLabV3Plus,
    #[serde(rename = "fpn")]
    Fpn,
    #[serde(rename = "pspnet")]
    PspNet,
    #[serde(rename = "manet")]
    MaNet,
    #[serde(rename = "linknet")]
    LinkNet,
    #[serde(rename = "pan")]
    Pan,
}

impl Architecture {
    pub const ALL: [Architecture; 9] = [
        Architecture::Unet,
        Architecture::UnetPlusPlus,
        Architecture::DeepLabV3,
        Architecture::DeepLabV3Plus,
        Architecture::Fpn,
        Architecture::PspNet,
        Architecture::MaNet,
        Architecture::LinkNet,
        Architecture::Pan,
    ];

    /// Our name, as the CLI, Java and `metadata.json` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Unet => "unet",
            Architecture::UnetPlusPlus => "unet++",
            Architecture::DeepLabV3 => "deeplabv3",
            Architecture::DeepLabV3Plus => "deeplabv3+",
            Architecture::Fpn => "fpn",
            Architecture::PspNet => "pspnet",
            Architecture::MaNet => "manet",
            Architecture::LinkNet => "linknet",
            Architecture::Pan => "pan",
        }
    }

    /// The class name in segmentation_models_pytorch (`smp.UnetPlusPlus`...).
    pub fn smp_class(self) -> &'static str {
        match self {
            Architecture::Unet => "Unet",
            Architecture::UnetPlusPlus => "UnetPlusPlus",
            Architecture::DeepLabV3 => "DeepLabV3",
            Architecture::DeepLabV3Plus => "DeepLabV3Plus",
            Architecture::Fpn => "FPN",
            Architecture::PspNet => "PSPNet",
            Architecture::MaNet => "MAnet",
            Architecture::LinkNet => "Linknet",
            Architecture::Pan => "PAN",
        }
    }

    /// The encoder's output stride smp uses for this architecture by default:
    /// below 32, the last stages are dilated instead of strided.
    pub fn encoder_output_stride(self) -> i64 {
        match self {
            Architecture::DeepLabV3 => 8,
            Architecture::DeepLabV3Plus | Architecture::Pan => 16,
            _ => 32,
        }
    }

    /// How many encoder stages the decoder reads (smp's `encoder_depth`);
    /// the encoder computes no more.
    pub fn encoder_depth(self) -> usize {
        match self {
            Architecture::PspNet => 3,
            _ => 5,
        }
    }

    /// The smallest input side the architecture runs on: PAN's feature
    /// pyramid pools three times below the encoder's stride 16.
    pub fn min_input_size(self) -> i64 {
        match self {
            Architecture::Pan => 128,
            _ => super::OUTPUT_STRIDE,
        }
    }

    /// Whether smp can build this architecture on `encoder`; the error says why not.
    pub fn check(self, encoder: EncoderKind) -> Result<()> {
        if self.encoder_output_stride() < 32 && !encoder.supports_dilation() {
            return Err(Error::config(format!(
                "{self} needs a dilated encoder (output stride {}), which {encoder} does not support; \
                 choose a ResNet, SE-ResNet, MobileNetV2, EfficientNet or Mix Transformer encoder",
                self.encoder_output_stride()
            )));
        }
        // smp refuses these pairs: Mix Transformers have no stride-2 feature
        // (smp passes an empty one), which these decoders use as a block width.
        let mit = matches!(encoder, EncoderKind::MitB0 | EncoderKind::MitB2);
        if mit && matches!(self, Architecture::UnetPlusPlus | Architecture::LinkNet) {
            return Err(Error::config(format!(
                "{self} does not support the {encoder} encoder (segmentation_models_pytorch refuses Mix Transformer \
                 encoders for it); choose another architecture, such as unet or fpn, or another encoder"
            )));
        }
        Ok(())
    }

    /// Builds the decoder under `root / "decoder"` and the head under
    /// `root / "segmentation_head"`.
    pub(crate) fn decoder(self, root: &nn::Path, encoder: EncoderKind, encoder_channels: &[i64], classes: i64) -> Box<dyn Decoder> {
        // smp adds a center block to UNet and UNet++ on VGG encoders.
        let center = encoder.name().starts_with("vgg");
        match self {
            Architecture::Unet => Box::new(unet::Unet::new(root, encoder_channels, classes, center)),
            Architecture::UnetPlusPlus => unet_plus_plus::build(root, encoder_channels, classes, center),
            Architecture::DeepLabV3 => deeplab::build_v3(root, encoder_channels, classes),
            Architecture::DeepLabV3Plus => deeplab::build_v3_plus(root, encoder_channels, classes),
            Architecture::Fpn => fpn::build(root, encoder_channels, classes),
            Architecture::PspNet => pspnet::build(root, encoder_channels, classes),
            Architecture::MaNet => manet::build(root, encoder_channels, classes),
            Architecture::LinkNet => linknet::build(root, encoder_channels, classes),
            Architecture::Pan => pan::build(root, encoder_channels, classes),
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Architecture {
    type Err = Error;

    /// Our names, smp's class names and the spelled-out `unetplusplus` / `deeplabv3plus`.
    fn from_str(s: &str) -> Result<Self> {
        let plain = |n: &str| n.replace("++", "plusplus").replace('+', "plus").to_ascii_lowercase();
        Architecture::ALL.into_iter().find(|a| plain(a.name()) == plain(s) || a.smp_class().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let known: Vec<_> = Architecture::ALL.iter().map(|a| a.name()).collect();
            Error::config(format!("unknown architecture '{s}'; known: {}", known.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{ModelSpec, SegmentationModel};
    use tch::nn::{ModuleT, VarStore};
    use tch::{Device, Kind};

    #[test]
    fn every_architecture_trains_and_predicts_at_the_input_resolution() {
        for architecture in Architecture::ALL {
            let vs = VarStore::new(Device::Cpu);
            let spec = ModelSpec { architecture, encoder: EncoderKind::ResNet18, in_channels: 2, num_classes: 3 };
            let model = SegmentationModel::new(&vs.root(), spec).unwrap();
            // Not square, and sides whose feature maps halve unevenly.
            let x = Tensor::randn([2, 2, 128, 160], (Kind::Float, Device::Cpu));
            assert_eq!(model.forward_t(&x, true).size(), [2, 3, 128, 160], "{architecture} training");
            let y = tch::no_grad(|| model.forward_t(&x, false));
            assert_eq!(y.size(), [2, 3, 128, 160], "{architecture} eval");
        }
    }

    #[test]
    fn names_parse_in_every_spelling_and_unknown_ones_list_the_known() {
        for a in Architecture::ALL {
            assert_eq!(a.name().parse::<Architecture>().unwrap(), a);
            assert_eq!(a.smp_class().parse::<Architecture>().unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<Architecture>(&json).unwrap(), a);
        }
        assert_eq!("UnetPlusPlus".parse::<Architecture>().unwrap(), Architecture::UnetPlusPlus);
        assert_eq!("deeplabv3plus".parse::<Architecture>().unwrap(), Architecture::DeepLabV3Plus);
        let err = "segformer".parse::<Architecture>().unwrap_err().to_string();
        assert!(err.contains("unknown architecture 'segformer'") && err.contains("deeplabv3+, fpn"), "{err}");
    }

    #[test]
    fn unet_plus_plus_and_linknet_refuse_mix_transformers_as_smp_does() {
        for a in [Architecture::UnetPlusPlus, Architecture::LinkNet] {
            let err = a.check(EncoderKind::MitB0).unwrap_err().to_string();
            assert!(err.contains(a.name()) && err.contains("mit_b0"), "{err}");
            assert!(a.check(EncoderKind::ResNet34).is_ok());
        }
        assert!(Architecture::Unet.check(EncoderKind::MitB2).is_ok());
    }
}
