//! Model registry and bundles; answers are JSON strings the caller frees with `dlc_string_free`.

use super::{guard, json_arg, json_string, opt_out_arg, opt_str_arg, out_arg, str_arg};
use crate::error::FfiError;
use dlclassifier::registry::{self, BundleInfo, DEFAULT_MAX_BYTES};
use std::ffi::{c_char, c_int, CString};
use std::path::{Path, PathBuf};

/// The model folders under `root`, newest first, as a JSON array of
/// `{path, name, architecture, encoder, classes, channels, tile_size,
/// best_epoch, mean_iou, pixel_accuracy, created}`.
///
/// # Safety
/// `root` is a NUL-terminated string; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_models_list_json(root: *const c_char, out_json: *mut *mut c_char) -> c_int {
    guard(|| {
        let out = unsafe { out_arg(out_json, "out_json") }?;
        let root = unsafe { str_arg(root, "root") }?;
        *out = json_string(&registry::list_models(Path::new(root))?)?;
        Ok(())
    })
}

/// Checks a model folder: `{path, valid, problems: [{file, reason}]}`. An
/// invalid model is a successful call with `valid` false.
///
/// # Safety
/// As [`dlc_models_list_json`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_model_validate_json(path: *const c_char, out_json: *mut *mut c_char) -> c_int {
    guard(|| {
        let out = unsafe { out_arg(out_json, "out_json") }?;
        let path = unsafe { str_arg(path, "path") }?;
        *out = json_string(&registry::validate_model_dir(Path::new(path)))?;
        Ok(())
    })
}

/// Packs the model folders of `models_json` (a JSON array of paths) into
/// the zip `out_zip`; `info_json` is `{name, version, description}`. The
/// manifest goes to `*out_manifest_json` unless that is NULL.
///
/// # Safety
/// Strings are NUL-terminated; `out_manifest_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_bundle_pack(
    models_json: *const c_char,
    out_zip: *const c_char,
    info_json: *const c_char,
    out_manifest_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        let out = unsafe { opt_out_arg(out_manifest_json) };
        let models: Vec<PathBuf> = unsafe { json_arg(models_json, "models_json") }?;
        let info: BundleInfo = serde_json::from_str(unsafe { str_arg(info_json, "info_json") }?)
            .map_err(|e| FfiError::invalid_argument(format!("info_json: {e}")))?;
        let manifest = registry::pack_bundle(&models, Path::new(unsafe { str_arg(out_zip, "out_zip") }?), &info)?;
        if let Some(out) = out {
            *out = json_string(&manifest)?;
        }
        Ok(())
    })
}

/// Reads a whole bundle and checks it; its manifest on success, else
/// `DLC_IO` with the reason in `dlc_last_error`.
///
/// # Safety
/// As [`dlc_models_list_json`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_bundle_verify_json(zip: *const c_char, out_json: *mut *mut c_char) -> c_int {
    guard(|| {
        let out = unsafe { out_arg(out_json, "out_json") }?;
        let zip = unsafe { str_arg(zip, "zip") }?;
        *out = json_string(&registry::verify_bundle(Path::new(zip), DEFAULT_MAX_BYTES)?)?;
        Ok(())
    })
}

/// The folder of model `name` (NULL: the only model) of a bundle, unpacked
/// and verified into the cache; free `*out_model_dir` with `dlc_string_free`.
///
/// # Safety
/// `zip` is NUL-terminated, `name` NULL or NUL-terminated; `out_model_dir` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_bundle_open(zip: *const c_char, name: *const c_char, out_model_dir: *mut *mut c_char) -> c_int {
    guard(|| {
        let out = unsafe { out_arg(out_model_dir, "out_model_dir") }?;
        let zip = unsafe { str_arg(zip, "zip") }?;
        let name = unsafe { opt_str_arg(name, "name") }?;
        let dir = registry::open_bundle(Path::new(zip), name)?;
        let text = CString::new(dir.to_string_lossy().into_owned())
            .map_err(|_| FfiError::invalid_argument("the model folder's path holds a NUL"))?;
        *out = text.into_raw();
        Ok(())
    })
}
