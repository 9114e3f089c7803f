//! Decoder families (architectures), one file each, with smp's parameter
//! names: every decoder owns its variables under `decoder.*` and its
//! segmentation head under `segmentation_head.*`. Each file also holds the
//! architecture's `Descriptor`: what it needs of its encoder and input.

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
use super::ops::{Eager, OnnxRecorder, Ops};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use tch::{nn, Tensor};

pub use head::SegmentationHead;

/// A decoder's forward pass on one backend.
pub trait Decode<O: Ops> {
    /// Logits at the input's resolution from `features` as `Encode::encode`
    /// returns them (the input first).
    fn decode(&self, o: &mut O, features: &[O::Value]) -> O::Value;
}

/// A decoder with its segmentation head, on both backends.
pub trait Decoder: Decode<Eager> + for<'g> Decode<OnnxRecorder<'g>> + fmt::Debug + Send {
    /// The eager logits.
    fn forward(&self, features: &[Tensor], train: bool) -> Tensor {
        self.decode(&mut Eager::new(train), features)
    }
}

impl<T: Decode<Eager> + for<'g> Decode<OnnxRecorder<'g>> + fmt::Debug + Send> Decoder for T {}

/// What smp's class for one architecture needs of its encoder and input, and
/// how its decoder is built; each architecture's file has its own.
pub(crate) struct Descriptor {
    /// The encoder's output stride smp uses by default: below 32, the last
    /// stages are dilated instead of strided.
    pub output_stride: i64,
    /// How many encoder stages the decoder reads (smp's `encoder_depth`);
    /// the encoder computes no more.
    pub encoder_depth: usize,
    /// The smallest input side the architecture runs on.
    pub min_input_size: i64,
    /// Whether smp refuses encoders without a stride-2 feature (Mix
    /// Transformers), whose width the decoder uses as a block width.
    pub needs_stride2_feature: bool,
    /// Builds the decoder under `root / "decoder"` and the head under
    /// `root / "segmentation_head"`, from the encoder's channels (input first).
    pub build: fn(root: &nn::Path, encoder: EncoderKind, encoder_channels: &[i64], classes: i64) -> Box<dyn Decoder>,
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

    /// Its facts and builder, from its own file.
    fn descriptor(self) -> &'static Descriptor {
        match self {
            Architecture::Unet => &unet::DESCRIPTOR,
            Architecture::UnetPlusPlus => &unet_plus_plus::DESCRIPTOR,
            Architecture::DeepLabV3 => &deeplab::V3,
            Architecture::DeepLabV3Plus => &deeplab::V3_PLUS,
            Architecture::Fpn => &fpn::DESCRIPTOR,
            Architecture::PspNet => &pspnet::DESCRIPTOR,
            Architecture::MaNet => &manet::DESCRIPTOR,
            Architecture::LinkNet => &linknet::DESCRIPTOR,
            Architecture::Pan => &pan::DESCRIPTOR,
        }
    }

    /// The encoder's output stride smp uses for this architecture by default:
    /// below 32, the last stages are dilated instead of strided.
    pub fn encoder_output_stride(self) -> i64 {
        self.descriptor().output_stride
    }

    /// How many encoder stages the decoder reads (smp's `encoder_depth`);
    /// the encoder computes no more.
    pub fn encoder_depth(self) -> usize {
        self.descriptor().encoder_depth
    }

    /// The smallest input side the architecture runs on.
    pub fn min_input_size(self) -> i64 {
        self.descriptor().min_input_size
    }

    /// Whether smp can build this architecture on `encoder`; the error says why not.
    pub fn check(self, encoder: EncoderKind) -> Result<()> {
        let d = self.descriptor();
        if d.output_stride < 32 && !encoder.supports_dilation() {
            return Err(Error::config(format!(
                "{self} needs a dilated encoder (output stride {}), which {encoder} does not support; \
                 choose a ResNet, SE-ResNet, MobileNetV2, EfficientNet or Mix Transformer encoder",
                d.output_stride
            )));
        }
        if d.needs_stride2_feature && !encoder.has_stride2_feature() {
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
        (self.descriptor().build)(root, encoder, encoder_channels, classes)
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
