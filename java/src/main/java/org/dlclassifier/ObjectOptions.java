package org.dlclassifier;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.dlclassifier.internal.JsonFields;

/**
 * How {@link Predictor#apply(RegionReader, java.nio.file.Path, ApplyOptions)}
 * traces the predicted classes into objects ({@code objects.geojson} in
 * QuPath's format, {@code objects.csv}): each 4-connected region of one class
 * becomes a polygon with holes, measured. Immutable; build one with
 * {@link #builder()}. The defaults keep every object with its exact pixel
 * outline and skip a class named {@code Background}.
 */
public final class ObjectOptions {
    /** QuPath's kinds of object. */
    public enum ObjectType {
        /** Many small, fixed objects (QuPath detections). */
        DETECTION,
        /** Editable objects (QuPath annotations). */
        ANNOTATION
    }

    /** The unit of {@link Builder#minArea(double)} and {@link Builder#fillHolesBelow(double)}. */
    public enum AreaUnit {
        /** Full-resolution pixels. */
        PIXELS,
        /** The unit of {@link ApplyOptions.Builder#pixelSize(double, double, String)}, squared. */
        CALIBRATED
    }

    private final ObjectType objectType;
    private final double minArea;
    private final double fillHolesBelow;
    private final AreaUnit areaUnit;
    private final double simplify;
    private final int smooth;
    private final List<String> skipClasses;
    private final List<Map<String, Object>> clip;
    private final List<ObjectMeasurement> measurements;

    private ObjectOptions(Builder b) {
        objectType = b.objectType;
        minArea = b.minArea;
        fillHolesBelow = b.fillHolesBelow;
        areaUnit = b.areaUnit;
        simplify = b.simplify;
        smooth = b.smooth;
        skipClasses = b.skipClasses == null ? null : new ArrayList<>(b.skipClasses);
        clip = b.clip == null ? null : new ArrayList<>(b.clip);
        measurements = new ArrayList<>(b.measurements);
    }

    /** @return the caller's own measurements, called back during the run */
    List<ObjectMeasurement> measurements() {
        return measurements;
    }

    /** @return the defaults: detections, exact outlines, every object kept */
    public static ObjectOptions defaults() {
        return builder().build();
    }

    /** @return a builder starting from {@link #defaults()} */
    public static Builder builder() {
        return new Builder();
    }

    /** The options as the engine reads them ({@code ObjectOptions}). */
    Map<String, Object> toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("object_type", JsonFields.jsonName(objectType));
        json.put("min_area", minArea);
        json.put("fill_holes_below", fillHolesBelow);
        json.put("area_unit", JsonFields.jsonName(areaUnit));
        json.put("simplify", simplify);
        json.put("smooth", smooth);
        json.put("skip_classes", skipClasses);
        json.put("clip", clip);
        return json;
    }

    /** Builds {@link ObjectOptions}. */
    public static final class Builder {
        private ObjectType objectType = ObjectType.DETECTION;
        private double minArea;
        private double fillHolesBelow;
        private AreaUnit areaUnit = AreaUnit.PIXELS;
        private double simplify;
        private int smooth;
        private List<String> skipClasses;
        private List<Map<String, Object>> clip;
        private final List<ObjectMeasurement> measurements = new ArrayList<>();

        private Builder() {
        }

        /**
         * @param objectType detections (default) or annotations
         * @return this builder
         */
        public Builder objectType(ObjectType objectType) {
            this.objectType = Objects.requireNonNull(objectType, "objectType");
            return this;
        }

        /**
         * @param minArea objects of a smaller area (holes excluded) are dropped (default 0)
         * @return this builder
         */
        public Builder minArea(double minArea) {
            this.minArea = minArea;
            return this;
        }

        /**
         * @param fillHolesBelow holes of a smaller area are filled (default 0: none)
         * @return this builder
         */
        public Builder fillHolesBelow(double fillHolesBelow) {
            this.fillHolesBelow = fillHolesBelow;
            return this;
        }

        /**
         * @param areaUnit the unit of the two areas above (default pixels; calibrated needs a pixel size)
         * @return this builder
         */
        public Builder areaUnit(AreaUnit areaUnit) {
            this.areaUnit = Objects.requireNonNull(areaUnit, "areaUnit");
            return this;
        }

        /**
         * @param tolerance Douglas-Peucker simplification in pixels (default 0: pixel outlines)
         * @return this builder
         */
        public Builder simplify(double tolerance) {
            this.simplify = tolerance;
            return this;
        }

        /**
         * @param passes rounds of corner cutting that smooth the outline, 0 to 5 (default 0)
         * @return this builder
         */
        public Builder smooth(int passes) {
            this.smooth = passes;
            return this;
        }

        /**
         * @param classNames classes not traced (default: a class named {@code Background}, in any case)
         * @return this builder
         */
        public Builder skipClasses(List<String> classNames) {
            this.skipClasses = new ArrayList<>(Objects.requireNonNull(classNames, "classNames"));
            return this;
        }

        /**
         * Keeps objects inside a parent region, cut at pixel level (a pixel is
         * in when its centre is); call again for a region of several polygons.
         *
         * @param exterior the polygon's outline as {@code [x, y]} points in
         *     full-resolution image coordinates, closed or not
         * @param holes its holes, each like the exterior
         * @return this builder
         */
        public Builder clip(double[][] exterior, double[][]... holes) {
            if (clip == null) {
                clip = new ArrayList<>();
            }
            clip.add(Region.polygonJson(exterior, holes));
            return this;
        }

        /**
         * Adds a measurement of the caller's own to every object.
         *
         * @param measurement called for each object as it is finished
         * @return this builder
         */
        public Builder measurement(ObjectMeasurement measurement) {
            measurements.add(Objects.requireNonNull(measurement, "measurement"));
            return this;
        }

        /** @return the options */
        public ObjectOptions build() {
            return new ObjectOptions(this);
        }
    }
}
