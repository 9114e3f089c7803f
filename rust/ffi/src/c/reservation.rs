//! Device-memory reservations shared by all processes of the machine.

use super::{guard, guard_void, out_arg, str_arg};
use dlclassifier::reservation::{reserve, Reservation, ReservationOptions};
use std::ffi::{c_char, c_int};
use std::time::Duration;

/// A booking of device memory, released by `dlc_reservation_free` (or when
/// the process exits, even if killed).
pub struct DlcReservation {
    /// Held only to be dropped, which releases the booking.
    _booking: Reservation,
}

/// Books `bytes` of `device`'s memory (`"cpu"`, `"cuda"`, `"cuda:N"`),
/// waiting up to `timeout_ms` behind earlier requests of any process until
/// the booked total plus `bytes` fits under `budget_bytes`, or under the
/// device's total memory when it is 0 (the CPU needs a budget). Booking files
/// live in `DLC_RESERVATION_DIR`, else the system temp dir. Returns
/// `DLC_TIMEOUT` when the wait runs out, `DLC_INVALID_ARGUMENT` at once for a
/// request larger than the budget. On success `*out` is a reservation to free
/// with `dlc_reservation_free`; on failure it is NULL.
///
/// # Safety
/// `device` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_reserve(
    device: *const c_char,
    bytes: u64,
    budget_bytes: u64,
    timeout_ms: u64,
    out: *mut *mut DlcReservation,
) -> c_int {
    guard(|| {
        let out = unsafe { out_arg(out, "out") }?;
        let device = unsafe { str_arg(device, "device") }?.parse()?;
        let options = ReservationOptions { budget_bytes: (budget_bytes > 0).then_some(budget_bytes), dir: None };
        let booking = reserve(device, bytes, Duration::from_millis(timeout_ms), &options)?;
        *out = Box::into_raw(Box::new(DlcReservation { _booking: booking }));
        Ok(())
    })
}

/// Releases a reservation. NULL is ignored.
///
/// # Safety
/// `reservation` is NULL or from `dlc_reserve` and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlc_reservation_free(reservation: *mut DlcReservation) {
    if !reservation.is_null() {
        guard_void(|| drop(unsafe { Box::from_raw(reservation) }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::c::{dlc_last_error, DlcStatus};
    use std::ffi::CStr;
    use std::ptr::null_mut;

    fn last_error() -> String {
        unsafe { CStr::from_ptr(dlc_last_error()) }.to_str().unwrap().to_string()
    }

    #[test]
    fn reserve_times_out_and_free_lets_the_next_in() {
        // A private booking folder, so that other test runs on this machine do not compete.
        let dir = std::env::temp_dir().join(format!("dlc-c-reservation-{}", std::process::id()));
        std::env::set_var("DLC_RESERVATION_DIR", &dir);
        let mut first = null_mut();
        assert_eq!(unsafe { dlc_reserve(c"cpu".as_ptr(), 70, 100, 0, &mut first) }, DlcStatus::DlcOk as c_int);
        let mut second = null_mut();
        assert_eq!(unsafe { dlc_reserve(c"cpu".as_ptr(), 40, 100, 50, &mut second) }, DlcStatus::DlcTimeout as c_int);
        assert!(second.is_null());
        assert!(last_error().contains("40 bytes on cpu"), "{}", last_error());
        assert_eq!(unsafe { dlc_reserve(c"cpu".as_ptr(), 101, 100, 0, &mut second) }, DlcStatus::DlcInvalidArgument as c_int);
        unsafe { dlc_reservation_free(first) };
        assert_eq!(unsafe { dlc_reserve(c"cpu".as_ptr(), 40, 100, 0, &mut second) }, DlcStatus::DlcOk as c_int);
        unsafe { dlc_reservation_free(second) };
        assert_eq!(unsafe { dlc_reserve(std::ptr::null(), 1, 100, 0, &mut second) }, DlcStatus::DlcInvalidArgument as c_int);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
