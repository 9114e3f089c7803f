//! Native `tracing` events reach java.util.logging: when the library is
//! loaded, a subscriber is installed whose layer hands every event at or
//! above the Java logger's level to `NativeLog.log`, on the thread that
//! emitted it.

use super::attach::with_env;
use crate::error::FfiResult;
use jni::objects::{Global, JClass, JValue};
use jni::sys::{jint, JNI_VERSION_1_8};
use jni::{jni_sig, jni_str, JavaVM};
use once_cell::sync::OnceCell;
use std::cell::Cell;
use std::ffi::c_void;
use std::fmt::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The most detailed level forwarded, numbered as `NativeLog` numbers
/// levels: 0 = none, 1 = ERROR, 2 = WARN, 3 = INFO, 4 = DEBUG, 5 = TRACE.
static THRESHOLD: AtomicU8 = AtomicU8::new(0);

/// Where events go: the VM and `NativeLog`, resolved once on a Java thread
/// because a native thread's class lookups only see the system class loader.
struct Sink {
    vm: JavaVM,
    class: Global<JClass<'static>>,
}

static SINK: OnceCell<Sink> = OnceCell::new();

thread_local! {
    /// Set while this thread is inside `NativeLog.log`: an event emitted by
    /// native code that the Java handler calls is dropped, not forwarded again.
    static FORWARDING: Cell<bool> = const { Cell::new(false) };
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

/// Sets the most detailed level forwarded (codes as `NativeLog`).
pub fn set_threshold(code: i32) {
    THRESHOLD.store(code.clamp(0, 5) as u8, Ordering::Relaxed);
    // Callsites cache the global maximum level; make them ask again.
    tracing::callsite::rebuild_interest_cache();
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

struct JavaLayer;

impl<S: Subscriber> Layer<S> for JavaLayer {
    /// Never cached per callsite: the threshold changes at run time.
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        level_code(metadata.level()) <= THRESHOLD.load(Ordering::Relaxed)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match THRESHOLD.load(Ordering::Relaxed) {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let Some(sink) = SINK.get() else { return };
        if FORWARDING.try_with(|f| f.replace(true)) != Ok(false) {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        let metadata = event.metadata();
        // A log call must not fail the native work that emitted it.
        let _ = with_env(&sink.vm, |env| {
            // Calling Java with an exception pending is not allowed: hold it aside.
            let pending = env.exception_occurred();
            env.exception_clear();
            let target = env.new_string(metadata.target())?;
            let message = env.new_string(&text.0)?;
            let _ = env.call_static_method(
                &sink.class,
                jni_str!("log"),
                jni_sig!("(ILjava/lang/String;Ljava/lang/String;)V"),
                &[JValue::Int(level_code(metadata.level()).into()), JValue::Object(&target), JValue::Object(&message)],
            );
            env.exception_clear();
            if let Some(pending) = pending {
                env.throw(pending)?;
            }
            Ok(())
        });
        let _ = FORWARDING.try_with(|f| f.set(false));
    }
}

/// Finds `NativeLog`, reads the Java logger's level and installs the subscriber.
fn install(vm: JavaVM) -> FfiResult<()> {
    let class = vm.attach_current_thread(|env| -> FfiResult<_> {
        let class = env.find_class(jni_str!("org/dlclassifier/internal/NativeLog"))?;
        let threshold = env.call_static_method(&class, jni_str!("threshold"), jni_sig!("()I"), &[])?.i()?;
        set_threshold(threshold);
        Ok(env.new_global_ref(class)?)
    })?;
    if SINK.set(Sink { vm, class }).is_ok() {
        // Another subscriber (an embedding Rust program's) takes precedence.
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(JavaLayer));
    }
    Ok(())
}

/// Runs when the JVM loads the library, on the loading Java thread.
///
/// # Safety
/// Called by the JVM with its own VM pointer.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn JNI_OnLoad(vm: *mut jni::sys::JavaVM, _reserved: *mut c_void) -> jint {
    // Logging is an extra: without `NativeLog` (or on any failure) the library still loads.
    // SAFETY: the JVM passes a valid VM pointer.
    let _ = std::panic::catch_unwind(|| install(unsafe { JavaVM::from_raw(vm) }));
    JNI_VERSION_1_8
}
