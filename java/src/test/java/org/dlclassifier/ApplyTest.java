package org.dlclassifier;

import static org.dlclassifier.InferenceFixtures.nucleiImage;
import static org.dlclassifier.InferenceFixtures.nucleiMask;
import static org.dlclassifier.InferenceFixtures.nucleiModel;
import static org.dlclassifier.PredictorTest.expectIllegalArgument;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.awt.image.Raster;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** Whole-image inference from files and from Java region readers, on real data. */
public class ApplyTest {
    private static Predictor predictor;
    private static final Raster image = InferenceFixtures.nucleiRaster();

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

    /** The nuclei image, served region by region from Java; counts the reads. */
    static class ImageReader implements RegionReader {
        final List<int[]> reads = new ArrayList<>();

        @Override
        public int width() {
            return image.getWidth();
        }

        @Override
        public int height() {
            return image.getHeight();
        }

        @Override
        public int channels() {
            return 1;
        }

        @Override
        public void read(int x, int y, int w, int h, FloatBuffer dest) {
            reads.add(new int[] {x, y, w, h});
            assertEquals(w * h, dest.remaining());
            for (int row = 0; row < h; row++) {
                for (int col = 0; col < w; col++) {
                    dest.put(row * w + col, image.getSample(x + col, y + row, 0));
                }
            }
        }
    }

    private Path out(String name) {
        return tmp.getRoot().toPath().resolve(name);
    }

    /** The first band of a PNG, row by row. */
    static byte[] pixels(Path png) throws IOException {
        Raster r = ImageIO.read(png.toFile()).getRaster();
        byte[] values = new byte[r.getWidth() * r.getHeight()];
        for (int y = 0; y < r.getHeight(); y++) {
            for (int x = 0; x < r.getWidth(); x++) {
                values[y * r.getWidth() + x] = (byte) r.getSample(x, y, 0);
            }
        }
        return values;
    }

    @Test
    public void anImageFileGivesEveryOutputAndItsScore() throws IOException {
        List<int[]> progress = new ArrayList<>();
        ApplyOptions options = ApplyOptions.builder()
                .blend(ApplyOptions.Blend.GAUSSIAN)
                .probabilities(ApplyOptions.Probabilities.FLOAT32)
                .overlayAlpha(200)
                .pixelSize(0.5, 0.5, "µm")
                .truthMask(nucleiMask())
                .progressListener((done, total) -> progress.add(new int[] {done, total}))
                .build();
        ApplyResult result = predictor.apply(nucleiImage(), out("file"), options);

        for (String file : new String[] {"class_map.png", "overlay.png", "probabilities.tif", "measurements.json",
                "measurements.csv"}) {
            assertTrue(file, result.files().contains(out("file").resolve(file)));
            assertTrue(file, Files.size(out("file").resolve(file)) > 0);
        }
        assertEquals(512 * 512, result.totalPixels());
        assertEquals(2, result.classes().size());
        assertEquals("Nucleus", result.classes().get(1).name());
        assertEquals(1, result.classes().get(1).index());
        assertEquals(1.0, result.classes().get(0).fraction() + result.classes().get(1).fraction(), 1e-9);
        assertEquals(result.totalPixels(), result.classes().get(0).pixels() + result.classes().get(1).pixels());
        assertEquals("µm^2", result.areaUnit().get());
        assertEquals(result.classes().get(1).pixels() * 0.25, result.classes().get(1).area().getAsDouble(), 1e-6);
        ApplyResult.Agreement agreement = result.agreement().get();
        assertTrue(agreement.pixelAccuracy() >= 0 && agreement.pixelAccuracy() <= 1);
        assertEquals(2, agreement.perClassIoU().length);
        assertTrue(agreement.meanIoU() >= 0 && agreement.meanIoU() <= 1);
        assertTrue(result.seconds() > 0);
        assertTrue(result.toString().contains("tiles"));

        int[] last = progress.get(progress.size() - 1);
        assertArrayEquals(new int[] {result.tiles(), result.tiles()}, last);
        assertTrue(progress.get(0)[0] < result.tiles());
    }

    @Test
    public void aJavaReaderGivesTheSameResultAsTheFile() throws IOException {
        ApplyOptions options = ApplyOptions.builder().tileSize(128).overlap(32).batchSize(3).noOverlay()
                .measurements(false).build();
        ApplyResult fromFile = predictor.apply(nucleiImage(), out("file"), options);
        ImageReader reader = new ImageReader();
        ApplyResult fromReader = predictor.apply(reader, out("reader"), options);

        assertEquals(Arrays.asList(out("reader").resolve("class_map.png")), fromReader.files());
        assertArrayEquals(pixels(out("file").resolve("class_map.png")), pixels(out("reader").resolve("class_map.png")));
        assertEquals(fromFile.classes().get(1).pixels(), fromReader.classes().get(1).pixels());
        assertEquals(fromFile.tiles(), fromReader.tiles());
        assertFalse(fromReader.agreement().isPresent());
        assertFalse(fromReader.areaUnit().isPresent());
        assertFalse(fromReader.classes().get(0).area().isPresent());
        for (int[] r : reader.reads) {
            assertTrue("regions lie inside the image", r[0] >= 0 && r[1] >= 0 && r[0] + r[2] <= 512 && r[1] + r[3] <= 512);
        }
    }

    /** The nuclei image as the second of three named channels; the others hold noise. */
    static class NamedReader extends ImageReader {
        private final String[] names;

        NamedReader(String... names) {
            this.names = names;
        }

        @Override
        public int channels() {
            return 3;
        }

        @Override
        public String[] channelNames() {
            return names;
        }

        @Override
        public void read(int x, int y, int w, int h, FloatBuffer dest) {
            for (int c = 0; c < 3; c++) {
                for (int row = 0; row < h; row++) {
                    for (int col = 0; col < w; col++) {
                        float dapi = image.getSample(x + col, y + row, 0);
                        dest.put((c * h + row) * w + col, c == 1 ? dapi : (x + col) * 37 % 1000 + c);
                    }
                }
            }
        }
    }

    @Test
    public void aReaderThatNamesItsChannelsGivesTheModelItsChannelByName() throws IOException {
        ApplyOptions options = ApplyOptions.builder().tileSize(128).overlap(32).noOverlay().measurements(false).build();
        predictor.apply(nucleiImage(), out("file"), options);
        // The model was trained on "DAPI"; case does not matter when nothing matches exactly.
        predictor.apply(new NamedReader("CD3", "dapi", "CK"), out("named"), options);
        assertArrayEquals(pixels(out("file").resolve("class_map.png")), pixels(out("named").resolve("class_map.png")));

        expectIllegalArgument("the model needs channel(s) 'DAPI' that the image does not have; its channels are 'CD3', 'CK', 'CD8'",
                () -> predictor.apply(new NamedReader("CD3", "CK", "CD8"), out("missing"), options));
        assertFalse("nothing written", Files.exists(out("missing")));
        expectIllegalArgument("2 channel names for 3 channels",
                () -> predictor.apply(new NamedReader("CD3", "DAPI"), out("short"), options));
        // Without names, the channel count decides, as before.
        expectIllegalArgument("input channels", () -> predictor.apply(new NamedReader((String[]) null), out("x"), options));
    }

    @Test
    public void theOverlayShowsTheImageUnlessOnlyTheClassesAreAskedFor() throws IOException {
        ApplyOptions.Builder options = ApplyOptions.builder().tileSize(128).overlap(32).classMap(false).measurements(false);
        predictor.apply(nucleiImage(), out("blend"), options.build());
        Raster blended = ImageIO.read(out("blend").resolve("overlay.png").toFile()).getRaster();
        assertEquals(3, blended.getNumBands());
        predictor.apply(nucleiImage(), out("classes"), options.overlay(ApplyOptions.Overlay.CLASSES).build());
        assertEquals(4, ImageIO.read(out("classes").resolve("overlay.png").toFile()).getRaster().getNumBands());

        // A display range that puts the whole image below black: Background (hidden) shows the black
        // image, Nucleus its colour at the overlay alpha over black.
        predictor.apply(nucleiImage(), out("dark"), options.overlay(ApplyOptions.Overlay.BLEND).classMap(true)
                .displayRange(new double[] {70000, 80000}).build());
        Raster dark = ImageIO.read(out("dark").resolve("overlay.png").toFile()).getRaster();
        byte[] labels = pixels(out("dark").resolve("class_map.png"));
        int nuclei = 0;
        for (int y = 0; y < dark.getHeight(); y++) {
            for (int x = 0; x < dark.getWidth(); x++) {
                int sum = dark.getSample(x, y, 0) + dark.getSample(x, y, 1) + dark.getSample(x, y, 2);
                boolean nucleus = labels[y * dark.getWidth() + x] == 1;
                assertEquals("pixel " + x + ", " + y, nucleus, sum > 0);
                nuclei += nucleus ? 1 : 0;
            }
        }
        assertTrue(nuclei > 0);
        expectIllegalArgument("2 display ranges given for an image of 1 channels", () -> predictor.apply(nucleiImage(), out("x"),
                ApplyOptions.builder().displayRange(new double[] {0, 1}, new double[] {0, 1}).build()));
        expectIllegalArgument("display range of channel 0", () -> ApplyOptions.builder().displayRange(new double[] {2, 1}));
    }

    @Test
    public void anExceptionFromTheReaderReachesTheCallerUnchanged() throws IOException {
        RuntimeException boom = new IllegalStateException("slide server went away");
        ImageReader failing = new ImageReader() {
            @Override
            public void read(int x, int y, int w, int h, FloatBuffer dest) {
                if (!reads.isEmpty()) {
                    throw boom;
                }
                super.read(x, y, w, h, dest);
            }
        };
        try {
            predictor.apply(failing, out("failing"), ApplyOptions.builder().tileSize(128).build());
            fail("the reader's exception was lost");
        } catch (IllegalStateException e) {
            assertSame(boom, e);
        }
        assertEquals(1, failing.reads.size());
        assertFalse("no partial class map", Files.exists(out("failing").resolve("class_map.png")));
        // The predictor is still fine afterwards.
        predictor.apply(new ImageReader(), out("after"), ApplyOptions.builder().noOverlay().build());
    }

    @Test
    public void aReaderThatLeavesValuesUnwrittenEndsTheRun() throws IOException {
        ImageReader halfReader = new ImageReader() {
            @Override
            public void read(int x, int y, int w, int h, FloatBuffer dest) {
                reads.add(new int[] {x, y, w, h});
                // Only the first half of the region: as a reader with an off-by-half row count would.
                for (int i = 0; i < dest.remaining() / 2; i++) {
                    dest.put(i, image.getSample(x + i % w, y + i / w, 0));
                }
            }
        };
        Path outDir = out("half");
        try {
            predictor.apply(halfReader, outDir, ApplyOptions.builder().tileSize(128)
                    .probabilities(ApplyOptions.Probabilities.UINT8).build());
            fail("a region with unwritten values was predicted");
        } catch (IllegalStateException e) {
            int[] r = halfReader.reads.get(0);
            int values = r[2] * r[3];
            String expected = "RegionReader.read(x=" + r[0] + ", y=" + r[1] + ", w=" + r[2] + ", h=" + r[3]
                    + ") left " + (values - values / 2) + " of " + values + " values unwritten (first at index "
                    + values / 2 + ": channel 0, row " + values / 2 / r[2] + ", column " + values / 2 % r[2] + ")";
            assertEquals(expected, e.getMessage());
        }
        assertEquals("the run ended at the first region", 1, halfReader.reads.size());
        if (Files.exists(outDir)) {
            try (Stream<Path> files = Files.list(outDir)) {
                assertEquals("no result files", Collections.emptyList(), files.collect(Collectors.toList()));
            }
        }
    }

    @Test
    public void nanPixelsAreRefusedWithTheirPlaceUnlessReadAsZero() throws IOException {
        // NaNs next to the unwritten marker are values, not unwritten: the engine sees them.
        float[] nans = {Float.NaN, Float.intBitsToFloat(0x7fc0deae), Float.intBitsToFloat(0xffc0dead)};
        ImageReader nanReader = new ImageReader() {
            @Override
            public void read(int x, int y, int w, int h, FloatBuffer dest) {
                super.read(x, y, w, h, dest);
                for (int i = 0; i < nans.length; i++) {
                    dest.put(i, nans[i]);
                }
            }
        };
        ApplyOptions options = ApplyOptions.builder().noOverlay().measurements(false).build();
        Path refused = out("nan");
        try {
            predictor.apply(nanReader, refused, options);
            fail("NaN pixels were accepted");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("the image holds 3 non-finite values (NaN or infinity), the first at x=0, y=0, channel 0"));
            assertTrue(e.getMessage(), e.getMessage().contains("non_finite"));
        }
        assertFalse("nothing is written", Files.exists(refused) && Files.list(refused).findAny().isPresent());
        PredictorOptions zero = PredictorOptions.builder().device("cpu").threads(2).nonFinite(PredictorOptions.NonFinite.ZERO).build();
        try (Predictor lenient = Predictor.open(nucleiModel(), zero)) {
            ApplyResult result = lenient.apply(nanReader, out("nan-zero"), options);
            assertTrue(Files.exists(result.files().get(0)));
        }
    }

    @Test
    public void aListenerCancelsByThrowing() throws IOException {
        CancellationException stop = new CancellationException("user pressed stop");
        List<Integer> seen = new ArrayList<>();
        ApplyOptions options = ApplyOptions.builder().tileSize(128).batchSize(1).progressListener((done, total) -> {
            seen.add(done);
            if (done == 2) {
                throw stop;
            }
        }).build();
        try {
            predictor.apply(nucleiImage(), out("cancelled"), options);
            fail("not cancelled");
        } catch (CancellationException e) {
            assertSame(stop, e);
        }
        assertEquals(Arrays.asList(1, 2), seen);
    }

    @Test
    public void badImagesAndOptionsRaiseTypedExceptions() throws IOException {
        try {
            predictor.apply(out("missing.tif"), out("x"), ApplyOptions.defaults());
            fail("read a missing image");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("missing.tif"));
        }
        ImageReader rgb = new ImageReader() {
            @Override
            public int channels() {
                return 3;
            }
        };
        expectIllegalArgument("input channels", () -> predictor.apply(rgb, out("x"), ApplyOptions.defaults()));
        expectIllegalArgument("overlap", () -> predictor.apply(nucleiImage(), out("x"),
                ApplyOptions.builder().tileSize(128).overlap(128).build()));
        expectIllegalArgument("batch_size must be from 1 to 4096, got 0", () -> predictor.apply(nucleiImage(), out("x"),
                ApplyOptions.builder().batchSize(0).build()));
        expectIllegalArgument("truth mask", () -> predictor.apply(nucleiImage(), out("x"),
                ApplyOptions.builder().truthMask(TrainingFixtures.nuclei().resolve("validation/masks")
                        .resolve(firstFile(TrainingFixtures.nuclei().resolve("validation/masks")))).build()));
        expectIllegalArgument("alpha", () -> ApplyOptions.builder().overlayAlpha(300));
    }

    @Test
    public void aDownsampleRunsTheModelCoarserAndEveryResultStaysAtFullResolution() throws IOException {
        ImageReader calibrated = new ImageReader() {
            @Override
            public double pixelSizeMicrons() {
                return 0.5;
            }
        };
        ApplyOptions.Builder options = ApplyOptions.builder().tileSize(128).overlap(32).noOverlay().truthMask(nucleiMask());
        // The model records no pixel size and downsample 1: it runs at full resolution.
        ApplyResult full = predictor.apply(calibrated, out("full"), options.build());
        assertEquals(1.0, full.downsample(), 0);
        assertEquals("the reader's pixel size calibrates areas", "µm^2", full.areaUnit().get());
        for (double downsample : new double[] {2, 4}) {
            Path dir = out("downsample-" + (int) downsample);
            ApplyResult result = predictor.apply(calibrated, dir, options.downsample(downsample).build());
            assertEquals(downsample, result.downsample(), 0);
            assertEquals(512 * 512, result.totalPixels());
            Raster classMap = ImageIO.read(dir.resolve("class_map.png").toFile()).getRaster();
            assertEquals(512, classMap.getWidth());
            assertEquals(512, classMap.getHeight());
            assertTrue("fewer tiles at lower resolution", result.tiles() < full.tiles());
            // Scored against the full-resolution truth mask (a model trained at full
            // resolution does worse downsampled: only the shapes are checked here).
            assertTrue(result.toString(), result.agreement().isPresent());
            for (int[] r : calibrated.reads) {
                assertTrue("regions lie inside the full-resolution image", r[0] >= 0 && r[1] >= 0 && r[0] + r[2] <= 512 && r[1] + r[3] <= 512);
            }
        }
        expectIllegalArgument("downsample must be a positive number, got 0", () -> predictor.apply(calibrated, out("x"),
                ApplyOptions.builder().downsample(0).build()));
        expectIllegalArgument("leaves the width of 512 pixels smaller than one pixel", () -> predictor.apply(calibrated, out("x"),
                ApplyOptions.builder().downsample(1000).build()));
        assertTrue(ApplyOptions.builder().downsample(2).build().toString().contains("\"downsample\":2"));
    }

    @Test
    public void everyBlendAndProbabilityTypeReachesTheEngine() throws IOException {
        ImageReader corner = new ImageReader() {
            @Override
            public int width() {
                return 96;
            }

            @Override
            public int height() {
                return 80;
            }
        };
        assertTrue(ApplyOptions.defaults().toString().contains("\"blend\":\"linear\""));
        for (ApplyOptions.Blend blend : ApplyOptions.Blend.values()) {
            ApplyOptions options = ApplyOptions.builder().tileSize(64).overlap(32).blend(blend).tta(blend == ApplyOptions.Blend.NONE)
                    .probabilities(ApplyOptions.Probabilities.UINT8).classMap(false).noOverlay().measurements(false).build();
            ApplyResult result = predictor.apply(corner, out(blend.name()), options);
            assertEquals(Arrays.asList(out(blend.name()).resolve("probabilities.tif")), result.files());
            assertEquals(96 * 80, result.totalPixels());
        }
    }

    private static String firstFile(Path dir) throws IOException {
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            return files.findFirst().get().getFileName().toString();
        }
    }
}
