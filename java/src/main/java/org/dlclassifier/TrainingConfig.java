package org.dlclassifier;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonFields;
import org.dlclassifier.internal.Native;

/**
 * Every setting of a training run, immutable. Create one with
 * {@link #builder()}, change one with {@link #toBuilder()}, reuse a previous
 * model's with {@link #fromModel(Path)}. Settings the builder is not given
 * keep the engine's defaults (noted on each setter).
 *
 * <p>Settings are checked by the engine when built: an unknown architecture,
 * encoder or freeze group, a tile size that is not a multiple of 32, a
 * non-positive learning rate and the like throw {@link IllegalArgumentException}
 * with the engine's message, before any data is read. Whether a device exists
 * and whether the data fits (class count against weight multipliers, channels
 * against initial weights) is only known when training starts.
 *
 * <p>The JSON form ({@link #toJson()}, {@link #fromJson(String)}) is the
 * engine's: the {@code training} block of a model's {@code metadata.json}.
 * Two configs are equal when their settings are.
 *
 * <p>Some settings are left to the engine unless given: the tile size, the
 * crops per epoch and the intensity augmentation
 * ({@link Augmentation.IntensityMode#AUTO}) are chosen from the training data
 * when training starts. {@link Trainer#plan(Path, TrainingConfig)} shows those
 * choices, with their reasons, before training; the model's
 * {@code metadata.json} records the settings as resolved.
 */
public final class TrainingConfig {
    /** The loss minimised in training; both skip unlabeled pixels and use the class weights. */
    public enum Loss {
        /** Pixel-wise cross-entropy. */
        CROSS_ENTROPY,
        /** Cross-entropy plus (1 - soft Dice) over labelled pixels. */
        CE_DICE
    }

    /** The validation quantity that picks the best epoch and drives early stopping. */
    public enum Monitor {
        /** Mean intersection over union across classes (higher is better). */
        MEAN_IOU,
        /** Validation loss (lower is better). */
        VAL_LOSS
    }

    private final String json;
    private final Map<String, Object> values;

    private TrainingConfig(String canonicalJson) {
        json = canonicalJson;
        values = Json.parseObject(canonicalJson);
    }

    /** @return a builder starting from the engine's defaults */
    public static Builder builder() {
        return new Builder("{}");
    }

    /** @return a builder starting from these settings */
    public Builder toBuilder() {
        return new Builder(json);
    }

    /**
     * Parses settings in the engine's JSON form; absent fields take the defaults.
     *
     * @param json a JSON object of training settings
     * @return the checked settings
     * @throws IllegalArgumentException for malformed JSON, unknown fields or invalid values
     */
    public static TrainingConfig fromJson(String json) {
        return new TrainingConfig(Native.configCanonicalJson(Objects.requireNonNull(json, "json"), "{}"));
    }

    /**
     * The settings a previous model was trained with, read from its
     * {@code metadata.json}. Before training into another folder with them,
     * consider {@link Builder#name(String)} (the saved name is the old model's)
     * and {@link Builder#overwrite(boolean)}.
     *
     * @param modelDir a model folder written by training
     * @return the model's training settings
     * @throws IOException when the metadata is missing or unreadable
     */
    public static TrainingConfig fromModel(Path modelDir) throws IOException {
        Objects.requireNonNull(modelDir, "modelDir");
        return new TrainingConfig(Native.configFromModelJson(modelDir.toAbsolutePath().toString()));
    }

    /** @return the settings as the engine's JSON, every field present */
    public String toJson() {
        return json;
    }

    /** @return the model name written to the metadata, if set (else the output folder's name) */
    public Optional<String> name() {
        return Optional.ofNullable(JsonFields.string(values, "name"));
    }

    /** @return the decoder architecture, e.g. {@code unet} */
    public String architecture() {
        return JsonFields.string(values, "architecture");
    }

    /** @return the encoder, e.g. {@code resnet34} */
    public String encoder() {
        return JsonFields.string(values, "encoder");
    }

    /** @return the state dict training starts from, if set */
    public Optional<Path> initWeights() {
        return transfer().initWeights();
    }

    /** @return the pretrained encoder weights (a weight-set name or a file), if set */
    public Optional<String> encoderWeights() {
        return transfer().encoderWeights();
    }

    /**
     * @return the side of the square training crops in pixels, if given; empty:
     *     chosen from the training data when training starts (see {@link Trainer#plan})
     */
    public OptionalInt tileSize() {
        return JsonFields.optionalInteger(values, "tile_size");
    }

    /** @return the downsample factor the training tiles were exported at */
    public double downsample() {
        return JsonFields.number(values, "downsample");
    }

    /** @return crops per batch */
    public int batchSize() {
        return JsonFields.integer(values, "batch_size");
    }

    /** @return the maximum number of epochs */
    public int epochs() {
        return JsonFields.integer(values, "epochs");
    }

    /**
     * @return crops drawn per epoch, if given; empty: chosen from the training data when
     *     training starts (enough to cover the training images once, at least 4 batches)
     */
    public OptionalInt samplesPerEpoch() {
        return JsonFields.optionalInteger(values, "samples_per_epoch");
    }

    /** @return the peak learning rate of AdamW */
    public double learningRate() {
        return JsonFields.number(values, "learning_rate");
    }

    /**
     * @return the encoder's learning rate relative to {@link #learningRate()}
     *     (discriminative learning rates; 1 trains encoder and decoder alike)
     */
    public double encoderLrFactor() {
        return transfer().encoderLrFactor();
    }

    /** @return AdamW's weight decay */
    public double weightDecay() {
        return JsonFields.number(values, "weight_decay");
    }

    /** @return the loss */
    public Loss loss() {
        return JsonFields.enumValue(Loss.class, values, "loss");
    }

    /** @return whether the class weights of the training data's {@code config.json} are used */
    public boolean useClassWeights() {
        return JsonFields.bool(values, "use_class_weights");
    }

    /** @return per-class factors multiplied into the class weights, if set */
    public Optional<List<Double>> classWeightMultipliers() {
        if (values.get("class_weight_multipliers") == null) {
            return Optional.empty();
        }
        List<Double> out = new ArrayList<>();
        for (double v : JsonFields.doubles(values, "class_weight_multipliers")) {
            out.add(v);
        }
        return Optional.of(Collections.unmodifiableList(out));
    }

    /**
     * @return the transfer-learning settings: initial and pretrained weights,
     *     frozen groups, encoder learning-rate factor
     */
    public TransferSettings transfer() {
        return TransferSettings.of(values);
    }

    /** @return the learning-rate schedule */
    public Scheduler scheduler() {
        return new Scheduler(JsonFields.object(values, "scheduler"));
    }

    /** @return the quantity that picks the best epoch */
    public Monitor monitor() {
        return JsonFields.enumValue(Monitor.class, values, "monitor");
    }

    /**
     * @return epochs without improvement of the smoothed metric before training stops,
     *     if early stopping is on
     */
    public OptionalInt earlyStoppingPatience() {
        Map<String, Object> e = JsonFields.object(values, "early_stopping");
        return e == null ? OptionalInt.empty() : OptionalInt.of(JsonFields.integer(e, "patience"));
    }

    /** @return the smallest change that counts as an improvement, if early stopping is on */
    public OptionalDouble earlyStoppingMinDelta() {
        Map<String, Object> e = JsonFields.object(values, "early_stopping");
        return e == null ? OptionalDouble.empty() : OptionalDouble.of(JsonFields.number(e, "min_delta"));
    }

    /**
     * @return how many epochs' monitored metric early stopping averages before judging
     *     an improvement (1: each epoch alone), if early stopping is on
     */
    public OptionalInt earlyStoppingSmoothing() {
        Map<String, Object> e = JsonFields.object(values, "early_stopping");
        return e == null ? OptionalInt.empty() : OptionalInt.of(JsonFields.integer(e, "smoothing"));
    }

    /** @return the encoder freeze groups kept fixed */
    public List<String> frozenGroups() {
        return transfer().frozenGroups();
    }

    /** @return the maximum global gradient norm, if clipping is on */
    public OptionalDouble gradientClip() {
        return JsonFields.optionalNumber(values, "gradient_clip");
    }

    /**
     * @return the random seed, exact. The engine's seed is unsigned 64-bit: one
     *     above {@link Long#MAX_VALUE} (possible in JSON or a model's metadata)
     *     comes back as the negative long with the same 64 bits, which
     *     {@link Long#toUnsignedString(long)} prints as the engine does
     */
    public long seed() {
        return JsonFields.longInteger(values, "seed");
    }

    /** @return the device: {@code auto}, {@code cpu}, {@code cuda:N} or {@code mps} */
    public String device() {
        return JsonFields.string(values, "device");
    }

    /**
     * @return whether BatchNorm statistics are recomputed over the training images
     *     before each validation (PreciseBN), so validation and the saved model use
     *     statistics that match the current weights
     */
    public boolean calibrateBatchNorm() {
        return JsonFields.bool(values, "calibrate_batch_norm");
    }

    /** @return whether mixed precision is used (on CUDA only) */
    public boolean amp() {
        return JsonFields.bool(values, "amp");
    }

    /** @return intra-op CPU threads, if set (else libtorch's default) */
    public OptionalInt threads() {
        return JsonFields.optionalInteger(values, "threads");
    }

    /** @return the GPU memory booked for the run, if a reservation is on and names its size */
    public OptionalLong gpuReservationBytes() {
        Map<String, Object> r = JsonFields.object(values, "gpu_reservation");
        return r == null || r.get("bytes") == null ? OptionalLong.empty() : OptionalLong.of(JsonFields.longInteger(r, "bytes"));
    }

    /** @return how long training waits for its GPU memory booking, if a reservation is on */
    public Optional<Duration> gpuReservationTimeout() {
        Map<String, Object> r = JsonFields.object(values, "gpu_reservation");
        return r == null ? Optional.empty() : Optional.of(Duration.ofMillis(JsonFields.longInteger(r, "timeout_ms")));
    }

    /** @return the augmentation of training crops */
    public Augmentation augmentation() {
        return new Augmentation(JsonFields.object(values, "augmentation"));
    }

    /** @return the normalization overriding the training data's, if set */
    public Optional<Normalization> normalization() {
        Map<String, Object> n = JsonFields.object(values, "normalization");
        return n == null ? Optional.empty() : Optional.of(new Normalization(n));
    }

    /** @return whether an interrupted run into the same folder is continued */
    public boolean resume() {
        return JsonFields.bool(values, "resume");
    }

    /** @return whether an existing model folder is replaced */
    public boolean overwrite() {
        return JsonFields.bool(values, "overwrite");
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof TrainingConfig && json.equals(((TrainingConfig) other).json);
    }

    @Override
    public int hashCode() {
        return json.hashCode();
    }

    /** @return the JSON form */
    @Override
    public String toString() {
        return json;
    }

    /**
     * Builds a {@link TrainingConfig}; each setter replaces one setting.
     * Arguments documented as nullable reset the setting to its "unset" meaning;
     * other arguments must not be null.
     */
    public static final class Builder {
        private final String base;
        private final Map<String, Object> changes = new LinkedHashMap<>();

        private Builder(String base) {
            this.base = base;
        }

        private Builder set(String key, Object value) {
            changes.put(key, value);
            return this;
        }

        private Builder setNonNull(String key, Object value) {
            return set(key, Objects.requireNonNull(value, key));
        }

        /**
         * @param name the model name for the metadata; null: the output folder's name (default)
         * @return this builder
         */
        public Builder name(String name) {
            return set("name", name);
        }

        /**
         * @param architecture the decoder family, as the catalog names it: {@code unet} (default),
         *     {@code unet++}, {@code deeplabv3}, {@code deeplabv3+}, {@code fpn}, {@code pspnet},
         *     {@code manet}, {@code linknet}, {@code pan} (segmentation_models_pytorch's)
         * @return this builder
         */
        public Builder architecture(String architecture) {
            return setNonNull("architecture", architecture);
        }

        /**
         * @param encoder the encoder, as the catalog names it: {@code resnet18}, {@code resnet34}
         *     (default), {@code resnet50}, {@code resnext50_32x4d}, {@code se_resnet50},
         *     {@code mobilenet_v2}, {@code efficientnet-b0} to {@code efficientnet-b4},
         *     {@code densenet121}, {@code vgg16_bn}, {@code mit_b0}, {@code mit_b2}
         * @return this builder
         */
        public Builder encoder(String encoder) {
            return setNonNull("encoder", encoder);
        }

        /**
         * @param stateDict a local state dict of a whole model with smp names ({@code .safetensors},
         *     {@code .pt}, {@code .pth}), e.g. one trained by the Python extension, to start from;
         *     null: random initialisation (default)
         * @return this builder
         */
        public Builder initWeights(Path stateDict) {
            return set("init_weights", TransferSettings.absolute(stateDict));
        }

        /**
         * @param weights pretrained encoder weights: the name of one of the encoder's weight sets
         *     ({@link Catalog.Encoder#pretrained()}: {@code imagenet}, and for resnet50
         *     {@code lunit-swav}, {@code lunit-bt}, {@code kather100k}, {@code tcga-brca}), whose
         *     file is looked for in the weights folder, or the path of an encoder-only state dict
         *     (torchvision / timm / smp names); null: none (default). Nothing is downloaded.
         * @return this builder
         */
        public Builder encoderWeights(String weights) {
            return set("encoder_weights", weights);
        }

        /**
         * @param folder where named weight sets are looked for; null (default):
         *     {@code $DLC_WEIGHTS_DIR}, else {@code ~/.cache/dlclassifier/weights}
         * @return this builder
         */
        public Builder weightsDir(Path folder) {
            return set("weights_dir", TransferSettings.absolute(folder));
        }

        /**
         * @param tileSize side of the square training crops, a multiple of 32; null: chosen
         *     from the training images' sizes when training starts (default; see
         *     {@link Trainer#plan} for the choice and its reason)
         * @return this builder
         */
        public Builder tileSize(Integer tileSize) {
            return set("tile_size", tileSize);
        }

        /**
         * @param downsample the factor the tiles were exported at, recorded for inference (default 1)
         * @return this builder
         */
        public Builder downsample(double downsample) {
            return set("downsample", downsample);
        }

        /**
         * @param batchSize crops per batch (default 4)
         * @return this builder
         */
        public Builder batchSize(int batchSize) {
            return set("batch_size", batchSize);
        }

        /**
         * @param epochs the maximum number of epochs (default 50)
         * @return this builder
         */
        public Builder epochs(int epochs) {
            return set("epochs", epochs);
        }

        /**
         * @param samples random crops per epoch; null: chosen from the training data when
         *     training starts (default): enough to cover the training images' area once,
         *     and at least 4 batches
         * @return this builder
         */
        public Builder samplesPerEpoch(Integer samples) {
            return set("samples_per_epoch", samples);
        }

        /**
         * @param learningRate the peak learning rate of AdamW (default 0.001)
         * @return this builder
         */
        public Builder learningRate(double learningRate) {
            return set("learning_rate", learningRate);
        }

        /**
         * Discriminative learning rates: the encoder trains at the learning
         * rate times {@code factor} (the schedule scales both), the decoder
         * and head at the learning rate. A pretrained encoder usually wants a
         * lower rate than the freshly initialised decoder; see
         * {@link Catalog#recommend(String, int)}.
         *
         * @param factor the encoder's learning rate relative to the decoder's, in (0, 1] (default 1)
         * @return this builder
         */
        public Builder encoderLrFactor(double factor) {
            return set("encoder_lr_factor", factor);
        }

        /**
         * Takes the encoder, frozen groups and encoder learning-rate factor
         * of a transfer-learning recommendation; other settings stay.
         *
         * @param recommendation from {@link Catalog#recommend(String, int)}
         * @return this builder
         */
        public Builder apply(Catalog.Recommendation recommendation) {
            Objects.requireNonNull(recommendation, "recommendation");
            return encoder(recommendation.encoder())
                    .frozenGroups(recommendation.frozenGroups())
                    .encoderLrFactor(recommendation.encoderLrFactor());
        }

        /**
         * Replaces every transfer-learning setting at once.
         *
         * @param transfer initial and pretrained weights, weights folder, frozen groups and
         *     encoder learning-rate factor (default {@code TransferSettings.builder().build()})
         * @return this builder
         */
        public Builder transfer(TransferSettings transfer) {
            changes.putAll(Objects.requireNonNull(transfer, "transfer").json);
            return this;
        }

        /**
         * @param weightDecay AdamW's weight decay (default 0.0001)
         * @return this builder
         */
        public Builder weightDecay(double weightDecay) {
            return set("weight_decay", weightDecay);
        }

        /**
         * @param loss the loss (default {@link Loss#CE_DICE})
         * @return this builder
         */
        public Builder loss(Loss loss) {
            return set("loss", JsonFields.jsonName(Objects.requireNonNull(loss, "loss")));
        }

        /**
         * @param use whether to use the class weights of the data's {@code config.json} (default true)
         * @return this builder
         */
        public Builder useClassWeights(boolean use) {
            return set("use_class_weights", use);
        }

        /**
         * @param multipliers one positive factor per class, multiplied into the class
         *     weights; null: none (default)
         * @return this builder
         */
        public Builder classWeightMultipliers(List<Double> multipliers) {
            return set("class_weight_multipliers", multipliers == null ? null : new ArrayList<>(multipliers));
        }

        /**
         * @param scheduler the learning-rate schedule (default {@link Scheduler#oneCycle()})
         * @return this builder
         */
        public Builder scheduler(Scheduler scheduler) {
            return set("scheduler", Objects.requireNonNull(scheduler, "scheduler").json);
        }

        /**
         * @param monitor the quantity that picks the best epoch (default {@link Monitor#MEAN_IOU})
         * @return this builder
         */
        public Builder monitor(Monitor monitor) {
            return set("monitor", JsonFields.jsonName(Objects.requireNonNull(monitor, "monitor")));
        }

        /**
         * As {@link #earlyStopping(int, double, int)}, averaging the default 3 epochs.
         *
         * @param patience epochs without improvement
         * @param minDelta smallest change that counts as an improvement
         * @return this builder
         */
        public Builder earlyStopping(int patience, double minDelta) {
            // The engine fills the absent smoothing with its default.
            return set("early_stopping", JsonFields.objectOf("patience", patience, "min_delta", minDelta));
        }

        /**
         * Stops training when the monitored metric, averaged over the last
         * {@code smoothing} epochs, has not improved by more than
         * {@code minDelta} for {@code patience} epochs, keeping the best epoch.
         * It never stops before the learning-rate warm-up has ended and
         * {@code patience} more epochs have run (default: on, patience 15,
         * min delta 0.001, smoothing 3).
         *
         * @param patience epochs without improvement
         * @param minDelta smallest change that counts as an improvement
         * @param smoothing epochs averaged, at least 1 (1 judges each epoch alone)
         * @return this builder
         */
        public Builder earlyStopping(int patience, double minDelta, int smoothing) {
            return set("early_stopping",
                    JsonFields.objectOf("patience", patience, "min_delta", minDelta, "smoothing", smoothing));
        }

        /**
         * Trains for all {@link #epochs(int)}.
         *
         * @return this builder
         */
        public Builder noEarlyStopping() {
            return set("early_stopping", null);
        }

        /**
         * @param groups encoder freeze groups to keep fixed, as the catalog names them (default none)
         * @return this builder
         */
        public Builder frozenGroups(List<String> groups) {
            return set("frozen_groups", new ArrayList<>(Objects.requireNonNull(groups, "groups")));
        }

        /**
         * @param maxNorm the maximum global gradient norm; null: no clipping (default 1)
         * @return this builder
         */
        public Builder gradientClip(Double maxNorm) {
            return set("gradient_clip", maxNorm);
        }

        /**
         * @param seed the random seed, at least 0 (default 42)
         * @return this builder
         */
        public Builder seed(long seed) {
            return set("seed", seed);
        }

        /**
         * @param device {@code auto} (default: CUDA, else MPS, else CPU), {@code cpu},
         *     {@code cuda}, {@code cuda:N} or {@code mps}
         * @return this builder
         */
        public Builder device(String device) {
            return setNonNull("device", device);
        }

        /**
         * @param calibrate recompute BatchNorm statistics over the training images before
         *     each validation (default true); false keeps the running averages of the
         *     training steps, as PyTorch does, which lag behind the weights on short runs
         *     with small batches
         * @return this builder
         */
        public Builder calibrateBatchNorm(boolean calibrate) {
            return set("calibrate_batch_norm", calibrate);
        }

        /**
         * @param amp mixed precision, which takes effect on CUDA only (default true)
         * @return this builder
         */
        public Builder amp(boolean amp) {
            return set("amp", amp);
        }

        /**
         * @param threads intra-op CPU threads; null: libtorch's default (default)
         * @return this builder
         */
        public Builder threads(Integer threads) {
            return set("threads", threads);
        }

        /**
         * Books {@code bytes} of GPU memory with every other process of the
         * machine before training and holds it for the run, waiting first come,
         * first served for up to {@code timeout} (see {@link Reservation});
         * does nothing unless the device resolves to CUDA (default: off).
         *
         * @param bytes GPU memory to book
         * @param timeout how long to wait before training fails with a timeout
         * @return this builder
         */
        public Builder gpuReservation(long bytes, Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (bytes <= 0 || timeout.isNegative()) {
                throw new IllegalArgumentException("a GPU reservation needs positive bytes and a timeout of 0 or more");
            }
            return set("gpu_reservation", JsonFields.objectOf("bytes", bytes, "timeout_ms", timeout.toMillis()));
        }

        /**
         * As {@link #gpuReservation(long, Duration)}, booking the run's
         * estimated peak (see {@link MemoryEstimate#forTraining}).
         *
         * @param timeout how long to wait before training fails with a timeout
         * @return this builder
         */
        public Builder gpuReservation(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("a GPU reservation needs a timeout of 0 or more");
            }
            return set("gpu_reservation", JsonFields.objectOf("bytes", null, "timeout_ms", timeout.toMillis()));
        }

        /**
         * Trains without booking GPU memory (the default).
         *
         * @return this builder
         */
        public Builder noGpuReservation() {
            return set("gpu_reservation", null);
        }

        /**
         * @param augmentation the augmentation of training crops (default {@code Augmentation.builder().build()})
         * @return this builder
         */
        public Builder augmentation(Augmentation augmentation) {
            return set("augmentation", Objects.requireNonNull(augmentation, "augmentation").json);
        }

        /**
         * @param normalization overrides the training data's normalization; null: the
         *     data's {@code config.json} decides (default)
         * @return this builder
         */
        public Builder normalization(Normalization normalization) {
            return set("normalization", normalization == null ? null : normalization.json);
        }

        /**
         * @param resume continue from the checkpoints an interrupted run into the same
         *     output folder left (default true)
         * @return this builder
         */
        public Builder resume(boolean resume) {
            return set("resume", resume);
        }

        /**
         * @param overwrite replace an existing model folder (default false: training fails
         *     when the folder exists)
         * @return this builder
         */
        public Builder overwrite(boolean overwrite) {
            return set("overwrite", overwrite);
        }

        /**
         * @return the checked settings
         * @throws IllegalArgumentException naming the first invalid setting
         */
        public TrainingConfig build() {
            return new TrainingConfig(Native.configCanonicalJson(base, Json.write(changes)));
        }
    }
}
