package org.dlclassifier;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import org.dlclassifier.internal.NativeLog;
import org.dlclassifier.internal.TestNative;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** Rust tracing events arrive in java.util.logging. */
public class LoggingTest {
    private final Logger logger = Logger.getLogger(Logging.LOGGER_NAME);
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord record) {
            records.add(record);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };
    private Level saved;

    @Before
    public void listen() {
        saved = logger.getLevel();
        logger.addHandler(handler);
    }

    @After
    public void restore() {
        logger.removeHandler(handler);
        logger.setLevel(saved);
        Logging.refreshLevel();
    }

    /** The "model opened" events of opening the test model, loaded afresh (not from the cache other tests fill). */
    private List<LogRecord> opened() throws IOException {
        Devices.clearCache();
        records.clear();
        Predictor.open(InferenceFixtures.nucleiModel()).close();
        return records.stream().filter(r -> r.getMessage().startsWith("model opened")).collect(Collectors.toList());
    }

    @Test
    @SuppressWarnings("deprecation") // getThreadID: the int form is the one Java 11 has.
    public void anEngineEventIsLoggedOnTheThreadThatCausedIt() throws IOException {
        logger.setLevel(Level.INFO);
        Logging.refreshLevel();
        List<LogRecord> opened = opened();
        assertEquals(1, opened.size());
        LogRecord record = opened.get(0);
        assertEquals(Level.INFO, record.getLevel());
        assertEquals(Logging.LOGGER_NAME, record.getLoggerName());
        assertEquals("dlclassifier::tasks::pixel::predictor", record.getSourceClassName());
        assertTrue(record.getMessage(), record.getMessage().contains("model=nuclei"));
        assertTrue(record.getMessage(), record.getMessage().contains("classes=2"));
        assertEquals(Thread.currentThread().getId(), record.getThreadID());
    }

    @Test
    @SuppressWarnings("deprecation")
    public void eventsOfNativeThreadsArriveToo() {
        logger.setLevel(Level.INFO);
        Logging.refreshLevel();
        records.clear();
        // Each call attaches a fresh native thread, which detaches as it ends.
        TestNative.logFromNativeThread("first");
        TestNative.logFromNativeThread("second");
        assertEquals(2, records.size());
        assertEquals("first", records.get(0).getMessage());
        assertEquals("second", records.get(1).getMessage());
        assertNotEquals(Thread.currentThread().getId(), records.get(0).getThreadID());
        assertEquals("dlclassifier_native::jni::logging", records.get(0).getSourceClassName());
    }

    @Test
    public void theLoggersLevelDecidesWhatTheEngineForwards() throws IOException {
        logger.setLevel(Level.WARNING);
        Logging.refreshLevel();
        assertEquals("WARN and ERROR only", 2, NativeLog.threshold());
        assertTrue(opened().isEmpty());
        logger.setLevel(Level.ALL);
        Logging.refreshLevel();
        assertEquals("down to TRACE", 5, NativeLog.threshold());
        assertEquals(1, opened().size());
        logger.setLevel(Level.OFF);
        Logging.refreshLevel();
        assertEquals(0, NativeLog.threshold());
        assertTrue(opened().isEmpty());
    }
}
