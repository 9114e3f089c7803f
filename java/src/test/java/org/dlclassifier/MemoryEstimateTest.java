package org.dlclassifier;

import static org.dlclassifier.PredictorTest.expectIllegalArgument;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

/** Memory estimates of training runs, through JNI. */
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
    public void impossibleBudgetsAreBadArguments() {
        expectIllegalArgument("even batch 1 needs", () -> MemoryEstimate.suggestBatch(CONFIG, 3, 2, 1000));
        expectIllegalArgument("must be positive", () -> MemoryEstimate.suggestBatch(CONFIG, 3, 2, 0));
    }
}
