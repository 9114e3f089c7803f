//! Handle tables: callers hold a number, never a pointer (Java as a `long`,
//! C as an opaque pointer whose value is the number). A call looks the
//! number up and clones the `Arc`, so closing a handle while another thread
//! is inside a call only drops the table's reference; the object is freed
//! when the last call returns. Unknown, stale, freed or garbage numbers are
//! an error, never a dangling pointer.

use crate::error::{FfiError, FfiResult};
use dlclassifier::tasks::pixel::Predictor;
use dlclassifier::reservation::Reservation;
use dlclassifier::job::JobControl;
use once_cell::sync::Lazy;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Numbers are unique across all tables of the process and never reused.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The live objects of one kind, by handle number.
pub struct HandleTable<T> {
    what: &'static str,
    live: RwLock<HashMap<u64, Arc<T>>>,
}

impl<T> HandleTable<T> {
    /// `what` names the object kind in error messages ("predictor", ...).
    pub fn new(what: &'static str) -> Self {
        HandleTable { what, live: RwLock::new(HashMap::new()) }
    }

    /// A new handle to an object that others may share (a cached model).
    pub fn insert(&self, value: Arc<T>) -> u64 {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.live.write().insert(id, value);
        id
    }

    /// The object behind `id`, kept alive for as long as the caller holds it.
    pub fn get(&self, id: u64) -> FfiResult<Arc<T>> {
        self.live
            .read()
            .get(&id)
            .cloned()
            .ok_or_else(|| FfiError::invalid_state(format!("this {} is closed", self.what)))
    }

    /// Forgets `id`; closing twice is harmless.
    pub fn remove(&self, id: u64) {
        // Dropped outside the lock: freeing a model can take a while.
        let removed = self.live.write().remove(&id);
        drop(removed);
    }

    #[cfg(any(test, feature = "test-hooks"))]
    pub fn len(&self) -> usize {
        self.live.read().len()
    }
}

/// A job steering a long call (training, whole-image apply) from other threads.
pub type Job = JobControl;

/// A type that callers hold by handle.
pub trait Object: Send + Sync + Sized + 'static {
    fn table() -> &'static HandleTable<Self>;
}

macro_rules! objects {
    ($($object:ty => $what:literal),* $(,)?) => {$(
        impl Object for $object {
            fn table() -> &'static HandleTable<Self> {
                static TABLE: Lazy<HandleTable<$object>> = Lazy::new(|| HandleTable::new($what));
                &TABLE
            }
        }
    )*};
}

objects!(Predictor => "predictor", Job => "training job", Reservation => "reservation");

/// The object behind a handle number.
pub fn get<T: Object>(id: u64) -> FfiResult<Arc<T>> {
    T::table().get(id)
}

/// A new handle number for `object`.
pub fn insert<T: Object>(object: Arc<T>) -> u64 {
    T::table().insert(object)
}

/// Forgets a handle number.
pub fn remove<T: Object>(id: u64) {
    T::table().remove(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;

    #[test]
    fn a_closed_handle_is_an_error_and_in_flight_users_keep_the_object() {
        let table = HandleTable::new("predictor");
        let id = table.insert(Arc::new(String::from("model")));
        let in_flight = table.get(id).unwrap();
        table.remove(id);
        table.remove(id);
        assert_eq!(*in_flight, "model");
        let err = table.get(id).unwrap_err();
        assert_eq!(err.class, ErrorClass::InvalidState);
        assert_eq!(err.message, "this predictor is closed");
        assert!(table.get(0).is_err() && table.get(u64::MAX).is_err());
        assert_eq!(table.len(), 0);
    }
}
