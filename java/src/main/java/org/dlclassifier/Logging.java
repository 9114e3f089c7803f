package org.dlclassifier;

import org.dlclassifier.internal.Native;
import org.dlclassifier.internal.NativeLog;

/**
 * Where the engine's log events go: the {@code java.util.logging} logger
 * {@value #LOGGER_NAME}, at matching levels (ERROR as SEVERE, WARN as
 * WARNING, INFO, DEBUG as FINE, TRACE as FINER), with the emitting Rust
 * module as source class. Events are logged on the thread that emitted them;
 * native threads appear as daemon threads.
 *
 * <p>The engine only forwards events the logger would log, judged by the
 * logger's level when the native library loads; call {@link #refreshLevel()}
 * after changing it.
 */
public final class Logging {
    /** The logger that receives the engine's events. */
    public static final String LOGGER_NAME = NativeLog.LOGGER_NAME;

    private Logging() {
    }

    /** Makes the engine forward exactly the events the logger's current level lets through. */
    public static void refreshLevel() {
        Native.setLogThreshold(NativeLog.threshold());
    }
}
