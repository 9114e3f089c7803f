//! Training: a blocking call, steered through a job from other threads.

use super::job::{control, DlcJob};
use super::{guard, json_arg, json_string, opt_out_arg, str_arg};
use dlclassifier::data::TrainingData;
use dlclassifier::settings::TrainingConfig;
use dlclassifier::tasks::pixel;
use std::ffi::{c_char, c_int, c_void, CString};
use std::path::Path;

/// Called after every epoch with that epoch's record as JSON (valid only
/// during the call): `epoch` (1-based), `total_epochs`, `train_loss`,
/// `val_loss`, `pixel_accuracy`, `mean_iou`, `per_class_iou`,
/// `learning_rate`, `elapsed_s`, `best_epoch`, `best_score`,
/// `epochs_without_improvement`, `is_best`. Runs on the training thread; it
/// may call `dlc_job_cancel` but must not unwind or longjmp.
pub type DlcEpochCallback = Option<unsafe extern "C" fn(epoch_json: *const c_char, user_data: *mut c_void)>;

/// Trains a model on a QuPath training-data export (`data_dir` with
/// `config.json`, `train/` and `validation/`) and writes the model folder
/// `out_dir` (atomically). Blocks until done.
///
/// `config_json` may be NULL for defaults, else a JSON object of training
/// settings (e.g. `{"encoder":"resnet18","epochs":20,"tile_size":256,
/// "batch_size":8,"device":"cpu"}`; unknown fields are an error). `job` (may
/// be NULL) lets other threads cancel or pause the run. `on_epoch` (may be
/// NULL) is called after each epoch with `user_data`. On success
/// `*out_result_json` (if `out_result_json` is not NULL) is a JSON object with
/// `model_dir`, `metadata` (including `status`, `epochs_trained` and
/// `best_epoch`) and `history`, to free with `dlc_string_free`.
///
/// # Safety
/// Strings are NULL or NUL-terminated; `job` is NULL or live; `on_epoch`
/// is NULL or callable with `user_data`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_train(
    data_dir: *const c_char,
    out_dir: *const c_char,
    config_json: *const c_char,
    job: *mut DlcJob,
    on_epoch: DlcEpochCallback,
    user_data: *mut c_void,
    out_result_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        let out = unsafe { opt_out_arg(out_result_json) };
        let data_dir = unsafe { str_arg(data_dir, "data_dir") }?;
        let out_dir = unsafe { str_arg(out_dir, "out_dir") }?;
        let config: TrainingConfig = unsafe { json_arg(config_json, "config_json") }?;
        // Before the data is read, so that bad settings fail at once.
        config.validate()?;
        let data = TrainingData::load(data_dir)?;
        let outcome = pixel::train(&data, &config, Path::new(out_dir), &unsafe { control(job) }, &mut |record| {
            let Some(callback) = on_epoch else { return };
            match serde_json::to_string(record) {
                Ok(json) => unsafe { callback(CString::new(json).expect("JSON has no NUL").as_ptr(), user_data) },
                Err(e) => tracing::error!(%e, "cannot encode an epoch record"),
            }
        })?;
        if let Some(out) = out {
            *out = json_string(&outcome)?;
        }
        Ok(())
    })
}
