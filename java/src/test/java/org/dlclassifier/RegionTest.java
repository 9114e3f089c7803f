package org.dlclassifier;

import static org.dlclassifier.InferenceFixtures.nucleiImage;
import static org.dlclassifier.InferenceFixtures.nucleiModel;
import static org.dlclassifier.PredictorTest.expectIllegalArgument;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** Runs restricted to an annotation-like region, and rectangles classified into buffers. */
public class RegionTest {
    private static final double[][] L_SHAPE = {{40, 40}, {400, 40}, {400, 200}, {200, 200}, {200, 460}, {40, 460}};
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

    private static boolean inL(int x, int y) {
        double cx = x + 0.5;
        double cy = y + 0.5;
        return cx > 40 && cy > 40 && ((cx < 400 && cy < 200) || (cx < 200 && cy < 460));
    }

    @Test
    public void anLShapedAnnotationGetsTheWholeImagesClassesAndQuPathMeasurements() throws IOException {
        ApplyOptions.Builder options = ApplyOptions.builder().tileSize(128).overlap(32).pixelSize(0.5, 0.5, "µm");
        Path wholeOut = tmp.getRoot().toPath().resolve("whole");
        predictor.apply(new ApplyTest.ImageReader(), wholeOut, options.build());
        Path out = tmp.getRoot().toPath().resolve("region");
        ApplyResult result = predictor.apply(new ApplyTest.ImageReader(), out, options.region(Region.polygon(L_SHAPE)).build());

        ApplyResult.RegionReport region = result.region().get();
        assertArrayEquals(new int[] {40, 40, 360, 420}, region.bounds());
        long area = 360 * 160 + 160 * 260;
        assertEquals(area, region.pixels());
        assertEquals(area, result.totalPixels());
        assertTrue("tiles left out: " + region.tilesSkipped(), region.tilesSkipped() > 0);
        assertTrue("fewer tiles than the whole image's 36: " + result.tiles(), result.tiles() < 36);

        // Inside the L the whole image's classes, 255 elsewhere in the box.
        byte[] whole = ApplyTest.pixels(wholeOut.resolve("class_map.png"));
        byte[] part = ApplyTest.pixels(out.resolve("class_map.png"));
        long nuclei = 0;
        for (int y = 0; y < 420; y++) {
            for (int x = 0; x < 360; x++) {
                int expected = inL(x + 40, y + 40) ? whole[(y + 40) * 512 + x + 40] & 0xff : 255;
                assertEquals("(" + x + ", " + y + ")", expected, part[y * 360 + x] & 0xff);
                nuclei += part[y * 360 + x] == 1 ? 1 : 0;
            }
        }
        Map<String, Double> named = result.namedMeasurements();
        assertEquals(nuclei * 0.25, named.get("Nucleus area µm^2"), 1e-6);
        assertEquals(100.0 * nuclei / area, named.get("Nucleus %"), 1e-9);
        assertEquals("Background area µm^2", named.keySet().iterator().next());
    }

    @Test
    public void badRegionsAreRefusedBeforeAnythingIsWritten() throws IOException {
        Path out = tmp.getRoot().toPath().resolve("refused");
        double[][] bowTie = {{0, 0}, {10, 10}, {10, 0}, {0, 10}};
        expectIllegalArgument("region polygon 0 is not valid",
                () -> predictor.apply(new ApplyTest.ImageReader(), out, ApplyOptions.builder().region(Region.polygon(bowTie)).build()));
        expectIllegalArgument("lies outside the 512x512 image", () -> predictor.apply(new ApplyTest.ImageReader(), out,
                ApplyOptions.builder().region(Region.wkt("POLYGON ((600 0, 700 0, 700 50, 600 0))")).build()));
        expectIllegalArgument("GeoJSON: a Point", () -> predictor.apply(new ApplyTest.ImageReader(), out,
                ApplyOptions.builder().region(Region.geoJson("{\"type\": \"Point\", \"coordinates\": [1, 2]}")).build()));
        assertFalse(Files.exists(out));
        expectIllegalArgument("", () -> Region.geoJson("not json"));
    }

    @Test
    public void rectanglesIntoBuffersAreTheWholeImagesAndTileSeamlessly() throws IOException {
        ApplyOptions options = ApplyOptions.builder().tileSize(128).overlap(32).build();
        Path wholeOut = tmp.getRoot().toPath().resolve("whole");
        predictor.apply(new ApplyTest.ImageReader(), wholeOut, options);
        byte[] whole = ApplyTest.pixels(wholeOut.resolve("class_map.png"));
        // Two neighbouring viewer tiles, as a live overlay asks for them.
        for (int x0 : new int[] {100, 164}) {
            byte[] classes = predictor.classifyRegion(new ApplyTest.ImageReader(), x0, 200, 64, 48, options);
            for (int y = 0; y < 48; y++) {
                for (int x = 0; x < 64; x++) {
                    assertEquals("(" + (x0 + x) + ", " + (200 + y) + ")", whole[(200 + y) * 512 + x0 + x], classes[y * 64 + x]);
                }
            }
        }
        ByteBuffer probabilities = ByteBuffer.allocateDirect(2 * 64 * 48 * 4).order(ByteOrder.nativeOrder());
        ByteBuffer classMap = ByteBuffer.allocateDirect(64 * 48);
        predictor.classifyRegion(new ApplyTest.ImageReader(), 100, 200, 64, 48, options, probabilities, ProbabilityFormat.FLOAT32, classMap);
        FloatBuffer p = probabilities.asFloatBuffer();
        for (int i = 0; i < 64 * 48; i++) {
            assertEquals(1.0, p.get(i) + p.get(64 * 48 + i), 1e-4);
            assertEquals(p.get(64 * 48 + i) > p.get(i) ? 1 : 0, classMap.get(i));
        }
        expectIllegalArgument("reaches outside the 512x512 image", () -> predictor.classifyRegion(new ApplyTest.ImageReader(), 500, 0, 64, 48, options));
        expectIllegalArgument("class map output buffer holds 10 bytes", () -> predictor.classifyRegion(new ApplyTest.ImageReader(), 0, 0, 64, 48, options,
                null, ProbabilityFormat.FLOAT32, ByteBuffer.allocateDirect(10)));
        expectIllegalArgument("must be a direct ByteBuffer", () -> predictor.classifyRegion(new ApplyTest.ImageReader(), 0, 0, 64, 48, options,
                null, ProbabilityFormat.FLOAT32, ByteBuffer.allocate(64 * 48)));
        expectIllegalArgument("negative", () -> predictor.classifyRegion(new ApplyTest.ImageReader(), -1, 0, 64, 48, options));
    }
}
