package org.dlclassifier;

import java.util.List;
import java.util.Map;

/**
 * What the engine can build: architectures, their encoders with parameter
 * counts (equal to segmentation_models_pytorch's) and the encoder groups that
 * training can freeze.
 */
public final class Catalog {
    static {
        NativeLibrary.load();
    }

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
            architectures = JsonFields.objects((List<?>) Json.parse(nativeCatalog()), Architecture::new);
        }
        return architectures;
    }

    private static native String nativeCatalog();

    /** A decoder architecture and the encoders it accepts. */
    public static final class Architecture {
        private final String name;
        private final List<Encoder> encoders;

        Architecture(Map<String, Object> json) {
            name = JsonFields.string(json, "name");
            encoders = JsonFields.objects(JsonFields.list(json, "encoders"), Encoder::new);
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
        private final String name;
        private final long encoderParameters;
        private final long modelParameters;
        private final List<FreezeGroup> freezeGroups;

        Encoder(Map<String, Object> json) {
            name = JsonFields.string(json, "name");
            encoderParameters = JsonFields.longInteger(json, "encoder_parameters");
            modelParameters = JsonFields.longInteger(json, "model_parameters");
            freezeGroups = JsonFields.objects(JsonFields.list(json, "freeze_groups"), FreezeGroup::new);
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

    /** Encoder parameters that training can keep fixed together. */
    public static final class FreezeGroup {
        private final String name;
        private final List<String> prefixes;

        FreezeGroup(Map<String, Object> json) {
            name = JsonFields.string(json, "name");
            prefixes = JsonFields.strings(json, "prefixes");
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
