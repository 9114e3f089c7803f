//! Jobs: cancelling, pausing and resuming long calls from other threads.

use super::{arg, guard, guard_void, out_arg};
use dlclassifier::job::JobControl;
use std::ffi::c_int;

/// Steers a long call (`dlc_train`, `dlc_predictor_apply_file`) from other
/// threads: cancel, pause, resume.
pub struct DlcJob(JobControl);

/// The control of `job` (shared with it), or a fresh one when NULL.
///
/// # Safety
/// `job` is NULL or live.
pub(super) unsafe fn control(job: *const DlcJob) -> JobControl {
    unsafe { job.as_ref() }.map_or_else(JobControl::new, |j| j.0.clone())
}

/// Creates a job. Free it with `dlc_job_free` after the call that uses it
/// has returned; a job can steer one call at a time.
///
/// # Safety
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_job_new(out: *mut *mut DlcJob) -> c_int {
    guard(|| {
        *unsafe { out_arg(out, "out") }? = Box::into_raw(Box::new(DlcJob(JobControl::new())));
        Ok(())
    })
}

/// Runs `action` on the job; callable from any thread while a call runs.
///
/// # Safety
/// `job` is NULL or live.
unsafe fn steer(job: *mut DlcJob, action: impl FnOnce(&JobControl)) -> c_int {
    guard(|| {
        action(&unsafe { arg(job, "job") }?.0);
        Ok(())
    })
}

/// Asks the call to stop after the current batch. Training still writes the
/// best model so far, unless no epoch had finished; otherwise the call
/// returns `DLC_CANCELLED` and writes nothing. Also ends a pause. A job
/// cancelled before the call starts makes it return `DLC_CANCELLED` without
/// doing the work.
///
/// # Safety
/// `job` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_job_cancel(job: *mut DlcJob) -> c_int {
    unsafe { steer(job, JobControl::cancel) }
}

/// Pauses the call: training at the next epoch, a whole image at the next row of tiles.
///
/// # Safety
/// `job` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_job_pause(job: *mut DlcJob) -> c_int {
    unsafe { steer(job, JobControl::pause) }
}

/// Resumes a paused call.
///
/// # Safety
/// `job` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_job_resume(job: *mut DlcJob) -> c_int {
    unsafe { steer(job, JobControl::resume) }
}

/// Frees a job. NULL is ignored.
///
/// # Safety
/// `job` is NULL or from `dlc_job_new`, not yet freed, and no call is using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_job_free(job: *mut DlcJob) {
    if !job.is_null() {
        guard_void(|| drop(unsafe { Box::from_raw(job) }));
    }
}
