package org.dlclassifier;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonFields;

/**
 * How a model is run: engine, device, precision and threads. Immutable; build
 * one with {@link #builder()}. The device and the combination of settings are
 * checked by the engine when a predictor opens.
 */
public final class PredictorOptions {
    /** Which engine runs the model. */
    public enum Backend {
        /** ONNX Runtime on the CPU, TorchScript on a GPU or when a model folder has no {@code model.onnx}. */
        AUTO,
        /** ONNX Runtime. */
        ONNX,
        /** TorchScript on libtorch. */
        TORCH
    }

    /**
     * What the engine does with NaN or infinite input values, in tiles and in
     * the regions of an image. A network spreads one such value into NaN
     * probabilities around it, which would read as background, so they are
     * never passed on silently.
     */
    public enum NonFinite {
        /** Fail with {@link IllegalArgumentException} naming their count and the first one's position. */
        REFUSE,
        /** Read them as 0, before normalization. */
        ZERO
    }

    private final Backend backend;
    private final String device;
    private final boolean fp16;
    private final int threads;
    private final int concurrentRuns;
    private final NonFinite nonFinite;
    private final long reservationBytes;
    private final Duration reservationTimeout;

    private PredictorOptions(Builder b) {
        backend = b.backend;
        device = b.device;
        fp16 = b.fp16;
        threads = b.threads;
        concurrentRuns = b.concurrentRuns;
        nonFinite = b.nonFinite;
        reservationBytes = b.reservationBytes;
        reservationTimeout = b.reservationTimeout;
    }

    /** @return the defaults: automatic backend and device, full precision, every core, one run at a time */
    public static PredictorOptions defaults() {
        return builder().build();
    }

    /** @return a builder starting from {@link #defaults()} */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the engine */
    public Backend backend() {
        return backend;
    }

    /** @return the device: {@code auto}, {@code cpu}, {@code cuda}, {@code cuda:N} or {@code mps} */
    public String device() {
        return device;
    }

    /** @return whether the model runs in half precision (GPU only) */
    public boolean fp16() {
        return fp16;
    }

    /** @return intra-op threads; 0 means every core */
    public int threads() {
        return threads;
    }

    /** @return how many batches may run at once on one predictor; further callers wait */
    public int concurrentRuns() {
        return concurrentRuns;
    }

    /** @return what happens to NaN or infinite input values */
    public NonFinite nonFinite() {
        return nonFinite;
    }

    /** @return GPU memory booked while the predictor is open; 0 when none is made or the estimate is booked */
    public long gpuReservationBytes() {
        return reservationBytes;
    }

    /** @return how long opening waits for the GPU memory booking; null when no reservation is made */
    public Duration gpuReservationTimeout() {
        return reservationTimeout;
    }

    /** @return the options as the engine reads them ({@code InferenceOptions} in Rust) */
    public String toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("backend", JsonFields.jsonName(backend));
        json.put("device", device);
        json.put("fp16", fp16);
        json.put("threads", threads == 0 ? null : threads);
        json.put("concurrent_runs", concurrentRuns);
        json.put("non_finite", JsonFields.jsonName(nonFinite));
        json.put("gpu_reservation", reservationTimeout == null ? null
                : JsonFields.objectOf("bytes", reservationBytes == 0 ? null : reservationBytes, "timeout_ms", reservationTimeout.toMillis()));
        return Json.write(json);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof PredictorOptions && toJson().equals(((PredictorOptions) other).toJson());
    }

    @Override
    public int hashCode() {
        return toJson().hashCode();
    }

    @Override
    public String toString() {
        return toJson();
    }

    /** Builds {@link PredictorOptions}. */
    public static final class Builder {
        private Backend backend = Backend.AUTO;
        private String device = "auto";
        private boolean fp16;
        private int threads;
        private int concurrentRuns = 1;
        private NonFinite nonFinite = NonFinite.REFUSE;
        private long reservationBytes;
        private Duration reservationTimeout;

        private Builder() {
        }

        /**
         * Books {@code bytes} of GPU memory with every other process of the
         * machine when a model folder opens, held until the predictor is
         * closed (a predictor shared through the model cache holds it while
         * cached), waiting first come, first served for up to {@code timeout}
         * (see {@link Reservation}); does nothing unless the device resolves
         * to CUDA (default: off).
         *
         * @param bytes GPU memory to book
         * @param timeout how long opening waits before it fails with a timeout
         * @return this builder
         */
        public Builder gpuReservation(long bytes, Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (bytes <= 0 || timeout.isNegative()) {
                throw new IllegalArgumentException("a GPU reservation needs positive bytes and a timeout of 0 or more");
            }
            this.reservationBytes = bytes;
            this.reservationTimeout = timeout;
            return this;
        }

        /**
         * As {@link #gpuReservation(long, Duration)}, booking the model's
         * estimated peak for the default batch (see {@link MemoryEstimate#forInference}).
         *
         * @param timeout how long opening waits before it fails with a timeout
         * @return this builder
         */
        public Builder gpuReservation(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("a GPU reservation needs a timeout of 0 or more");
            }
            this.reservationBytes = 0;
            this.reservationTimeout = timeout;
            return this;
        }

        /**
         * @param backend the engine
         * @return this builder
         */
        public Builder backend(Backend backend) {
            this.backend = Objects.requireNonNull(backend, "backend");
            return this;
        }

        /**
         * @param device {@code auto} (CUDA, then MPS, then CPU), {@code cpu}, {@code cuda}, {@code cuda:N} or {@code mps}
         * @return this builder
         */
        public Builder device(String device) {
            this.device = Objects.requireNonNull(device, "device");
            return this;
        }

        /**
         * @param fp16 run in half precision (GPU only)
         * @return this builder
         */
        public Builder fp16(boolean fp16) {
            this.fp16 = fp16;
            return this;
        }

        /**
         * @param threads intra-op threads, or 0 for every core; for TorchScript
         *     this sets libtorch's process-wide thread count
         * @return this builder
         * @throws IllegalArgumentException if negative
         */
        public Builder threads(int threads) {
            if (threads < 0) {
                throw new IllegalArgumentException("threads must be 0 (every core) or more, got " + threads);
            }
            this.threads = threads;
            return this;
        }

        /**
         * @param concurrentRuns batches that may run at once on one predictor
         *     (one ONNX Runtime session each); at least 1
         * @return this builder
         */
        public Builder concurrentRuns(int concurrentRuns) {
            this.concurrentRuns = concurrentRuns;
            return this;
        }

        /**
         * @param nonFinite what to do with NaN or infinite input values (default {@link NonFinite#REFUSE})
         * @return this builder
         */
        public Builder nonFinite(NonFinite nonFinite) {
            this.nonFinite = Objects.requireNonNull(nonFinite, "nonFinite");
            return this;
        }

        /** @return the options */
        public PredictorOptions build() {
            return new PredictorOptions(this);
        }
    }
}
