package org.dlclassifier;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonMapper;
import org.dlclassifier.internal.Native;

/**
 * What the engine can build: architectures, their encoders with parameter
 * counts (equal to segmentation_models_pytorch's) and the encoder groups that
 * training can freeze, and transfer-learning recommendations by data-set size
 * ({@link #recommend(String, int)}).
 */
public final class Catalog {
    private static List<Architecture> architectures;

    private Catalog() {
    }

    /**
     * Builds each model once to count its parameters (a second or so on the
     * first call); the answer is kept.
     *
     * @return every architecture with its encoders
     */
    public static synchronized List<Architecture> architectures() {
        if (architectures == null) {
            architectures = JsonMapper.readList(Architecture.class, Json.parse(Native.catalogJson()));
        }
        return architectures;
    }

    /**
     * Recommended transfer-learning settings for fine-tuning {@code encoder}
     * on {@code tiles} training tiles (crops of the training tile size; a
     * training image counts its area over the tile area). Below 500 tiles
     * (small) all encoder groups but the last are frozen and the encoder
     * trains at 0.1 times the learning rate; below 5000 (medium) the stem and
     * first stage are frozen and the factor is 0.3; from 5000 on (large) only
     * the stem is frozen and the encoder trains at the full rate. Apply one
     * with {@link TrainingConfig.Builder#apply(Recommendation)}.
     *
     * @param encoder an encoder name from {@link #architectures()}
     * @param tiles the number of training tiles, at least 0
     * @return the recommendation
     * @throws IllegalArgumentException for an unknown encoder or a negative tile count
     */
    public static Recommendation recommend(String encoder, int tiles) {
        Objects.requireNonNull(encoder, "encoder");
        if (tiles < 0) {
            throw new IllegalArgumentException("tiles must be at least 0, got " + tiles);
        }
        return JsonMapper.read(Recommendation.class, Json.parse(Native.recommendJson(encoder, tiles)));
    }

    /** How much training data there is, as the recommendations classify it. */
    public enum SizeClass {
        /** Fewer than 500 tiles. */
        SMALL,
        /** 500 to 4999 tiles. */
        MEDIUM,
        /** 5000 tiles or more. */
        LARGE
    }

    /** Transfer-learning settings suggested for an encoder and a data-set size. */
    public static final class Recommendation {
        private String encoder;
        private long tiles;
        private SizeClass sizeClass;
        private List<String> frozenGroups;
        private double encoderLrFactor;
        private String rationale;

        /** Filled from the engine's JSON by {@link JsonMapper}. */
        private Recommendation() {
        }

        /** @return the encoder the recommendation is for */
        public String encoder() {
            return encoder;
        }

        /** @return the number of training tiles it was made for */
        public long tiles() {
            return tiles;
        }

        /** @return the data-set size class of {@link #tiles()} */
        public SizeClass sizeClass() {
            return sizeClass;
        }

        /** @return the encoder freeze groups to keep fixed, input side first */
        public List<String> frozenGroups() {
            return frozenGroups;
        }

        /** @return the encoder's learning rate relative to the decoder's, in (0, 1] */
        public double encoderLrFactor() {
            return encoderLrFactor;
        }

        /** @return why, in a sentence */
        public String rationale() {
            return rationale;
        }

        @Override
        public String toString() {
            return encoder + " " + sizeClass + " frozen=" + frozenGroups + " encoderLrFactor=" + encoderLrFactor;
        }
    }

    /** A decoder architecture and the encoders it accepts. */
    public static final class Architecture {
        private String name;
        private List<Encoder> encoders;

        /** Filled from the engine's JSON by {@link JsonMapper}. */
        private Architecture() {
        }

        /** @return the name, as {@link TrainingConfig.Builder#architecture(String)} takes it */
        public String name() {
            return name;
        }

        /** @return the encoders */
        public List<Encoder> encoders() {
            return encoders;
        }

        @Override
        public String toString() {
            return name + " " + encoders;
        }
    }

    /** An encoder (backbone). */
    public static final class Encoder {
        private String name;
        private long encoderParameters;
        private long modelParameters;
        private List<FreezeGroup> freezeGroups;
        private List<WeightSet> pretrained;

        /** Filled from the engine's JSON by {@link JsonMapper}. */
        private Encoder() {
        }

        /** @return the pretrained weight sets this encoder can load from local files */
        public List<WeightSet> pretrained() {
            return pretrained;
        }

        /** @return the name, as {@link TrainingConfig.Builder#encoder(String)} takes it */
        public String name() {
            return name;
        }

        /** @return trainable parameters of the encoder alone, for 3 input channels */
        public long encoderParameters() {
            return encoderParameters;
        }

        /** @return trainable parameters of the whole model, for 3 input channels and 2 classes */
        public long modelParameters() {
            return modelParameters;
        }

        /** @return the groups that can be frozen, from the input side */
        public List<FreezeGroup> freezeGroups() {
            return freezeGroups;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /**
     * Pretrained encoder weights the engine knows by name. Their files are never downloaded: put
     * them in the weights folder under {@link #fileStem()} with a {@code .safetensors},
     * {@code .pth}, {@code .pt} or {@code .bin} extension.
     */
    public static final class WeightSet {
        private String name;
        private String fileStem;
        private String source;
        private String licence;
        private Path file;

        /** Filled from the engine's JSON by {@link JsonMapper}. */
        private WeightSet() {
        }

        /** @return the name {@link TrainingConfig.Builder#encoderWeights(String)} takes */
        public String name() {
            return name;
        }

        /** @return the file name, without extension, looked for in the weights folder */
        public String fileStem() {
            return fileStem;
        }

        /** @return what the weights were trained on and where they are published */
        public String source() {
            return source;
        }

        /** @return the terms of use as their publishers state them; check before use */
        public String licence() {
            return licence;
        }

        /** @return the file in the default weights folder, if it is there */
        public Optional<Path> file() {
            return Optional.ofNullable(file);
        }

        @Override
        public String toString() {
            return name + (file == null ? " (no file)" : " " + file);
        }
    }

    /** Encoder parameters that training can keep fixed together. */
    public static final class FreezeGroup {
        private String name;
        private List<String> prefixes;

        /** Filled from the engine's JSON by {@link JsonMapper}. */
        private FreezeGroup() {
        }

        /** @return the group's name, as training's frozen groups name it */
        public String name() {
            return name;
        }

        /** @return the parameter-name prefixes (below {@code encoder.}) in the group */
        public List<String> prefixes() {
            return prefixes;
        }

        @Override
        public String toString() {
            return name;
        }
    }
}
