//! Native `tracing` events for a caller's logger: a layer that formats each
//! event at or above a threshold the caller sets and hands it to a sink
//! (Java's is in `jni::logging`), on the thread that emitted it.

use std::cell::Cell;
use std::fmt::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

bridge_fn! {
    jni_only
    /// Forwards native events up to `threshold` (0 none, 1 ERROR ... 5 TRACE)
    /// to java.util.logging.
    fn set_log_threshold(threshold: int) {
        set_threshold(threshold);
        Ok(())
    }
}

bridge_fn! {
    jni_only
    /// The library version; lets the Java loader prove that the library and
    /// its libtorch dependencies resolved.
    fn version() -> string {
        Ok(dlclassifier::VERSION.to_string())
    }
}

/// The most detailed level forwarded, numbered as Java's `NativeLog` numbers
/// levels: 0 = none, 1 = ERROR, 2 = WARN, 3 = INFO, 4 = DEBUG, 5 = TRACE.
static THRESHOLD: AtomicU8 = AtomicU8::new(0);

thread_local! {
    /// Set while this thread is inside the sink: an event emitted by native
    /// code that the caller's logger calls is dropped, not forwarded again.
    static FORWARDING: Cell<bool> = const { Cell::new(false) };
}

/// Sets the most detailed level forwarded (codes as `THRESHOLD`).
pub fn set_threshold(code: i32) {
    THRESHOLD.store(code.clamp(0, 5) as u8, Ordering::Relaxed);
    // Callsites cache the global maximum level; make them ask again.
    tracing::callsite::rebuild_interest_cache();
}

fn level_code(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// Formats an event as `message key=value ...`.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.append(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.append(field, format_args!("{value:?}"));
    }
}

impl Text {
    fn append(&mut self, field: &Field, value: std::fmt::Arguments) {
        let message = field.name() == "message";
        let separator = if self.0.is_empty() { "" } else { " " };
        // Writing to a String cannot fail.
        let _ = if message { write!(self.0, "{separator}{value}") } else { write!(self.0, "{separator}{}={value}", field.name()) };
    }
}

/// Hands each forwarded event to `sink(level code, target, text)`.
pub struct ForwardLayer<F>(pub F);

impl<S: Subscriber, F: Fn(u8, &str, &str) + Send + Sync + 'static> Layer<S> for ForwardLayer<F> {
    /// Never cached per callsite: the threshold changes at run time.
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        level_code(metadata.level()) <= THRESHOLD.load(Ordering::Relaxed)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        const BY_CODE: [LevelFilter; 6] = [LevelFilter::OFF, LevelFilter::ERROR, LevelFilter::WARN, LevelFilter::INFO, LevelFilter::DEBUG, LevelFilter::TRACE];
        Some(BY_CODE[usize::from(THRESHOLD.load(Ordering::Relaxed))])
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if FORWARDING.try_with(|f| f.replace(true)) != Ok(false) {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        let metadata = event.metadata();
        (self.0)(level_code(metadata.level()), metadata.target(), &text.0);
        let _ = FORWARDING.try_with(|f| f.set(false));
    }
}
