package org.dlclassifier;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A training run in progress, started by {@link Trainer#start}. Steer it
 * from any thread: {@link #pause()} and {@link #resume()} take effect between
 * epochs, {@link #cancel()} after the current batch (or validation image).
 *
 * <p>The {@link #future()} completes
 * <ul>
 * <li>normally with the {@link TrainingResult} when the model folder is
 * written: after all epochs, early stopping, or a cancel once at least one
 * epoch finished ({@link TrainingResult#cancelled()}, the best epoch so far
 * saved, typically within a second or two of the cancel);
 * <li>exceptionally with {@link CancellationException} when cancelled before
 * the first epoch finished (nothing is written);
 * <li>exceptionally with {@link IOException} for unreadable training data or
 * an existing output folder, {@link IllegalArgumentException} for settings
 * that do not fit the data or machine (say, an absent CUDA device), and
 * {@link DlcException} for failures inside the engine. {@code future().get()}
 * wraps these in {@link ExecutionException}, {@code future().join()} in
 * {@link CompletionException}; {@link #await()} throws them as they are.
 * </ul>
 * A run that is interrupted (cancelled early, or its JVM killed) leaves
 * checkpoints next to the output folder, which a later run into the same
 * folder continues from (see {@link TrainingConfig.Builder#resume(boolean)}).
 *
 * <p>{@link #close()} cancels a run still in progress; the native control
 * state is freed when the run ends.
 */
public final class TrainingJob implements AutoCloseable {
    static {
        NativeLibrary.load();
    }

    private static final Logger LOG = Logger.getLogger(TrainingJob.class.getName());

    private final Path dataDir;
    private final Path outputDir;
    private final TrainingConfig config;
    private final List<TrainingListener> listeners = new CopyOnWriteArrayList<>();
    private final CompletableFuture<TrainingResult> future = new JobFuture();
    /** The native JobControl; 0 once the run ended and released it. Guarded by {@code this}. */
    private long control;

    TrainingJob(Path dataDir, Path outputDir, TrainingConfig config, TrainingListener listener) {
        this.dataDir = dataDir.toAbsolutePath();
        this.outputDir = outputDir.toAbsolutePath();
        this.config = Objects.requireNonNull(config, "config");
        if (listener != null) {
            listeners.add(listener);
        }
        control = nativeCreate();
    }

    /**
     * Trains on the calling thread, frees the control, then completes the
     * future: once the future is done, steering the job does nothing.
     */
    void run() {
        TrainingResult result = null;
        Throwable failure = null;
        try {
            nativeRun(control, dataDir.toString(), outputDir.toString(), config.toJson());
            result = new TrainingResult(Model.open(outputDir));
        } catch (Throwable t) {
            failure = t;
        }
        release();
        if (failure == null) {
            future.complete(result);
        } else {
            future.completeExceptionally(failure);
        }
    }

    /** Called by the engine after each epoch, on the training thread. */
    private void onEpoch(String json) {
        EpochMetrics metrics = new EpochMetrics(Json.parseObject(json));
        for (TrainingListener listener : listeners) {
            try {
                listener.onEpoch(metrics);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "a training listener failed at epoch " + metrics.epoch()
                        + "; training continues", e);
            }
        }
    }

    /**
     * Adds a listener for the epochs that finish from now on.
     *
     * @param listener called after each epoch on the training thread
     */
    public void addListener(TrainingListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /**
     * Asks the run to stop after the current batch. It then writes the best
     * model so far, unless no epoch has finished; see the class description
     * for how the future completes. Ends a pause. Does nothing once the run ended.
     */
    public synchronized void cancel() {
        if (control != 0) {
            nativeCancel(control);
        }
    }

    /**
     * Asks the run to wait before its next epoch until {@link #resume()} or
     * {@link #cancel()}. The epoch in progress finishes first. Does nothing once the run ended.
     */
    public synchronized void pause() {
        if (control != 0) {
            nativePause(control);
        }
    }

    /** Lets a paused run continue. Does nothing once the run ended. */
    public synchronized void resume() {
        if (control != 0) {
            nativeResume(control);
        }
    }

    /** @return whether a pause was asked for and not yet resumed; false once the run ended */
    public synchronized boolean isPaused() {
        return control != 0 && nativeIsPaused(control);
    }

    /**
     * The outcome of the run. Cancelling this future also cancels the run,
     * but the future then reports only the cancellation: use {@link #cancel()}
     * to receive the best model so far.
     *
     * @return the future result
     */
    public CompletableFuture<TrainingResult> future() {
        return future;
    }

    /**
     * Waits for the run to end.
     *
     * @return the result
     * @throws IOException for unreadable training data or an existing output folder
     * @throws CancellationException when cancelled before the first epoch finished
     * @throws IllegalArgumentException for settings that do not fit the data or machine
     * @throws DlcException for failures inside the engine
     * @throws InterruptedException when this thread is interrupted while waiting
     */
    public TrainingResult await() throws IOException, InterruptedException {
        try {
            return future.get();
        } catch (ExecutionException e) {
            throw unwrap(e.getCause());
        }
    }

    /** The result of a finished run, its failure thrown as it is. */
    TrainingResult finished() throws IOException {
        try {
            return future.join();
        } catch (CompletionException e) {
            throw unwrap(e.getCause());
        }
    }

    private static RuntimeException unwrap(Throwable failure) throws IOException {
        if (failure instanceof IOException) {
            throw (IOException) failure;
        }
        if (failure instanceof Error) {
            throw (Error) failure;
        }
        if (failure instanceof RuntimeException) {
            return (RuntimeException) failure;
        }
        return new DlcException(failure.toString(), failure);
    }

    /** Cancels the run if it is still in progress; see {@link #cancel()}. */
    @Override
    public void close() {
        cancel();
    }

    private synchronized void release() {
        nativeRelease(control);
        control = 0;
    }

    /** A future whose cancellation reaches the run. */
    private final class JobFuture extends CompletableFuture<TrainingResult> {
        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            TrainingJob.this.cancel();
            return super.cancel(mayInterruptIfRunning);
        }
    }

    private static native long nativeCreate();

    private static native void nativeRelease(long control);

    /** Package-private so that tests can reach the native handle check. */
    static native void nativeCancel(long control);

    private static native void nativePause(long control);

    private static native void nativeResume(long control);

    private static native boolean nativeIsPaused(long control);

    private native void nativeRun(long control, String dataDir, String outputDir, String configJson)
            throws IOException;
}
