package org.dlclassifier.internal;

/**
 * The natives that only a test build of the library has (cargo feature
 * {@code test-hooks} of {@code dlclassifier-ffi}; Gradle's {@code test} task
 * runs on that build): views of the native side that production code has no
 * use for.
 */
public final class TestNative {
    static {
        Native.load();
    }

    private TestNative() {
    }

    /**
     * @param kind {@code predictor}, {@code reservation} or {@code job}
     * @return live handles of that kind in this process
     */
    public static native int liveHandles(String kind);

    /**
     * @param a a predictor handle
     * @param b another
     * @return whether both hold the very same loaded model
     */
    public static native boolean sameObject(long a, long b);

    /**
     * Logs {@code message} at INFO from a new native thread, which ends right after.
     *
     * @param message the event
     */
    public static native void logFromNativeThread(String message);
}
