//! Device-memory reservations shared by all processes of the machine.

use super::Reservation;
use crate::handles;
use dlclassifier::reservation::{reserve as book, ReservationOptions};
use std::sync::Arc;
use std::time::Duration;

bridge_fn! {
    /// Books `bytes` of `device`'s memory (`"cpu"`, `"cuda"`, `"cuda:N"`),
    /// waiting up to `timeout_ms` behind earlier requests of any process until
    /// the booked total plus `bytes` fits under `budget_bytes`, or under the
    /// device's total memory when it is 0 (the CPU needs a budget). Booking
    /// files live in `dir`, else (NULL) in `DLC_RESERVATION_DIR`, else the
    /// system temp dir. Returns `DLC_TIMEOUT` when the wait runs out,
    /// `DLC_INVALID_ARGUMENT` at once for a request larger than the budget.
    /// On success `*out` is a reservation to free with `dlc_reservation_free`.
    fn reserve(device: str, bytes: u64, budget_bytes: u64, timeout_ms: u64, dir: opt_path) -> handle[Reservation] {
        let options = ReservationOptions { budget_bytes: (budget_bytes > 0).then_some(budget_bytes), dir };
        Ok(Arc::new(book(device.parse()?, bytes, Duration::from_millis(timeout_ms), &options)?))
    }
}

bridge_fn! {
    /// Releases a reservation. NULL, or one already released, is ignored.
    fn reservation_free(reservation: handle_id[Reservation]) {
        handles::remove::<Reservation>(reservation);
        Ok(())
    }
}
