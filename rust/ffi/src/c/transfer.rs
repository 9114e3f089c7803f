//! The catalog and transfer-learning recommendations, as JSON strings the
//! caller frees with `dlc_string_free`.

use super::{guard, json_string, out_arg, str_arg};
use dlclassifier::models::{catalog, EncoderKind};
use dlclassifier::train::recommend;
use std::ffi::{c_char, c_int};

/// The recommended transfer-learning settings for fine-tuning `encoder`
/// (e.g. `"resnet34"`) on `tiles` training tiles, as JSON `{"encoder",
/// "tiles", "size_class" ("small" below 500 tiles, "medium" below 5000,
/// else "large"), "frozen_groups" (names of encoder freeze groups),
/// "encoder_lr_factor", "rationale"}`. `frozen_groups` and
/// `encoder_lr_factor` are training-configuration fields of the same names.
/// `DLC_INVALID_ARGUMENT` for an unknown encoder.
///
/// # Safety
/// `encoder` is a NUL-terminated string; `out_json` is valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_recommend_json(encoder: *const c_char, tiles: usize, out_json: *mut *mut c_char) -> c_int {
    guard(|| {
        let out = unsafe { out_arg(out_json, "out_json") }?;
        let encoder: EncoderKind = unsafe { str_arg(encoder, "encoder") }?.parse()?;
        *out = json_string(&recommend(encoder, tiles))?;
        Ok(())
    })
}

/// What the engine can build, as a JSON array of architectures `{"name",
/// "encoders": [{"name", "encoder_parameters", "model_parameters"
/// (3 channels, 2 classes; equal to segmentation_models_pytorch's),
/// "freeze_groups": [{"name", "prefixes"}], "pretrained": [{"name",
/// "file_stem", "source", "licence", "file" (null unless the file is in the
/// weights folder)}]}]}`. Only the combinations smp can build are listed.
/// The first call builds every model once to count parameters (seconds).
///
/// # Safety
/// `out_json` is valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_catalog_json(out_json: *mut *mut c_char) -> c_int {
    guard(|| {
        let out = unsafe { out_arg(out_json, "out_json") }?;
        *out = json_string(&catalog::catalog()?)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::c::{dlc_last_error, dlc_string_free, DlcStatus};
    use std::ffi::CStr;

    #[test]
    fn recommendations_come_back_as_json_and_unknown_encoders_are_invalid() {
        let mut out = std::ptr::null_mut();
        assert_eq!(unsafe { dlc_recommend_json(c"mobilenet_v2".as_ptr(), 2000, &mut out) }, 0);
        let value: serde_json::Value = serde_json::from_str(unsafe { CStr::from_ptr(out) }.to_str().unwrap()).unwrap();
        unsafe { dlc_string_free(out) };
        assert_eq!(value["size_class"], "medium");
        assert_eq!(value["frozen_groups"], serde_json::json!(["stem", "stage2"]));
        assert_eq!(unsafe { dlc_recommend_json(c"vgg99".as_ptr(), 10, &mut out) }, DlcStatus::DlcInvalidArgument as c_int);
        assert!(out.is_null());
        let message = unsafe { CStr::from_ptr(dlc_last_error()) }.to_str().unwrap();
        assert!(message.contains("unknown encoder 'vgg99'"), "{message}");
        assert_eq!(unsafe { dlc_recommend_json(std::ptr::null(), 10, &mut out) }, DlcStatus::DlcInvalidArgument as c_int);
    }
}
