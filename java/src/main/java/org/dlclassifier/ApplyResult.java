package org.dlclassifier;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.stream.Collectors;

/** What a whole-image run wrote and measured. */
public final class ApplyResult {
    private final List<Path> files;
    private final long totalPixels;
    private final String areaUnit;
    private final List<ClassArea> classes;
    private final Agreement agreement;
    private final int tiles;
    private final double seconds;

    /** From the engine's {@code ApplyReport} JSON. */
    ApplyResult(Map<String, Object> json) {
        files = JsonFields.strings(json, "files").stream().map(Paths::get).collect(Collectors.toUnmodifiableList());
        Map<String, Object> measurements = JsonFields.object(json, "measurements");
        totalPixels = JsonFields.longInteger(measurements, "total_pixels");
        areaUnit = JsonFields.string(measurements, "area_unit");
        classes = JsonFields.objects(JsonFields.list(measurements, "classes"), ClassArea::new);
        Map<String, Object> truth = JsonFields.object(json, "truth");
        agreement = truth == null ? null : new Agreement(truth);
        tiles = JsonFields.integer(json, "tiles");
        seconds = JsonFields.number(json, "seconds");
    }

    /** @return the files written, each complete */
    public List<Path> files() {
        return files;
    }

    /** @return pixels of the image */
    public long totalPixels() {
        return totalPixels;
    }

    /** @return the unit of {@link ClassArea#area()}, e.g. {@code µm^2}, when a pixel size was given */
    public Optional<String> areaUnit() {
        return Optional.ofNullable(areaUnit);
    }

    /** @return the predicted share of the image of each class, by class index */
    public List<ClassArea> classes() {
        return classes;
    }

    /** @return the agreement with the truth mask, when one was given */
    public Optional<Agreement> agreement() {
        return Optional.ofNullable(agreement);
    }

    /** @return tiles predicted */
    public int tiles() {
        return tiles;
    }

    /** @return seconds the run took */
    public double seconds() {
        return seconds;
    }

    @Override
    public String toString() {
        return tiles + " tiles in " + seconds + " s, " + classes;
    }

    /** One class's share of the image. */
    public static final class ClassArea {
        private final int index;
        private final String name;
        private final long pixels;
        private final double fraction;
        private final OptionalDouble area;

        ClassArea(Map<String, Object> json) {
            index = JsonFields.integer(json, "index");
            name = JsonFields.string(json, "name");
            pixels = JsonFields.longInteger(json, "pixels");
            fraction = JsonFields.number(json, "fraction");
            area = JsonFields.optionalNumber(json, "area");
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

    /** How well the prediction matches a truth mask, over its labelled pixels. */
    public static final class Agreement {
        private final double pixelAccuracy;
        private final double[] perClassIoU;
        private final double meanIoU;

        Agreement(Map<String, Object> json) {
            pixelAccuracy = JsonFields.number(json, "pixel_accuracy");
            perClassIoU = JsonFields.doubles(json, "per_class_iou");
            meanIoU = JsonFields.number(json, "mean_iou");
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
