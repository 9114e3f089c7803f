package org.dlclassifier;

import static org.dlclassifier.PredictorTest.expectIllegalArgument;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.Test;

/** Memory estimates of training and prediction, through JNI. */
public class MemoryEstimateTest {
    private static final TrainingConfig CONFIG =
            TrainingConfig.builder().encoder("resnet18").tileSize(128).batchSize(2).device("cpu").build();

    @Test
    public void estimatesAddUpAndTheSuggestedBatchFits() {
        MemoryEstimate e = MemoryEstimate.forTraining(CONFIG, 3, 2);
        assertEquals(2, e.batchSize());
        assertEquals(e.parameters() + e.gradients() + e.optimizer() + e.activations(), e.total());
        MemoryEstimate suggested = MemoryEstimate.suggestBatch(CONFIG, 3, 2, 1L << 30);
        assertTrue(suggested.toString(), suggested.batchSize() > 2 && suggested.total() <= 1L << 30);
    }

    @Test
    public void inferenceNeedsNoGradientsAndGrowsWithTheBatch() throws Exception {
        Path model = InferenceFixtures.nucleiModel();
        MemoryEstimate one = MemoryEstimate.forInference(model, 0, 1, false);
        MemoryEstimate four = MemoryEstimate.forInference(model, 0, 4, false);
        assertEquals(0, one.gradients());
        assertEquals(0, one.optimizer());
        assertTrue(four + " vs " + one, four.total() > one.total() && one.total() > one.parameters());
        try {
            MemoryEstimate.forInference(model.resolve("missing"), 0, 1, false);
            fail("estimated a folder that is no model");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("metadata.json is missing"));
        }
        expectIllegalArgument("batch size", () -> MemoryEstimate.forInference(model, 0, -1, false));
    }

    @Test
    public void reservationsWithoutASizeBookTheEstimate() {
        TrainingConfig c = CONFIG.toBuilder().gpuReservation(Duration.ofSeconds(5)).build();
        assertFalse(c.gpuReservationBytes().isPresent());
        assertEquals(Duration.ofSeconds(5), c.gpuReservationTimeout().get());
        PredictorOptions o = PredictorOptions.builder().gpuReservation(Duration.ofSeconds(5)).build();
        assertTrue(o.toJson(), o.toJson().contains("\"gpu_reservation\":{\"bytes\":null,\"timeout_ms\":5000}"));
    }

    @Test
    public void impossibleBudgetsAreBadArguments() {
        expectIllegalArgument("even batch 1 needs", () -> MemoryEstimate.suggestBatch(CONFIG, 3, 2, 1000));
        expectIllegalArgument("must be positive", () -> MemoryEstimate.suggestBatch(CONFIG, 3, 2, 0));
    }
}
