package org.dlclassifier;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.dlclassifier.internal.Json;

/**
 * The part of an image a run is restricted to
 * ({@link ApplyOptions.Builder#region(Region)}), in full-resolution image
 * coordinates: polygons with holes, such as a QuPath annotation's ROI, or a
 * mask. A pixel belongs to the region when its centre is inside; several
 * polygons unite, and either ring orientation is accepted. Immutable. The
 * engine checks the region when the run starts: an invalid polygon (rings
 * that cross), a region outside the image or a mask of another size fail
 * the run with {@link IllegalArgumentException} before anything is written.
 */
public final class Region {
    private final Map<String, Object> json;

    private Region(String kind, Object value) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put(kind, value);
        this.json = Collections.unmodifiableMap(json);
    }

    /**
     * A polygon with holes, e.g. from a QuPath ROI's points.
     *
     * @param exterior the outline as {@code [x, y]} points, closed or not
     * @param holes its holes, each like the exterior
     * @return the region
     */
    public static Region polygon(double[][] exterior, double[][]... holes) {
        List<Object> polygons = new ArrayList<>();
        polygons.add(polygonJson(exterior, holes));
        return new Region("polygons", polygons);
    }

    /**
     * This region and one more polygon, united.
     *
     * @param exterior the outline as {@code [x, y]} points
     * @param holes its holes
     * @return the larger region
     * @throws IllegalStateException if this region is not made of polygons given as points
     */
    public Region and(double[][] exterior, double[][]... holes) {
        Object polygons = json.get("polygons");
        if (!(polygons instanceof List)) {
            throw new IllegalStateException("only a region of polygons given as points can take another polygon");
        }
        List<Object> more = new ArrayList<>((List<?>) polygons);
        more.add(polygonJson(exterior, holes));
        return new Region("polygons", more);
    }

    /**
     * @param wkt {@code POLYGON ((x y, ...), (hole), ...)} or {@code MULTIPOLYGON (...)}, as
     *     JTS's {@code WKTWriter} (and so QuPath) writes them
     * @return the region
     */
    public static Region wkt(String wkt) {
        return new Region("wkt", Objects.requireNonNull(wkt, "wkt"));
    }

    /**
     * @param geoJson a GeoJSON Polygon or MultiPolygon, a Feature holding one, or a
     *     FeatureCollection of them (as QuPath exports annotations)
     * @return the region
     * @throws IllegalArgumentException if the text is not JSON
     */
    public static Region geoJson(String geoJson) {
        return new Region("geojson", Json.parse(Objects.requireNonNull(geoJson, "geoJson")));
    }

    /**
     * @param maskFile an image the size of the image applied to; its nonzero pixels are the region
     * @return the region
     */
    public static Region mask(Path maskFile) {
        return new Region("mask", Objects.requireNonNull(maskFile, "maskFile").toString());
    }

    /** @return the engine's {@code RegionSpec} JSON value */
    Map<String, Object> toJson() {
        return json;
    }

    /** A polygon as the engine's JSON takes it: {@code {"exterior": [...], "holes": [[...], ...]}}. */
    static Map<String, Object> polygonJson(double[][] exterior, double[][]... holes) {
        Objects.requireNonNull(exterior, "exterior");
        Objects.requireNonNull(holes, "holes");
        Map<String, Object> polygon = new LinkedHashMap<>();
        polygon.put("exterior", ring(exterior));
        List<Object> rings = new ArrayList<>();
        for (double[][] h : holes) {
            rings.add(ring(Objects.requireNonNull(h, "hole")));
        }
        polygon.put("holes", rings);
        return polygon;
    }

    private static List<Object> ring(double[][] points) {
        List<Object> ring = new ArrayList<>();
        for (double[] p : points) {
            if (p == null || p.length != 2) {
                throw new IllegalArgumentException("a ring's points are [x, y] pairs");
            }
            ring.add(Arrays.asList(p[0], p[1]));
        }
        if (ring.size() > 0 && !ring.get(0).equals(ring.get(ring.size() - 1))) {
            ring.add(ring.get(0));
        }
        return ring;
    }

    @Override
    public String toString() {
        return "Region" + Json.write(json);
    }
}
