package org.dlclassifier;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonFields;
import org.dlclassifier.internal.JsonMapper;
import org.dlclassifier.internal.Native;

/**
 * A model folder on disk, read without loading its weights: what it is, what
 * it was trained on and how. Immutable; open it for prediction with
 * {@link Predictor#open(Path)}.
 */
public final class Model {
    private final Path directory;
    private final Map<String, Object> metadata;
    private final List<ClassInfo> classes;
    private final Normalization normalization;
    private final List<EpochMetrics> history;
    private final TrainingConfig trainingConfig;

    private Model(Path directory, Map<String, Object> json, TrainingConfig trainingConfig) {
        this.directory = directory;
        this.trainingConfig = trainingConfig;
        this.metadata = JsonFields.object(json, "metadata");
        this.classes = JsonMapper.readList(ClassInfo.class, metadata.get("classes"));
        this.normalization = new Normalization(JsonFields.object(input(), "normalization"));
        // A folder without training_history.json has none.
        this.history = JsonMapper.readList(EpochMetrics.class, json.get("history"));
    }

    /**
     * Reads {@code metadata.json} (and {@code training_history.json} if present) of a model folder.
     *
     * @param directory the model folder
     * @return the model
     * @throws IOException if the folder is not a model folder or its metadata cannot be read
     */
    public static Model open(Path directory) throws IOException {
        Objects.requireNonNull(directory, "directory");
        Map<String, Object> json = Json.parseObject(Native.modelReadJson(directory.toString()));
        // The settings exactly as the engine reads them from metadata.json, not
        // re-written from the parsed map.
        return new Model(directory, json, TrainingConfig.fromModel(directory));
    }

    /**
     * The model training just wrote, from the engine's answer ({@code metadata}
     * and {@code history}) rather than the folder; its settings are those of
     * the metadata's {@code training} block, made canonical by the engine.
     */
    static Model of(Path directory, Map<String, Object> json) {
        Map<String, Object> training = JsonFields.object(JsonFields.object(json, "metadata"), "training");
        return new Model(directory, json, TrainingConfig.fromJson(Json.write(training)));
    }

    private Map<String, Object> architectureBlock() {
        return JsonFields.object(metadata, "architecture");
    }

    private Map<String, Object> input() {
        return JsonFields.object(metadata, "input_config");
    }

    /** @return the model folder */
    public Path directory() {
        return directory;
    }

    /** @return the model's unique id */
    public String id() {
        return JsonFields.string(metadata, "id");
    }

    /** @return the model's name */
    public String name() {
        return JsonFields.string(metadata, "name");
    }

    /** @return when the model was written, RFC 3339 */
    public String created() {
        return JsonFields.string(metadata, "created");
    }

    /** @return the dlclassifier version that wrote it */
    public String libraryVersion() {
        return JsonFields.string(metadata, "library_version");
    }

    /** @return the decoder architecture, e.g. {@code unet} */
    public String architecture() {
        return JsonFields.string(architectureBlock(), "type");
    }

    /** @return the encoder, e.g. {@code resnet34} */
    public String encoder() {
        return JsonFields.string(architectureBlock(), "backbone");
    }

    /** @return input channels */
    public int inChannels() {
        return JsonFields.integer(architectureBlock(), "in_channels");
    }

    /** @return output classes */
    public int numClasses() {
        return JsonFields.integer(architectureBlock(), "num_classes");
    }

    /** @return the classes, by index */
    public List<ClassInfo> classes() {
        return classes;
    }

    /** @return the names of the input channels */
    public List<String> channelNames() {
        return JsonFields.strings(input(), "channel_names");
    }

    /** @return bits per sample of the training images, when known */
    public OptionalInt bitDepth() {
        return JsonFields.optionalInteger(input(), "bit_depth");
    }

    /** @return the normalization the engine applies to every input, with its statistics */
    public Normalization normalization() {
        return normalization;
    }

    /** @return the training tile size */
    public int tileSize() {
        return JsonFields.integer(metadata, "tile_size");
    }

    /** @return the downsample factor of the training images */
    public double downsample() {
        return JsonFields.number(metadata, "downsample");
    }

    /** @return µm per full-resolution pixel of the training images, when they were calibrated */
    public OptionalDouble trainingPixelSizeMicrons() {
        return JsonFields.optionalNumber(metadata, "training_pixel_size_um");
    }

    /** @return how training ended */
    public TrainingResult.Status status() {
        return JsonFields.enumValue(TrainingResult.Status.class, metadata, "status");
    }

    /** @return epochs trained */
    public int epochsTrained() {
        return JsonFields.integer(metadata, "epochs_trained");
    }

    /** @return the epoch whose weights were kept */
    public Optional<EpochMetrics> bestEpoch() {
        Map<String, Object> best = JsonFields.object(metadata, "best_epoch");
        return Optional.ofNullable(JsonMapper.read(EpochMetrics.class, best));
    }

    /** @return the device it was trained on, e.g. {@code cpu (2 threads)} */
    public String trainedOn() {
        return JsonFields.string(metadata, "trained_on");
    }

    /**
     * @return the full training settings as the run resolved them (tile size, crops per
     *     epoch and intensity mode included), to train again from them
     */
    public TrainingConfig trainingConfig() {
        return trainingConfig;
    }

    /** @return every epoch of {@code training_history.json}; empty if the folder has none */
    public List<EpochMetrics> history() {
        return history;
    }

    /** @return {@code metadata.json} as the engine reads it */
    public String metadataJson() {
        return Json.write(metadata);
    }

    @Override
    public String toString() {
        return name() + " (" + architecture() + "/" + encoder() + ", " + directory + ")";
    }

    /**
     * The intensity normalization measured on the training images and replayed
     * unchanged at inference. Statistic arrays have one entry per statistic
     * group: per channel, or one for all channels together. Compared by value.
     */
    public static final class Normalization extends NormalizationSettings {
        Normalization(Map<String, Object> json) {
            super(json);
        }

        /** @return channels of the images the statistics were measured on */
        public int channels() {
            return JsonFields.integer(json, "num_channels");
        }

        /** @return minimum per statistic group */
        public double[] min() {
            return JsonFields.doubles(json, "min");
        }

        /** @return maximum per statistic group */
        public double[] max() {
            return JsonFields.doubles(json, "max");
        }

        /** @return mean per statistic group */
        public double[] mean() {
            return JsonFields.doubles(json, "mean");
        }

        /** @return population standard deviation per statistic group */
        public double[] std() {
            return JsonFields.doubles(json, "std");
        }

        /** @return the low clip percentile per statistic group */
        public double[] percentileLow() {
            return JsonFields.doubles(json, "p_low");
        }

        /** @return the high clip percentile per statistic group */
        public double[] percentileHigh() {
            return JsonFields.doubles(json, "p_high");
        }
    }
}
