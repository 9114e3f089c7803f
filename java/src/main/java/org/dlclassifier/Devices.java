package org.dlclassifier;

import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.OptionalLong;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonMapper;
import org.dlclassifier.internal.Native;

/** The compute devices of this machine, their memory, and the engine's caches. */
public final class Devices {
    private Devices() {
    }

    /**
     * @return the CPU, then every CUDA device libtorch can use ({@code cuda:N}),
     *     then Apple's MPS where present
     */
    public static List<DeviceInfo> available() {
        return JsonMapper.readList(DeviceInfo.class, Json.parse(Native.devicesJson()));
    }

    /**
     * Total and free memory of a device now: system memory ({@code MemAvailable})
     * for the CPU, device memory for CUDA (which makes the device's context
     * current, as PyTorch's {@code torch.cuda.mem_get_info} does).
     *
     * @param device {@code cpu}, {@code cuda}, {@code cuda:N} or {@code auto}
     * @return the memory
     * @throws IllegalArgumentException for an unknown or absent device, or one whose memory cannot be queried
     * @throws DlcException if the CUDA runtime fails
     */
    public static MemoryInfo memory(String device) {
        return JsonMapper.read(MemoryInfo.class, memoryJson(device));
    }

    /**
     * This process's memory use on a device now and at its peak. For the CPU:
     * the resident set ({@code VmRSS}) and its kernel-tracked peak
     * ({@code VmHWM}). For CUDA: memory in use on the whole device (all
     * processes, including what libtorch's caching allocator holds), and the
     * largest such value any snapshot of this process has seen, since libtorch's
     * allocator statistics are not reachable from here.
     *
     * @param device {@code cpu}, {@code cuda}, {@code cuda:N} or {@code auto}
     * @return the snapshot
     * @throws IllegalArgumentException for an unknown or absent device, or MPS
     * @throws DlcException if the CUDA runtime fails
     */
    public static MemorySnapshot snapshot(String device) {
        return JsonMapper.read(MemorySnapshot.class, memoryJson(device));
    }

    /**
     * Drops the models the engine keeps for reuse by {@link Predictor#open}
     * (the Rust API's {@code open_cached}); each is freed once no open
     * predictor uses it, so open predictors keep working. GPU memory freed by
     * libtorch stays reserved by its caching allocator for later use in this
     * process.
     */
    public static void clearCache() {
        Native.clearCache();
    }

    /** One answer for both views of a device's memory: {@code total}, {@code free}, {@code current}, {@code peak}. */
    private static Object memoryJson(String device) {
        return Json.parse(Native.memoryJson(Objects.requireNonNull(device, "device")));
    }

    /** A device models can run on. */
    public static final class DeviceInfo {
        private String id;
        private String name;
        private OptionalLong totalMemory;
        private OptionalInt threads;
        private OptionalInt torchThreads;

        /** Filled from the engine's JSON by {@link JsonMapper}. */
        private DeviceInfo() {
        }

        /** @return for the CPU, the logical processors this process may use; empty for GPUs */
        public OptionalInt threads() {
            return threads;
        }

        /** @return for the CPU, libtorch's intra-op thread count; empty for GPUs */
        public OptionalInt torchThreads() {
            return torchThreads;
        }

        /** @return how to ask for it in {@link PredictorOptions.Builder#device(String)}: {@code cpu}, {@code cuda:N}, {@code mps} */
        public String id() {
            return id;
        }

        /** @return the processor's or GPU's model name */
        public String name() {
            return name;
        }

        /** @return bytes of memory (system memory for the CPU), when known */
        public OptionalLong totalMemory() {
            return totalMemory;
        }

        @Override
        public String toString() {
            return id + " (" + name + ")";
        }
    }

    /** A device's memory at the moment of asking. */
    public static final class MemoryInfo {
        private long total;
        private long free;

        /** Filled from the engine's JSON by {@link JsonMapper}. */
        private MemoryInfo() {
        }

        /** @return total bytes */
        public long total() {
            return total;
        }

        /** @return bytes that can still be allocated */
        public long free() {
            return free;
        }

        @Override
        public String toString() {
            return free + " of " + total + " bytes free";
        }
    }

    /** Memory in use at the moment of asking, and at the peak so far; see {@link Devices#snapshot}. */
    public static final class MemorySnapshot {
        private long current;
        private long peak;

        /** Filled from the engine's JSON by {@link JsonMapper}. */
        private MemorySnapshot() {
        }

        /** @return bytes in use now */
        public long current() {
            return current;
        }

        /** @return the most bytes in use so far */
        public long peak() {
            return peak;
        }

        @Override
        public String toString() {
            return current + " bytes in use, peak " + peak;
        }
    }
}
