//! Transfer-learning recommendations: how much of a (pretrained) encoder to
//! freeze, and how much lower its learning rate should be, by the amount of
//! training data.
//!
//! The amount is counted in *tiles*: training crops of `tile_size²` pixels,
//! each training image counting as its area over `tile_size²` (rounded, at
//! least 1), the same number of crops one epoch draws by default. Classes:
//!
//! | tiles              | class  | frozen encoder groups         | encoder LR factor |
//! |--------------------|--------|-------------------------------|-------------------|
//! | < 500              | small  | all but the last              | 0.1               |
//! | 500 to 4,999       | medium | the first two (stem, stage 1) | 0.3               |
//! | ≥ 5,000            | large  | the stem only                 | 1.0               |
//!
//! Group names come from [`EncoderKind::freeze_groups`], so every encoder works.

use super::batches::tiles_covering;
use crate::data::TrainingData;
use crate::models::EncoderKind;
use crate::settings::TrainingConfig;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Fewer tiles than this is a small data set.
pub const SMALL_MAX_TILES: usize = 500;
/// Fewer tiles than this (and at least [`SMALL_MAX_TILES`]) is a medium one.
pub const MEDIUM_MAX_TILES: usize = 5000;

/// How much training data there is, relative to what an encoder can learn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SizeClass {
    Small,
    Medium,
    Large,
}

impl SizeClass {
    /// The class of a data set of `tiles` tiles.
    pub fn of(tiles: usize) -> SizeClass {
        if tiles < SMALL_MAX_TILES {
            SizeClass::Small
        } else if tiles < MEDIUM_MAX_TILES {
            SizeClass::Medium
        } else {
            SizeClass::Large
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SizeClass::Small => "small",
            SizeClass::Medium => "medium",
            SizeClass::Large => "large",
        }
    }
}

impl fmt::Display for SizeClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Suggested transfer-learning settings for one encoder and data-set size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub encoder: EncoderKind,
    pub tiles: usize,
    pub size_class: SizeClass,
    /// Encoder freeze groups to keep fixed, input side first.
    pub frozen_groups: Vec<String>,
    /// Encoder learning rate relative to the decoder's.
    pub encoder_lr_factor: f64,
    pub rationale: String,
}

impl Recommendation {
    /// Sets the recommended `frozen_groups` and `encoder_lr_factor` (and the
    /// encoder) on `config`, leaving everything else as it is.
    pub fn apply_to(&self, config: &mut TrainingConfig) {
        config.encoder = self.encoder;
        config.frozen_groups = self.frozen_groups.clone();
        config.encoder_lr_factor = self.encoder_lr_factor;
    }
}

/// Recommended freezing and encoder learning rate for fine-tuning `encoder`
/// on `tiles` training tiles (see the module documentation for the rules).
pub fn recommend(encoder: EncoderKind, tiles: usize) -> Recommendation {
    let groups: Vec<String> = encoder.freeze_groups().into_iter().map(|g| g.name.to_string()).collect();
    let n = groups.len();
    let size_class = SizeClass::of(tiles);
    let (frozen, factor, why) = match size_class {
        SizeClass::Small => (
            n.saturating_sub(1),
            0.1,
            format!(
                "{tiles} tiles is a small data set (< {SMALL_MAX_TILES}): freeze all encoder groups but the last so that the \
                 pretrained features are not overfitted, and train the last one at a tenth of the learning rate"
            ),
        ),
        SizeClass::Medium => (
            2.min(n.saturating_sub(1)),
            0.3,
            format!(
                "{tiles} tiles is a medium data set ({SMALL_MAX_TILES} to {}): freeze the early, generic groups (stem and \
                 first stage) and fine-tune the rest of the encoder at 0.3 times the learning rate",
                MEDIUM_MAX_TILES - 1
            ),
        ),
        SizeClass::Large => (
            1.min(n.saturating_sub(1)),
            1.0,
            format!(
                "{tiles} tiles is a large data set (>= {MEDIUM_MAX_TILES}): enough to train nearly the whole encoder at the \
                 full learning rate; only the stem stays frozen"
            ),
        ),
    };
    Recommendation { encoder, tiles, size_class, frozen_groups: groups[..frozen].to_vec(), encoder_lr_factor: factor, rationale: why }
}

/// Tiles of `tile_size` in the training split of `data`: each image counts
/// its area over `tile_size²`, rounded, at least 1 (the crops one epoch draws
/// by default). Validation images are not counted.
pub fn count_tiles(data: &TrainingData, tile_size: usize) -> usize {
    data.train.iter().map(|s| tiles_covering(s.image.shape()[1], s.image.shape()[2], tile_size)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_have_documented_thresholds() {
        assert_eq!(SizeClass::of(0), SizeClass::Small);
        assert_eq!(SizeClass::of(499), SizeClass::Small);
        assert_eq!(SizeClass::of(500), SizeClass::Medium);
        assert_eq!(SizeClass::of(4999), SizeClass::Medium);
        assert_eq!(SizeClass::of(5000), SizeClass::Large);
    }

    #[test]
    fn every_encoder_gets_valid_recommendations_for_every_size() {
        for encoder in EncoderKind::ALL {
            let groups: Vec<String> = encoder.freeze_groups().into_iter().map(|g| g.name.to_string()).collect();
            let small = recommend(encoder, 100);
            let medium = recommend(encoder, 1000);
            let large = recommend(encoder, 50_000);
            assert_eq!((small.size_class, medium.size_class, large.size_class), (SizeClass::Small, SizeClass::Medium, SizeClass::Large));
            assert_eq!(small.frozen_groups, groups[..groups.len() - 1], "{encoder}");
            assert_eq!(medium.frozen_groups, groups[..2], "{encoder}");
            assert_eq!(large.frozen_groups, vec!["stem".to_string()], "{encoder}");
            assert!(small.encoder_lr_factor < medium.encoder_lr_factor && medium.encoder_lr_factor < large.encoder_lr_factor);
            for r in [small, medium, large] {
                assert!(r.rationale.contains(r.size_class.name()), "{}", r.rationale);
                let mut config = TrainingConfig::default();
                r.apply_to(&mut config);
                config.validate().unwrap();
                assert_eq!((config.encoder, config.encoder_lr_factor), (encoder, r.encoder_lr_factor));
            }
        }
    }

    #[test]
    fn recommendations_serialize_with_snake_case_names() {
        let json = serde_json::to_value(recommend(EncoderKind::EfficientNetB0, 10)).unwrap();
        assert_eq!(json["encoder"], "efficientnet-b0");
        assert_eq!(json["size_class"], "small");
        assert_eq!(json["frozen_groups"], serde_json::json!(["stem", "stage2", "stage3", "stage4"]));
    }

    #[test]
    fn tiles_are_counted_like_the_default_epoch() {
        let data = TrainingData::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/nuclei-dsb2018")).unwrap();
        let per_image: usize = data.train.iter().map(|s| tiles_covering(s.image.shape()[1], s.image.shape()[2], 64)).sum();
        assert_eq!(count_tiles(&data, 64), per_image);
        assert!(count_tiles(&data, 64) >= data.train.len());
        assert!(count_tiles(&data, 32) >= count_tiles(&data, 256));
    }
}
