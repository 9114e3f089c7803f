package org.dlclassifier;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.dlclassifier.internal.JsonFields;

/**
 * What training starts from and how much of the encoder trains: a whole-model
 * state dict, pretrained encoder weights and the folder named weight sets are
 * looked for in, the encoder groups kept frozen, and the encoder's learning
 * rate relative to the decoder's. Immutable, compared by value. Read one with
 * {@link TrainingConfig#transfer()}, set one with
 * {@link TrainingConfig.Builder#transfer(TransferSettings)}; the engine checks
 * it with the rest of the config when that is built, since frozen groups and
 * weight sets depend on the encoder.
 */
public final class TransferSettings extends SettingValue {
    /** The config's members this setting is made of, in the engine's order. */
    static final List<String> KEYS =
            Arrays.asList("init_weights", "encoder_weights", "weights_dir", "frozen_groups", "encoder_lr_factor");

    private TransferSettings(Map<String, Object> json) {
        super(json);
    }

    /** The transfer members of a config's canonical JSON. */
    static TransferSettings of(Map<String, Object> config) {
        Map<String, Object> json = new LinkedHashMap<>();
        for (String key : KEYS) {
            json.put(key, config.get(key));
        }
        return new TransferSettings(json);
    }

    /** @return a builder starting from the engine's defaults: random initialisation, nothing frozen, factor 1 */
    public static Builder builder() {
        return TrainingConfig.builder().build().transfer().toBuilder();
    }

    /** @return a builder starting from these settings */
    public Builder toBuilder() {
        return new Builder(json);
    }

    /** @return the state dict of a whole model training starts from, if set */
    public Optional<Path> initWeights() {
        return Optional.ofNullable(JsonFields.string(json, "init_weights")).map(Paths::get);
    }

    /** @return the pretrained encoder weights (a weight-set name or a file), if set */
    public Optional<String> encoderWeights() {
        return Optional.ofNullable(JsonFields.string(json, "encoder_weights"));
    }

    /** @return the folder named weight sets are looked for in, if set (else the default weights folder) */
    public Optional<Path> weightsDir() {
        return Optional.ofNullable(JsonFields.string(json, "weights_dir")).map(Paths::get);
    }

    /** @return the encoder freeze groups kept fixed */
    public List<String> frozenGroups() {
        return JsonFields.strings(json, "frozen_groups");
    }

    /** @return the encoder's learning rate relative to the decoder's, in (0, 1] */
    public double encoderLrFactor() {
        return JsonFields.number(json, "encoder_lr_factor");
    }

    /** A path as the engine keeps it: absolute, or null for unset. */
    static String absolute(Path path) {
        return path == null ? null : path.toAbsolutePath().toString();
    }

    /** Builds {@link TransferSettings}; the setters are those of {@link TrainingConfig.Builder} of the same names. */
    public static final class Builder {
        private final Map<String, Object> json;

        private Builder(Map<String, Object> base) {
            json = new LinkedHashMap<>(base);
        }

        /**
         * @param stateDict a whole model's state dict to start from; null: random initialisation
         * @return this builder
         * @see TrainingConfig.Builder#initWeights(Path)
         */
        public Builder initWeights(Path stateDict) {
            json.put("init_weights", absolute(stateDict));
            return this;
        }

        /**
         * @param weights a weight-set name or an encoder-only state dict; null: none
         * @return this builder
         * @see TrainingConfig.Builder#encoderWeights(String)
         */
        public Builder encoderWeights(String weights) {
            json.put("encoder_weights", weights);
            return this;
        }

        /**
         * @param folder where named weight sets are looked for; null: the default
         * @return this builder
         * @see TrainingConfig.Builder#weightsDir(Path)
         */
        public Builder weightsDir(Path folder) {
            json.put("weights_dir", absolute(folder));
            return this;
        }

        /**
         * @param groups encoder freeze groups to keep fixed
         * @return this builder
         * @see TrainingConfig.Builder#frozenGroups(List)
         */
        public Builder frozenGroups(List<String> groups) {
            json.put("frozen_groups", new ArrayList<>(Objects.requireNonNull(groups, "groups")));
            return this;
        }

        /**
         * @param factor the encoder's learning rate relative to the decoder's, in (0, 1]
         * @return this builder
         * @see TrainingConfig.Builder#encoderLrFactor(double)
         */
        public Builder encoderLrFactor(double factor) {
            json.put("encoder_lr_factor", factor);
            return this;
        }

        /**
         * Takes the frozen groups and encoder learning-rate factor of a
         * recommendation (its encoder is the config's to set:
         * {@link TrainingConfig.Builder#apply(Catalog.Recommendation)} does both).
         *
         * @param recommendation from {@link Catalog#recommend(String, int)}
         * @return this builder
         */
        public Builder apply(Catalog.Recommendation recommendation) {
            Objects.requireNonNull(recommendation, "recommendation");
            return frozenGroups(recommendation.frozenGroups()).encoderLrFactor(recommendation.encoderLrFactor());
        }

        /** @return the settings, checked by the engine when the config they go into is built */
        public TransferSettings build() {
            return new TransferSettings(new LinkedHashMap<>(json));
        }
    }
}
