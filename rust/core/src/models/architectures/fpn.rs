//! PLACEHOLDER: being written this session.

use super::Decoder;
use tch::nn;

pub fn build(_root: &nn::Path, _encoder_channels: &[i64], _classes: i64) -> Box<dyn Decoder> {
    todo!("fpn")
}
