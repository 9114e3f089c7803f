//! Cooperative control of a running job (training, whole-image inference)
//! from other threads.

use parking_lot::{Condvar, Mutex};
use std::sync::Arc;

#[derive(Debug, Default)]
struct State {
    cancelled: bool,
    paused: bool,
}

/// A handle shared between a job and the threads that steer it. Cancel is
/// honoured between batches and between validation images, pause between epochs.
#[derive(Debug, Clone, Default)]
pub struct JobControl {
    inner: Arc<(Mutex<State>, Condvar)>,
}

impl JobControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the job to stop; it finishes with the best model so far. Also ends a pause.
    pub fn cancel(&self) {
        self.inner.0.lock().cancelled = true;
        self.inner.1.notify_all();
    }

    pub fn pause(&self) {
        self.inner.0.lock().paused = true;
    }

    pub fn resume(&self) {
        self.inner.0.lock().paused = false;
        self.inner.1.notify_all();
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.0.lock().cancelled
    }

    pub fn is_paused(&self) -> bool {
        self.inner.0.lock().paused
    }

    /// Blocks while paused; returns `false` if the job was cancelled.
    pub fn wait_if_paused(&self) -> bool {
        let (lock, cvar) = &*self.inner;
        let mut state = lock.lock();
        while state.paused && !state.cancelled {
            cvar.wait(&mut state);
        }
        !state.cancelled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pause_blocks_until_resume_and_cancel_releases() {
        let control = JobControl::new();
        control.pause();
        let c = control.clone();
        let waiter = std::thread::spawn(move || c.wait_if_paused());
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished());
        control.resume();
        assert!(waiter.join().unwrap());

        control.pause();
        let c = control.clone();
        let waiter = std::thread::spawn(move || c.wait_if_paused());
        control.cancel();
        assert!(!waiter.join().unwrap());
        assert!(control.is_cancelled());
    }
}
