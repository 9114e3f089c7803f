package org.dlclassifier;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.dlclassifier.Augmentation.IntensityMode;
import org.junit.Test;

/** The training plan on the bundled data: what the engine chooses, and why; no training. */
public class TrainingPlanTest {
    private static Optional<TrainingPlan.Choice> choice(TrainingPlan plan, String setting) {
        return plan.choices().stream().filter(c -> c.setting().equals(setting)).findFirst();
    }

    @Test
    public void openSettingsAreChosenFromTheData() throws IOException {
        TrainingPlan plan = Trainer.plan(TrainingFixtures.nuclei(), TrainingConfig.builder().build());
        TrainingConfig c = plan.config();
        // Three 256x256 training images: tiles of their side, and 3 crops cover
        // them, fewer than the 4 batches of 4 an epoch has at least.
        assertEquals(OptionalInt.of(256), c.tileSize());
        assertEquals(OptionalInt.of(16), c.samplesPerEpoch());
        assertEquals(4, plan.stepsPerEpoch());
        assertEquals("16-bit DAPI", IntensityMode.FLUORESCENCE, c.augmentation().intensityMode());
        assertEquals(4, c.batchSize());

        List<String> chosen = new ArrayList<>();
        for (TrainingPlan.Choice choice : plan.choices()) {
            assertFalse(choice.toString(), choice.reason().isEmpty());
            if (choice.chosen()) {
                chosen.add(choice.setting());
            }
        }
        assertEquals(Arrays.asList("tile_size", "samples_per_epoch", "steps_per_epoch", "augmentation.intensity_mode"), chosen);
        TrainingPlan.Choice tile = choice(plan, "tile_size").get();
        assertEquals("256", tile.value());
        assertTrue(tile.toString(), tile.toString().startsWith("tile_size = 256 (chosen): the smallest training image side"));
        assertEquals("fluorescence", choice(plan, "augmentation.intensity_mode").get().value());
        assertFalse(choice(plan, "early_stopping").get().chosen());
        assertTrue(plan.toString(), plan.toString().contains("4 steps per epoch"));

        // A resolved plan resolves to itself: training from a model's settings chooses alike.
        TrainingPlan again = Trainer.plan(TrainingFixtures.nuclei(), c);
        assertEquals(c, again.config());
        assertEquals(plan.stepsPerEpoch(), again.stepsPerEpoch());
        assertFalse(choice(again, "tile_size").get().chosen());
        assertEquals(plan, Trainer.plan(TrainingFixtures.nuclei(), TrainingConfig.builder().build()));
        assertEquals(plan.hashCode(), Trainer.plan(TrainingFixtures.nuclei(), TrainingConfig.builder().build()).hashCode());
        assertNotEquals(plan, again);
    }

    @Test
    public void eightBitRgbDataIsBrightfield() throws IOException {
        TrainingPlan plan = Trainer.plan(TrainingFixtures.data("ihc-dab"), TrainingConfig.builder().build());
        assertEquals(IntensityMode.BRIGHTFIELD, plan.config().augmentation().intensityMode());
        assertEquals("brightfield", choice(plan, "augmentation.intensity_mode").get().value());
    }

    @Test
    public void givenSettingsAreKept() throws IOException {
        Augmentation none = Augmentation.builder().intensityMode(IntensityMode.NONE).build();
        TrainingConfig given = TrainingConfig.builder().tileSize(96).samplesPerEpoch(6).batchSize(2)
                .augmentation(none).build();
        TrainingPlan plan = Trainer.plan(TrainingFixtures.nuclei(), given);
        assertEquals(OptionalInt.of(96), plan.config().tileSize());
        assertEquals(OptionalInt.of(6), plan.config().samplesPerEpoch());
        assertEquals("6 crops in batches of 2", 3, plan.stepsPerEpoch());
        assertEquals(IntensityMode.NONE, plan.config().augmentation().intensityMode());
        assertEquals(given, plan.config());
        TrainingPlan.Choice tile = choice(plan, "tile_size").get();
        assertEquals("96", tile.value());
        assertFalse(tile.chosen());
        assertFalse(choice(plan, "samples_per_epoch").get().chosen());
        assertFalse("nothing left to choose", choice(plan, "augmentation.intensity_mode").isPresent());
    }

    @Test
    public void settingsThatCannotWorkOnTheDataAreIllegalArguments() throws IOException {
        TrainingConfig brightfield = TrainingConfig.builder()
                .augmentation(Augmentation.builder().intensityMode(IntensityMode.BRIGHTFIELD).build()).build();
        try {
            Trainer.plan(TrainingFixtures.nuclei(), brightfield);
            fail("one-channel images are not brightfield");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("brightfield intensity mode needs RGB images"));
        }
    }

    @Test
    public void aMissingDataFolderIsAnIOException() {
        try {
            Trainer.plan(Paths.get("no/such/data"), TrainingConfig.builder().build());
            fail();
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no/such/data"));
        }
    }
}
