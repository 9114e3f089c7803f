package org.dlclassifier;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonMapper;
import org.dlclassifier.internal.Native;

/**
 * The trained models under a folder (for example a QuPath project's {@code classifiers/}),
 * and checks of one model folder.
 */
public final class ModelRegistry {
    private ModelRegistry() {
    }

    /**
     * Lists the model folders directly under {@code root}, newest first. Folders without
     * {@code metadata.json} are passed over.
     *
     * @param root the folder holding model folders
     * @return one summary per model
     * @throws IOException if {@code root} cannot be read
     */
    public static List<ModelSummary> list(Path root) throws IOException {
        Objects.requireNonNull(root, "root");
        return JsonMapper.readList(ModelSummary.class, Json.parse(Native.modelsListJson(root.toString())));
    }

    /**
     * Checks a model folder: metadata schema and version, that each model file present
     * loads and runs, and {@code checksums.sha256} when present.
     *
     * @param directory the model folder
     * @return every problem found, an unreadable folder included; {@link ValidationReport#isValid()} when there
     *     are none
     */
    public static ValidationReport validate(Path directory) {
        Objects.requireNonNull(directory, "directory");
        return JsonMapper.read(ValidationReport.class, Json.parse(Native.modelValidateJson(directory.toString())));
    }

    /** What a model chooser shows for one model folder. */
    public static final class ModelSummary {
        private Path path;
        private String name;
        private String architecture;
        private String encoder;
        private List<String> classes;
        private int channels;
        private int tileSize;
        private Double meanIou;
        private String created;

        /** Filled from the engine's JSON by {@link JsonMapper}. */
        private ModelSummary() {
        }

        /** @return the model folder, usable with {@link Predictor} */
        public Path path() {
            return path;
        }

        /** @return the model's name */
        public String name() {
            return name;
        }

        /** @return the architecture, e.g. {@code unet} */
        public String architecture() {
            return architecture;
        }

        /** @return the encoder, e.g. {@code resnet34} */
        public String encoder() {
            return encoder;
        }

        /** @return class names in index order */
        public List<String> classes() {
            return classes;
        }

        /** @return input channels */
        public int channels() {
            return channels;
        }

        /** @return the training tile size in pixels */
        public int tileSize() {
            return tileSize;
        }

        /** @return validation mean IoU of the kept epoch, or null when none was recorded */
        public Double meanIou() {
            return meanIou;
        }

        /** @return the RFC 3339 creation time */
        public String created() {
            return created;
        }
    }

    /** The outcome of {@link ModelRegistry#validate(Path)}. */
    public static final class ValidationReport {
        private boolean valid;
        private List<Problem> problems;

        /** Filled from the engine's JSON by {@link JsonMapper}. */
        private ValidationReport() {
        }

        /** One entry of the engine's {@code problems}. */
        private static final class Problem {
            private String file;
            private String reason;

            private Problem() {
            }

            @Override
            public String toString() {
                return (file.isEmpty() ? "" : file + ": ") + reason;
            }
        }

        /** @return whether no problem was found */
        public boolean isValid() {
            return valid;
        }

        /** @return each problem as {@code file: reason} (just the reason for the folder itself) */
        public List<String> problems() {
            return problems.stream().map(Problem::toString).collect(Collectors.toUnmodifiableList());
        }
    }

}
