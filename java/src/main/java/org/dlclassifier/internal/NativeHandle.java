package org.dlclassifier.internal;

import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.util.function.LongConsumer;

/**
 * The one owner of a native handle number, held by the public object it
 * belongs to (a predictor, a reservation, a training job's control): frees
 * the handle exactly once, on {@link #close()} or, as a safety net, when the
 * owner becomes unreachable, and guards every call with it.
 *
 * <p>Thread-safe. A call that started before {@link #close()} on another
 * thread completes normally (the native side keeps the object alive for it);
 * every call after it throws {@link IllegalStateException}
 * {@code "this <kind> is closed"}.
 */
public final class NativeHandle {
    private static final Cleaner CLEANER = Cleaner.create();

    private final Object owner;
    private final String kind;
    private final long handle;
    private final Cleaner.Cleanable cleanable;
    private volatile boolean closed;

    /**
     * Takes ownership of {@code handle}.
     *
     * @param owner the public object whose reachability keeps the handle alive
     * @param kind what the handle is, for {@code "this <kind> is closed"}
     * @param handle the handle number, not 0
     * @param free the native call that frees it, a static method reference such as
     *     {@code Native::predictorFree}: it must not hold the owner
     * @throws IllegalArgumentException if {@code handle} is 0
     */
    public NativeHandle(Object owner, String kind, long handle, LongConsumer free) {
        if (handle == 0) {
            throw new IllegalArgumentException("0 is no " + kind + " handle");
        }
        this.owner = owner;
        this.kind = kind;
        this.handle = handle;
        this.cleanable = CLEANER.register(owner, new Release(handle, free));
    }

    /** Frees the handle; holds nothing that keeps the owner reachable. */
    private static final class Release implements Runnable {
        private final long handle;
        private final LongConsumer free;

        Release(long handle, LongConsumer free) {
            this.handle = handle;
            this.free = free;
        }

        @Override
        public void run() {
            free.accept(handle);
        }
    }

    /**
     * A native call with the handle.
     *
     * @param <T> its result
     * @param <E> the checked exception it may throw ({@link RuntimeException} for none)
     */
    @FunctionalInterface
    public interface Call<T, E extends Exception> {
        /**
         * @param handle the handle number
         * @return the result
         * @throws E as the native call does
         */
        T apply(long handle) throws E;
    }

    /**
     * A native call with the handle and no result.
     *
     * @param <E> the checked exception it may throw ({@link RuntimeException} for none)
     */
    @FunctionalInterface
    public interface Action<E extends Exception> {
        /**
         * @param handle the handle number
         * @throws E as the native call does
         */
        void run(long handle) throws E;
    }

    /**
     * Calls native code with the handle, keeping the owner reachable until it returns.
     *
     * @param <T> the result
     * @param <E> the checked exception of the call
     * @param call the native call
     * @return its result
     * @throws E as the call does
     * @throws IllegalStateException if closed
     */
    public <T, E extends Exception> T call(Call<T, E> call) throws E {
        try {
            return call.apply(open());
        } finally {
            // The cleaner must not free the handle while the native call runs.
            Reference.reachabilityFence(owner);
        }
    }

    /**
     * As {@link #call(Call)} for a call without a result.
     *
     * @param <E> the checked exception of the call
     * @param action the native call
     * @throws E as the call does
     * @throws IllegalStateException if closed
     */
    public <E extends Exception> void run(Action<E> action) throws E {
        try {
            action.run(open());
        } finally {
            Reference.reachabilityFence(owner);
        }
    }

    private long open() {
        if (closed) {
            throw new IllegalStateException("this " + kind + " is closed");
        }
        return handle;
    }

    /** @return whether {@link #close()} has run */
    public boolean isClosed() {
        return closed;
    }

    /** Frees the handle once calls already running have returned. Closing twice is harmless. */
    public void close() {
        closed = true;
        cleanable.clean();
    }
}
