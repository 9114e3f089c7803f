//! `dlclassifier catalog`: what the engine can build, and transfer-learning
//! recommendations.

use clap::Args;
use dlclassifier::data::TrainingData;
use dlclassifier::models::EncoderKind;
use dlclassifier::train::transfer::{count_tiles, recommend};
use dlclassifier::{Error, Result};
use std::path::PathBuf;

#[derive(Args)]
pub struct CatalogArgs {
    /// Print the recommended frozen groups and encoder learning-rate factor
    /// for fine-tuning --encoder on --tiles tiles (or the tiles of --data).
    #[arg(long)]
    recommend: bool,
    /// Encoder the recommendation is for (default resnet34).
    #[arg(long, requires = "recommend")]
    encoder: Option<String>,
    /// Number of training tiles.
    #[arg(long, requires = "recommend", conflicts_with = "data")]
    tiles: Option<usize>,
    /// Training-data folder whose training tiles to count instead of --tiles.
    #[arg(long, requires = "recommend")]
    data: Option<PathBuf>,
    /// Tile side used to count the tiles of --data (default 256).
    #[arg(long, requires = "data")]
    tile_size: Option<usize>,
    /// Print the recommendation as JSON.
    #[arg(long, requires = "recommend")]
    json: bool,
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value).map_err(|e| Error::config(e.to_string()))
}

pub fn run(args: CatalogArgs) -> Result<()> {
    if !args.recommend {
        println!("{}", to_json(&dlclassifier::models::catalog::catalog()?)?);
        return Ok(());
    }
    let encoder: EncoderKind = args.encoder.as_deref().unwrap_or("resnet34").parse()?;
    let tiles = match (&args.data, args.tiles) {
        (Some(dir), _) => {
            let tile = args.tile_size.unwrap_or(256);
            if tile == 0 {
                return Err(Error::config("tile-size must be positive"));
            }
            count_tiles(&TrainingData::load(dir)?, tile)
        }
        (None, Some(n)) => n,
        (None, None) => return Err(Error::config("--recommend needs --tiles N or --data DIR")),
    };
    let r = recommend(encoder, tiles);
    if args.json {
        println!("{}", to_json(&r)?);
    } else {
        println!("encoder:           {}", r.encoder);
        println!("tiles:             {} ({})", r.tiles, r.size_class);
        println!("frozen groups:     {}", if r.frozen_groups.is_empty() { "none".to_string() } else { r.frozen_groups.join(",") });
        println!("encoder LR factor: {}", r.encoder_lr_factor);
        println!("{}", r.rationale);
        let freeze = if r.frozen_groups.is_empty() { String::new() } else { format!(" --freeze {}", r.frozen_groups.join(",")) };
        println!("train with:        --encoder {}{freeze} --encoder-lr-factor {}", r.encoder, r.encoder_lr_factor);
    }
    Ok(())
}
