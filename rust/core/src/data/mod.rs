//! Training data: QuPath export config, image and mask files, and the
//! validated dataset built from them.

mod config;
mod dataset;
mod image_io;
mod raw;

pub(crate) use config::parse_color;
pub use config::{ChannelConfig, ClassInfo, DataConfig};
pub use dataset::{Sample, TrainingData};
pub use image_io::{is_image_file, load_image, read_image, read_mask, LoadedImage};
pub use raw::{read_raw, write_raw};
