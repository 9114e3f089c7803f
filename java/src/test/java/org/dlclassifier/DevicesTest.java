package org.dlclassifier;

import static org.dlclassifier.PredictorTest.expectIllegalArgument;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.List;
import org.dlclassifier.internal.TestNative;
import org.junit.Test;

/** Devices and their memory, through JNI. */
public class DevicesTest {
    @Test
    public void theCpuIsListedFirstWithItsMemory() {
        List<Devices.DeviceInfo> devices = Devices.available();
        Devices.DeviceInfo cpu = devices.get(0);
        assertEquals("cpu", cpu.id());
        assertFalse(cpu.name().isEmpty());
        Devices.MemoryInfo memory = Devices.memory("cpu");
        assertEquals(memory.total(), cpu.totalMemory().getAsLong());
        assertTrue(memory.toString(), memory.free() > 0 && memory.free() <= memory.total());
        assertTrue(cpu.toString().startsWith("cpu ("));
        for (Devices.DeviceInfo d : devices.subList(1, devices.size())) {
            Devices.MemoryInfo gpu = Devices.memory(d.id());
            assertTrue(d + ": " + gpu, gpu.free() <= gpu.total() && gpu.total() > 0);
        }
    }

    @Test
    public void theCpuReportsThreadsAndThisProcessMemory() {
        Devices.DeviceInfo cpu = Devices.available().get(0);
        assertTrue(cpu.threads().getAsInt() >= 1 && cpu.torchThreads().getAsInt() >= 1);
        Devices.MemorySnapshot snapshot = Devices.snapshot("cpu");
        assertTrue(snapshot.toString(), snapshot.current() > 0 && snapshot.peak() >= snapshot.current());
        expectIllegalArgument("unknown device 'tpu'", () -> Devices.snapshot("tpu"));
    }

    @Test
    public void unknownOrAbsentDevicesAreBadArguments() {
        expectIllegalArgument("unknown device 'tpu'", () -> Devices.memory("tpu"));
        if (Devices.available().stream().noneMatch(d -> d.id().startsWith("cuda"))) {
            expectIllegalArgument("no CUDA device", () -> Devices.memory("cuda:0"));
        }
    }

    /** Whether two predictors run the very same loaded model. */
    private static boolean sameModel(Predictor a, Predictor b) {
        return a.handle().call(x -> b.handle().call(y -> TestNative.sameObject(x, y)));
    }

    @Test
    public void predictorsShareACachedModelUntilTheCacheIsCleared() throws Exception {
        PredictorOptions twoThreads = PredictorOptions.builder().threads(2).build();
        try (Predictor p = Predictor.open(InferenceFixtures.nucleiModel());
             Predictor same = Predictor.open(InferenceFixtures.nucleiModel());
             Predictor otherOptions = Predictor.open(InferenceFixtures.nucleiModel(), twoThreads)) {
            assertTrue(sameModel(p, same));
            assertFalse(sameModel(p, otherOptions));
            Devices.clearCache();
            try (Predictor fresh = Predictor.open(InferenceFixtures.nucleiModel())) {
                assertFalse(sameModel(p, fresh));
            }
            // Open predictors keep their model after the cache lets go of it.
            TileLayout layout = TileLayout.of(1, 1, 32, 32, TileLayout.Order.HWC, TileLayout.Dtype.U8);
            assertEquals(32 * 32, p.predictClasses(new byte[32 * 32], layout).length);
        }
    }
}
