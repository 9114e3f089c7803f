package org.dlclassifier;

import static org.dlclassifier.InferenceFixtures.nucleiModel;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ModelRegistryTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void listsAndValidatesATrainedModel() throws IOException {
        Path model = nucleiModel();
        List<ModelRegistry.ModelSummary> models = ModelRegistry.list(model.getParent());
        assertEquals(1, models.size());
        ModelRegistry.ModelSummary summary = models.get(0);
        assertEquals(model, summary.path());
        assertEquals(List.of("Background", "Nucleus"), summary.classes());
        assertEquals(1, summary.channels());
        assertEquals(64, summary.tileSize());
        assertTrue(summary.meanIou() != null);
        assertTrue(ModelRegistry.validate(model).problems().toString(), ModelRegistry.validate(model).isValid());
    }

    @Test
    public void aBrokenModelReportsEveryProblem() throws IOException {
        Path broken = tmp.newFolder("broken").toPath();
        Files.copy(nucleiModel().resolve("metadata.json"), broken.resolve("metadata.json"));
        Files.write(broken.resolve("model.onnx"), new byte[] {1, 2, 3});
        ModelRegistry.ValidationReport report = ModelRegistry.validate(broken);
        assertFalse(report.isValid());
        assertEquals(1, report.problems().size());
        assertTrue(report.problems().get(0), report.problems().get(0).startsWith("model.onnx: cannot be loaded"));
        assertFalse(ModelRegistry.validate(tmp.getRoot().toPath().resolve("missing")).isValid());
    }

    @Test(expected = IOException.class)
    public void listingAMissingFolderThrows() throws IOException {
        ModelRegistry.list(tmp.getRoot().toPath().resolve("missing"));
    }
}
