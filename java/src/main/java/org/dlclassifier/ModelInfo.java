package org.dlclassifier;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/** What a caller needs to feed an open model and read its output ({@link Predictor#info()}). */
public final class ModelInfo {
    private final String name;
    private final Path source;
    private final int inChannels;
    private final int numClasses;
    private final List<ClassInfo> classes;
    private final int tileSize;
    private final int fixedHeight;
    private final int fixedWidth;
    private final int minSize;
    private final String backend;

    /** From the engine's {@code ModelInfo} JSON. */
    ModelInfo(Map<String, Object> json) {
        name = JsonFields.string(json, "name");
        source = Paths.get(JsonFields.string(json, "source"));
        inChannels = JsonFields.integer(json, "in_channels");
        numClasses = JsonFields.integer(json, "num_classes");
        classes = JsonFields.objects(JsonFields.list(json, "classes"), ClassInfo::new);
        tileSize = JsonFields.integer(json, "tile_size");
        List<Object> fixed = JsonFields.list(json, "fixed_size");
        fixedHeight = fixed == null ? 0 : Math.toIntExact(((Number) fixed.get(0)).longValue());
        fixedWidth = fixed == null ? 0 : Math.toIntExact(((Number) fixed.get(1)).longValue());
        minSize = JsonFields.integer(json, "min_size");
        backend = JsonFields.string(json, "backend");
    }

    /** @return the model's name */
    public String name() {
        return name;
    }

    /** @return the model folder or imported {@code .onnx} file */
    public Path source() {
        return source;
    }

    /** @return channels each input pixel must have */
    public int inChannels() {
        return inChannels;
    }

    /** @return classes the model predicts */
    public int numClasses() {
        return numClasses;
    }

    /** @return the classes, by index */
    public List<ClassInfo> classes() {
        return classes;
    }

    /** @return the tile size the model was trained at, a good default for tiling */
    public int tileSize() {
        return tileSize;
    }

    /** @return the input height the model insists on, if it is not size-agnostic */
    public OptionalInt fixedHeight() {
        return fixedHeight == 0 ? OptionalInt.empty() : OptionalInt.of(fixedHeight);
    }

    /**
     * @return the smallest tile side the model runs on (128 for PAN, 0 when it has none); smaller
     *     tiles are padded up to it
     */
    public int minSize() {
        return minSize;
    }

    /** @return the input width the model insists on, if it is not size-agnostic */
    public OptionalInt fixedWidth() {
        return fixedWidth == 0 ? OptionalInt.empty() : OptionalInt.of(fixedWidth);
    }

    /** @return the engine running the model, e.g. {@code onnxruntime 1.31.0 cpu} */
    public String backend() {
        return backend;
    }

    @Override
    public String toString() {
        return name + " (" + inChannels + " channels, " + numClasses + " classes, " + backend + ")";
    }
}
