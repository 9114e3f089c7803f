package org.dlclassifier;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.StringJoiner;
import org.dlclassifier.internal.Json;

/**
 * One object traced from a class map: a polygon with holes in full-resolution
 * image coordinates (pixel corners; exterior counter-clockwise, holes
 * clockwise by the numbers), its class and its measurements. Plain values,
 * so that a QuPath script makes a {@code PathObject} of it without this
 * library depending on QuPath, e.g.
 * {@code PathObjects.createDetectionObject(ROIs.createPolygonROI(o.xs(), o.ys(), plane), getPathClass(o.className()))}
 * for an object without holes, or from {@link #wkt()} through JTS's
 * {@code WKTReader} and {@code GeometryTools.geometryToROI} for any.
 */
public final class DetectedObject {
    private final String objectType;
    private final String className;
    private final int[] color;
    private final double[][] exterior;
    private final List<double[][]> holes;
    private final Map<String, Double> measurements;

    private DetectedObject(String objectType, String className, int[] color, double[][] exterior, List<double[][]> holes,
            Map<String, Double> measurements) {
        this.objectType = objectType;
        this.className = className;
        this.color = color;
        this.exterior = exterior;
        this.holes = holes;
        this.measurements = measurements;
    }

    /**
     * Reads the objects of a GeoJSON FeatureCollection as the engine writes it
     * ({@code objects.geojson}) and QuPath exports it.
     *
     * @param geojson the file
     * @return its objects, in file order
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if it is not a FeatureCollection of polygons
     */
    @SuppressWarnings("unchecked")
    public static List<DetectedObject> readGeoJson(Path geojson) throws IOException {
        Objects.requireNonNull(geojson, "geojson");
        Map<String, Object> collection = Json.parseObject(new String(Files.readAllBytes(geojson), StandardCharsets.UTF_8));
        if (!"FeatureCollection".equals(collection.get("type"))) {
            throw new IllegalArgumentException(geojson + " is not a GeoJSON FeatureCollection");
        }
        List<DetectedObject> objects = new ArrayList<>();
        try {
            for (Object f : (List<Object>) collection.get("features")) {
                objects.add(fromFeature((Map<String, Object>) f, geojson));
            }
        } catch (ClassCastException | NullPointerException | IndexOutOfBoundsException e) {
            throw new IllegalArgumentException(geojson + " is not a FeatureCollection of polygons as QuPath writes them: " + e, e);
        }
        return Collections.unmodifiableList(objects);
    }

    @SuppressWarnings("unchecked")
    private static DetectedObject fromFeature(Map<String, Object> feature, Path source) {
        Map<String, Object> geometry = (Map<String, Object>) feature.get("geometry");
        if (geometry == null || !"Polygon".equals(geometry.get("type"))) {
            throw new IllegalArgumentException(source + ": a feature's geometry is not a Polygon");
        }
        List<Object> rings = (List<Object>) geometry.get("coordinates");
        List<double[][]> holes = new ArrayList<>();
        for (int i = 1; i < rings.size(); i++) {
            holes.add(ring((List<Object>) rings.get(i)));
        }
        Map<String, Object> properties = (Map<String, Object>) feature.get("properties");
        Map<String, Object> classification = (Map<String, Object>) properties.get("classification");
        List<Object> rgb = (List<Object>) classification.get("color");
        int[] color = new int[rgb.size()];
        for (int i = 0; i < color.length; i++) {
            color[i] = ((Number) rgb.get(i)).intValue();
        }
        Map<String, Double> measurements = new LinkedHashMap<>();
        ((Map<String, Object>) properties.get("measurements")).forEach(
                (name, v) -> measurements.put(name, v == null ? Double.NaN : ((Number) v).doubleValue()));
        return new DetectedObject((String) properties.get("objectType"), (String) classification.get("name"), color,
                ring((List<Object>) rings.get(0)), Collections.unmodifiableList(holes), Collections.unmodifiableMap(measurements));
    }

    private static double[][] ring(List<Object> points) {
        double[][] ring = new double[points.size()][];
        for (int i = 0; i < ring.length; i++) {
            List<?> p = (List<?>) points.get(i);
            ring[i] = new double[] {((Number) p.get(0)).doubleValue(), ((Number) p.get(1)).doubleValue()};
        }
        return ring;
    }

    /** @return {@code detection} or {@code annotation}, QuPath's object type */
    public String objectType() {
        return objectType;
    }

    /** @return the class name */
    public String className() {
        return className;
    }

    /** @return the class colour as {@code [r, g, b]}, 0-255 */
    public int[] color() {
        return color.clone();
    }

    /** @return the exterior ring as {@code [x, y]} points, the last repeating the first */
    public double[][] exterior() {
        return copy(exterior);
    }

    /** @return the holes, each a ring like {@link #exterior()} */
    public List<double[][]> holes() {
        List<double[][]> copies = new ArrayList<>();
        for (double[][] h : holes) {
            copies.add(copy(h));
        }
        return copies;
    }

    /** @return the exterior's x coordinates without the closing point, as QuPath's {@code ROIs.createPolygonROI} takes them */
    public double[] xs() {
        return coordinates(0);
    }

    /** @return the exterior's y coordinates without the closing point */
    public double[] ys() {
        return coordinates(1);
    }

    /** @return the polygon as Well-Known Text, holes included */
    public String wkt() {
        StringJoiner rings = new StringJoiner(", ", "POLYGON (", ")");
        rings.add(wkt(exterior));
        for (double[][] h : holes) {
            rings.add(wkt(h));
        }
        return rings.toString();
    }

    /** @return the measurements by name, in the engine's order (area, perimeter, ... per-channel intensities) */
    public Map<String, Double> measurements() {
        return measurements;
    }

    /**
     * @param name a measurement name, e.g. {@code Area px^2}
     * @return its value, NaN where it is undefined
     * @throws IllegalArgumentException for a name the object was not measured with
     */
    public double measurement(String name) {
        Double v = measurements.get(Objects.requireNonNull(name, "name"));
        if (v == null) {
            throw new IllegalArgumentException("no measurement '" + name + "'; the object has " + measurements.keySet());
        }
        return v;
    }

    private double[] coordinates(int axis) {
        double[] out = new double[exterior.length - 1];
        for (int i = 0; i < out.length; i++) {
            out[i] = exterior[i][axis];
        }
        return out;
    }

    private static String wkt(double[][] ring) {
        StringJoiner points = new StringJoiner(", ", "(", ")");
        for (double[] p : ring) {
            points.add(number(p[0]) + " " + number(p[1]));
        }
        return points.toString();
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    private static double[][] copy(double[][] ring) {
        double[][] out = new double[ring.length][];
        for (int i = 0; i < ring.length; i++) {
            out[i] = ring[i].clone();
        }
        return out;
    }

    @Override
    public String toString() {
        return objectType + " " + className + " " + measurements.getOrDefault("Area px^2", Double.NaN) + " px^2";
    }
}
