package org.dlclassifier;

import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/** The compute devices of this machine, their memory, and the engine's caches. */
public final class Devices {
    static {
        NativeLibrary.load();
    }

    private Devices() {
    }

    /**
     * @return the CPU, then every CUDA device libtorch can use ({@code cuda:N}),
     *     then Apple's MPS where present
     */
    public static List<DeviceInfo> available() {
        return JsonFields.objects((List<?>) Json.parse(nativeAvailable()), DeviceInfo::new);
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
        return new MemoryInfo(Json.parseObject(nativeMemory(device)));
    }

    /**
     * Drops the models the engine keeps for reuse by {@link Predictor#open}
     * (the Rust API's {@code open_cached}); each is freed once no open
     * predictor uses it, so open predictors keep working. GPU memory freed by
     * libtorch stays reserved by its caching allocator for later use in this
     * process.
     */
    public static void clearCache() {
        nativeClearCache();
    }

    private static native String nativeAvailable();

    private static native String nativeMemory(String device);

    private static native void nativeClearCache();

    /** A device models can run on. */
    public static final class DeviceInfo {
        private final String id;
        private final String name;
        private final OptionalLong totalMemory;

        DeviceInfo(Map<String, Object> json) {
            id = JsonFields.string(json, "id");
            name = JsonFields.string(json, "name");
            totalMemory = json.get("total_memory") == null
                    ? OptionalLong.empty() : OptionalLong.of(JsonFields.longInteger(json, "total_memory"));
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
        private final long total;
        private final long free;

        MemoryInfo(Map<String, Object> json) {
            total = JsonFields.longInteger(json, "total");
            free = JsonFields.longInteger(json, "free");
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
}
