//! `dlclassifier bench-infer`: tiles/s of the engine's ONNX path (byte tiles
//! in, class map out, normalization and argmax included) against the bare
//! ONNX Runtime run of the same session on the same, already normalized,
//! input — the floor.
//! `bench/ort_infer_bench.py` measures the Python path on the tiles written here.

use clap::Args;
use dlclassifier::data::read_image;
use dlclassifier::inference::{BackendChoice, InferenceOptions};
use dlclassifier::model_dir::ModelMetadata;
use dlclassifier::normalization::Normalizer;
use dlclassifier::tasks::pixel::{tiles, Dtype, Order, Outputs, Predictor, TileLayout};
use dlclassifier::{Error, Result};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct BenchInferArgs {
    /// Model folder with model.onnx.
    #[arg(long)]
    model: PathBuf,
    /// 8-bit image to cut the tiles from.
    #[arg(long)]
    image: PathBuf,
    /// Tile side in pixels.
    #[arg(long, default_value_t = 256)]
    tile: usize,
    /// Tiles per run.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// CPU threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Untimed runs first.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed runs.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Also write the tiles (raw uint8 HWC) and the normalization as JSON here,
    /// for the Python side of the comparison.
    #[arg(long)]
    save: Option<PathBuf>,
}

pub fn run(a: BenchInferArgs) -> Result<()> {
    let meta = ModelMetadata::read(&a.model)?;
    let channels = meta.architecture.in_channels as usize;
    let bytes = cut_tiles(&a, channels)?;
    let layout = TileLayout { count: a.batch, channels, height: a.tile, width: a.tile, order: Order::Hwc, dtype: Dtype::U8 };
    let options = InferenceOptions { backend: BackendChoice::Onnx, threads: Some(a.threads), ..Default::default() };
    let predictor = Predictor::open(&a.model, &options)?;
    // The floor runs on the very same session, so only our own work differs.
    let floor = predictor.backend();
    let input = tiles::decode(&bytes, &layout, predictor.normalizer(), tiles::Padding::to_multiple(32), predictor.non_finite())?;
    if let Some(dir) = &a.save {
        save(dir, &bytes, predictor.normalizer(), channels)?;
    }
    let mut class_map = vec![0u8; a.batch * a.tile * a.tile];
    let mut ours = || predictor.predict(&bytes, &layout, Outputs { probabilities: None, class_map: Some(&mut class_map) });
    let bare = || floor.run(input.view(), &mut |_| Ok(()));
    for _ in 0..a.warmup {
        ours()?;
        bare()?;
    }
    // Interleaved, so that both see the same machine state.
    let (mut t_ours, mut t_bare) = (0.0, 0.0);
    for _ in 0..a.steps {
        let start = Instant::now();
        ours()?;
        t_ours += start.elapsed().as_secs_f64();
        let start = Instant::now();
        bare()?;
        t_bare += start.elapsed().as_secs_f64();
    }
    let tiles = (a.steps * a.batch) as f64;
    let result = serde_json::json!({
        "tiles_per_s": tiles / t_ours,
        "floor_tiles_per_s": tiles / t_bare,
        "tile": a.tile,
        "batch": a.batch,
        "threads": a.threads,
        "channels": channels,
        "classes": meta.architecture.num_classes,
        "encoder": meta.architecture.backbone.name(),
        "backend": predictor.info().backend,
    });
    println!("{result}");
    Ok(())
}

/// `batch` tiles from a grid over the image, as uint8 HWC.
fn cut_tiles(a: &BenchInferArgs, channels: usize) -> Result<Vec<u8>> {
    let image = read_image(&a.image)?;
    let (c, h, w) = image.dim();
    if c != channels || h < a.tile || w < a.tile {
        return Err(Error::config(format!("{}: need {channels} channels and at least {}x{} pixels", a.image.display(), a.tile, a.tile)));
    }
    let mut bytes = Vec::with_capacity(a.batch * a.tile * a.tile * c);
    for i in 0..a.batch {
        let (y0, x0) = ((i * 97) % (h - a.tile + 1), (i * 211) % (w - a.tile + 1));
        for y in y0..y0 + a.tile {
            for x in x0..x0 + a.tile {
                bytes.extend((0..c).map(|ch| image[[ch, y, x]].clamp(0.0, 255.0) as u8));
            }
        }
    }
    Ok(bytes)
}

fn save(dir: &std::path::Path, bytes: &[u8], normalizer: &Normalizer, channels: usize) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    std::fs::write(dir.join("tiles.u8"), bytes).map_err(|e| Error::io(dir, e))?;
    let affine: Vec<_> = (0..channels).map(|c| normalizer.affine(c)).collect();
    let spec = serde_json::json!({ "affine": affine, "clip": normalizer.clip_range() });
    std::fs::write(dir.join("normalization.json"), spec.to_string()).map_err(|e| Error::io(dir, e))
}
