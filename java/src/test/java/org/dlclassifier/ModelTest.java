package org.dlclassifier;

import static org.dlclassifier.InferenceFixtures.nucleiModel;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.dlclassifier.internal.Json;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** Reading a model folder without loading it. */
public class ModelTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void aTrainedFolderDescribesItself() throws IOException {
        Model model = Model.open(nucleiModel());
        assertEquals(nucleiModel(), model.directory());
        assertEquals("nuclei", model.name());
        assertFalse(model.id().isEmpty());
        assertTrue(model.created(), model.created().matches("\\d{4}-\\d\\d-\\d\\dT.*"));
        assertEquals("0.1.0", model.libraryVersion());
        assertEquals("unet", model.architecture());
        assertEquals("resnet18", model.encoder());
        assertEquals(1, model.inChannels());
        assertEquals(2, model.numClasses());
        assertEquals("Nucleus", model.classes().get(1).name());
        assertEquals(Arrays.asList("DAPI"), model.channelNames());
        assertEquals(16, model.bitDepth().getAsInt());
        assertEquals(64, model.tileSize());
        assertEquals(1.0, model.downsample(), 0);
        assertFalse("trained on uncalibrated images", model.trainingPixelSizeMicrons().isPresent());
        assertEquals(TrainingResult.Status.COMPLETED, model.status());
        assertEquals(1, model.epochsTrained());
        assertTrue(model.trainedOn(), model.trainedOn().startsWith("cpu"));
        assertEquals(1, model.bestEpoch().get().epoch());
        assertEquals(1, model.history().size());
        assertEquals(model.bestEpoch().get().meanIoU(), model.history().get(0).meanIoU(), 0);
        assertEquals("resnet18", model.trainingConfig().encoder());
        assertEquals(64, model.trainingConfig().tileSize().getAsInt());
        assertEquals("resolved by the training plan", Augmentation.IntensityMode.FLUORESCENCE,
                model.trainingConfig().augmentation().intensityMode());
        assertEquals("nuclei", Json.parseObject(model.metadataJson()).get("name"));
        assertTrue(model.toString().contains("unet/resnet18"));

        Model.Normalization n = model.normalization();
        assertEquals(Normalization.Strategy.PERCENTILE_99, n.strategy());
        assertEquals(1, n.channels());
        assertEquals(99.0, n.clipPercentile(), 0);
        assertFalse(n.fixedMin().isPresent() || n.fixedMax().isPresent());
        // One channel: one statistic group, per channel or not.
        int groups = 1;
        for (double[] stat : new double[][] {n.min(), n.max(), n.mean(), n.std(), n.percentileLow(), n.percentileHigh()}) {
            assertEquals(groups, stat.length);
        }
        assertTrue(n.min()[0] <= n.percentileLow()[0] && n.percentileLow()[0] < n.percentileHigh()[0]
                && n.percentileHigh()[0] <= n.max()[0]);
        assertTrue(n.toString().contains("percentile_99"));
    }

    @Test
    public void aFolderWithoutHistoryHasAnEmptyOne() throws IOException {
        Path copy = tmp.newFolder("copy").toPath();
        Files.copy(nucleiModel().resolve("metadata.json"), copy.resolve("metadata.json"));
        assertTrue(Model.open(copy).history().isEmpty());
    }

    @Test
    public void theTrainingSettingsAreExactlyThoseOfTheMetadata() throws IOException {
        // A trained model's metadata with a seed no double holds.
        Path copy = tmp.newFolder("seed").toPath();
        String metadata = new String(Files.readAllBytes(nucleiModel().resolve("metadata.json")), StandardCharsets.UTF_8);
        String edited = metadata.replaceFirst("\"seed\":\\s*\\d+", "\"seed\": " + Long.MAX_VALUE);
        assertNotEquals("the metadata has a seed", metadata, edited);
        Files.write(copy.resolve("metadata.json"), edited.getBytes(StandardCharsets.UTF_8));
        Model model = Model.open(copy);
        assertEquals(Long.MAX_VALUE, model.trainingConfig().seed());
        assertEquals(TrainingConfig.fromModel(copy), model.trainingConfig());
        assertTrue(model.metadataJson().contains("\"seed\":" + Long.MAX_VALUE));
    }

    @Test
    public void foldersThatAreNoModelsAreIoErrors() throws IOException {
        try {
            Model.open(tmp.getRoot().toPath());
            fail("read a folder without metadata");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("not a model folder"));
        }
        Files.write(tmp.getRoot().toPath().resolve("metadata.json"), "{\"name\": 1}".getBytes("UTF-8"));
        try {
            Model.open(tmp.getRoot().toPath());
            fail("read invalid metadata");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("metadata.json"));
        }
    }
}
