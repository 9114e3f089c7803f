//! `dlclassifier infer`: apply a model to a whole image.

use clap::Args;
use dlclassifier::data::{read_image, read_mask};
use dlclassifier::inference::InferenceOptions;
use dlclassifier::non_finite::NonFinite;
use dlclassifier::objects::{AreaUnit, ObjectOptions, ObjectType};
use dlclassifier::region::{read_polygons, Region, RegionSpec};
use dlclassifier::job::JobControl;
use dlclassifier::tasks::pixel::apply::{apply_to_image, OutputOptions};
use dlclassifier::tasks::pixel::outputs::{PixelSize, SampleType};
use dlclassifier::tasks::pixel::Predictor;
use dlclassifier::tiling::channel_names::Named;
use dlclassifier::tiling::{InMemoryImage, RegionReader, TilingOptions};
use dlclassifier::{Error, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Args)]
pub struct InferArgs {
    /// Model folder written by training (or by `export`).
    #[arg(long, required_unless_present = "onnx")]
    model: Option<PathBuf>,
    /// An external ONNX model instead of a model folder.
    #[arg(long, conflicts_with = "model")]
    onnx: Option<PathBuf>,
    /// metadata.json for --onnx (classes, normalization, tile size).
    #[arg(long, requires = "onnx")]
    metadata: Option<PathBuf>,
    /// Image to classify (TIFF, PNG, JPEG).
    #[arg(long)]
    image: PathBuf,
    /// Folder for the result files.
    #[arg(long)]
    out: PathBuf,
    /// Tile side in pixels (default: the model's training tile size, at least 256).
    #[arg(long)]
    tile: Option<usize>,
    /// Pixels shared by neighbouring tiles (default: a quarter tile, in multiples of 32).
    #[arg(long)]
    overlap: Option<usize>,
    /// linear, gaussian, center_crop or none.
    #[arg(long, default_value = "linear")]
    blend: String,
    /// Tiles per model call.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Average over the 8 flips and rotations of each tile.
    #[arg(long)]
    tta: bool,
    /// auto, onnx or torch.
    #[arg(long, default_value = "auto")]
    backend: String,
    /// auto, cpu, cuda, cuda:N or mps.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Intra-op CPU threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Half precision (GPU only).
    #[arg(long)]
    fp16: bool,
    /// Read NaN and infinite pixels as 0 instead of refusing the image.
    #[arg(long)]
    nan_as_zero: bool,
    /// Also write probabilities.tif, as float32 or uint8.
    #[arg(long)]
    probabilities: Option<String>,
    /// Do not write class_map.png.
    #[arg(long)]
    no_class_map: bool,
    /// Do not write overlay.png.
    #[arg(long)]
    no_overlay: bool,
    /// Overlay opacity, 0-255.
    #[arg(long, default_value_t = 128)]
    overlay_alpha: u8,
    /// blend: class colours over the image (Background left out); classes: the colours alone, as RGBA.
    #[arg(long, default_value = "blend")]
    overlay: String,
    /// Display range of each image channel under the overlay, as MIN:MAX,MIN:MAX,...
    /// (default: the 0.5th to 99.5th percentile of a sample of the image).
    #[arg(long, value_delimiter = ',')]
    display_range: Option<Vec<String>>,
    /// Names of the image's channels in order, e.g. CD3,CK,DAPI: the model's
    /// channels are then picked from them by name.
    #[arg(long, value_delimiter = ',')]
    channel_names: Option<Vec<String>>,
    /// Pixel size of the image in µm, for areas in µm²; with the model's
    /// training pixel size it also sets the downsample the model runs at.
    #[arg(long)]
    pixel_size: Option<f64>,
    /// Downsample the image by this factor before the model sees it (default:
    /// from --pixel-size and the model's pixel size, else the model's training
    /// downsample). Outputs stay at full resolution.
    #[arg(long)]
    downsample: Option<f64>,
    /// A ground-truth mask (class indices, 255 = unlabeled) to score the prediction against.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Trace the predicted classes into objects: `geojson` writes objects.geojson
    /// (QuPath's import format) and objects.csv (one row of measurements per object).
    #[arg(long, value_parser = ["geojson"])]
    objects: Option<String>,
    /// detection or annotation: the QuPath object type of the objects.
    #[arg(long, default_value = "detection", requires = "objects")]
    object_type: String,
    /// Drop objects smaller than this (in pixels; in µm² with --area-unit um2).
    #[arg(long, default_value_t = 0.0, requires = "objects")]
    min_area: f64,
    /// Fill holes smaller than this (in pixels; in µm² with --area-unit um2).
    #[arg(long, default_value_t = 0.0, requires = "objects")]
    fill_holes: f64,
    /// px or um2 (needs --pixel-size): the unit of --min-area and --fill-holes.
    #[arg(long, default_value = "px", value_parser = ["px", "um2"], requires = "objects")]
    area_unit: String,
    /// Simplify outlines by this tolerance in pixels (Douglas-Peucker; 0 keeps pixel edges).
    #[arg(long, default_value_t = 0.0, requires = "objects")]
    simplify: f64,
    /// Round outlines by this many passes of corner cutting (0-5).
    #[arg(long, default_value_t = 0, requires = "objects")]
    smooth: u32,
    /// Classes not traced, by name, comma-separated (default: a class named Background).
    #[arg(long, value_delimiter = ',', requires = "objects")]
    skip_classes: Option<Vec<String>>,
    /// Classify only inside these polygons: a GeoJSON file (a geometry,
    /// feature or feature collection, as QuPath exports annotations) or a WKT
    /// file. Outputs cover the region's bounding box; pixels outside it are
    /// 255 in class_map.png.
    #[arg(long, conflicts_with = "region_mask")]
    region: Option<PathBuf>,
    /// Classify only where this mask (an image the size of --image) is nonzero.
    #[arg(long)]
    region_mask: Option<PathBuf>,
    /// Keep objects inside these polygons (a GeoJSON or WKT file, as --region).
    #[arg(long, requires = "objects")]
    clip: Option<PathBuf>,
    /// Print the report as JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

pub fn run(a: InferArgs) -> Result<()> {
    let options = InferenceOptions {
        backend: a.backend.parse()?,
        device: a.device.parse()?,
        fp16: a.fp16,
        threads: a.threads,
        non_finite: if a.nan_as_zero { NonFinite::Zero } else { NonFinite::Refuse },
        ..Default::default()
    };
    let predictor = match (&a.model, &a.onnx) {
        (Some(dir), _) => Predictor::open(dir, &options)?,
        (None, Some(onnx)) => Predictor::open_onnx(onnx, a.metadata.as_deref(), &options)?,
        (None, None) => return Err(Error::config("give --model or --onnx")),
    };
    let tiling = TilingOptions { blend: a.blend.parse()?, batch_size: a.batch, tta: a.tta, ..predictor.info().tiling(a.tile, a.overlap) };
    tiling.validate_for(predictor.info().fixed_size.map(|(side, _)| side))?;
    let probabilities = a
        .probabilities
        .as_deref()
        .map(|p| match p {
            "float32" | "f32" => Ok(SampleType::Float32),
            "uint8" | "u8" => Ok(SampleType::Uint8),
            _ => Err(Error::config(format!("unknown probability type '{p}'; use float32 or uint8"))),
        })
        .transpose()?;
    let outputs = OutputOptions {
        class_map: !a.no_class_map,
        probabilities,
        overlay_alpha: (!a.no_overlay).then_some(a.overlay_alpha),
        overlay_mode: a.overlay.parse()?,
        display_range: a.display_range.as_deref().map(parse_display_range).transpose()?,
        measurements: true,
        pixel_size: a.pixel_size.map(|s| PixelSize { width: s, height: s, unit: "µm".to_string() }),
        downsample: a.downsample,
        truth: a.truth.as_deref().map(read_mask).transpose()?,
        objects: a.objects.is_some().then(|| object_options(&a)).transpose()?,
        region: match (&a.region, &a.region_mask) {
            (Some(file), _) => Some(Region::polygons(read_polygons(file)?)?),
            (None, Some(mask)) => Some(RegionSpec::Mask(mask.clone()).resolve()?),
            (None, None) => None,
        },
    };
    let image = InMemoryImage(read_image(&a.image)?);
    let named = a.channel_names.map(|names| Named::new(&image, names)).transpose()?;
    let image: &dyn RegionReader = named.as_ref().map_or(&image, |n| n as &dyn RegionReader);
    let bar = if a.json { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_style(ProgressStyle::with_template("{bar:30} tile {pos}/{len} [{elapsed_precise}<{eta_precise}]").expect("valid template"));
    let report = apply_to_image(&predictor, image, &a.out, &tiling, &outputs, &JobControl::new(), &mut |p| {
        bar.set_length(p.tiles_total as u64);
        bar.set_position(p.tiles_done as u64);
    })?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string(&report).map_err(|e| Error::config(e.to_string()))?);
        return Ok(());
    }
    if let Some(r) = &report.region {
        let b = r.bounds;
        println!("Region: {} px in the {}x{} box at ({}, {}); {} tiles left out", r.pixels, b.width, b.height, b.x, b.y, r.tiles_skipped);
    }
    let resolution = if report.downsample == 1.0 { String::new() } else { format!(" at downsample {}", report.downsample) };
    println!("{} tiles{resolution} in {:.1} s on {}", report.tiles, report.seconds, predictor.info().backend);
    for c in &report.measurements.classes {
        let area = c.area.map(|a| format!(", {a:.1} {}", report.measurements.area_unit.as_deref().unwrap_or(""))).unwrap_or_default();
        println!("  {:<16} {:>6.2}% of pixels{area}", c.name, 100.0 * c.fraction);
    }
    if let Some(score) = &report.truth {
        println!("Against {}: pixel accuracy {:.3}, mean IoU {:.3}", a.truth.as_ref().expect("given").display(), score.pixel_accuracy, score.mean_iou);
        for (class, iou) in predictor.info().classes.iter().zip(&score.per_class_iou) {
            println!("  IoU {:<12} {}", class.name, iou.map(|v| format!("{v:.3}")).unwrap_or_else(|| "n/a".to_string()));
        }
    }
    if let Some(objects) = &report.objects {
        let per_class: Vec<String> = predictor
            .info()
            .classes
            .iter()
            .zip(&objects.per_class)
            .filter(|(_, &n)| n > 0)
            .map(|(c, n)| format!("{n} {}", c.name))
            .collect();
        println!("{} objects: {}", objects.count, if per_class.is_empty() { "none".to_string() } else { per_class.join(", ") });
    }
    for file in &report.files {
        println!("wrote {}", file.display());
    }
    Ok(())
}

fn object_options(a: &InferArgs) -> Result<ObjectOptions> {
    let object_type = match a.object_type.as_str() {
        "detection" => ObjectType::Detection,
        "annotation" => ObjectType::Annotation,
        other => return Err(Error::config(format!("unknown object type '{other}'; use detection or annotation"))),
    };
    Ok(ObjectOptions {
        object_type,
        min_area: a.min_area,
        fill_holes_below: a.fill_holes,
        area_unit: if a.area_unit == "um2" { AreaUnit::Calibrated } else { AreaUnit::Pixels },
        simplify: a.simplify,
        smooth: a.smooth,
        skip_classes: a.skip_classes.clone(),
        clip: a.clip.as_deref().map(read_polygons).transpose()?,
        ..ObjectOptions::default()
    })
}

/// `MIN:MAX` pairs, one per image channel.
fn parse_display_range(pairs: &[String]) -> Result<Vec<(f32, f32)>> {
    pairs
        .iter()
        .map(|pair| {
            let parsed = pair.split_once(':').and_then(|(lo, hi)| Some((lo.trim().parse().ok()?, hi.trim().parse().ok()?)));
            parsed.ok_or_else(|| Error::config(format!("display range '{pair}' is not MIN:MAX")))
        })
        .collect()
}
