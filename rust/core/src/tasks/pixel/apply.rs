//! Applying a model to a whole image: tiles are read, predicted and blended,
//! and the chosen result files are written while finished rows stream in.

use super::outputs::{
    blend_colors, class_colors, Agreement, ClassCounts, ClassMap, Display, Measurements, ObjectFiles, ObjectSummary, Overlay, OverlayMode,
    PixelSize, ProbabilityTiff, SampleType, Sinks,
};
use super::{ModelInfo, Predictor};
use crate::data::read_mask;
use crate::history::SegmentationMetrics;
use crate::job::JobControl;
use crate::objects::ObjectOptions;
use crate::tiling::channel_names::Picked;
use crate::region::{add_pixels, Region, RegionSpec, OUTSIDE};
use crate::tiling::reader::{Cropped, FiniteRegions};
use crate::tiling::{check_channels, AreaPlan, BlendMode, Progress, RegionReader, Resolution, TileSelection, TilingOptions, Window};
use crate::{Error, Result};
use ndarray::{s, Array2};
use serde::{Deserialize, Deserializer, Serialize};
use std::path::{Path, PathBuf};

pub const CLASS_MAP_FILE: &str = "class_map.png";
pub const PROBABILITIES_FILE: &str = "probabilities.tif";
pub const OVERLAY_FILE: &str = "overlay.png";
pub const MEASUREMENTS_JSON: &str = "measurements.json";
pub const MEASUREMENTS_CSV: &str = "measurements.csv";
pub const OBJECTS_GEOJSON: &str = "objects.geojson";
pub const OBJECTS_CSV: &str = "objects.csv";

/// Unlabeled pixels of a truth mask, as in QuPath's training exports.
const UNLABELED: u8 = 255;

/// Which result files to write, and an optional truth to score against.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputOptions {
    /// `class_map.png`: 8-bit class indices.
    pub class_map: bool,
    /// `probabilities.tif`: one sample per class, in this type.
    pub probabilities: Option<SampleType>,
    /// `overlay.png`: class colours at this opacity (0-255).
    pub overlay_alpha: Option<u8>,
    /// Whether the overlay blends the colours over the image (the default;
    /// a class named "Background" is then left out) or shows them alone.
    pub overlay_mode: OverlayMode,
    /// `(min, max)` per image channel, shown as black to full brightness
    /// under a blended overlay; `None`: the 0.5th to 99.5th percentile of
    /// a sample of the image.
    pub display_range: Option<Vec<(f32, f32)>>,
    /// `measurements.json` and `.csv`: per-class pixel counts, fractions and areas.
    pub measurements: bool,
    /// Calibration for areas in physical units; in µm, also the image's
    /// pixel size for the choice of downsample when the reader reports none.
    pub pixel_size: Option<PixelSize>,
    /// The factor the image is downsampled by before the model sees it;
    /// `None`: from the image's and the model's pixel sizes where both are
    /// known, else the model's training downsample (see [`Resolution`]).
    /// Every output stays at full resolution.
    pub downsample: Option<f64>,
    /// A `[H, W]` ground-truth class map (255 = unlabeled): the report then
    /// carries pixel accuracy and IoU of the prediction against it.
    pub truth: Option<Array2<u8>>,
    /// `objects.geojson` and `objects.csv`: the predicted classes traced into measured objects.
    pub objects: Option<ObjectOptions>,
    /// Restricts the run to a region: only tiles its pixels need are run,
    /// every output covers its bounding box (see [`RegionReport::bounds`]),
    /// pixels outside it are [`OUTSIDE`] in the class map, zero in the
    /// probabilities and uncoloured in the overlay, and the measurements are
    /// of its pixels.
    pub region: Option<Region>,
}

impl Default for OutputOptions {
    fn default() -> Self {
        OutputOptions {
            class_map: true,
            probabilities: None,
            overlay_alpha: Some(128),
            overlay_mode: OverlayMode::Blend,
            display_range: None,
            measurements: true,
            pixel_size: None,
            truth: None,
            downsample: None,
            objects: None,
            region: None,
        }
    }
}

/// Tiling and outputs as the C and Java APIs pass them, in JSON: an absent
/// field keeps the model's or the library's default; `overlay_alpha: null`
/// turns the overlay off.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApplySettings {
    pub tile_size: Option<usize>,
    pub overlap: Option<usize>,
    pub blend: Option<BlendMode>,
    pub batch_size: Option<usize>,
    pub tta: Option<bool>,
    pub class_map: Option<bool>,
    pub probabilities: Option<SampleType>,
    /// `Some(None)`: given as `null`, so absent and null differ.
    #[serde(deserialize_with = "present")]
    pub overlay_alpha: Option<Option<u8>>,
    /// `"blend"` or `"classes"`.
    pub overlay_mode: Option<OverlayMode>,
    /// `[[min, max], ...]`, one per image channel.
    pub display_range: Option<Vec<(f32, f32)>>,
    pub measurements: Option<bool>,
    pub pixel_size: Option<PixelSize>,
    /// See [`OutputOptions::downsample`].
    pub downsample: Option<f64>,
    /// A truth mask file to score against.
    pub truth: Option<PathBuf>,
    pub objects: Option<ObjectOptions>,
    pub region: Option<RegionSpec>,
}

/// A field that is present, even as `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> std::result::Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl ApplySettings {
    /// The tiling for `model`: its defaults (see [`ModelInfo::tiling`]) where a field is absent.
    pub fn tiling(&self, model: &ModelInfo) -> TilingOptions {
        let defaults = model.tiling(self.tile_size, self.overlap);
        TilingOptions {
            blend: self.blend.unwrap_or(defaults.blend),
            batch_size: self.batch_size.unwrap_or(defaults.batch_size),
            tta: self.tta.unwrap_or(defaults.tta),
            ..defaults
        }
    }

    /// Refuses any output setting: `what` takes tiling and resolution only.
    pub fn only_tiling(&self, what: &str) -> Result<()> {
        let outputs = [
            ("class_map", self.class_map.is_some()),
            ("probabilities", self.probabilities.is_some()),
            ("overlay_alpha", self.overlay_alpha.is_some()),
            ("overlay_mode", self.overlay_mode.is_some()),
            ("display_range", self.display_range.is_some()),
            ("measurements", self.measurements.is_some()),
            ("truth", self.truth.is_some()),
            ("objects", self.objects.is_some()),
            ("region", self.region.is_some()),
        ];
        match outputs.iter().find(|(_, given)| *given) {
            Some((name, _)) => Err(Error::config(format!("{what} takes tiling, downsample and pixel_size settings, not \"{name}\""))),
            None => Ok(()),
        }
    }

    /// The outputs, with the truth mask read.
    pub fn outputs(self) -> Result<OutputOptions> {
        let default = OutputOptions::default();
        Ok(OutputOptions {
            class_map: self.class_map.unwrap_or(default.class_map),
            probabilities: self.probabilities,
            overlay_alpha: self.overlay_alpha.unwrap_or(default.overlay_alpha),
            overlay_mode: self.overlay_mode.unwrap_or(default.overlay_mode),
            display_range: self.display_range,
            measurements: self.measurements.unwrap_or(default.measurements),
            pixel_size: self.pixel_size,
            downsample: self.downsample,
            truth: self.truth.map(read_mask).transpose()?,
            objects: self.objects,
            region: self.region.map(RegionSpec::resolve).transpose()?,
        })
    }
}

/// What a finished run wrote and measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplyReport {
    pub files: Vec<PathBuf>,
    pub measurements: Measurements,
    /// Agreement with [`OutputOptions::truth`], when given.
    pub truth: Option<SegmentationMetrics>,
    /// What [`OutputOptions::objects`] made.
    pub objects: Option<ObjectSummary>,
    /// Where [`OutputOptions::region`] restricted the run.
    pub region: Option<RegionReport>,
    /// Tiles run.
    pub tiles: usize,
    /// The factor the model ran at (1: full resolution); outputs are at full resolution.
    pub downsample: f64,
    pub seconds: f64,
}

/// Where a run restricted to a region went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionReport {
    /// The region's bounding box in the image: every output covers this
    /// window, and object coordinates are the image's.
    pub bounds: Window,
    /// Pixels inside the region.
    pub pixels: u64,
    /// Tiles of the bounding box's grid left out because the region needs none of their pixels.
    pub tiles_skipped: usize,
}

/// Predicts the whole image of `reader` and writes the selected outputs
/// into `out_dir` (created if needed). Each file appears only when complete.
/// When the model and the reader both name their channels, the model's are
/// picked from the reader's by name (see [`Picked::by_name`]), else the
/// reader's channels are the model's in order.
pub fn apply_to_image(
    predictor: &Predictor,
    reader: &dyn RegionReader,
    out_dir: &Path,
    tiling: &TilingOptions,
    outputs: &OutputOptions,
    control: &JobControl,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<ApplyReport> {
    let start = std::time::Instant::now();
    let info = predictor.info();
    // Before anything is written.
    tiling.validate_for(info.fixed_size.map(|(side, _)| side))?;
    let picked = Picked::by_name(reader, &info.channel_names)?;
    let model_input: &dyn RegionReader = picked.as_ref().map_or(reader, |p| p as &dyn RegionReader);
    let (w, h, k) = (reader.width(), reader.height(), info.num_classes);
    check_channels(info.in_channels, model_input.channels())?;
    let downsample = resolution(reader, outputs.downsample, outputs.pixel_size.as_ref(), info).downsample()?;
    let region = outputs.region.as_ref();
    if region.is_some() && k > usize::from(OUTSIDE) {
        return Err(Error::config(format!("a run restricted to a region takes at most {OUTSIDE} classes, the model has {k}")));
    }
    let bounds = region.map_or(Ok(Window::whole(w, h)), |r| r.bounds(w, h))?;
    let mut pixels = 0;
    let mut add_region = |s: &mut TileSelection| region.map_or(Ok(()), |r| add_pixels(r, bounds, s).map(|n| pixels = n));
    let plan = AreaPlan::new(w, h, tiling, bounds, downsample, region.is_some().then_some(&mut add_region as _))?;
    let region_report = region.map(|_| RegionReport { bounds, pixels, tiles_skipped: plan.tiles.total - plan.tiles.run });
    tiling.check_memory(plan.window().width, plan.window().height, model_input.channels(), k)?;
    if let Some(truth) = &outputs.truth {
        if truth.dim() != (h, w) {
            return Err(Error::config(format!("the truth mask is {}x{} but the image is {w}x{h}", truth.ncols(), truth.nrows())));
        }
    }
    // Areas are calibrated by the caller's pixel size, else the reader's.
    let calibration = outputs.pixel_size.clone().or_else(|| reader.pixel_size().map(|s| PixelSize { width: s, height: s, unit: "µm".to_string() }));
    if let Some(size) = &calibration {
        size.validate()?;
    }
    if let Some(o) = &outputs.objects {
        super::outputs::objects::check(o, &info.classes, calibration.as_ref())?;
    }
    // What the outputs show: the region's bounding box.
    let shown = Cropped { reader, window: bounds };
    let display = match (outputs.overlay_alpha, outputs.overlay_mode) {
        (Some(_), OverlayMode::Blend) => Some(Display::for_image(&shown, outputs.display_range.as_deref())?),
        _ => None,
    };
    // Objects are measured on every channel of the image, as read.
    let measured = FiniteRegions { reader, policy: predictor.non_finite() };
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let mut files = Vec::new();
    let mut file = |name: &str| {
        files.push(out_dir.join(name));
        out_dir.join(name)
    };
    let (bw, bh) = (bounds.width, bounds.height);
    let mut class_map = outputs.class_map.then(|| ClassMap::create(&file(CLASS_MAP_FILE), bw, bh)).transpose()?;
    let mut probabilities = outputs.probabilities.map(|t| ProbabilityTiff::create(&file(PROBABILITIES_FILE), k, bw, bh, t)).transpose()?;
    let mut overlay = match (outputs.overlay_alpha, display) {
        (Some(a), Some(display)) => Some(Overlay::blended(&file(OVERLAY_FILE), &shown, display, &blend_colors(&info.classes, a)?)?),
        (Some(a), None) => Some(Overlay::create(&file(OVERLAY_FILE), bw, bh, &class_colors(&info.classes, a)?)?),
        (None, _) => None,
    };
    let channel_names = measured_channel_names(reader, picked.is_none(), &info.channel_names);
    let mut objects = match &outputs.objects {
        Some(o) => Some(ObjectFiles::create(
            &file(OBJECTS_GEOJSON),
            &file(OBJECTS_CSV),
            o,
            &info.classes,
            &measured,
            bounds,
            channel_names,
            calibration.as_ref(),
        )?),
        None => None,
    };
    let mut counts = ClassCounts::new(k);
    let truth = outputs.truth.as_ref().map(|t| truth_within(t, bounds, region));
    let mut agreement = truth.map(|t| Agreement::new(t, k, UNLABELED));
    let mut sinks = Sinks::new().labels(&mut counts);
    if let Some(r) = region {
        sinks = sinks.within(r.rows(bounds), bw);
    }
    if let Some(s) = agreement.as_mut() {
        sinks = sinks.labels(s);
    }
    if let Some(s) = class_map.as_mut() {
        sinks = sinks.labels(s);
    }
    if let Some(s) = overlay.as_mut() {
        sinks = sinks.labels(s);
    }
    if let Some(s) = probabilities.as_mut() {
        sinks = sinks.probabilities(s);
    }
    if let Some(s) = objects.as_mut() {
        sinks = sinks.classified(s);
    }
    let mut tiles = 0;
    let mut progress = |p: Progress| {
        tiles = p.tiles_total;
        on_progress(p)
    };
    let source = FiniteRegions { reader: model_input, policy: predictor.non_finite() };
    plan.predict(&source, predictor, tiling, &mut sinks, control, &mut progress)?;
    drop(sinks);
    let names: Vec<String> = info.classes.iter().map(|c| c.name.clone()).collect();
    let measurements = counts.measurements(&names, calibration)?;
    if outputs.measurements {
        measurements.write_json(&file(MEASUREMENTS_JSON))?;
        measurements.write_csv(&file(MEASUREMENTS_CSV))?;
    }
    let truth = agreement.map(|a| a.metrics());
    let objects = objects.map(|o| o.summary());
    Ok(ApplyReport { files, measurements, truth, objects, region: region_report, tiles, downsample, seconds: start.elapsed().as_secs_f64() })
}

/// The truth mask's part under `bounds`, unlabeled outside the region.
fn truth_within(truth: &Array2<u8>, bounds: Window, region: Option<&Region>) -> Array2<u8> {
    let mut part = truth.slice(s![bounds.y..bounds.y + bounds.height, bounds.x..bounds.x + bounds.width]).to_owned();
    if let Some(region) = region {
        let mut rows = region.rows(bounds);
        let mut inside = vec![false; bounds.width];
        for mut row in part.outer_iter_mut() {
            rows.next_row(&mut inside);
            for (t, &keep) in row.iter_mut().zip(&inside) {
                if !keep {
                    *t = UNLABELED;
                }
            }
        }
    }
    part
}

/// Names for the image's channels in object measurements: the reader's, else
/// the model's when the image's channels are the model's in order, else
/// `Channel 1`, `Channel 2`, ...
fn measured_channel_names(reader: &dyn RegionReader, in_model_order: bool, model: &[String]) -> Vec<String> {
    let channels = reader.channels();
    match reader.channel_names() {
        Some(names) if names.len() == channels => names,
        _ if in_model_order && model.len() == channels => model.to_vec(),
        _ => (1..=channels).map(|c| format!("Channel {c}")).collect(),
    }
}

/// What decides the downsample of a run: the caller's factor, the image's
/// pixel size (the reader's, else the calibration in µm) and the model's.
pub(super) fn resolution(reader: &dyn RegionReader, downsample: Option<f64>, pixel_size: Option<&PixelSize>, info: &ModelInfo) -> Resolution {
    let calibrated = pixel_size.filter(|p| MICRONS.contains(&p.unit.as_str())).map(|p| (p.width + p.height) / 2.0);
    Resolution {
        explicit: downsample,
        image_pixel_size: reader.pixel_size().or(calibrated),
        model_pixel_size: info.training_pixel_size_um,
        model_downsample: info.downsample,
    }
}

/// How a calibration in micrometres may name its unit.
const MICRONS: [&str; 4] = ["µm", "um", "micron", "microns"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_settings_keep_the_defaults_and_null_turns_the_overlay_off() {
        let outputs = serde_json::from_str::<ApplySettings>("{}").unwrap().outputs().unwrap();
        assert_eq!(outputs, OutputOptions::default());
        let settings: ApplySettings = serde_json::from_str(r#"{"overlay_alpha":null,"probabilities":"uint8","class_map":false}"#).unwrap();
        let outputs = settings.outputs().unwrap();
        assert_eq!((outputs.overlay_alpha, outputs.probabilities, outputs.class_map), (None, Some(SampleType::Uint8), false));
        let settings: ApplySettings = serde_json::from_str(r#"{"overlay_alpha":40}"#).unwrap();
        assert_eq!(settings.outputs().unwrap().overlay_alpha, Some(40));
        let err = serde_json::from_str::<ApplySettings>(r#"{"tile":256}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `tile`"), "{err}");
    }

    #[test]
    fn absent_tiling_fields_take_the_models_defaults() {
        let model = ModelInfo::for_tests(128);
        let settings: ApplySettings = serde_json::from_str(r#"{"tile_size":64,"blend":"center_crop","tta":true}"#).unwrap();
        let tiling = settings.tiling(&model);
        assert_eq!(tiling, TilingOptions { blend: BlendMode::CenterCrop, tta: true, ..model.tiling(Some(64), None) });
        assert_eq!(ApplySettings::default().tiling(&model), model.tiling(None, None));
    }
}
