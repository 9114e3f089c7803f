package org.dlclassifier;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonFields;

/**
 * How {@link Predictor#apply(RegionReader, Path, ApplyOptions)} tiles an
 * image and which result files it writes. Immutable; build one with
 * {@link #builder()}. Tile size and overlap default to the model's.
 */
public final class ApplyOptions {
    /** How overlapping tile predictions are combined. */
    public enum Blend {
        /** Weights ramp up linearly from the tile edge over the overlap, so neighbours cross-fade. */
        LINEAR,
        /** A Gaussian bump centred on each tile (sigma = tile / 8): no seams. */
        GAUSSIAN,
        /** Each pixel comes only from the tile that owns it; tile borders are never used. */
        CENTER_CROP,
        /** A plain average of all predictions covering a pixel. */
        NONE
    }

    /** Whether and how {@code probabilities.tif} is written. */
    public enum Probabilities {
        /** No probability file. */
        NONE,
        /** One 8-bit sample per class: probability x 255, rounded. */
        UINT8,
        /** One 32-bit float sample per class, exactly as predicted. */
        FLOAT32
    }

    /** What {@code overlay.png} shows. */
    public enum Overlay {
        /**
         * The class colours blended over the image at the overlay alpha, as
         * RGB; a class named "Background" (in any case) is left out. One
         * channel is shown grey, three as RGB, other counts by the first
         * channel in grey, each stretched over its display range.
         */
        BLEND,
        /** The class colours alone, as RGBA, to lay over the image elsewhere. */
        CLASSES
    }

    /** Told after each batch of tiles; may throw to stop the run (the exception reaches the caller). */
    @FunctionalInterface
    public interface ProgressListener {
        /**
         * @param tilesDone tiles predicted so far
         * @param tilesTotal tiles of the whole image
         */
        void progress(int tilesDone, int tilesTotal);
    }

    private final Integer tileSize;
    private final Integer overlap;
    private final Blend blend;
    private final int batchSize;
    private final boolean tta;
    private final boolean classMap;
    private final Probabilities probabilities;
    private final Integer overlayAlpha;
    private final Overlay overlay;
    private final double[][] displayRange;
    private final boolean measurements;
    private final Map<String, Object> pixelSize;
    private final Double downsample;
    private final Path truthMask;
    private final ObjectOptions objects;
    private final Region region;
    private final ProgressListener listener;

    private ApplyOptions(Builder b) {
        tileSize = b.tileSize;
        overlap = b.overlap;
        blend = b.blend;
        batchSize = b.batchSize;
        tta = b.tta;
        classMap = b.classMap;
        probabilities = b.probabilities;
        overlayAlpha = b.overlayAlpha;
        overlay = b.overlay;
        displayRange = b.displayRange;
        measurements = b.measurements;
        pixelSize = b.pixelSize;
        downsample = b.downsample;
        truthMask = b.truthMask;
        objects = b.objects;
        region = b.region;
        listener = b.listener;
    }

    /** @return the defaults: the model's tiling, linear blending, class map, overlay and measurements */
    public static ApplyOptions defaults() {
        return builder().build();
    }

    /** @return a builder starting from {@link #defaults()} */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the object options, or null */
    ObjectOptions objects() {
        return objects;
    }

    /** @return the progress listener, or null */
    ProgressListener listener() {
        return listener;
    }

    /** The settings as the engine reads them ({@code ApplySettings}; everything but the listener). */
    String toJson() {
        Map<String, Object> json = tiling();
        json.put("class_map", classMap);
        json.put("probabilities", probabilities == Probabilities.NONE ? null : JsonFields.jsonName(probabilities));
        json.put("overlay_alpha", overlayAlpha);
        json.put("overlay_mode", JsonFields.jsonName(overlay));
        json.put("display_range", displayRangeJson());
        json.put("measurements", measurements);
        json.put("truth", truthMask == null ? null : truthMask.toString());
        json.put("objects", objects == null ? null : objects.toJson());
        json.put("region", region == null ? null : region.toJson());
        return Json.write(json);
    }

    /**
     * The tiling and resolution settings alone, for
     * {@link Predictor#classifyRegion(RegionReader, int, int, int, int, ApplyOptions)}.
     */
    String tilingJson() {
        return Json.write(tiling());
    }

    /** The tiling, pixel size and downsample fields of {@code ApplySettings}. */
    private Map<String, Object> tiling() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("tile_size", tileSize);
        json.put("overlap", overlap);
        json.put("blend", JsonFields.jsonName(blend));
        json.put("batch_size", batchSize);
        json.put("tta", tta);
        json.put("pixel_size", pixelSize);
        json.put("downsample", downsample);
        return json;
    }

    private List<List<Double>> displayRangeJson() {
        if (displayRange == null) {
            return null;
        }
        List<List<Double>> ranges = new ArrayList<>();
        for (double[] minMax : displayRange) {
            ranges.add(Arrays.asList(minMax[0], minMax[1]));
        }
        return ranges;
    }

    @Override
    public String toString() {
        return toJson();
    }

    /** Builds {@link ApplyOptions}. */
    public static final class Builder {
        private Integer tileSize;
        private Integer overlap;
        private Blend blend = Blend.LINEAR;
        private int batchSize = 4;
        private boolean tta;
        private boolean classMap = true;
        private Probabilities probabilities = Probabilities.NONE;
        private Integer overlayAlpha = 128;
        private Overlay overlay = Overlay.BLEND;
        private double[][] displayRange;
        private boolean measurements = true;
        private Map<String, Object> pixelSize;
        private Double downsample;
        private Path truthMask;
        private ObjectOptions objects;
        private Region region;
        private ProgressListener listener;

        private Builder() {
        }

        /**
         * @param tileSize side of the square tiles fed to the model, a multiple
         *     of 32 (default: the model's fixed size, else its training tile
         *     size but at least 256)
         * @return this builder
         */
        public Builder tileSize(int tileSize) {
            this.tileSize = tileSize;
            return this;
        }

        /**
         * @param overlap pixels shared by neighbouring tiles: even, smaller than
         *     the tile (default: a quarter tile, in multiples of 32)
         * @return this builder
         */
        public Builder overlap(int overlap) {
            this.overlap = overlap;
            return this;
        }

        /**
         * @param blend how overlapping predictions are combined
         * @return this builder
         */
        public Builder blend(Blend blend) {
            this.blend = Objects.requireNonNull(blend, "blend");
            return this;
        }

        /**
         * @param batchSize tiles per model call (default 4)
         * @return this builder
         */
        public Builder batchSize(int batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        /**
         * @param tta average each tile over its 8 flips and rotations (8x slower)
         * @return this builder
         */
        public Builder tta(boolean tta) {
            this.tta = tta;
            return this;
        }

        /**
         * @param classMap write {@code class_map.png}, 8-bit class indices (default true)
         * @return this builder
         */
        public Builder classMap(boolean classMap) {
            this.classMap = classMap;
            return this;
        }

        /**
         * @param probabilities whether and how to write {@code probabilities.tif} (default none)
         * @return this builder
         */
        public Builder probabilities(Probabilities probabilities) {
            this.probabilities = Objects.requireNonNull(probabilities, "probabilities");
            return this;
        }

        /**
         * @param alpha opacity 0-255 of {@code overlay.png}, the class colours (default 128)
         * @return this builder
         */
        public Builder overlayAlpha(int alpha) {
            if (alpha < 0 || alpha > 255) {
                throw new IllegalArgumentException("overlay alpha must be 0-255, got " + alpha);
            }
            this.overlayAlpha = alpha;
            return this;
        }

        /**
         * @param overlay what {@code overlay.png} shows (default {@link Overlay#BLEND})
         * @return this builder
         */
        public Builder overlay(Overlay overlay) {
            this.overlay = Objects.requireNonNull(overlay, "overlay");
            return this;
        }

        /**
         * The intensities shown as black and as full brightness under a
         * blended overlay, per image channel; by default the 0.5th and 99.5th
         * percentiles of a sample of the image.
         *
         * @param minMax one {@code {min, max}} per channel of the image
         * @return this builder
         */
        public Builder displayRange(double[]... minMax) {
            Objects.requireNonNull(minMax, "minMax");
            double[][] ranges = new double[minMax.length][];
            for (int c = 0; c < minMax.length; c++) {
                if (minMax[c] == null || minMax[c].length != 2 || !(minMax[c][0] <= minMax[c][1])) {
                    throw new IllegalArgumentException("display range of channel " + c + " must be {min, max} with min <= max");
                }
                ranges[c] = minMax[c].clone();
            }
            this.displayRange = ranges;
            return this;
        }

        /** @return this builder, writing no {@code overlay.png} */
        public Builder noOverlay() {
            this.overlayAlpha = null;
            return this;
        }

        /**
         * @param measurements write {@code measurements.json} and {@code .csv}:
         *     pixels, fraction and area per class (default true; the result
         *     carries them either way)
         * @return this builder
         */
        public Builder measurements(boolean measurements) {
            this.measurements = measurements;
            return this;
        }

        /**
         * Calibrates areas in the measurements.
         *
         * @param width pixel width
         * @param height pixel height
         * @param unit the unit of both, e.g. {@code µm}; areas are in its square
         * @return this builder
         */
        public Builder pixelSize(double width, double height, String unit) {
            this.pixelSize = JsonFields.objectOf(
                    "width", width, "height", height, "unit", Objects.requireNonNull(unit, "unit"));
            return this;
        }

        /**
         * Runs the model on the image downsampled by this factor (area
         * averaged), with every result brought back to full resolution.
         * Default: the model's training pixel size over the image's (see
         * {@link RegionReader#pixelSizeMicrons()} and
         * {@link #pixelSize(double, double, String)} in µm) where both are
         * known, else the model's training downsample. The engine refuses a
         * factor that is not positive or leaves the image under one pixel.
         *
         * @param downsample the factor, e.g. 2 for half the width and height
         * @return this builder
         */
        public Builder downsample(double downsample) {
            this.downsample = downsample;
            return this;
        }

        /**
         * @param truthMask a ground-truth mask image (8-bit class indices, 255 =
         *     unlabeled) of the image's size to score the prediction against,
         *     or null for none
         * @return this builder
         */
        public Builder truthMask(Path truthMask) {
            this.truthMask = truthMask;
            return this;
        }

        /**
         * Traces the predicted classes into objects, written to
         * {@code objects.geojson} (QuPath's GeoJSON) and {@code objects.csv};
         * read them with {@link ApplyResult#objects()}.
         *
         * @param objects how objects are made, or null for none (the default)
         * @return this builder
         */
        public Builder objects(ObjectOptions objects) {
            this.objects = objects;
            return this;
        }

        /**
         * Restricts the run to a region, such as a QuPath annotation: only
         * the tiles its pixels need are run (with context from the image
         * around them), every result file covers the region's bounding box
         * ({@link ApplyResult#region()}), {@code class_map.png} is 255 outside
         * the region, and the measurements are of the region's pixels
         * ({@link ApplyResult#namedMeasurements()} under QuPath's names).
         * Objects keep image coordinates.
         *
         * @param region the region, or null for the whole image (the default)
         * @return this builder
         */
        public Builder region(Region region) {
            this.region = region;
            return this;
        }

        /**
         * @param listener told after each batch of tiles, on the thread that
         *     called {@code apply}; null for none
         * @return this builder
         */
        public Builder progressListener(ProgressListener listener) {
            this.listener = listener;
            return this;
        }

        /** @return the options */
        public ApplyOptions build() {
            return new ApplyOptions(this);
        }
    }
}
