package org.dlclassifier;

import java.nio.file.Path;
import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/** What a caller needs to feed an open model and read its output ({@link Predictor#info()}). */
public final class ModelInfo {
    private String name;
    private Path source;
    private int inChannels;
    private int numClasses;
    private List<ClassInfo> classes;
    private int tileSize;
    /** {@code [height, width]}, or null for a size-agnostic model. */
    private int[] fixedSize;
    private int minSize;
    private String backend;
    private double downsample;
    private OptionalDouble trainingPixelSizeUm;

    /** Filled from the engine's {@code ModelInfo} JSON by {@link org.dlclassifier.internal.JsonMapper}. */
    private ModelInfo() {
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
        return fixedSize == null ? OptionalInt.empty() : OptionalInt.of(fixedSize[0]);
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
        return fixedSize == null ? OptionalInt.empty() : OptionalInt.of(fixedSize[1]);
    }

    /** @return the engine running the model, e.g. {@code onnxruntime 1.31.0 cpu} */
    public String backend() {
        return backend;
    }

    /** @return the factor the training images were downsampled by; inference runs at it by default */
    public double downsample() {
        return downsample;
    }

    /** @return µm per full-resolution pixel of the training images, when they were calibrated */
    public OptionalDouble trainingPixelSizeMicrons() {
        return trainingPixelSizeUm;
    }

    @Override
    public String toString() {
        return name + " (" + inChannels + " channels, " + numClasses + " classes, " + backend + ")";
    }
}
