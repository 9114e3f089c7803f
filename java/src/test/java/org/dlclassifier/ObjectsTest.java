package org.dlclassifier;

import static org.dlclassifier.InferenceFixtures.nucleiImage;
import static org.dlclassifier.InferenceFixtures.nucleiModel;
import static org.dlclassifier.PredictorTest.expectIllegalArgument;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** Objects traced from a whole-image prediction, read back as plain values. */
public class ObjectsTest {
    private static Predictor predictor;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @BeforeClass
    public static void open() throws IOException {
        predictor = Predictor.open(nucleiModel(), PredictorOptions.builder().device("cpu").threads(2).build());
    }

    @AfterClass
    public static void close() {
        predictor.close();
    }

    @Test
    public void nucleiBecomeMeasuredPolygonsWhoseAreasAddUpToTheClassMap() throws IOException {
        Path out = tmp.getRoot().toPath().resolve("objects");
        ApplyOptions options = ApplyOptions.builder().pixelSize(0.5, 0.5, "µm").objects(ObjectOptions.defaults()).build();
        ApplyResult result = predictor.apply(nucleiImage(), out, options);

        assertTrue(Files.size(out.resolve("objects.csv")) > 0);
        ApplyResult.ObjectSummary summary = result.objectSummary().get();
        List<DetectedObject> objects = result.objects();
        assertEquals(summary.count(), objects.size());
        assertTrue("some nuclei: " + objects.size(), objects.size() > 10);
        assertEquals(Arrays.asList(0L, (long) objects.size()), summary.perClass());
        double area = 0;
        for (DetectedObject o : objects) {
            assertEquals("detection", o.objectType());
            assertEquals("Nucleus", o.className());
            assertArrayEquals(o.exterior()[0], o.exterior()[o.exterior().length - 1], 0);
            assertEquals(o.exterior().length - 1, o.xs().length);
            assertTrue(o.wkt(), o.wkt().startsWith("POLYGON (("));
            assertEquals(o.measurement("Area px^2") * 0.25, o.measurement("Area µm^2"), 1e-9);
            assertTrue(o.measurement("Mean probability") > 0.5);
            assertEquals(summary.measurements(), Arrays.asList(o.measurements().keySet().toArray()));
            area += o.measurement("Area px^2");
        }
        // Exact pixel outlines: the objects' areas are the class map's pixels.
        assertEquals(result.classes().get(1).pixels(), area, 0);
        expectIllegalArgument("no measurement 'Volume'", () -> objects.get(0).measurement("Volume"));
    }

    /** Pixels inside the object and their brightest value, from the pixels the engine hands over. */
    private static final class Brightest implements ObjectMeasurement {
        @Override
        public List<String> names() {
            return Arrays.asList("Java pixels", "Java max");
        }

        @Override
        public double[] measure(ObjectPixels o) {
            double pixels = 0;
            double max = Double.NEGATIVE_INFINITY;
            for (int row = 0; row < o.height(); row++) {
                for (int col = 0; col < o.width(); col++) {
                    if (o.inside(col, row)) {
                        pixels++;
                        max = Math.max(max, o.value(0, col, row));
                    }
                }
            }
            return new double[] {pixels, max};
        }
    }

    @Test
    public void javaMeasurementsSeeEachObjectsPixelsAndJoinTheBuiltInOnes() throws IOException {
        ObjectOptions objects = ObjectOptions.builder().measurement(new Brightest()).build();
        ApplyResult result = predictor.apply(nucleiImage(), tmp.getRoot().toPath().resolve("custom"), ApplyOptions.builder().objects(objects).build());
        List<DetectedObject> found = result.objects();
        assertFalse(found.isEmpty());
        List<String> names = result.objectSummary().get().measurements();
        assertEquals(Arrays.asList("Java pixels", "Java max"), names.subList(names.size() - 2, names.size()));
        String maxName = names.stream().filter(n -> n.endsWith(": Max")).findFirst().get();
        for (DetectedObject o : found) {
            assertEquals(o.measurement("Area px^2"), o.measurement("Java pixels"), 0);
            assertEquals(o.measurement(maxName), o.measurement("Java max"), 1e-3);
        }

        ObjectMeasurement failing = new ObjectMeasurement() {
            @Override
            public List<String> names() {
                return Arrays.asList("Fails");
            }

            @Override
            public double[] measure(ObjectPixels o) {
                throw new UnsupportedOperationException("measured " + o.className());
            }
        };
        Path out = tmp.getRoot().toPath().resolve("failing");
        try {
            predictor.apply(nucleiImage(), out, ApplyOptions.builder().objects(ObjectOptions.builder().measurement(failing).build()).build());
            throw new AssertionError("the measurement's exception should end the run");
        } catch (UnsupportedOperationException e) {
            assertEquals("measured Nucleus", e.getMessage());
        }
        assertFalse(Files.exists(out.resolve("objects.geojson")));
        ObjectMeasurement twice = new ObjectMeasurement() {
            @Override
            public List<String> names() {
                return Arrays.asList("Area px^2");
            }

            @Override
            public double[] measure(ObjectPixels o) {
                return new double[] {0};
            }
        };
        expectIllegalArgument("the measurement 'Area px^2' is named twice", () -> predictor.apply(nucleiImage(), out,
                ApplyOptions.builder().objects(ObjectOptions.builder().measurement(twice).build()).build()));
    }

    @Test
    public void annotationsAboveAMinimumAreaAndBadOptions() throws IOException {
        Path out = tmp.getRoot().toPath().resolve("annotations");
        ObjectOptions big = ObjectOptions.builder().objectType(ObjectOptions.ObjectType.ANNOTATION).minArea(200).build();
        List<DetectedObject> objects = predictor.apply(nucleiImage(), out, ApplyOptions.builder().objects(big).build()).objects();
        assertFalse(objects.isEmpty());
        for (DetectedObject o : objects) {
            assertEquals("annotation", o.objectType());
            assertTrue(o.measurement("Area px^2") >= 200);
        }
        expectIllegalArgument("not a class of the model", () -> predictor.apply(nucleiImage(), tmp.getRoot().toPath().resolve("x"),
                ApplyOptions.builder().objects(ObjectOptions.builder().skipClasses(Arrays.asList("Stroma")).build()).build()));
        expectIllegalArgument("no pixel size is known", () -> predictor.apply(nucleiImage(), tmp.getRoot().toPath().resolve("x"),
                ApplyOptions.builder().objects(ObjectOptions.builder().areaUnit(ObjectOptions.AreaUnit.CALIBRATED).build()).build()));
        expectIllegalArgument("objects.clip polygon 0 is not valid", () -> predictor.apply(nucleiImage(), tmp.getRoot().toPath().resolve("x"),
                ApplyOptions.builder().objects(ObjectOptions.builder().clip(new double[][] {{0, 0}, {9, 9}, {9, 0}, {0, 9}, {0, 0}}).build()).build()));
        assertFalse(Files.exists(tmp.getRoot().toPath().resolve("x")));
    }

    @Test
    public void malformedGeoJsonIsRefusedWithItsFileNamed() throws IOException {
        Path bad = tmp.newFile("bad.geojson").toPath();
        Files.write(bad, "{\"type\":\"FeatureCollection\",\"features\":[1]}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        expectIllegalArgument("bad.geojson is not a FeatureCollection of polygons", () -> DetectedObject.readGeoJson(bad));
        Files.write(bad, "{\"type\":\"FeatureCollection\",\"features\":[{\"geometry\":null}]}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        expectIllegalArgument("geometry is not a Polygon", () -> DetectedObject.readGeoJson(bad));
    }

    @Test
    public void objectsStayInsideTheirParentRegion() throws IOException {
        double[][] leftHalf = {{0, 0}, {256, 0}, {256, 512}, {0, 512}, {0, 0}};
        ObjectOptions clipped = ObjectOptions.builder().clip(leftHalf).build();
        List<DetectedObject> objects = predictor.apply(nucleiImage(), tmp.getRoot().toPath().resolve("clipped"),
                ApplyOptions.builder().objects(clipped).build()).objects();
        assertFalse(objects.isEmpty());
        for (DetectedObject o : objects) {
            assertTrue(o.wkt(), o.measurement("Bounds X px") + o.measurement("Bounds width px") <= 256);
        }
    }
}
