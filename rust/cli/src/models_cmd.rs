//! `dlclassifier models`: list, verify, bundle and unbundle trained models.

use clap::Subcommand;
use dlclassifier::registry::{self, BundleInfo, DEFAULT_MAX_BYTES};
use dlclassifier::{Error, Result};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// List the model folders under ROOT (e.g. a QuPath project's classifiers/), newest first.
    List {
        /// Folder to search for model folders.
        root: PathBuf,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check a model folder or a bundle; exits 3 with every reason when it is invalid.
    Verify {
        /// A model folder or a bundle (.zip).
        path: PathBuf,
        /// Largest total uncompressed size a bundle may have, in bytes.
        #[arg(long, default_value_t = DEFAULT_MAX_BYTES)]
        max_bytes: u64,
    },
    /// Pack model folders into a zip bundle with a checksummed manifest.
    Bundle {
        /// The zip file to write.
        #[arg(long)]
        out: PathBuf,
        /// Name recorded in the bundle manifest.
        #[arg(long)]
        name: String,
        /// Version recorded in the bundle manifest.
        #[arg(long, default_value = "1.0")]
        version: String,
        /// Description recorded in the bundle manifest.
        #[arg(long, default_value = "")]
        description: String,
        /// The model folders to pack.
        #[arg(required = true)]
        models: Vec<PathBuf>,
    },
    /// Verify a bundle and unpack it into a new folder (default: beside it, named after it).
    Unbundle {
        /// The bundle (.zip).
        bundle: PathBuf,
        /// Folder to unpack into, which must not exist (default: the bundle's path without its extension).
        #[arg(long)]
        to: Option<PathBuf>,
        /// The largest total uncompressed size accepted.
        #[arg(long, default_value_t = DEFAULT_MAX_BYTES)]
        max_bytes: u64,
    },
}

pub fn run(command: ModelsCommand) -> Result<()> {
    match command {
        ModelsCommand::List { root, json } => {
            let models = registry::list_models(&root)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&models).map_err(|e| Error::config(e.to_string()))?);
            }
            for m in models.iter().filter(|_| !json) {
                let iou = m.mean_iou.map_or("-".into(), |v| format!("{v:.3}"));
                println!(
                    "{}\t{} {}\t{} ch\t{} px\tIoU {iou}\t{}\t[{}]\t{}",
                    m.name,
                    m.architecture,
                    m.encoder,
                    m.channels,
                    m.tile_size,
                    m.created,
                    m.classes.join(", "),
                    m.path.display()
                );
            }
            Ok(())
        }
        ModelsCommand::Verify { path, .. } if path.is_dir() => {
            let report = registry::validate_model_dir(&path);
            if !report.valid {
                let reasons: Vec<_> = report.problems.iter().map(|p| format!("{}: {}", p.file, p.reason)).collect();
                return Err(Error::data(&path, format!("invalid model folder: {}", reasons.join("; "))));
            }
            println!("ok: {}", path.display());
            Ok(())
        }
        ModelsCommand::Verify { path, max_bytes } => {
            let manifest = registry::verify_bundle(&path, max_bytes)?;
            let names: Vec<_> = manifest.models.iter().map(|m| m.name.as_str()).collect();
            println!("ok: {} {} ({})", manifest.info.name, manifest.info.version, names.join(", "));
            Ok(())
        }
        ModelsCommand::Bundle { out, name, version, description, models } => {
            let manifest = registry::pack_bundle(&models, &out, &BundleInfo { name, version, description })?;
            println!("wrote {} ({} models)", out.display(), manifest.models.len());
            Ok(())
        }
        ModelsCommand::Unbundle { bundle, to, max_bytes } => {
            let to = to.unwrap_or_else(|| bundle.with_extension(""));
            registry::unpack_bundle(&bundle, &to, max_bytes)?;
            println!("unpacked to {}", to.display());
            Ok(())
        }
    }
}
