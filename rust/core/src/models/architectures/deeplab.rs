//! PLACEHOLDER: being written this session.

use super::Decoder;
use tch::nn;

pub fn build_v3(_root: &nn::Path, _encoder_channels: &[i64], _classes: i64) -> Box<dyn Decoder> {
    todo!("deeplabv3")
}

pub fn build_v3_plus(_root: &nn::Path, _encoder_channels: &[i64], _classes: i64) -> Box<dyn Decoder> {
    todo!("deeplabv3+")
}
