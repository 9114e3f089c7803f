package org.dlclassifier;

import static org.dlclassifier.InferenceFixtures.direct;
import static org.dlclassifier.InferenceFixtures.nucleiImage;
import static org.dlclassifier.InferenceFixtures.nucleiModel;
import static org.dlclassifier.PredictorTest.expectIllegalArgument;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Input a hostile or careless caller may pass: sizes that imply huge
 * allocations, values out of range, NaN pixels and model folders whose
 * metadata contradicts itself. Each gets a typed exception naming the value
 * and the limit, the JVM survives, and nothing is written.
 */
public class HostileInputTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static Predictor predictor;

    @BeforeClass
    public static void open() throws IOException {
        predictor = Predictor.open(nucleiModel(), PredictorOptions.builder().device("cpu").threads(2).build());
    }

    @AfterClass
    public static void close() {
        predictor.close();
    }

    @Test
    public void aReaderOfAHugeImageIsOutOfMemoryBeforeAnythingIsReadOrWritten() throws IOException {
        RegionReader huge = new RegionReader() {
            @Override
            public int width() {
                return Integer.MAX_VALUE;
            }

            @Override
            public int height() {
                return Integer.MAX_VALUE;
            }

            @Override
            public int channels() {
                return 1;
            }

            @Override
            public void read(int x, int y, int w, int h, FloatBuffer dest) {
                fail("no region of a too-large image is read");
            }
        };
        Path out = tmp.getRoot().toPath().resolve("huge");
        try {
            predictor.apply(huge, out, ApplyOptions.defaults());
            fail("a 2147483647 x 2147483647 image was accepted");
        } catch (DlcOutOfMemoryException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("tiling a 2147483647x2147483647 image in 256x256 tiles needs"));
        }
        assertFalse("nothing is written", Files.exists(out));
    }

    @Test
    public void tileAndBatchSizesOutOfRangeAreRefusedAlikeByApplyAndTraining() {
        Path out = tmp.getRoot().toPath().resolve("refused");
        expectIllegalArgument("tile_size must be a positive multiple of 32 up to 8192, got 1048576",
            () -> predictor.apply(nucleiImage(), out, ApplyOptions.builder().tileSize(1 << 20).build()));
        expectIllegalArgument("tile_size must be a positive multiple of 32 up to 8192, got 100",
            () -> predictor.apply(nucleiImage(), out, ApplyOptions.builder().tileSize(100).build()));
        expectIllegalArgument("batch_size must be from 1 to 4096, got 1000000",
            () -> predictor.apply(nucleiImage(), out, ApplyOptions.builder().batchSize(1_000_000).build()));
        assertFalse("nothing is written", Files.exists(out));
        expectIllegalArgument("tile_size must be a positive multiple of 32 up to 8192, got 1048576",
            () -> TrainingConfig.builder().tileSize(1 << 20).build());
        expectIllegalArgument("tile_size must be a positive multiple of 32 up to 8192, got 100",
            () -> TrainingConfig.builder().tileSize(100).build());
        expectIllegalArgument("samples_per_epoch must be from 1 to 16777216, got 2147483647",
            () -> TrainingConfig.builder().samplesPerEpoch(Integer.MAX_VALUE).build());
        expectIllegalArgument("samples_per_epoch must be from 1 to 16777216, got 0",
            () -> TrainingConfig.builder().samplesPerEpoch(0).build());
        expectIllegalArgument("max_bytes must not be negative, got -1", () -> ModelBundle.verify(out, -1));
    }

    @Test
    public void nanTilesAreRefusedWithThePlaceOfTheFirst() {
        int side = 64;
        TileLayout layout = TileLayout.of(1, 1, side, side, TileLayout.Order.HWC, TileLayout.Dtype.F32);
        ByteBuffer tiles = direct(side * side * 4);
        tiles.putFloat(4 * (2 * side + 5), Float.NaN).putFloat(4 * (3 * side), Float.POSITIVE_INFINITY);
        ByteBuffer probabilities = direct((int) layout.probabilityBytes(2));
        probabilities.put(0, (byte) 7);
        expectIllegalArgument("the tiles holds 2 non-finite values (NaN or infinity), the first at tile 0, channel 0, row 2, column 5",
            () -> predictor.predict(tiles, layout, probabilities));
        assertTrue("nothing is written", probabilities.get(0) == 7);
    }

    @Test
    public void metadataThatContradictsItselfIsRefusedNamingTheField() throws IOException {
        Path copy = tmp.newFolder("contradicting").toPath();
        String metadata = new String(Files.readAllBytes(nucleiModel().resolve("metadata.json")), StandardCharsets.UTF_8);
        String noClasses = metadata.replaceFirst("\"classes\": \\[[^\\]]*\\]", "\"classes\": []");
        assertTrue("the class list was replaced", !noClasses.equals(metadata));
        Files.write(copy.resolve("metadata.json"), noClasses.getBytes(StandardCharsets.UTF_8));
        try {
            Predictor.open(copy).close();
            fail("a model folder without classes opened");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("invalid metadata: classes lists 0 classes, needs 1 to architecture.num_classes (2)"));
        }
    }
}
