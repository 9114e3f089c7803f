package org.dlclassifier;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The trained models under a folder (for example a QuPath project's {@code classifiers/}),
 * and checks of one model folder.
 */
public final class ModelRegistry {
    static {
        NativeLibrary.load();
    }

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
        List<?> json = (List<?>) Json.parse(nativeList(root.toString()));
        return Collections.unmodifiableList(JsonFields.objects(json, ModelSummary::new));
    }

    /**
     * Checks a model folder: metadata schema and version, that each model file present
     * loads and runs, and {@code checksums.sha256} when present.
     *
     * @param directory the model folder
     * @return every problem found; {@link ValidationReport#isValid()} when there are none
     * @throws IOException if the check itself cannot run
     */
    public static ValidationReport validate(Path directory) throws IOException {
        return new ValidationReport(Json.parseObject(nativeValidate(directory.toString())));
    }

    /** What a model chooser shows for one model folder. */
    public static final class ModelSummary {
        private final Path path;
        private final String name;
        private final String architecture;
        private final String encoder;
        private final List<String> classes;
        private final int channels;
        private final int tileSize;
        private final Double meanIou;
        private final String created;

        ModelSummary(Map<String, Object> json) {
            path = Path.of(JsonFields.string(json, "path"));
            name = JsonFields.string(json, "name");
            architecture = JsonFields.string(json, "architecture");
            encoder = JsonFields.string(json, "encoder");
            classes = Collections.unmodifiableList(JsonFields.strings(json, "classes"));
            channels = JsonFields.integer(json, "channels");
            tileSize = JsonFields.integer(json, "tile_size");
            meanIou = json.get("mean_iou") == null ? null : JsonFields.number(json, "mean_iou");
            created = JsonFields.string(json, "created");
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
        private final boolean valid;
        private final List<String> problems;

        ValidationReport(Map<String, Object> json) {
            valid = JsonFields.bool(json, "valid");
            problems = Collections.unmodifiableList(JsonFields.objects(JsonFields.list(json, "problems"),
                    p -> (JsonFields.string(p, "file").isEmpty() ? "" : JsonFields.string(p, "file") + ": ")
                            + JsonFields.string(p, "reason")));
        }

        /** @return whether no problem was found */
        public boolean isValid() {
            return valid;
        }

        /** @return each problem as {@code file: reason} (just the reason for the folder itself) */
        public List<String> problems() {
            return problems;
        }
    }

    private static native String nativeList(String root) throws IOException;

    private static native String nativeValidate(String directory) throws IOException;
}
