//! What the engine can build, and transfer-learning recommendations.

use dlclassifier::models::catalog::{catalog, ArchitectureInfo};
use dlclassifier::models::EncoderKind;
use dlclassifier::train::{recommend, Recommendation};

bridge_fn! {
    /// What the engine can build, as a JSON array of architectures `{"name",
    /// "encoders": [{"name", "encoder_parameters", "model_parameters"
    /// (3 channels, 2 classes; equal to segmentation_models_pytorch's),
    /// "freeze_groups": [{"name", "prefixes"}], "pretrained": [{"name",
    /// "file_stem", "source", "licence", "file" (null unless the file is in the
    /// weights folder)}]}]}`. Only the combinations smp can build are listed.
    /// The first call builds every model once to count parameters (seconds).
    fn catalog_json() -> json[Vec<ArchitectureInfo>] {
        Ok(catalog()?)
    }
}

bridge_fn! {
    /// The recommended transfer-learning settings for fine-tuning `encoder`
    /// (e.g. `"resnet34"`) on `tiles` training tiles, as JSON `{"encoder",
    /// "tiles", "size_class" ("small" below 500 tiles, "medium" below 5000,
    /// else "large"), "frozen_groups" (names of encoder freeze groups),
    /// "encoder_lr_factor", "rationale"}`. `frozen_groups` and
    /// `encoder_lr_factor` are training-configuration fields of the same
    /// names. `DLC_INVALID_ARGUMENT` for an unknown encoder.
    fn recommend_json(encoder: str, tiles: size) -> json[Recommendation] {
        let encoder: EncoderKind = encoder.parse()?;
        Ok(recommend(encoder, tiles))
    }
}
