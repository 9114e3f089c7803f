//! Handle tables: Java holds a number, never a pointer. A call looks the
//! number up and clones the `Arc`, so closing a handle while another thread
//! is inside a call only drops the table's reference; the object is freed
//! when the last call returns. Unknown, stale or garbage numbers are an
//! error, never a dangling pointer.

use crate::error::{FfiError, FfiResult};
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

    pub fn insert(&self, value: T) -> u64 {
        self.insert_shared(Arc::new(value))
    }

    /// A new handle to an object that others may share (a cached model).
    pub fn insert_shared(&self, value: Arc<T>) -> u64 {
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

    /// Forgets `id`; returns whether it was live. Closing twice is harmless.
    pub fn remove(&self, id: u64) -> bool {
        // Dropped outside the lock: freeing a model can take a while.
        let removed = self.live.write().remove(&id);
        removed.is_some()
    }

    pub fn len(&self) -> usize {
        self.live.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;

    #[test]
    fn a_closed_handle_is_an_error_and_in_flight_users_keep_the_object() {
        let table = HandleTable::new("predictor");
        let id = table.insert(String::from("model"));
        let in_flight = table.get(id).unwrap();
        assert!(table.remove(id));
        assert!(!table.remove(id));
        assert_eq!(*in_flight, "model");
        let err = table.get(id).unwrap_err();
        assert_eq!(err.class, ErrorClass::InvalidState);
        assert_eq!(err.message, "this predictor is closed");
        assert!(table.get(0).is_err() && table.get(u64::MAX).is_err());
        assert_eq!(table.len(), 0);
    }
}
