//! Segmentation models: an encoder, a decoder and a head, with parameter names
//! that match segmentation_models_pytorch so that its state dicts load 1:1.

pub mod catalog;
pub mod encoders;
pub(crate) mod layers;
mod unet;
pub mod weights;

pub use encoders::{EncoderKind, FreezeGroup};

use crate::onnx::GraphBuilder;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use tch::nn::{self, ModuleT};
use tch::Tensor;

/// Input height and width must be multiples of this (the encoders' total stride).
pub const OUTPUT_STRIDE: i64 = 32;

/// Decoder families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Unet,
}

impl Architecture {
    pub const ALL: [Architecture; 1] = [Architecture::Unet];

    pub fn name(self) -> &'static str {
        match self {
            Architecture::Unet => "unet",
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

    fn from_str(s: &str) -> Result<Self> {
        Architecture::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::config(format!("unknown architecture '{s}'; known: unet")))
    }
}

/// Everything needed to build a model's variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub architecture: Architecture,
    pub encoder: EncoderKind,
    pub in_channels: i64,
    pub num_classes: i64,
}

/// A segmentation network mapping `[N, C, H, W]` images to `[N, classes, H, W]` logits.
#[derive(Debug)]
pub struct SegmentationModel {
    spec: ModelSpec,
    encoder: Box<dyn encoders::Encoder>,
    decoder: unet::UnetDecoder,
    head: layers::Conv2d,
}

impl SegmentationModel {
    /// Creates the model's variables under `root` (`encoder.*`, `decoder.*`,
    /// `segmentation_head.0.*`), freshly initialised.
    pub fn new(root: &nn::Path, spec: ModelSpec) -> Result<SegmentationModel> {
        if spec.in_channels < 1 {
            return Err(Error::config(format!("in_channels must be at least 1, got {}", spec.in_channels)));
        }
        if spec.num_classes < 2 {
            return Err(Error::config(format!("a pixel classifier needs at least 2 classes, got {}", spec.num_classes)));
        }
        let encoder = spec.encoder.build(&(root / "encoder"), spec.in_channels);
        let decoder = unet::UnetDecoder::new(&(root / "decoder"), encoder.out_channels());
        let head = layers::conv2d(root / "segmentation_head" / "0", decoder.out_channels(), spec.num_classes, 3, 1, 1, 1, true);
        Ok(SegmentationModel { spec, encoder, decoder, head })
    }

    pub fn spec(&self) -> ModelSpec {
        self.spec
    }

    /// Checks that a `[N, C, H, W]` input fits the model, with a message a user can act on.
    pub fn check_input(&self, size: &[i64]) -> Result<()> {
        match size {
            [_, c, h, w] => {
                if *c != self.spec.in_channels {
                    return Err(Error::config(format!("model expects {} input channels, got {c}", self.spec.in_channels)));
                }
                if h % OUTPUT_STRIDE != 0 || w % OUTPUT_STRIDE != 0 || *h == 0 || *w == 0 {
                    return Err(Error::config(format!(
                        "input height and width must be positive multiples of {OUTPUT_STRIDE}, got {h}x{w}"
                    )));
                }
                Ok(())
            }
            _ => Err(Error::config(format!("expected a [N, C, H, W] input, got shape {size:?}"))),
        }
    }

    /// Adds the eval-mode forward pass to `g`, reading the value `input`;
    /// returns the name of the logits.
    pub fn export_onnx(&self, g: &mut GraphBuilder, input: &str) -> String {
        let features = self.encoder.export_onnx(g, input);
        let x = self.decoder.export_onnx(g, &features);
        g.conv(&x, &self.head, None)
    }
}

impl ModuleT for SegmentationModel {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let features = self.encoder.features(xs, train);
        self.decoder.forward(&features, train).apply(&self.head)
    }
}
