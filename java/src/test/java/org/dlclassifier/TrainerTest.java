package org.dlclassifier;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.dlclassifier.internal.Native;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** Real training on the bundled nuclei data, through JNI. */
public class TrainerTest {
    /** Long enough that a cancel lands inside an epoch (a few seconds each on 2 cores). */
    private static final int SLOW_SAMPLES = 100;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path out(String name) {
        return tmp.getRoot().toPath().resolve(name);
    }

    private static TrainingConfig slow() {
        return TrainingFixtures.quick().samplesPerEpoch(SLOW_SAMPLES).epochs(5).build();
    }

    @Test
    public void trainsAModelReportingEveryEpochAndItsSettingsCanBeReused() throws Exception {
        TrainingConfig config = TrainingFixtures.quick().build();
        Path dir = out("nuclei");
        List<EpochMetrics> seen = new ArrayList<>();
        TrainingResult result = Trainer.train(TrainingFixtures.nuclei(), dir, config, seen::add);

        for (String file : new String[] {"model.pt", "model.onnx", "model.safetensors", "metadata.json",
                "training_history.json"}) {
            assertTrue(file, Files.isRegularFile(dir.resolve(file)));
        }
        assertEquals(dir.toAbsolutePath(), result.modelDir());
        assertEquals(TrainingResult.Status.COMPLETED, result.status());
        assertFalse(result.cancelled());
        Model model = result.model();
        assertEquals("nuclei", model.name());
        assertEquals("Nucleus", model.classes().get(1).name());
        assertTrue(model.trainedOn(), model.trainedOn().startsWith("cpu"));
        assertTrue(result.toString().contains("COMPLETED"));

        assertEquals(2, seen.size());
        assertEquals(2, result.history().size());
        double elapsed = 0;
        for (int i = 0; i < seen.size(); i++) {
            EpochMetrics m = seen.get(i);
            EpochMetrics h = result.history().get(i);
            assertEquals(i + 1, m.epoch());
            assertEquals(2, m.totalEpochs());
            assertTrue(m.toString(), m.trainLoss() > 0 && Double.isFinite(m.trainLoss()));
            assertTrue(m.toString(), m.valLoss() > 0 && Double.isFinite(m.valLoss()));
            assertTrue(m.pixelAccuracy() >= 0 && m.pixelAccuracy() <= 1);
            assertTrue(m.meanIoU() >= 0 && m.meanIoU() <= 1);
            assertEquals(2, m.perClassIoU().length);
            assertTrue(m.learningRate() > 0);
            assertTrue(m.elapsedSeconds() > elapsed);
            elapsed = m.elapsedSeconds();
            assertTrue(m.bestEpoch() >= 1 && m.bestEpoch() <= m.epoch());
            assertEquals(m.isBest(), m.bestEpoch() == m.epoch());
            assertEquals(m.isBest() ? 0 : m.epoch() - m.bestEpoch(), m.epochsWithoutImprovement());
            // Without early stopping each epoch is judged alone.
            assertEquals(m.meanIoU(), m.smoothedScore(), 1e-12);
            assertEquals("the given crops per epoch", 4, m.samples());
            assertEquals("4 crops in batches of 2", 2, m.steps());
            assertEquals(m.samples(), h.samples());
            assertEquals(m.steps(), h.steps());
            assertEquals(m.smoothedScore(), h.smoothedScore(), 0);
            assertEquals(m.epoch(), h.epoch());
            assertEquals(m.meanIoU(), h.meanIoU(), 0);
            assertEquals(m.valLoss(), h.valLoss(), 0);
            assertArrayEquals(m.perClassIoU(), h.perClassIoU(), 0);
        }
        EpochMetrics best = result.bestEpoch();
        assertTrue(best.isBest());
        assertEquals(seen.get(1).bestEpoch(), best.epoch());
        assertEquals(best.meanIoU(), best.bestScore(), 0);

        // The run followed the plan, and its model records the settings as resolved.
        TrainingPlan plan = Trainer.plan(TrainingFixtures.nuclei(), config);
        assertEquals(plan.choices(), result.plan());
        TrainingPlan.Choice tile = result.plan().stream().filter(c -> c.setting().equals("tile_size")).findFirst().get();
        assertEquals("64", tile.value());
        assertFalse("given", tile.chosen());
        assertTrue(result.plan().stream().anyMatch(c -> c.setting().equals("augmentation.intensity_mode") && c.chosen()));
        TrainingConfig reused = TrainingConfig.fromModel(dir);
        assertEquals(plan.config(), reused);
        assertEquals(plan.config(), model.trainingConfig());
        assertEquals(Augmentation.IntensityMode.FLUORESCENCE, reused.augmentation().intensityMode());
        assertEquals(config, reused.toBuilder().augmentation(config.augmentation()).build());
        assertEquals(reused, TrainingConfig.fromJson(reused.toJson()));
        try {
            Trainer.train(TrainingFixtures.nuclei(), dir, reused, null);
            fail("the model folder exists");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("already exists"));
        }
    }

    @Test
    public void pauseHoldsTrainingBetweenEpochsAndResumeContinues() throws Exception {
        CountDownLatch first = new CountDownLatch(1);
        CountDownLatch second = new CountDownLatch(1);
        List<String> threads = new CopyOnWriteArrayList<>();
        TrainingJob[] holder = new TrainingJob[1];
        TrainingJob job = Trainer.start(TrainingFixtures.nuclei(), out("paused"), TrainingFixtures.quick().build(), m -> {
            threads.add(Thread.currentThread().getName());
            if (m.epoch() == 1) {
                holder[0].pause();
                first.countDown();
            } else {
                second.countDown();
            }
        });
        holder[0] = job;
        // A failing listener is logged; training and the other listeners go on.
        job.addListener(m -> {
            throw new IllegalStateException("listener bug");
        });
        List<Integer> late = new CopyOnWriteArrayList<>();
        job.addListener(m -> late.add(m.epoch()));

        assertTrue("epoch 1", first.await(60, TimeUnit.SECONDS));
        assertTrue(job.isPaused());
        assertFalse("epoch 2 started while paused", second.await(1, TimeUnit.SECONDS));
        assertFalse(job.future().isDone());
        job.resume();
        assertFalse(job.isPaused());
        TrainingResult result = job.await();
        assertEquals(0, second.getCount());
        assertEquals(2, result.history().size());
        assertEquals(TrainingResult.Status.COMPLETED, result.status());
        assertTrue(late.contains(2));
        assertTrue(threads.toString(), threads.get(0).startsWith("dlclassifier-training-"));
        // Once the run ended, steering does nothing.
        job.pause();
        assertFalse(job.isPaused());
        job.resume();
        job.cancel();
        job.close();
    }

    @Test
    public void cancelDuringAnEpochReturnsTheBestModelSoFarWithinTwoSeconds() throws Exception {
        CountDownLatch first = new CountDownLatch(1);
        Path dir = out("cancelled");
        TrainingJob job = Trainer.start(TrainingFixtures.nuclei(), dir, slow(), m -> first.countDown());
        assertTrue("epoch 1", first.await(120, TimeUnit.SECONDS));
        Thread.sleep(100);
        long start = System.nanoTime();
        job.cancel();
        TrainingResult result = job.future().get(30, TimeUnit.SECONDS);
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue("cancel took " + seconds + " s", seconds < 2);

        assertTrue(result.cancelled());
        assertEquals(TrainingResult.Status.CANCELLED, result.status());
        // Epoch 2 is under way at the cancel unless this machine is very fast.
        int epochs = result.history().size();
        assertTrue(String.valueOf(epochs), epochs >= 1 && epochs < 5);
        assertEquals(result.history().get(epochs - 1).bestEpoch(), result.bestEpoch().epoch());
        assertTrue(Files.isRegularFile(dir.resolve("model.onnx")));
        assertEquals(Trainer.plan(TrainingFixtures.nuclei(), slow()).config(), TrainingConfig.fromModel(dir));
        assertFalse("checkpoints are removed", Files.exists(out("cancelled.partial")));
    }

    @Test
    public void cancelBeforeTheFirstEpochIsACancellationAndWritesNothing() throws Exception {
        Path dir = out("none");
        TrainingJob job;
        try (TrainingJob closing = Trainer.start(TrainingFixtures.nuclei(), dir, slow())) {
            job = closing;
        }
        try {
            job.await();
            fail("expected a cancellation");
        } catch (CancellationException expected) {
            // No epoch finished, so there is no model to return.
        }
        assertTrue(job.future().isCancelled());
        assertFalse(Files.exists(dir));

        // Cancelling the future stops the run too: a pause asked for now
        // reads as unpaused once the run has ended and released its control.
        TrainingJob other = Trainer.start(TrainingFixtures.nuclei(), out("other"), slow());
        assertTrue(other.future().cancel(true));
        other.pause();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (other.isPaused() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertFalse("the run still goes on", other.isPaused());
        assertTrue(other.future().isCancelled());
    }

    /** Stands for a serious failure inside a listener. */
    private static final class ListenerError extends Error {
        private static final long serialVersionUID = 1L;

        ListenerError() {
            super("listener gave up");
        }
    }

    @Test
    public void anErrorInAListenerStopsTheRunAndReachesTheCaller() throws Exception {
        Path dir = out("stopped");
        try {
            Trainer.train(TrainingFixtures.nuclei(), dir, TrainingFixtures.quick().build(), m -> {
                throw new ListenerError();
            });
            fail();
        } catch (ListenerError expected) {
            // Thrown in Java, carried through the native run unchanged.
        }
        Model model = Model.open(dir);
        assertEquals(TrainingResult.Status.CANCELLED, model.status());
        assertEquals(1, model.history().size());
    }

    @Test
    public void unreadableDataFailsThroughTheFutureAsAnIOException() throws Exception {
        Path missing = Paths.get("no/such/data");
        TrainingJob job = Trainer.start(missing, out("m"), TrainingFixtures.quick().build());
        try {
            job.future().get(60, TimeUnit.SECONDS);
            fail();
        } catch (ExecutionException e) {
            assertTrue(String.valueOf(e.getCause()), e.getCause() instanceof IOException);
            assertTrue(e.getCause().getMessage(), e.getCause().getMessage().contains("no/such/data"));
        }
        try {
            job.await();
            fail();
        } catch (IOException e) {
            assertTrue(e.getMessage().contains("no/such/data"));
        }
    }

    @Test
    public void settingsThatDoNotFitTheDataAreIllegalArguments() throws Exception {
        TrainingConfig threeClasses = TrainingFixtures.quick().classWeightMultipliers(Arrays.asList(1.0, 1.0, 1.0)).build();
        try {
            Trainer.train(TrainingFixtures.nuclei(), out("m"), threeClasses, null);
            fail();
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("3 class weight multipliers given for 2 classes"));
        }
    }

    @Test
    public void missingPretrainedWeightsAreIllegalArgumentsBeforeAnythingIsWritten() throws Exception {
        Path weights = Files.createDirectories(out("weights"));
        TrainingConfig swav = TrainingFixtures.quick().encoder("resnet50").encoderWeights("lunit-swav").weightsDir(weights).build();
        assertEquals("lunit-swav", swav.encoderWeights().get());
        try {
            Trainer.train(TrainingFixtures.nuclei(), out("swav"), swav, null);
            fail();
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("resnet50_lunit-swav.safetensors") && e.getMessage().contains("nothing is downloaded"));
        }
        assertFalse("nothing written", Files.exists(out("swav")));
    }

    @Test
    public void anotherArchitectureTrainsThroughJava() throws Exception {
        Path dir = out("fpn");
        TrainingResult result = Trainer.train(TrainingFixtures.nuclei(), dir, TrainingFixtures.quick().architecture("fpn").build(), null);
        assertEquals(2, result.history().size());
        assertEquals("fpn", TrainingConfig.fromModel(dir).architecture());
    }

    @Test
    public void anUnknownJobHandleIsAnIllegalState() {
        try {
            Native.jobCancel(Long.MAX_VALUE);
            fail();
        } catch (IllegalStateException e) {
            assertEquals("this training job is closed", e.getMessage());
        }
    }
}
