//! Device-memory reservations across real processes: each child is this test
//! binary run again with `child_entry` selected and its orders in the
//! environment, competing with the others for a fake CPU budget.

use dlclassifier::device::DeviceChoice;
use dlclassifier::reservation::{reserve, ReservationOptions};
use dlclassifier::Error;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BUDGET: u64 = 100;

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()
}

/// One line `<event> <name> <unix ms> <detail>` appended to the shared log;
/// a single small O_APPEND write, so lines of different processes never mix.
fn log(path: &Path, event: &str, name: &str, detail: &str) {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    file.write_all(format!("{event} {name} {} {detail}\n", now_ms()).as_bytes()).unwrap();
}

/// A child's work: reserve, log, hold, log, release. Does nothing in a normal test run.
#[test]
fn child_entry() {
    let Ok(name) = std::env::var("DLC_TEST_CHILD") else { return };
    let var = |key: &str| std::env::var(key).unwrap();
    let number = |key: &str| var(key).parse::<u64>().unwrap();
    let log_path = PathBuf::from(var("DLC_TEST_LOG"));
    let options = ReservationOptions { budget_bytes: Some(BUDGET), dir: Some(var("DLC_TEST_DIR").into()) };
    let started = Instant::now();
    match reserve(DeviceChoice::Cpu, number("DLC_TEST_BYTES"), Duration::from_millis(number("DLC_TEST_TIMEOUT_MS")), &options) {
        Ok(reservation) => {
            log(&log_path, "acquired", &name, &reservation.bytes().to_string());
            std::thread::sleep(Duration::from_millis(number("DLC_TEST_HOLD_MS")));
            // Logged before the release, so logged intervals lie inside the held ones.
            log(&log_path, "released", &name, "");
            reservation.release().unwrap();
        }
        Err(Error::Timeout(message)) => log(&log_path, "timeout", &name, &format!("{} {message}", started.elapsed().as_millis())),
        Err(e) => panic!("{e}"),
    }
}

struct Arena {
    dir: tempfile::TempDir,
    children: Vec<Child>,
}

impl Arena {
    fn new() -> Self {
        Arena { dir: tempfile::tempdir().unwrap(), children: Vec::new() }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("events.log")
    }

    /// Starts a child and waits until its ticket is in the booking file, so
    /// that children queue in the order they are started.
    fn spawn(&mut self, name: &str, bytes: u64, hold_ms: u64, timeout_ms: u64) -> usize {
        let queued = self.bookings();
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
            .env("DLC_TEST_CHILD", name)
            .env("DLC_TEST_DIR", self.dir.path())
            .env("DLC_TEST_LOG", self.log_path())
            .env("DLC_TEST_BYTES", bytes.to_string())
            .env("DLC_TEST_HOLD_MS", hold_ms.to_string())
            .env("DLC_TEST_TIMEOUT_MS", timeout_ms.to_string())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(child);
        self.wait_for(&format!("{name} to queue"), || self.bookings() > queued || self.events().iter().any(|e| e.name == name));
        self.children.len() - 1
    }

    /// Entries in the booking file (replaced atomically, so readable without the lock).
    fn bookings(&self) -> usize {
        match std::fs::read(self.dir.path().join("dlclassifier-cpu.bookings")) {
            Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["bookings"].as_array().unwrap().len(),
            Err(_) => 0,
        }
    }

    fn events(&self) -> Vec<Event> {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        text.lines()
            .map(|line| {
                let mut parts = line.splitn(4, ' ');
                let mut next = || parts.next().unwrap_or_default().to_string();
                Event { kind: next(), name: next(), at: next().parse().unwrap(), detail: next() }
            })
            .collect()
    }

    fn wait_for(&self, what: &str, done: impl Fn() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(20), "gave up waiting for {what}; events: {:?}", self.events());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn join_all(&mut self) {
        for child in &mut self.children {
            assert!(child.wait().unwrap().success(), "a child failed; events: {:?}", self.events());
        }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Debug, Clone)]
struct Event {
    kind: String,
    name: String,
    at: u128,
    detail: String,
}

#[test]
fn requests_are_served_in_order_and_never_over_book() {
    let mut arena = Arena::new();
    let sizes = [("a", 60), ("b", 50), ("c", 50), ("d", 10)];
    for (name, bytes) in sizes {
        // Held long enough that b and c overlap even when a child starts slowly.
        arena.spawn(name, bytes, 800, 10_000);
    }
    arena.join_all();
    let events = arena.events();
    let acquired: Vec<&str> = events.iter().filter(|e| e.kind == "acquired").map(|e| e.name.as_str()).collect();
    // d would fit beside a at once, but b and c asked first.
    assert_eq!(acquired, ["a", "b", "c", "d"], "{events:?}");
    let mut booked = 0;
    let mut peak = 0;
    for event in &events {
        let bytes = sizes.iter().find(|(name, _)| *name == event.name).unwrap().1;
        match event.kind.as_str() {
            "acquired" => booked += bytes,
            "released" => booked -= bytes,
            other => panic!("unexpected {other}: {events:?}"),
        }
        assert!(booked <= BUDGET, "{booked} bytes held at once: {events:?}");
        peak = peak.max(booked);
    }
    assert_eq!(peak, 100, "b and c should have run together: {events:?}");
}

#[test]
fn the_booking_of_a_killed_holder_is_reclaimed() {
    let mut arena = Arena::new();
    let holder = arena.spawn("holder", 80, 3_600_000, 10_000);
    arena.wait_for("the holder to acquire", || arena.events().iter().any(|e| e.kind == "acquired"));
    arena.spawn("waiter", 50, 0, 10_000);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(arena.events().len(), 1, "the waiter must wait: {:?}", arena.events());
    let pid = arena.children[holder].id() as libc::pid_t;
    // SAFETY: a plain kill of our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let killed = now_ms();
    // Not reaped yet: the holder is a zombie, which must count as dead too.
    arena.wait_for("the waiter to acquire", || arena.events().iter().any(|e| e.name == "waiter" && e.kind == "acquired"));
    let waiter = arena.events().into_iter().find(|e| e.name == "waiter").unwrap();
    assert!(waiter.at - killed < 2_000, "reclaimed after {} ms", waiter.at - killed);
    let _ = arena.children.remove(holder).wait();
    arena.join_all();
}

#[test]
fn a_request_that_cannot_fit_in_time_fails_and_leaves_the_queue() {
    let mut arena = Arena::new();
    arena.spawn("holder", 80, 4_000, 10_000);
    arena.wait_for("the holder to acquire", || arena.events().iter().any(|e| e.kind == "acquired"));
    arena.spawn("late", 50, 0, 300);
    arena.wait_for("the late request to time out", || arena.events().iter().any(|e| e.kind == "timeout"));
    // Had the timed-out ticket stayed, this small request would queue behind it.
    arena.spawn("small", 10, 0, 500);
    arena.join_all();
    let events = arena.events();
    let late = events.iter().find(|e| e.name == "late").unwrap();
    let (waited, message) = late.detail.split_once(' ').unwrap();
    let waited: u64 = waited.parse().unwrap();
    assert!((300..1_300).contains(&waited), "timed out after {waited} ms");
    assert!(message.contains("50 bytes on cpu") && message.contains("80 bytes of 100 bytes booked"), "{message}");
    let small = events.iter().position(|e| e.name == "small" && e.kind == "acquired").unwrap();
    let holder_released = events.iter().position(|e| e.name == "holder" && e.kind == "released").unwrap();
    assert!(small < holder_released, "the small request waited for the holder: {events:?}");
}
