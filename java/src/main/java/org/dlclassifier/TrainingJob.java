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
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonMapper;
import org.dlclassifier.internal.Native;
import org.dlclassifier.internal.NativeHandle;

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
    private static final Logger LOG = Logger.getLogger(TrainingJob.class.getName());

    private final Path dataDir;
    private final Path outputDir;
    private final TrainingConfig config;
    private final List<TrainingListener> listeners = new CopyOnWriteArrayList<>();
    private final CompletableFuture<TrainingResult> future = new JobFuture();
    /** The native job control, closed once the run ended. Steering and closing hold {@code this}. */
    private final NativeHandle control;

    TrainingJob(Path dataDir, Path outputDir, TrainingConfig config, TrainingListener listener) {
        this.dataDir = Objects.requireNonNull(dataDir, "dataDir").toAbsolutePath();
        this.outputDir = Objects.requireNonNull(outputDir, "outputDir").toAbsolutePath();
        this.config = Objects.requireNonNull(config, "config");
        if (listener != null) {
            listeners.add(listener);
        }
        control = new NativeHandle(this, "training job", Native.jobNew(), Native::jobFree);
    }

    /**
     * Trains on the calling thread, frees the control, then completes the
     * future: once the future is done, steering the job does nothing.
     */
    void run() {
        TrainingResult result = null;
        Throwable failure = null;
        try {
            String data = dataDir.toString();
            String out = outputDir.toString();
            String settings = config.toJson();
            String json = control.call(job -> Native.train(data, out, settings, job, this));
            result = TrainingResult.of(Json.parseObject(json));
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
        EpochMetrics metrics = JsonMapper.read(EpochMetrics.class, Json.parse(json));
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
        if (!control.isClosed()) {
            control.run(Native::jobCancel);
        }
    }

    /**
     * Asks the run to wait before its next epoch until {@link #resume()} or
     * {@link #cancel()}. The epoch in progress finishes first. Does nothing once the run ended.
     */
    public synchronized void pause() {
        if (!control.isClosed()) {
            control.run(Native::jobPause);
        }
    }

    /** Lets a paused run continue. Does nothing once the run ended. */
    public synchronized void resume() {
        if (!control.isClosed()) {
            control.run(Native::jobResume);
        }
    }

    /** @return whether a pause was asked for and not yet resumed; false once the run ended */
    public synchronized boolean isPaused() {
        return !control.isClosed() && control.call(Native::jobIsPaused);
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
        control.close();
    }

    /** A future whose cancellation reaches the run. */
    private final class JobFuture extends CompletableFuture<TrainingResult> {
        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            TrainingJob.this.cancel();
            return super.cancel(mayInterruptIfRunning);
        }
    }
}
