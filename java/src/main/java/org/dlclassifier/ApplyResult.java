package org.dlclassifier;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import org.dlclassifier.internal.JsonName;

/** What a whole-image run wrote and measured. */
public final class ApplyResult {
    private List<Path> files;
    private Measurements measurements;
    @JsonName("truth")
    private Agreement agreement;
    private ObjectSummary objects;
    private RegionReport region;
    private int tiles;
    private double downsample;
    private double seconds;

    /** Filled from the engine's {@code ApplyReport} JSON by {@link org.dlclassifier.internal.JsonMapper}. */
    private ApplyResult() {
    }

    /** The report's {@code measurements} block. */
    private static final class Measurements {
        private long totalPixels;
        private String areaUnit;
        private List<ClassArea> classes;
        private List<Named> named;

        private Measurements() {
        }
    }

    /** One entry of the report's {@code measurements.named}. */
    private static final class Named {
        private String name;
        private double value;

        private Named() {
        }
    }

    /** @return the files written, each complete */
    public List<Path> files() {
        return files;
    }

    /**
     * The class areas and shares under QuPath's measurement names, ready for
     * an annotation's measurement list ({@code annotation.getMeasurementList().put(name, value)}):
     * {@code "<class> area µm^2"} (the calibrated unit; {@code "<class> area px"}
     * without a pixel size) and {@code "<class> %"}, in class order.
     *
     * @return name to value, in class order
     */
    public Map<String, Double> namedMeasurements() {
        Map<String, Double> named = new LinkedHashMap<>();
        for (Named n : measurements.named) {
            named.put(n.name, n.value);
        }
        return named;
    }

    /** @return where {@link ApplyOptions.Builder#region(Region)} restricted the run, when it did */
    public Optional<RegionReport> region() {
        return Optional.ofNullable(region);
    }

    /** @return pixels measured: of the image, or of the region */
    public long totalPixels() {
        return measurements.totalPixels;
    }

    /** @return the unit of {@link ClassArea#area()}, e.g. {@code µm^2}, when a pixel size was given */
    public Optional<String> areaUnit() {
        return Optional.ofNullable(measurements.areaUnit);
    }

    /** @return the predicted share of the image of each class, by class index */
    public List<ClassArea> classes() {
        return measurements.classes;
    }

    /** @return the agreement with the truth mask, when one was given */
    public Optional<Agreement> agreement() {
        return Optional.ofNullable(agreement);
    }

    /** @return how many objects of each class were traced, when {@link ApplyOptions.Builder#objects} asked for them */
    public Optional<ObjectSummary> objectSummary() {
        return Optional.ofNullable(objects);
    }

    /**
     * Reads the traced objects back from {@code objects.geojson}.
     *
     * @return the objects, empty when none were asked for
     * @throws IOException if the file cannot be read
     */
    public List<DetectedObject> objects() throws IOException {
        for (Path f : files) {
            if (f.getFileName().toString().equals("objects.geojson")) {
                return DetectedObject.readGeoJson(f);
            }
        }
        return Collections.emptyList();
    }

    /** @return tiles predicted (of a region's run: those it needed) */
    public int tiles() {
        return tiles;
    }

    /** @return the factor the model ran at (1: full resolution); the results are at full resolution */
    public double downsample() {
        return downsample;
    }

    /** @return seconds the run took */
    public double seconds() {
        return seconds;
    }

    @Override
    public String toString() {
        return tiles + " tiles in " + seconds + " s, " + classes();
    }

    /** One class's share of the image. */
    public static final class ClassArea {
        private int index;
        private String name;
        private long pixels;
        private double fraction;
        private OptionalDouble area;

        private ClassArea() {
        }

        /** @return the class index */
        public int index() {
            return index;
        }

        /** @return the class name */
        public String name() {
            return name;
        }

        /** @return pixels predicted as this class */
        public long pixels() {
            return pixels;
        }

        /** @return share of all pixels, 0 to 1 */
        public double fraction() {
            return fraction;
        }

        /** @return the area in {@link ApplyResult#areaUnit()}, when a pixel size was given */
        public OptionalDouble area() {
            return area;
        }

        @Override
        public String toString() {
            return name + " " + pixels + " px";
        }
    }

    /** Where a run restricted to a region went. */
    public static final class RegionReport {
        private Bounds bounds;
        private long pixels;
        private int tilesSkipped;

        private RegionReport() {
        }

        /** The report's {@code region.bounds}. */
        private static final class Bounds {
            private int x;
            private int y;
            private int width;
            private int height;

            private Bounds() {
            }
        }

        /**
         * @return the region's bounding box in the image, {@code [x, y, width, height]}:
         *     every result file covers it (pixel (0, 0) of {@code class_map.png} is image pixel (x, y))
         */
        public int[] bounds() {
            return new int[] {bounds.x, bounds.y, bounds.width, bounds.height};
        }

        /** @return pixels inside the region */
        public long pixels() {
            return pixels;
        }

        /** @return tiles of the bounding box left out because the region needs none of their pixels */
        public int tilesSkipped() {
            return tilesSkipped;
        }
    }

    /** How many objects were traced. */
    public static final class ObjectSummary {
        private long count;
        private List<Long> perClass;
        private List<String> measurements;

        private ObjectSummary() {
        }

        /** @return objects of every class */
        public long count() {
            return count;
        }

        /** @return objects of each class, by class index */
        public List<Long> perClass() {
            return perClass;
        }

        /** @return the measurement names of every object, in {@code objects.csv}'s column order */
        public List<String> measurements() {
            return measurements;
        }
    }

    /** How well the prediction matches a truth mask, over its labelled pixels. */
    public static final class Agreement {
        private double pixelAccuracy;
        @JsonName("per_class_iou")
        private double[] perClassIoU;
        @JsonName("mean_iou")
        private double meanIoU;

        private Agreement() {
        }

        /** @return the fraction of labelled pixels predicted correctly */
        public double pixelAccuracy() {
            return pixelAccuracy;
        }

        /** @return intersection over union of each class; NaN for a class absent from truth and prediction */
        public double[] perClassIoU() {
            return perClassIoU.clone();
        }

        /** @return the mean of the defined per-class IoUs */
        public double meanIoU() {
            return meanIoU;
        }
    }
}
