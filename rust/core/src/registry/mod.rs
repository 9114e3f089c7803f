//! Trained models as a collection: listing the model folders under a root,
//! validating one, checksums, and zip bundles of several models with a manifest.

mod bundle;
mod checksum;
mod list;
mod problem;
mod validate;

pub use bundle::{
    open_bundle, pack_bundle, unpack_bundle, verify_bundle, BundleInfo, BundledFile, BundledModel, Manifest, BUNDLE_FORMAT,
    DEFAULT_MAX_BYTES, MANIFEST_FILE,
};
pub use checksum::{sha256_file, CHECKSUMS_FILE};
pub use list::{list_models, ModelSummary};
pub use problem::Problem;
pub use validate::{validate_model_dir, ValidationReport};
