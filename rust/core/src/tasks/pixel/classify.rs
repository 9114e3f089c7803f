//! A rectangle of an image classified into the caller's buffers, for live
//! overlays: what a whole-image run would give there, at full resolution.

use super::apply::{resolution, ApplySettings};
use super::tiles::{write_planar, Outputs};
use super::Predictor;
use crate::job::JobControl;
use crate::tiling::channel_names::Picked;
use crate::tiling::reader::FiniteRegions;
use crate::tiling::{check_channels, AreaPlan, ProbabilityMap, RegionReader, Window};
use crate::{limits, Error, Result};

/// Classifies `window` of the image of `reader` (at the resolution the
/// settings choose, as [`super::apply::apply_to_image`] does, with context
/// from the image around the window) into `outputs`: probabilities
/// `[K][H][W]` and/or the class map `[H][W]`, `H` x `W` being the window's
/// size. Only tiling, `downsample` and `pixel_size` settings apply here.
/// The buffers are written only when the run succeeds.
pub fn classify_region(
    predictor: &Predictor,
    reader: &dyn RegionReader,
    window: Window,
    settings: &ApplySettings,
    outputs: Outputs,
    control: &JobControl,
) -> Result<()> {
    settings.only_tiling("a region classified into buffers")?;
    let info = predictor.info();
    let tiling = settings.tiling(info);
    tiling.validate_for(info.fixed_size.map(|(side, _)| side))?;
    window.check_inside(reader.width(), reader.height())?;
    if outputs.probabilities.is_none() && outputs.class_map.is_none() {
        return Err(Error::config("no output buffer given: ask for probabilities, a class map or both"));
    }
    let picked = Picked::by_name(reader, &info.channel_names)?;
    let model_input: &dyn RegionReader = picked.as_ref().map_or(reader, |p| p as &dyn RegionReader);
    check_channels(info.in_channels, model_input.channels())?;
    let k = info.num_classes;
    limits::check_memory(&format!("classifying a {}x{} region", window.width, window.height), limits::product(&[k, window.width, window.height, 4]))?;
    let downsample = resolution(reader, settings.downsample, settings.pixel_size.as_ref(), info).downsample()?;
    let plan = AreaPlan::new(reader.width(), reader.height(), &tiling, window, downsample, None)?;
    let mut map = ProbabilityMap::new(k, window.height, window.width);
    let source = FiniteRegions { reader: model_input, policy: predictor.non_finite() };
    plan.predict(&source, predictor, &tiling, &mut map, control, &mut |_| {})?;
    write_planar(map.0.view(), outputs)
}
