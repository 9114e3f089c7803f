package org.dlclassifier;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import org.dlclassifier.Augmentation.IntensityMode;
import org.dlclassifier.Normalization.Strategy;
import org.dlclassifier.TrainingConfig.Loss;
import org.dlclassifier.TrainingConfig.Monitor;
import org.junit.Test;

/** Settings through the engine's parser and checks; no training. */
public class TrainingConfigTest {
    private static Map<String, Double> map(Object... keysAndValues) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put((String) keysAndValues[i], ((Number) keysAndValues[i + 1]).doubleValue());
        }
        return m;
    }

    private static void assertInvalid(Runnable build, String expected) {
        try {
            build.run();
            fail("expected IllegalArgumentException containing " + expected);
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(expected));
        }
    }

    @Test
    public void defaultsAreTheEnginesAsDocumented() {
        TrainingConfig c = TrainingConfig.builder().build();
        assertEquals(Optional.empty(), c.name());
        assertEquals("unet", c.architecture());
        assertEquals("resnet34", c.encoder());
        assertEquals(Optional.empty(), c.initWeights());
        assertEquals("chosen from the data", OptionalInt.empty(), c.tileSize());
        assertEquals(1.0, c.downsample(), 0);
        assertEquals(4, c.batchSize());
        assertEquals(50, c.epochs());
        assertEquals(OptionalInt.empty(), c.samplesPerEpoch());
        assertEquals(1e-3, c.learningRate(), 0);
        assertEquals(1.0, c.encoderLrFactor(), 0);
        assertEquals(1e-4, c.weightDecay(), 0);
        assertEquals(Loss.CE_DICE, c.loss());
        assertTrue(c.useClassWeights());
        assertEquals(Optional.empty(), c.classWeightMultipliers());
        assertEquals(Scheduler.oneCycle(), c.scheduler());
        assertEquals("onecycle", c.scheduler().type());
        assertEquals(map("pct_start", 0.3, "div_factor", 25, "final_div_factor", 1e4), c.scheduler().parameters());
        assertEquals(Monitor.MEAN_IOU, c.monitor());
        assertEquals(OptionalInt.of(15), c.earlyStoppingPatience());
        assertEquals(OptionalDouble.of(1e-3), c.earlyStoppingMinDelta());
        assertEquals(OptionalInt.of(3), c.earlyStoppingSmoothing());
        assertEquals(Collections.emptyList(), c.frozenGroups());
        assertEquals(OptionalDouble.of(1.0), c.gradientClip());
        assertEquals(42, c.seed());
        assertEquals("auto", c.device());
        assertTrue(c.amp());
        assertTrue(c.calibrateBatchNorm());
        assertEquals(OptionalInt.empty(), c.threads());
        assertEquals(OptionalLong.empty(), c.gpuReservationBytes());
        assertEquals(Optional.empty(), c.gpuReservationTimeout());
        Augmentation a = c.augmentation();
        assertEquals(Augmentation.builder().build(), a);
        assertTrue(a.flipHorizontal() && a.flipVertical() && a.rotate90());
        assertEquals(IntensityMode.AUTO, a.intensityMode());
        assertTrue(a.colorJitter().isEmpty() && a.elastic().isEmpty());
        assertEquals(OptionalDouble.empty(), a.intensityJitter());
        assertEquals(Optional.empty(), c.normalization());
        assertTrue(c.resume());
        assertFalse(c.overwrite());
        assertEquals(c, TrainingConfig.fromJson("{}"));
    }

    @Test
    public void transferSettingsAreOneValueOfTheConfig() {
        TransferSettings transfer = TransferSettings.builder()
                .encoderWeights("imagenet").frozenGroups(Arrays.asList("stem")).encoderLrFactor(0.5).build();
        TrainingConfig c = TrainingConfig.builder().encoder("resnet18").transfer(transfer).build();
        assertEquals(transfer, c.transfer());
        assertEquals(Optional.of("imagenet"), c.encoderWeights());
        assertEquals(Arrays.asList("stem"), c.frozenGroups());
        assertEquals(0.5, c.encoderLrFactor(), 0);
        assertEquals(c, TrainingConfig.builder().encoder("resnet18").encoderWeights("imagenet")
                .frozenGroups(Arrays.asList("stem")).encoderLrFactor(0.5).build());
        assertEquals(TransferSettings.builder().build(), TrainingConfig.builder().build().transfer());
        assertEquals(transfer, transfer.toBuilder().build());
        assertNotEquals(transfer, transfer.toBuilder().encoderLrFactor(0.25).build());
    }

    @Test
    public void everySettingRoundTripsThroughJsonAndToBuilder() {
        Path weights = Paths.get("/models/resnet18.safetensors");
        Augmentation augmentation = Augmentation.builder()
                .flipHorizontal(false).flipVertical(false).rotate90(false)
                .intensityMode(IntensityMode.BRIGHTFIELD).colorJitter(0.1, 0.2, 0.3).intensityJitter(0.4)
                .elastic(30, 5, 0.25).build();
        Normalization normalization = Normalization.of(Strategy.Z_SCORE, true);
        TrainingConfig c = TrainingConfig.builder()
                .name("nuclei").architecture("unet").encoder("mobilenet_v2").initWeights(weights)
                .tileSize(128).downsample(2.5).batchSize(3).epochs(7).samplesPerEpoch(40)
                .learningRate(5e-4).encoderLrFactor(0.25).weightDecay(0).loss(Loss.CROSS_ENTROPY).useClassWeights(false)
                .classWeightMultipliers(Arrays.asList(1.5, 0.25)).scheduler(Scheduler.cosine(5, 2, 1e-5))
                .monitor(Monitor.VAL_LOSS).earlyStopping(4, 0.01).frozenGroups(Arrays.asList("stem"))
                .gradientClip(null).seed(Long.MAX_VALUE).device("cuda:1").amp(false).calibrateBatchNorm(false).threads(3)
                .gpuReservation(6L << 30, Duration.ofMinutes(2))
                .augmentation(augmentation).normalization(normalization).resume(false).overwrite(true)
                .build();
        assertEquals(Optional.of("nuclei"), c.name());
        assertEquals("mobilenet_v2", c.encoder());
        assertEquals(Optional.of(weights.toAbsolutePath()), c.initWeights());
        assertEquals(OptionalInt.of(128), c.tileSize());
        assertEquals(2.5, c.downsample(), 0);
        assertEquals(3, c.batchSize());
        assertEquals(7, c.epochs());
        assertEquals(OptionalInt.of(40), c.samplesPerEpoch());
        assertEquals(5e-4, c.learningRate(), 0);
        assertEquals(0.25, c.encoderLrFactor(), 0);
        assertEquals(0, c.weightDecay(), 0);
        assertEquals(Loss.CROSS_ENTROPY, c.loss());
        assertFalse(c.useClassWeights());
        assertEquals(Optional.of(Arrays.asList(1.5, 0.25)), c.classWeightMultipliers());
        assertEquals(Scheduler.cosine(5, 2, 1e-5), c.scheduler());
        assertEquals(map("t0", 5, "t_mult", 2, "eta_min", 1e-5), c.scheduler().parameters());
        assertEquals(Monitor.VAL_LOSS, c.monitor());
        assertEquals(OptionalInt.of(4), c.earlyStoppingPatience());
        assertEquals(OptionalDouble.of(0.01), c.earlyStoppingMinDelta());
        assertEquals("the two-argument form keeps the default", OptionalInt.of(3), c.earlyStoppingSmoothing());
        assertEquals(Arrays.asList("stem"), c.frozenGroups());
        assertEquals(OptionalDouble.empty(), c.gradientClip());
        assertEquals("cuda:1", c.device());
        assertFalse(c.amp());
        assertFalse(c.calibrateBatchNorm());
        assertEquals(OptionalInt.of(3), c.threads());
        assertEquals(OptionalLong.of(6L << 30), c.gpuReservationBytes());
        assertEquals(Optional.of(Duration.ofMinutes(2)), c.gpuReservationTimeout());
        assertEquals(augmentation, c.augmentation());
        assertEquals(IntensityMode.BRIGHTFIELD, c.augmentation().intensityMode());
        assertEquals(map("brightness", 0.1, "contrast", 0.2, "saturation", 0.3), c.augmentation().colorJitter());
        assertEquals(OptionalDouble.of(0.4), c.augmentation().intensityJitter());
        assertEquals(map("alpha", 30, "sigma", 5, "probability", 0.25), c.augmentation().elastic());
        assertFalse(c.augmentation().flipHorizontal() || c.augmentation().flipVertical() || c.augmentation().rotate90());
        assertEquals(Optional.of(normalization), c.normalization());
        assertFalse(c.resume());
        assertTrue(c.overwrite());
        assertEquals(Long.MAX_VALUE, c.seed());
        assertTrue(c.toJson(), c.toJson().contains("\"seed\":9223372036854775807"));

        TrainingConfig parsed = TrainingConfig.fromJson(c.toJson());
        assertEquals(c, parsed);
        assertEquals(c.hashCode(), parsed.hashCode());
        assertEquals(c.toJson(), parsed.toString());
        assertEquals(c, c.toBuilder().build());
        TrainingConfig smoothed = c.toBuilder().earlyStopping(20, 0, 5).build();
        assertEquals(OptionalInt.of(20), smoothed.earlyStoppingPatience());
        assertEquals(OptionalDouble.of(0), smoothed.earlyStoppingMinDelta());
        assertEquals(OptionalInt.of(5), smoothed.earlyStoppingSmoothing());
        assertEquals(smoothed, TrainingConfig.fromJson(smoothed.toJson()));
        TrainingConfig changed = c.toBuilder().epochs(9).noEarlyStopping().build();
        assertNotEquals(c, changed);
        assertEquals(9, changed.epochs());
        assertEquals(OptionalInt.empty(), changed.earlyStoppingPatience());
        assertEquals(OptionalDouble.empty(), changed.earlyStoppingMinDelta());
        assertEquals(OptionalInt.empty(), changed.earlyStoppingSmoothing());
        assertEquals(c.seed(), changed.seed());
        assertTrue(changed.toJson().contains("\"seed\":9223372036854775807"));
        TrainingConfig unset = changed.toBuilder().name(null).initWeights(null).tileSize(null).samplesPerEpoch(null)
                .classWeightMultipliers(null).threads(null).normalization(null).gradientClip(0.5).noGpuReservation().build();
        assertEquals(Optional.empty(), unset.name());
        assertEquals(Optional.empty(), unset.initWeights());
        assertEquals(OptionalInt.empty(), unset.tileSize());
        assertEquals(OptionalInt.empty(), unset.samplesPerEpoch());
        assertEquals(Optional.empty(), unset.classWeightMultipliers());
        assertEquals(OptionalInt.empty(), unset.threads());
        assertEquals(Optional.empty(), unset.normalization());
        assertEquals(OptionalDouble.of(0.5), unset.gradientClip());
        assertEquals(OptionalLong.empty(), unset.gpuReservationBytes());
    }

    @Test
    public void nestedValuesCarryTheEnginesDefaultsAndParameters() {
        assertEquals("step", Scheduler.step().type());
        assertEquals(map("step_size", 10, "gamma", 0.1), Scheduler.step().parameters());
        assertEquals(map("step_size", 3, "gamma", 0.5), Scheduler.step(3, 0.5).parameters());
        assertEquals(map("t0", 10, "t_mult", 1, "eta_min", 1e-6), Scheduler.cosine().parameters());
        assertEquals(map("pct_start", 0.2, "div_factor", 10, "final_div_factor", 100),
                Scheduler.oneCycle(0.2, 10, 100).parameters());
        assertEquals("none", Scheduler.none().type());
        assertTrue(Scheduler.none().parameters().isEmpty());
        assertNotEquals(Scheduler.none(), Scheduler.step());
        assertEquals(Scheduler.none().hashCode(), Scheduler.none().hashCode());
        assertEquals("{\"type\":\"none\"}", Scheduler.none().toString());

        Normalization z = Normalization.of(Strategy.Z_SCORE, true);
        assertEquals(Strategy.Z_SCORE, z.strategy());
        assertTrue(z.perChannel());
        assertEquals(99.0, z.clipPercentile(), 0);
        assertEquals(OptionalDouble.empty(), z.fixedMin());
        Normalization p = Normalization.percentile(99.5, false);
        assertEquals(Strategy.PERCENTILE_99, p.strategy());
        assertEquals(99.5, p.clipPercentile(), 0);
        assertFalse(p.perChannel());
        Normalization f = Normalization.fixedRange(100, 4095);
        assertEquals(Strategy.FIXED_RANGE, f.strategy());
        assertEquals(OptionalDouble.of(100), f.fixedMin());
        assertEquals(OptionalDouble.of(4095), f.fixedMax());
        assertEquals(f, Normalization.fixedRange(100, 4095));
        assertEquals(f.hashCode(), Normalization.fixedRange(100, 4095).hashCode());
        assertTrue(f.toString(), f.toString().contains("\"fixed_max\":4095"));

        Augmentation jitter = Augmentation.builder().colorJitter(0.2, 0.2, 0.2).intensityJitter(0.2).build();
        // Parameters do not switch an intensity augmentation on: the mode decides.
        assertEquals(IntensityMode.AUTO, jitter.intensityMode());
        Augmentation plain = jitter.toBuilder().defaultColorJitter().defaultIntensityJitter().noElastic().build();
        assertEquals(Augmentation.builder().build(), plain);
        assertEquals(plain.hashCode(), Augmentation.builder().build().hashCode());
        assertNotEquals(jitter, plain);
        assertTrue(jitter.toString(), jitter.toString().contains("\"color_jitter\""));
        for (IntensityMode mode : IntensityMode.values()) {
            Augmentation a = Augmentation.builder().intensityMode(mode).build();
            assertEquals(mode, a.intensityMode());
            assertTrue(a.toString(), a.toString().contains("\"intensity_mode\":\"" + mode.name().toLowerCase(Locale.ROOT) + "\""));
        }
        assertNotEquals(Augmentation.builder().intensityMode(IntensityMode.NONE).build(), plain);
    }

    @Test
    public void thePythonExtensionsNamesReadAsTheEnginesOwn() {
        TrainingConfig c = TrainingConfig.fromJson("{\"loss\":\"ce\",\"scheduler\":{\"type\":\"cosine_annealing\"}}");
        assertEquals(Loss.CROSS_ENTROPY, c.loss());
        assertEquals(Scheduler.cosine(), c.scheduler());
        assertEquals(Scheduler.oneCycle(), TrainingConfig.fromJson("{\"scheduler\":{\"type\":\"one_cycle\"}}").scheduler());
        assertEquals(Scheduler.step(), TrainingConfig.fromJson("{\"scheduler\":{\"type\":\"step_decay\"}}").scheduler());
    }

    @Test
    public void seedsAreExactOverTheEnginesWholeRange() {
        TrainingConfig odd = TrainingConfig.builder().seed((1L << 53) + 1).build();
        assertEquals((1L << 53) + 1, odd.seed());
        assertEquals(odd, TrainingConfig.fromJson(odd.toJson()));
        // The engine's seed is a u64: the largest comes back with the same 64 bits.
        TrainingConfig max = TrainingConfig.fromJson("{\"seed\":18446744073709551615}");
        assertEquals(-1L, max.seed());
        assertEquals("18446744073709551615", Long.toUnsignedString(max.seed()));
        assertTrue(max.toJson(), max.toJson().contains("\"seed\":18446744073709551615"));
        assertTrue(max.toBuilder().epochs(3).build().toJson().contains("\"seed\":18446744073709551615"));
    }

    @Test
    public void invalidSettingsAreIllegalArgumentsWithTheEnginesMessage() {
        assertInvalid(() -> TrainingConfig.builder().encoder("resnet99").build(), "resnet99");
        assertInvalid(() -> TrainingConfig.builder().architecture("segformer").build(), "segformer");
        assertInvalid(() -> TrainingConfig.builder().architecture("deeplabv3+").encoder("vgg16_bn").build(), "deeplabv3+ needs a dilated encoder");
        assertInvalid(() -> TrainingConfig.builder().architecture("pan").tileSize(64).build(), "pan needs tile_size of at least 128");
        assertInvalid(() -> TrainingConfig.builder().tileSize(100).build(), "multiple of 32");
        assertInvalid(() -> TrainingConfig.builder().batchSize(0).build(), "batch_size");
        assertInvalid(() -> TrainingConfig.builder().learningRate(-1).build(), "learning_rate");
        assertInvalid(() -> TrainingConfig.builder().encoderLrFactor(0).build(), "encoder_lr_factor");
        assertInvalid(() -> TrainingConfig.builder().encoderLrFactor(1.5).build(), "encoder_lr_factor");
        assertInvalid(() -> TrainingConfig.builder().learningRate(Double.NaN).build(), "NaN");
        assertInvalid(() -> TrainingConfig.builder().seed(-1).build(), "seed");
        assertInvalid(() -> TrainingConfig.builder().device("tpu").build(), "unknown device 'tpu'");
        assertInvalid(() -> TrainingConfig.builder().encoder("resnet18").frozenGroups(Arrays.asList("layer9")).build(),
                "no freeze group 'layer9'");
        assertInvalid(() -> TrainingConfig.builder().classWeightMultipliers(Arrays.asList(1.0, 0.0)).build(), "multipliers");
        assertInvalid(() -> TrainingConfig.fromJson("{\"epoch\":3}"), "unknown field `epoch`");
        assertInvalid(() -> TrainingConfig.fromJson("[1]"), "invalid JSON");
        assertInvalid(() -> TrainingConfig.fromJson("{"), "invalid JSON");
        assertInvalid(() -> Scheduler.step(0, 0.5), "scheduler");
        assertInvalid(() -> Scheduler.oneCycle(1.5, 25, 1e4), "scheduler");
        assertInvalid(() -> Augmentation.builder().elastic(30, 0, 0.5).build(), "sigma");
        assertInvalid(() -> Augmentation.builder().colorJitter(-1, 0, 0).build(), "brightness");
        assertInvalid(() -> Augmentation.builder().intensityJitter(-0.5).build(), "intensity_jitter.scale");
        assertInvalid(() -> TrainingConfig.builder().earlyStopping(5, 0, 0).build(), "smoothing");
        assertInvalid(() -> Normalization.fixedRange(5, 1), "min < max");
        assertInvalid(() -> Normalization.percentile(20, false), "clip_percentile");
    }

    @Test
    public void fromModelOfAFolderWithoutMetadataIsAnIOException() throws Exception {
        try {
            TrainingConfig.fromModel(Paths.get("no/such/model"));
            fail();
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no/such/model"));
        }
    }
}
