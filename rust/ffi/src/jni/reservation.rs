//! JNI of `Reservation`: live bookings sit in a handle table; removing the
//! handle drops the booking, which releases it.

use crate::handles::HandleTable;
use dlclassifier::reservation::{reserve, Reservation, ReservationOptions};
use jni::objects::{JClass, JString};
use jni::sys::{jint, jlong};
use jni::EnvUnowned;
use once_cell::sync::Lazy;
use std::time::Duration;

static RESERVATIONS: Lazy<HandleTable<Reservation>> = Lazy::new(|| HandleTable::new("reservation"));

/// Books `bytes` on `device`, waiting up to `timeout_ms`; a `budget` of 0
/// means the device's memory, a null `dir` the default folder.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Reservation_nativeReserve<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    device: JString<'local>,
    bytes: jlong,
    timeout_ms: jlong,
    budget: jlong,
    dir: JString<'local>,
) -> jlong {
    super::call(env, |env| {
        let device = device.try_to_string(env)?.parse()?;
        let dir = if dir.is_null() { None } else { Some(dir.try_to_string(env)?.into()) };
        let options = ReservationOptions { budget_bytes: (budget > 0).then_some(budget as u64), dir };
        // The Java side rejects negative numbers before calling.
        let reservation = reserve(device, bytes as u64, Duration::from_millis(timeout_ms as u64), &options)?;
        Ok(RESERVATIONS.insert(reservation) as jlong)
    })
}

/// Releases the booking behind a handle; releasing twice is harmless.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Reservation_nativeRelease<'local>(env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) {
    super::call(env, |_| {
        RESERVATIONS.remove(handle as u64);
        Ok(())
    })
}

/// Live reservation handles, for tests of the Cleaner.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dlclassifier_Reservation_nativeLiveHandles<'local>(env: EnvUnowned<'local>, _class: JClass<'local>) -> jint {
    super::call(env, |_| Ok(RESERVATIONS.len() as jint))
}
