//! Device-memory reservations shared by every process of the machine, so that
//! several trainings and predictors on one GPU wait for each other instead of
//! running out of memory.
//!
//! Each device has a booking file, `dlclassifier-<device>.bookings`, in
//! `DLC_RESERVATION_DIR` (else the system temp dir), read and rewritten only
//! while holding an exclusive `flock` on its `.lock` companion. A request
//! appends a waiting ticket; it takes its booking once it is the oldest
//! waiting ticket and the held total plus its bytes fits the capacity, so
//! requests are served first come, first served. Bookings of processes that
//! died (even by `kill -9`) are dropped on every pass.

use crate::device::{self, DeviceChoice};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tch::Device;

/// How often a waiting request re-reads the bookings.
const POLL: Duration = Duration::from_millis(25);

/// Where and against what a reservation is booked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReservationOptions {
    /// The most all bookings on the device may add up to; defaults to the
    /// device's total memory. Required for the CPU.
    pub budget_bytes: Option<u64>,
    /// Folder of the booking files; defaults to `DLC_RESERVATION_DIR`, else the system temp dir.
    pub dir: Option<PathBuf>,
}

/// A reservation asked for in a training or inference configuration. It is
/// booked only when the resolved device is a CUDA GPU; elsewhere it does nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReservationRequest {
    /// Bytes to book; `None` books the job's memory estimate (see `memory_estimate`).
    pub bytes: Option<u64>,
    /// How long to wait for the booking before failing.
    pub timeout_ms: u64,
}

impl Default for ReservationRequest {
    fn default() -> Self {
        ReservationRequest { bytes: None, timeout_ms: 10 * 60 * 1000 }
    }
}

impl ReservationRequest {
    /// Books the request on `device` against its total memory, or returns
    /// `None` when the device is not a CUDA GPU. `estimate` gives the bytes
    /// when the request names none; it only runs when needed.
    pub fn acquire(&self, device: Device, estimate: impl FnOnce() -> Result<u64>) -> Result<Option<Reservation>> {
        let Device::Cuda(index) = device else { return Ok(None) };
        let bytes = match self.bytes {
            Some(bytes) => bytes,
            None => estimate()?,
        };
        reserve(DeviceChoice::Cuda(index), bytes, Duration::from_millis(self.timeout_ms), &ReservationOptions::default()).map(Some)
    }
}

/// One booking in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Booking {
    ticket: u64,
    pid: u32,
    /// The process's start time (`/proc/<pid>/stat` field 22), so that a
    /// recycled PID is not taken for the holder.
    start_time: Option<u64>,
    bytes: u64,
    held: bool,
    /// Milliseconds since the Unix epoch; for people reading the file.
    created_ms: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Bookings {
    next_ticket: u64,
    bookings: Vec<Booking>,
}

impl Bookings {
    fn held_bytes(&self) -> u64 {
        self.bookings.iter().filter(|b| b.held).map(|b| b.bytes).sum()
    }

    /// Whether `ticket`, still waiting, is first in line and fits under `capacity`.
    fn may_take(&self, ticket: u64, capacity: u64) -> bool {
        let Some(me) = self.bookings.iter().find(|b| b.ticket == ticket) else { return false };
        let first_waiting = self.bookings.iter().filter(|b| !b.held).map(|b| b.ticket).min();
        first_waiting == Some(ticket) && self.held_bytes().saturating_add(me.bytes) <= capacity
    }

    fn remove(&mut self, ticket: u64) {
        self.bookings.retain(|b| b.ticket != ticket);
    }

    /// Drops the bookings of processes that no longer run.
    fn reclaim(&mut self, alive: impl Fn(&Booking) -> bool) {
        self.bookings.retain(|b| {
            let keep = alive(b);
            if !keep {
                tracing::info!(pid = b.pid, bytes = b.bytes, "reclaimed the reservation of a process that exited");
            }
            keep
        });
    }
}

/// The booking file of one device, locked for the lifetime of this value.
struct Locked {
    path: PathBuf,
    _lock: File,
    bookings: Bookings,
}

impl Locked {
    fn open(path: &Path) -> Result<Self> {
        let lock_path = path.with_extension("lock");
        let lock = OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        // SAFETY: flock on a descriptor we own; the lock ends when `lock` is closed.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(Error::io(&lock_path, std::io::Error::last_os_error()));
        }
        let bookings = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::data(path, format!("not a booking file: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Bookings::default(),
            Err(e) => return Err(Error::io(path, e)),
        };
        let mut locked = Locked { path: path.to_path_buf(), _lock: lock, bookings };
        locked.bookings.reclaim(is_alive);
        Ok(locked)
    }

    /// Replaces the file atomically, so that a crash mid-write loses nothing.
    fn save(&self) -> Result<()> {
        let tmp = self.path.with_extension("bookings.tmp");
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&tmp)?;
            file.write_all(&serde_json::to_vec(&self.bookings).map_err(std::io::Error::other)?)?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| Error::io(&self.path, e))
    }
}

/// A booking of device memory, released when dropped (or by [`Reservation::release`]).
#[derive(Debug)]
pub struct Reservation {
    path: PathBuf,
    device: String,
    ticket: u64,
    bytes: u64,
    released: bool,
}

impl Reservation {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The device as `cpu` or `cuda:N`.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Releases the booking now, reporting a failure to rewrite the file.
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        remove_ticket(&self.path, self.ticket)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.released {
            if let Err(e) = remove_ticket(&self.path, self.ticket) {
                // The booking is reclaimed anyway once this process exits.
                tracing::warn!(error = %e, "could not release a device-memory reservation");
            }
        }
    }
}

fn remove_ticket(path: &Path, ticket: u64) -> Result<()> {
    let mut locked = Locked::open(path)?;
    locked.bookings.remove(ticket);
    locked.save()
}

/// Books `bytes` of `device`'s memory, waiting up to `timeout` behind earlier
/// requests of any process until they fit under the budget.
pub fn reserve(device: DeviceChoice, bytes: u64, timeout: Duration, options: &ReservationOptions) -> Result<Reservation> {
    let (name, capacity) = match device.resolve()? {
        Device::Cpu => {
            let budget = options.budget_bytes.ok_or_else(|| Error::config("a reservation on the CPU needs an explicit budget"))?;
            ("cpu".to_string(), budget)
        }
        Device::Cuda(i) => {
            let capacity = match options.budget_bytes {
                Some(budget) => budget,
                None => device::memory_info(DeviceChoice::Cuda(i))?.total,
            };
            (format!("cuda:{i}"), capacity)
        }
        other => return Err(Error::config(format!("memory cannot be reserved on {}", device::describe(other)))),
    };
    if bytes > capacity {
        return Err(Error::config(format!("cannot reserve {} on {name}: more than its capacity of {}", size(bytes), size(capacity))));
    }
    let dir = match &options.dir {
        Some(dir) => dir.clone(),
        None => std::env::var_os("DLC_RESERVATION_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir),
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(format!("dlclassifier-{}.bookings", name.replace(':', "-")));
    wait_for_turn(path, name, bytes, capacity, timeout)
}

fn wait_for_turn(path: PathBuf, device: String, bytes: u64, capacity: u64, timeout: Duration) -> Result<Reservation> {
    let started = Instant::now();
    let pid = std::process::id();
    let mut locked = Locked::open(&path)?;
    let ticket = locked.bookings.next_ticket;
    locked.bookings.next_ticket += 1;
    let created_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
    locked.bookings.bookings.push(Booking { ticket, pid, start_time: start_time(pid), bytes, held: false, created_ms });
    locked.save()?;
    // From here on the ticket is in the file: every exit path removes it or hands it to the guard.
    let mut reservation = Reservation { path, device, ticket, bytes, released: false };
    loop {
        if locked.bookings.may_take(ticket, capacity) {
            locked.bookings.bookings.iter_mut().filter(|b| b.ticket == ticket).for_each(|b| b.held = true);
            locked.save()?;
            return Ok(reservation);
        }
        if started.elapsed() >= timeout {
            let ahead = locked.bookings.bookings.iter().filter(|b| !b.held && b.ticket < ticket).count();
            let booked = locked.bookings.held_bytes();
            locked.bookings.remove(ticket);
            reservation.released = true;
            locked.save()?;
            return Err(Error::Timeout(format!(
                "waited {:.1} s to reserve {} on {}: {} of {} booked, {ahead} earlier request(s) waiting",
                started.elapsed().as_secs_f64(),
                size(bytes),
                reservation.device,
                size(booked),
                size(capacity),
            )));
        }
        drop(locked);
        std::thread::sleep(POLL.min(timeout.saturating_sub(started.elapsed())));
        locked = Locked::open(&reservation.path)?;
        if !locked.bookings.bookings.iter().any(|b| b.ticket == ticket) {
            // Someone deleted the file or our entry: queue again rather than over-book.
            return Err(Error::data(&reservation.path, "our waiting ticket disappeared from the booking file"));
        }
    }
}

fn size(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{bytes} bytes")
    } else {
        format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
    }
}

/// Whether the process that made `booking` still runs: a PID that is gone,
/// a zombie, or a PID reused by a process started at another time is dead.
fn is_alive(booking: &Booking) -> bool {
    let Ok(pid) = libc::pid_t::try_from(booking.pid) else { return false };
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        return false;
    }
    match proc_stat(booking.pid) {
        Some((state, start)) => state != 'Z' && (booking.start_time.is_none() || booking.start_time == Some(start)),
        // Without /proc (not Linux), `kill` is all we know.
        None => true,
    }
}

fn start_time(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|(_, start)| start)
}

/// The state letter and start time of `pid` from `/proc/<pid>/stat`.
fn proc_stat(pid: u32) -> Option<(char, u64)> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn parse_stat(text: &str) -> Option<(char, u64)> {
    // The command name in field 2 may itself hold spaces and parentheses.
    let mut fields = text.get(text.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Fields 4 to 21 lie between the state (3) and the start time (22).
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booking(ticket: u64, bytes: u64, held: bool) -> Booking {
        Booking { ticket, pid: 1, start_time: None, bytes, held, created_ms: 0 }
    }

    #[test]
    fn only_the_first_waiting_ticket_that_fits_may_take_its_booking() {
        let file = Bookings { next_ticket: 4, bookings: vec![booking(0, 60, true), booking(1, 50, false), booking(2, 10, false)] };
        assert!(!file.may_take(1, 100), "does not fit");
        assert!(!file.may_take(2, 100), "fits but is not first in line");
        assert!(file.may_take(1, 110));
        assert!(!file.may_take(3, 1000), "unknown ticket");
    }

    #[test]
    fn reclaim_drops_the_bookings_of_dead_processes() {
        let mut file = Bookings { next_ticket: 2, bookings: vec![booking(0, 60, true), booking(1, 50, false)] };
        file.reclaim(|b| b.ticket == 1);
        assert_eq!(file.bookings, vec![booking(1, 50, false)]);
        assert_eq!(file.held_bytes(), 0);
    }

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        let line = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_stat(line), Some(('S', 987654)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_recycled_pid_is_not() {
        let pid = std::process::id();
        let me = Booking { pid, start_time: start_time(pid), ..booking(0, 1, true) };
        assert!(me.start_time.is_some());
        assert!(is_alive(&me));
        assert!(!is_alive(&Booking { start_time: me.start_time.map(|t| t + 1), ..me }));
        assert!(!is_alive(&Booking { pid: u32::MAX, ..me }));
    }

    #[test]
    fn reservations_in_one_process_wait_time_out_and_release() {
        let dir = tempfile::tempdir().unwrap();
        let options = ReservationOptions { budget_bytes: Some(100), dir: Some(dir.path().to_path_buf()) };
        let first = reserve(DeviceChoice::Cpu, 70, Duration::ZERO, &options).unwrap();
        assert_eq!((first.device(), first.bytes()), ("cpu", 70));
        let started = Instant::now();
        let err = reserve(DeviceChoice::Cpu, 40, Duration::from_millis(100), &options).unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(100));
        let message = err.to_string();
        assert!(matches!(err, Error::Timeout(_)), "{message}");
        for part in ["40 bytes on cpu", "70 bytes of 100 bytes booked", "0 earlier"] {
            assert!(message.contains(part), "{message}");
        }
        first.release().unwrap();
        let second = reserve(DeviceChoice::Cpu, 40, Duration::ZERO, &options).unwrap();
        let third = reserve(DeviceChoice::Cpu, 60, Duration::ZERO, &options).unwrap();
        drop((second, third));
        let file: Bookings = serde_json::from_slice(&std::fs::read(dir.path().join("dlclassifier-cpu.bookings")).unwrap()).unwrap();
        assert!(file.bookings.is_empty(), "{file:?}");
    }

    #[test]
    fn impossible_requests_fail_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let options = ReservationOptions { budget_bytes: Some(100), dir: Some(dir.path().to_path_buf()) };
        let err = reserve(DeviceChoice::Cpu, 101, Duration::from_secs(60), &options).unwrap_err();
        assert!(err.to_string().contains("more than its capacity"), "{err}");
        let no_budget = ReservationOptions { budget_bytes: None, ..options };
        assert!(reserve(DeviceChoice::Cpu, 1, Duration::ZERO, &no_budget).unwrap_err().to_string().contains("explicit budget"));
    }

    #[test]
    fn requests_book_only_on_cuda() {
        let request = ReservationRequest { bytes: Some(1), timeout_ms: 0 };
        assert!(request.acquire(Device::Cpu, || unreachable!("no estimate is needed off the GPU")).unwrap().is_none());
    }
}
