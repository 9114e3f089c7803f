//! Jobs: cancelling, pausing and resuming long calls from other threads.

use super::Job;
use crate::handles;
use std::sync::Arc;

bridge_fn! {
    /// Creates a job. Free it with `dlc_job_free` after the call that uses it
    /// has returned; a job can steer one call at a time.
    fn job_new() -> handle[Job] {
        Ok(Arc::new(Job::new()))
    }
}

bridge_fn! {
    /// Asks the call to stop after the current batch. Training still writes
    /// the best model so far, unless no epoch had finished; otherwise the call
    /// returns `DLC_CANCELLED` and writes nothing. Also ends a pause. A job
    /// cancelled before the call starts makes it return `DLC_CANCELLED`
    /// without doing the work.
    fn job_cancel(job: handle[Job]) {
        job.cancel();
        Ok(())
    }
}

bridge_fn! {
    /// Pauses the call: training at the next epoch, a whole image at the next row of tiles.
    fn job_pause(job: handle[Job]) {
        job.pause();
        Ok(())
    }
}

bridge_fn! {
    /// Resumes a paused call.
    fn job_resume(job: handle[Job]) {
        job.resume();
        Ok(())
    }
}

bridge_fn! {
    /// Whether the job is paused.
    fn job_is_paused(job: handle[Job]) -> bool {
        Ok(job.is_paused())
    }
}

bridge_fn! {
    /// Frees a job. NULL, or a job already freed, is ignored.
    fn job_free(job: handle_id[Job]) {
        handles::remove::<Job>(job);
        Ok(())
    }
}
