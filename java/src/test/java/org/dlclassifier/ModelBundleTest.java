package org.dlclassifier;

import static org.dlclassifier.InferenceFixtures.nucleiModel;
import static org.dlclassifier.InferenceFixtures.randomBytes;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ModelBundleTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static final TileLayout LAYOUT = TileLayout.of(1, 1, 64, 64, TileLayout.Order.HWC, TileLayout.Dtype.U8);

    /** The nuclei model's bundle, packed once: compressing its three model files takes seconds. */
    private static Path sharedBundle;
    private static ModelBundle.Manifest sharedManifest;

    private static synchronized Path sharedBundle() throws IOException {
        if (sharedBundle == null) {
            Path root = Files.createTempDirectory("dlc-bundle-test");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> InferenceFixtures.delete(root)));
            Path zip = root.resolve("nuclei.zip");
            sharedManifest = ModelBundle.pack(List.of(nucleiModel()), zip, "nuclei", "1.2", "DAPI nuclei");
            sharedBundle = zip;
        }
        return sharedBundle;
    }

    /** This test's own copy of the packed bundle, which it may change. */
    private Path bundle(String name) throws IOException {
        return Files.copy(sharedBundle(), tmp.getRoot().toPath().resolve(name), StandardCopyOption.COPY_ATTRIBUTES);
    }

    private static float[] predict(Path model, byte[] tile) throws IOException {
        try (Predictor p = Predictor.open(model, PredictorOptions.builder().device("cpu").threads(2).build())) {
            return p.predict(tile, LAYOUT);
        }
    }

    @Test
    public void aBundleRoundTripsAndPredictsAsTheOriginal() throws IOException {
        Path zip = bundle("nuclei.zip");
        ModelBundle.Manifest packed = sharedManifest;
        assertEquals(List.of("nuclei"), packed.models());
        ModelBundle.Manifest verified = ModelBundle.verify(zip);
        assertEquals("1.2", verified.version());
        assertEquals("DAPI nuclei", verified.description());
        assertEquals(packed.created(), verified.created());

        Path opened = ModelBundle.open(zip, null);
        assertEquals(opened, ModelBundle.open(zip, "nuclei"));
        byte[] tile = randomBytes(64 * 64, 3);
        assertArrayEquals(predict(nucleiModel(), tile), predict(opened, tile), 0f);

        Path unpacked = tmp.getRoot().toPath().resolve("unpacked");
        assertEquals("nuclei", ModelBundle.unpack(zip, unpacked).name());
        assertTrue(ModelRegistry.validate(unpacked.resolve("nuclei")).isValid());
        try {
            ModelBundle.open(zip, "other");
            fail();
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no model 'other'"));
        }
    }

    @Test
    public void aChangedBundleIsRefusedWithTheReason() throws IOException {
        Path zip = bundle("nuclei.zip");
        byte[] bytes = Files.readAllBytes(zip);
        bytes[bytes.length / 2] ^= 0x55;
        Files.write(zip, bytes);
        try {
            ModelBundle.verify(zip);
            fail();
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("bundle refused"));
        }
    }

    @Test
    public void aBundleOverTheSizeLimitIsRefused() throws IOException {
        Path zip = bundle("limited.zip");
        try {
            ModelBundle.verify(zip, 1000);
            fail("accepted a bundle over its size limit");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("bundle refused"));
        }
        try {
            ModelBundle.unpack(zip, tmp.getRoot().toPath().resolve("limited"), 1000);
            fail("unpacked a bundle over its size limit");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("bundle refused"));
        }
        assertEquals("nuclei", ModelBundle.verify(zip, 0).name());
    }
}
