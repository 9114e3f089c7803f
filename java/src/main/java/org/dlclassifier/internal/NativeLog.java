package org.dlclassifier.internal;

import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The receiving end of native logging: the native library looks this class up
 * by name and calls {@link #threshold()} and {@link #log(int, String, String)}.
 * Must not load the native library itself: the library resolves this class
 * while it is being loaded. Internal, like the whole package.
 */
public final class NativeLog {
    /** The {@code java.util.logging} logger that receives the engine's events. */
    public static final String LOGGER_NAME = "org.dlclassifier";
    private static final Logger LOGGER = Logger.getLogger(LOGGER_NAME);

    /** Java levels of the native codes 1 (ERROR) to 5 (TRACE). */
    private static final Level[] LEVELS = {Level.SEVERE, Level.WARNING, Level.INFO, Level.FINE, Level.FINER};

    private NativeLog() {
    }

    /** @return the most detailed native level the logger lets through: 0 none, 1 ERROR ... 5 TRACE */
    public static int threshold() {
        for (int code = LEVELS.length; code > 0; code--) {
            if (LOGGER.isLoggable(LEVELS[code - 1])) {
                return code;
            }
        }
        return 0;
    }

    /**
     * Logs one native event; called on the thread that emitted it.
     *
     * @param code the native level, 1 (ERROR) to 5 (TRACE)
     * @param target the emitting Rust module, logged as the source class
     * @param message the event
     */
    public static void log(int code, String target, String message) {
        Level level = LEVELS[code - 1];
        if (LOGGER.isLoggable(level)) {
            LogRecord record = new LogRecord(level, message);
            record.setLoggerName(LOGGER_NAME);
            record.setSourceClassName(target);
            LOGGER.log(record);
        }
    }
}
