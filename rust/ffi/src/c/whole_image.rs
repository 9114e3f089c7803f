//! Whole images: a file in, result files out.

use super::job::{control, DlcJob};
use super::predictor::DlcPredictor;
use super::{arg, guard, json_arg, json_string, opt_out_arg, str_arg};
use dlclassifier::data::read_image;
use dlclassifier::tasks::pixel::apply::{apply_to_image, ApplySettings};
use dlclassifier::tiling::InMemoryImage;
use std::ffi::{c_char, c_int};
use std::path::Path;

/// Classifies a whole image file (TIFF, PNG or JPEG) tile by tile and writes
/// the results into `out_dir` (created if needed), each file only once
/// complete: `class_map.png`, `overlay.png`, `probabilities.tif` (if asked
/// for), `measurements.json` and `.csv`.
///
/// `options_json` may be NULL for defaults, else a JSON object with any of
/// `"tile_size"`, `"overlap"` (default: the model's tiling), `"blend"`
/// (`"linear"`, `"gaussian"`, `"center_crop"`, `"none"`), `"batch_size"`,
/// `"tta"`, `"class_map"` (bool), `"probabilities"` (`"float32"` or
/// `"uint8"`), `"overlay_alpha"` (0-255, or null for no overlay),
/// `"measurements"` (bool), `"pixel_size"` (`{"width", "height", "unit"}`) and
/// `"truth"` (a mask file to score against). `job` (may be NULL) can cancel
/// the run from another thread (`DLC_CANCELLED`). On success
/// `*out_report_json` (if `out_report_json` is not NULL) is a JSON object with
/// `files`, `measurements`, `truth` (scores or null), `tiles` and `seconds`,
/// to free with `dlc_string_free`.
///
/// # Safety
/// `predictor` is NULL or live; strings are NULL or NUL-terminated; `job` is
/// NULL or live; `out_report_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_predictor_apply_file(
    predictor: *const DlcPredictor,
    image_path: *const c_char,
    out_dir: *const c_char,
    options_json: *const c_char,
    job: *mut DlcJob,
    out_report_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        let out = unsafe { opt_out_arg(out_report_json) };
        let predictor = unsafe { arg(predictor, "predictor") }?;
        let image_path = unsafe { str_arg(image_path, "image_path") }?;
        let out_dir = unsafe { str_arg(out_dir, "out_dir") }?;
        let settings: ApplySettings = unsafe { json_arg(options_json, "options_json") }?;
        let tiling = settings.tiling(predictor.0.info());
        // Before the image is read, so that bad settings fail at once.
        tiling.validate()?;
        let outputs = settings.outputs()?;
        let image = InMemoryImage(read_image(image_path)?);
        let report = apply_to_image(&predictor.0, &image, Path::new(out_dir), &tiling, &outputs, &unsafe { control(job) }, &mut |_| {})?;
        if let Some(out) = out {
            *out = json_string(&report)?;
        }
        Ok(())
    })
}
