package org.dlclassifier.internal;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The one seam to the native library: every {@code native} method of the jar
 * is declared here, and nothing else calls into native code. Not part of the
 * documented API: the package {@code org.dlclassifier.internal} may change in
 * any release, so call the public classes of {@code org.dlclassifier} instead.
 *
 * <p>The methods mirror the engine's transport-neutral API one to one (the C
 * API has the same calls): handles are native handle numbers, never 0 for a
 * live object; settings and answers cross as JSON text. The native side
 * checks every argument (a negative size is an {@link IllegalArgumentException}
 * naming the parameter, a freed or unknown handle an {@link IllegalStateException})
 * and throws {@link IllegalArgumentException}, {@link IllegalStateException},
 * {@link IOException}, {@link org.dlclassifier.DlcException},
 * {@link org.dlclassifier.DlcOutOfMemoryException},
 * {@link org.dlclassifier.DlcTimeoutException} or
 * {@link java.util.concurrent.CancellationException}.
 *
 * <p>The library is loaded once, by this class's initialisation ({@link NativeLibrary}).
 */
public final class Native {
    static {
        NativeLibrary.load();
    }

    private Native() {
    }

    /**
     * Makes sure the library is loaded; the work is this class's initialisation,
     * so a class without natives of its own (a test's) can ask for it.
     */
    public static void load() {
        // Initialising this class loaded the library.
    }

    /**
     * @return the engine version compiled into the library
     */
    public static native String version();

    /**
     * Opens a model folder, through the engine's per-folder model cache.
     *
     * @param modelDir the model folder
     * @param optionsJson {@code InferenceOptions} JSON
     * @return the predictor handle
     * @throws IOException if the folder or its files cannot be read or understood
     */
    public static native long predictorOpen(String modelDir, String optionsJson) throws IOException;

    /**
     * Opens an external ONNX model.
     *
     * @param onnxPath the {@code .onnx} file
     * @param metadataPath a {@code metadata.json}, or null
     * @param optionsJson {@code InferenceOptions} JSON
     * @return the predictor handle
     * @throws IOException if a file cannot be read or graph and metadata disagree
     */
    public static native long predictorOpenOnnx(String onnxPath, String metadataPath, String optionsJson)
            throws IOException;

    /**
     * @param predictor a predictor handle
     * @return the engine's {@code ModelInfo} JSON
     */
    public static native String predictorInfoJson(long predictor);

    /**
     * Predicts a batch of tiles in place. Each buffer is a direct buffer whose
     * whole capacity is used (pass {@code buffer.slice()}), so the caller's
     * position and limit stay untouched.
     *
     * @param predictor a predictor handle
     * @param tiles the tiles, exactly the layout's input bytes
     * @param layout {@code {count, channels, height, width, order ordinal, dtype ordinal}}
     * @param probabilities where the probabilities go, or null
     * @param probabilityFormat 0: float32, 1: uint8 (probability x 255, rounded)
     * @param classMap where the class indices go, or null
     */
    public static native void predictorPredict(long predictor, ByteBuffer tiles, int[] layout,
            ByteBuffer probabilities, int probabilityFormat, ByteBuffer classMap);

    /**
     * Applies a model to a whole image. The native side calls {@code source}'s
     * {@link ApplyBridge#imagePath()}, {@link ApplyBridge#width()},
     * {@link ApplyBridge#height()}, {@link ApplyBridge#channels()},
     * {@link ApplyBridge#read(int, int, int, int)} and
     * {@link ApplyBridge#progress(int, int)} on the calling thread.
     *
     * @param predictor a predictor handle
     * @param source the image: a file, or a reader
     * @param outDir folder for the results
     * @param optionsJson {@code ApplySettings} JSON
     * @param job a job handle whose cancel stops the run, or 0 for none
     * @return the engine's {@code ApplyReport} JSON
     * @throws IOException if the image cannot be read or a result not written
     */
    public static native String predictorApply(long predictor, ApplyBridge source, String outDir, String optionsJson,
            long job) throws IOException;

    /**
     * Classifies a rectangle of an image into direct buffers, calling
     * {@code source} as {@link #predictorApply} does.
     *
     * @param predictor a predictor handle
     * @param source the image: a file, or a reader
     * @param x left column of the rectangle
     * @param y top row
     * @param width columns
     * @param height rows
     * @param optionsJson {@code ApplySettings} JSON with tiling, downsample and pixel size only
     * @param probabilities planar {@code [K][height][width]} probabilities, or null
     * @param probabilityFormat 0: float32, 1: uint8 (probability x 255, rounded)
     * @param classMap {@code [height][width]} class indices, or null
     * @param job a job handle whose cancel stops the run, or 0 for none
     * @throws IOException if the image cannot be read
     */
    public static native void predictorClassifyRegion(long predictor, ApplyBridge source, long x, long y, long width,
            long height, String optionsJson, ByteBuffer probabilities, int probabilityFormat, ByteBuffer classMap,
            long job) throws IOException;

    /**
     * Frees a predictor once calls already running have returned.
     *
     * @param predictor a predictor handle; freeing twice is harmless
     */
    public static native void predictorFree(long predictor);

    /**
     * @return a new job handle, to cancel, pause and resume a run with
     */
    public static native long jobNew();

    /**
     * @param job a job handle
     */
    public static native void jobCancel(long job);

    /**
     * @param job a job handle
     */
    public static native void jobPause(long job);

    /**
     * @param job a job handle
     */
    public static native void jobResume(long job);

    /**
     * @param job a job handle
     * @return whether a pause was asked for and not resumed
     */
    public static native boolean jobIsPaused(long job);

    /**
     * @param job a job handle; freeing twice is harmless
     */
    public static native void jobFree(long job);

    /**
     * Trains on the calling thread, blocking until the model folder is written.
     *
     * @param dataDir the training-data export
     * @param outDir the model folder to create
     * @param configJson the training settings
     * @param job the job handle that steers the run
     * @param listener an object whose {@code onEpoch(String epochJson)} method (of any access) is called
     *     after each epoch on the calling thread, or null
     * @return {@code {"model_dir": ..., "metadata": {...}, "history": [...], "plan": [...]}}
     * @throws IOException for unreadable training data or an existing output folder
     */
    public static native String train(String dataDir, String outDir, String configJson, long job, Object listener)
            throws IOException;

    /**
     * What a run would use on the data, without training.
     *
     * @param dataDir the training-data export
     * @param configJson the training settings, or null for the defaults
     * @return {@code {"config": {...every setting resolved...}, "steps_per_epoch": N,
     *     "choices": [{"setting", "value", "reason", "chosen"}, ...]}}
     * @throws IOException for unreadable training data
     */
    public static native String trainingPlanJson(String dataDir, String configJson) throws IOException;

    /**
     * @param baseJson training settings
     * @param changesJson top-level fields replacing those of {@code baseJson}
     * @return the checked settings with every default filled in
     */
    public static native String configCanonicalJson(String baseJson, String changesJson);

    /**
     * @param modelDir a model folder
     * @return the training settings of its {@code metadata.json}, canonical
     * @throws IOException if the metadata is missing or unreadable
     */
    public static native String configFromModelJson(String modelDir) throws IOException;

    /**
     * @param modelDir a model folder
     * @return {@code {"metadata": ..., "history": ... or null}}
     * @throws IOException if the folder is not a model folder
     */
    public static native String modelReadJson(String modelDir) throws IOException;

    /**
     * @return every architecture with its encoders, as JSON
     */
    public static native String catalogJson();

    /**
     * @param encoder an encoder name
     * @param tiles training tiles, at least 0
     * @return the transfer-learning recommendation JSON
     */
    public static native String recommendJson(String encoder, long tiles);

    /**
     * @return the devices of this machine, as a JSON array
     */
    public static native String devicesJson();

    /**
     * @param device {@code cpu}, {@code cuda}, {@code cuda:N} or {@code auto}
     * @return {@code {"total", "free", "current", "peak"}} in bytes
     */
    public static native String memoryJson(String device);

    /**
     * Drops the models the engine keeps for reuse.
     *
     */
    public static native void clearCache();

    /**
     * @param configJson training settings
     * @param channels input channels
     * @param classes classes
     * @param budget bytes the suggested batch must fit, or 0 for no suggestion
     * @return {@code {"estimate": {...}, "suggested": {...} or null}}
     */
    public static native String estimateJson(String configJson, long channels, long classes, long budget);

    /**
     * @param modelDir a model folder
     * @param tileSize tile side, or 0 for the model's
     * @param batchSize tiles per batch
     * @param fp16 half precision
     * @return the estimate JSON
     * @throws IOException if the folder is not a readable model
     */
    public static native String estimateInferenceJson(String modelDir, long tileSize, long batchSize, boolean fp16)
            throws IOException;

    /**
     * @param root a folder holding model folders
     * @return one summary per model, newest first, as a JSON array
     * @throws IOException if {@code root} cannot be read
     */
    public static native String modelsListJson(String root) throws IOException;

    /**
     * @param modelDir a model folder
     * @return {@code {"valid": ..., "problems": [{"file", "reason"}, ...]}}
     */
    public static native String modelValidateJson(String modelDir);

    /**
     * @param modelsJson a JSON array of model folders
     * @param zip the bundle to write
     * @param infoJson {@code {"name", "version", "description"}}
     * @return the manifest JSON
     * @throws IOException if a folder is not a readable model or the zip cannot be written
     */
    public static native String bundlePack(String modelsJson, String zip, String infoJson) throws IOException;

    /**
     * @param zip the bundle
     * @param maxBytes the largest total size accepted, or 0 for the default
     * @return the manifest JSON
     * @throws IOException with the reason if the bundle is refused
     */
    public static native String bundleVerifyJson(String zip, long maxBytes) throws IOException;

    /**
     * @param zip the bundle
     * @param dest the folder to create
     * @param maxBytes the largest total size accepted, or 0 for the default
     * @return the manifest JSON
     * @throws IOException with the reason if the bundle is refused or the folder cannot be written
     */
    public static native String bundleUnpack(String zip, String dest, long maxBytes) throws IOException;

    /**
     * @param zip the bundle
     * @param modelName the model, or null for the only one
     * @return the cached model folder
     * @throws IOException with the reason if the bundle is refused
     */
    public static native String bundleOpen(String zip, String modelName) throws IOException;

    /**
     * Books device memory with every process of the machine.
     *
     * @param device {@code cpu}, {@code cuda} or {@code cuda:N}
     * @param bytes how much to book
     * @param budgetBytes the most all bookings may add up to, or 0 for the device's total
     * @param timeoutMs how long to wait
     * @param dir folder of the booking files, or null for the default
     * @return the reservation handle
     * @throws IOException if the booking files cannot be used
     */
    public static native long reserve(String device, long bytes, long budgetBytes, long timeoutMs, String dir)
            throws IOException;

    /**
     * @param reservation a reservation handle; freeing twice is harmless
     */
    public static native void reservationFree(long reservation);

    /**
     * @param threshold the most detailed level forwarded: 0 none, 1 ERROR ... 5 TRACE
     */
    public static native void setLogThreshold(int threshold);
}
