//! Natives that only tests need, in the library the JUnit suite loads
//! (feature `test-hooks`), never in the jar: `org.dlclassifier.internal.TestNative`.

use super::{Job, Predictor, Reservation};
use crate::error::{ErrorClass, FfiError};
use crate::handles::Object;
use std::sync::Arc;

bridge_fn! {
    test_hook
    /// Live handles of one kind ("predictor", "reservation", "job"), for tests of the Cleaner.
    fn live_handles(kind: str) -> int {
        let count = match kind.as_str() {
            "predictor" => Predictor::table().len(),
            "reservation" => Reservation::table().len(),
            "job" => Job::table().len(),
            other => return Err(FfiError::invalid_argument(format!("kind: no handles of kind {other:?}"))),
        };
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
}

bridge_fn! {
    test_hook
    /// Whether two predictors hold the very same loaded model, for tests of the cache.
    fn same_object(a: handle[Predictor], b: handle[Predictor]) -> bool {
        Ok(Arc::ptr_eq(&a, &b))
    }
}

bridge_fn! {
    test_hook
    /// Logs `message` at INFO from a new native thread that ends right after,
    /// so that attaching as a daemon and detaching at thread exit run.
    fn log_from_native_thread(message: str) {
        // Under the logging module's name, which the Java test expects as the source.
        std::thread::spawn(move || tracing::info!(target: "dlclassifier_native::jni::logging", "{message}"))
            .join()
            .map_err(|_| FfiError::new(ErrorClass::Panic, "the logging thread panicked"))
    }
}
