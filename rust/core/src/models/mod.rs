//! Segmentation models: an encoder, a decoder and a head, with parameter names
//! that match segmentation_models_pytorch so that its state dicts load 1:1.

pub mod architectures;
pub mod catalog;
pub mod encoders;
mod export;
pub(crate) mod layers;
pub(crate) mod modules;
pub mod ops;
pub mod pretrained;
pub mod weights;

pub use architectures::Architecture;
pub use encoders::{EncoderKind, FreezeGroup};
pub use export::export_onnx;

use crate::onnx::GraphBuilder;
use crate::{Error, Result};
use architectures::Decode;
use encoders::Encode;
use ops::{Eager, OnnxRecorder, Ops};
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::Tensor;

/// Input height and width must be multiples of this (the encoders' total stride).
pub const OUTPUT_STRIDE: i64 = 32;

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
    decoder: Box<dyn architectures::Decoder>,
}

impl SegmentationModel {
    /// Creates the model's variables under `root` (`encoder.*`, `decoder.*`,
    /// `segmentation_head.0.*`), freshly initialised. Architectures that need
    /// a finer output stride get an encoder dilated the way smp dilates it.
    pub fn new(root: &nn::Path, spec: ModelSpec) -> Result<SegmentationModel> {
        if spec.in_channels < 1 {
            return Err(Error::config(format!("in_channels must be at least 1, got {}", spec.in_channels)));
        }
        if spec.num_classes < 2 {
            return Err(Error::config(format!("a pixel classifier needs at least 2 classes, got {}", spec.num_classes)));
        }
        spec.architecture.check(spec.encoder)?;
        let mut encoder = spec.encoder.build(&(root / "encoder"), spec.in_channels);
        let output_stride = spec.architecture.encoder_output_stride();
        if output_stride < 32 {
            encoder.make_dilated(output_stride)?;
        }
        let decoder = spec.architecture.decoder(root, spec.encoder, encoder.out_channels(), spec.num_classes);
        Ok(SegmentationModel { spec, encoder, decoder })
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
                let min = self.spec.architecture.min_input_size();
                if *h < min || *w < min {
                    return Err(Error::config(format!("{} needs inputs of at least {min}x{min}, got {h}x{w}", self.spec.architecture)));
                }
                Ok(())
            }
            _ => Err(Error::config(format!("expected a [N, C, H, W] input, got shape {size:?}"))),
        }
    }

    /// The logits of `x`, on either backend: the encoder computes the stages
    /// the decoder reads.
    pub fn forward<O: Ops>(&self, o: &mut O, x: &O::Value) -> O::Value
    where
        dyn encoders::Encoder: Encode<O>,
        dyn architectures::Decoder: Decode<O>,
    {
        let features = self.encoder.encode(o, x, self.spec.architecture.encoder_depth());
        self.decoder.decode(o, &features)
    }

    /// PreciseBN (Wu & Johnson, 2021): sets every BatchNorm's running
    /// statistics to the plain average of the batch statistics of `batches`
    /// under the current weights. During training they are an exponential
    /// average over steps whose weights kept changing; after the few, small
    /// batches of a typical run that lag is what makes eval-mode predictions
    /// on whole images fall short of what the weights can do. Returns the
    /// number of batches used; with none, nothing changes.
    pub fn calibrate_batch_norm(&self, batches: impl IntoIterator<Item = Tensor>) -> usize {
        tch::no_grad(|| {
            let mut count = 0;
            for batch in batches {
                let _ = self.forward(&mut Eager::calibrating(1.0 / (count + 1) as f64), &batch);
                count += 1;
            }
            count
        })
    }

    /// Adds the eval-mode forward pass to `g`, reading the value `input`;
    /// returns the name of the logits.
    pub fn record(&self, g: &mut GraphBuilder, input: &str) -> String {
        self.forward(&mut OnnxRecorder::new(g), &input.to_string())
    }
}

impl ModuleT for SegmentationModel {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.forward(&mut Eager::new(train), xs)
    }
}
