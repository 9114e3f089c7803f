package org.dlclassifier;

import java.io.IOException;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A loaded model. Predicts batches of tiles from the caller's buffers and
 * whole images tile by tile.
 *
 * <p>Thread-safe: any number of threads may call one predictor at once
 * (with {@link PredictorOptions#concurrentRuns()} runs in parallel, the others
 * waiting). {@link #close()} frees the model; a call already running when
 * another thread closes it completes normally, and every later call throws
 * {@link IllegalStateException}. A predictor that becomes unreachable without
 * being closed is freed by a cleaner, but models are large: close them.
 *
 * <p>Errors: {@link IllegalArgumentException} for bad arguments (buffer
 * sizes, layouts, options), {@link IOException} for unreadable files,
 * {@link DlcException} for failures inside the engine; messages carry the
 * native error chain.
 */
public final class Predictor implements AutoCloseable {
    static {
        NativeLibrary.load();
    }

    private static final Cleaner CLEANER = Cleaner.create();

    private final long handle;
    private final Cleaner.Cleanable cleanable;
    private final ModelInfo info;
    private volatile boolean closed;

    private Predictor(long handle) {
        this.handle = handle;
        this.cleanable = CLEANER.register(this, new Release(handle));
        try {
            this.info = new ModelInfo(Json.parseObject(nativeInfo(handle)));
        } catch (RuntimeException e) {
            cleanable.clean();
            throw e;
        }
    }

    /** Frees the native model; holds only the handle so that the predictor itself can become unreachable. */
    private static final class Release implements Runnable {
        private final long handle;

        Release(long handle) {
            this.handle = handle;
        }

        @Override
        public void run() {
            nativeClose(handle);
        }
    }

    /**
     * Opens a model folder written by training with {@link PredictorOptions#defaults()}.
     *
     * @param modelDir folder with {@code metadata.json} and {@code model.onnx} and/or {@code model.pt}
     * @return the predictor
     * @throws IOException if the folder or its files cannot be read or understood
     */
    public static Predictor open(Path modelDir) throws IOException {
        return open(modelDir, PredictorOptions.defaults());
    }

    /**
     * Opens a model folder written by training. A blank tile is run at once,
     * so model files that contradict their metadata fail here. Predictors
     * opened on the same folder with equal options share one loaded model
     * (as a script that opens the model for every image would want); a folder
     * whose files changed since is loaded afresh. The model is freed when
     * every such predictor is closed and {@link Devices#clearCache()} has run.
     *
     * @param modelDir folder with {@code metadata.json} and {@code model.onnx} and/or {@code model.pt}
     * @param options engine, device, precision and threads
     * @return the predictor
     * @throws IOException if the folder or its files cannot be read or understood
     * @throws IllegalArgumentException if the options cannot work (an absent device, say)
     */
    public static Predictor open(Path modelDir, PredictorOptions options) throws IOException {
        String dir = modelDir.toString();
        return new Predictor(nativeOpen(dir, options.toJson()));
    }

    /**
     * Opens an external ONNX model. Channels, classes and any fixed input size
     * come from the graph; a {@code metadata.json} in our layout (every field
     * optional) adds class names, colours, normalization and tile size and must
     * agree with the graph. Without one, values reach the model unchanged.
     *
     * @param onnxFile the {@code .onnx} file
     * @param metadata a {@code metadata.json}, or null
     * @param options engine settings; the backend must be AUTO or ONNX
     * @return the predictor
     * @throws IOException if a file cannot be read or the graph and metadata disagree
     */
    public static Predictor openOnnx(Path onnxFile, Path metadata, PredictorOptions options) throws IOException {
        String onnx = onnxFile.toString();
        return new Predictor(nativeOpenOnnx(onnx, metadata == null ? null : metadata.toString(), options.toJson()));
    }

    /**
     * @return what the model takes and gives
     * @throws IllegalStateException if closed
     */
    public ModelInfo info() {
        if (closed) {
            throw new IllegalStateException("this predictor is closed");
        }
        return info;
    }

    /**
     * Predicts class probabilities of a batch of tiles, as float32 in the
     * input's order: {@code [N][H][W][K]} for HWC, {@code [N][K][H][W]} for CHW.
     *
     * @param tiles the tiles, as for {@link #predict(ByteBuffer, TileLayout, ByteBuffer, ByteBuffer)}
     * @param layout their shape and encoding
     * @param probabilities where the probabilities go, as for the four-argument form
     */
    public void predict(ByteBuffer tiles, TileLayout layout, ByteBuffer probabilities) {
        predict(tiles, layout, Objects.requireNonNull(probabilities, "probabilities"), null);
    }

    /**
     * Predicts the most likely class of each pixel of a batch of tiles, one
     * byte per pixel, {@code [N][H][W]}.
     *
     * @param tiles the tiles, as for {@link #predict(ByteBuffer, TileLayout, ByteBuffer, ByteBuffer)}
     * @param layout their shape and encoding
     * @param classMap where the class indices go, as for the four-argument form
     */
    public void predictClasses(ByteBuffer tiles, TileLayout layout, ByteBuffer classMap) {
        predict(tiles, layout, null, Objects.requireNonNull(classMap, "classMap"));
    }

    /**
     * Predicts a batch of tiles without copying: the engine reads the tiles
     * and writes the results in place, in the buffers' memory. Each buffer is
     * used from its position over its remaining bytes, so slices and views at
     * an offset work; positions and limits are not changed. Buffers must not
     * overlap, and must not be changed by other threads during the call.
     *
     * @param tiles direct buffer whose remaining bytes are exactly
     *     {@link TileLayout#inputBytes()}; in {@link ByteOrder#nativeOrder()}
     *     for U16 and F32 tiles
     * @param layout the tiles' shape and encoding; channels must equal the model's
     * @param probabilities direct, writable buffer in native order with at least
     *     {@link TileLayout#probabilityBytes(int)} remaining bytes for float32
     *     probabilities in the input's order, or null
     * @param classMap direct, writable buffer with at least
     *     {@link TileLayout#classMapBytes()} remaining bytes for class indices, or null
     * @throws IllegalArgumentException for heap or read-only buffers, a wrong
     *     byte order, sizes that do not fit the layout, a wrong channel count,
     *     or if both outputs are null
     * @throws IllegalStateException if closed
     */
    public void predict(ByteBuffer tiles, TileLayout layout, ByteBuffer probabilities, ByteBuffer classMap) {
        Objects.requireNonNull(tiles, "tiles");
        checkBuffer(tiles, "tiles", layout.dtype().size() > 1, false);
        if (probabilities != null) {
            checkBuffer(probabilities, "probabilities", true, true);
        }
        if (classMap != null) {
            checkBuffer(classMap, "classMap", false, true);
        }
        try {
            nativePredict(handle, tiles, tiles.position(), tiles.remaining(),
                    layout.count(), layout.channels(), layout.height(), layout.width(),
                    layout.order().ordinal(), layout.dtype().ordinal(),
                    probabilities, probabilities == null ? 0 : probabilities.position(),
                    probabilities == null ? 0 : probabilities.remaining(),
                    classMap, classMap == null ? 0 : classMap.position(), classMap == null ? 0 : classMap.remaining());
        } finally {
            // The cleaner must not free the model while the native call runs.
            Reference.reachabilityFence(this);
        }
    }

    private static void checkBuffer(ByteBuffer buffer, String name, boolean nativeOrder, boolean output) {
        if (!buffer.isDirect()) {
            throw new IllegalArgumentException(name + " must be a direct ByteBuffer (ByteBuffer.allocateDirect): "
                    + "the engine works in its memory; use the array overloads for heap data");
        }
        if (nativeOrder && buffer.order() != ByteOrder.nativeOrder()) {
            throw new IllegalArgumentException(name + " holds multi-byte values and must be in the native byte order "
                    + ByteOrder.nativeOrder() + ", not " + buffer.order() + ": use order(ByteOrder.nativeOrder())");
        }
        if (output && buffer.isReadOnly()) {
            throw new IllegalArgumentException(name + " is read-only");
        }
    }

    /**
     * Predicts class probabilities of float32 tiles held in a Java array. The
     * tiles are copied in and the probabilities out once; use the
     * {@link ByteBuffer} form to avoid both copies.
     *
     * @param tiles exactly {@code layout.inputBytes() / 4} values
     * @param layout the tiles' shape; its dtype must be F32
     * @return float32 probabilities in the input's order ({@code [N][H][W][K]} for HWC, {@code [N][K][H][W]} for CHW)
     * @throws IllegalArgumentException if the layout or array does not fit
     */
    public float[] predict(float[] tiles, TileLayout layout) {
        requireDtype(layout, TileLayout.Dtype.F32);
        float[] probabilities = new float[arrayLength(layout.probabilityBytes(info.numClasses()) / Float.BYTES)];
        predictArrays(Objects.requireNonNull(tiles, "tiles"), null, layout, probabilities, null);
        return probabilities;
    }

    /**
     * Predicts class probabilities of 8-bit tiles held in a Java array (bytes
     * read as 0..255). Copies as {@link #predict(float[], TileLayout)}.
     *
     * @param tiles exactly {@code layout.inputBytes()} values
     * @param layout the tiles' shape; its dtype must be U8
     * @return float32 probabilities in the input's order
     * @throws IllegalArgumentException if the layout or array does not fit
     */
    public float[] predict(byte[] tiles, TileLayout layout) {
        requireDtype(layout, TileLayout.Dtype.U8);
        float[] probabilities = new float[arrayLength(layout.probabilityBytes(info.numClasses()) / Float.BYTES)];
        predictArrays(null, Objects.requireNonNull(tiles, "tiles"), layout, probabilities, null);
        return probabilities;
    }

    /**
     * Predicts the most likely class of each pixel of 8-bit tiles held in a
     * Java array. Copies as {@link #predict(float[], TileLayout)}.
     *
     * @param tiles exactly {@code layout.inputBytes()} values
     * @param layout the tiles' shape; its dtype must be U8
     * @return one class index per pixel, {@code [N][H][W]}
     * @throws IllegalArgumentException if the layout or array does not fit
     */
    public byte[] predictClasses(byte[] tiles, TileLayout layout) {
        requireDtype(layout, TileLayout.Dtype.U8);
        byte[] classMap = new byte[arrayLength(layout.classMapBytes())];
        predictArrays(null, Objects.requireNonNull(tiles, "tiles"), layout, null, classMap);
        return classMap;
    }

    private static void requireDtype(TileLayout layout, TileLayout.Dtype dtype) {
        if (layout.dtype() != dtype) {
            throw new IllegalArgumentException("this overload takes " + dtype + " tiles, the layout says " + layout.dtype());
        }
    }

    private static int arrayLength(long length) {
        if (length > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a result of " + length + " values does not fit a Java array; "
                    + "predict fewer tiles at once");
        }
        return (int) length;
    }

    private void predictArrays(float[] floats, byte[] bytes, TileLayout layout, float[] probabilities, byte[] classMap) {
        try {
            nativePredictArrays(handle, floats, bytes, layout.count(), layout.channels(), layout.height(),
                    layout.width(), layout.order().ordinal(), layout.dtype().ordinal(), probabilities, classMap);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Applies the model to a whole image read region by region: tiles on a
     * grid aligned to the model's stride, reflection-padded borders, blended
     * predictions, and result files ({@code class_map.png},
     * {@code overlay.png}, {@code probabilities.tif}, {@code measurements.json}
     * and {@code .csv}, as chosen) written into {@code outDir} while finished
     * rows stream in, each appearing only when complete. Runs on the calling
     * thread, which is also the thread the reader and listener are called on.
     * An exception thrown by either ends the run and reaches the caller unchanged.
     *
     * @param reader the image
     * @param outDir folder for the results, created if needed
     * @param options tiling and outputs
     * @return the files written and the per-class measurements
     * @throws IOException if a result or the truth mask cannot be written or read
     * @throws IllegalArgumentException if the options or the image's channels do not fit the model
     */
    public ApplyResult apply(RegionReader reader, Path outDir, ApplyOptions options) throws IOException {
        ApplyBridge bridge = new ApplyBridge(Objects.requireNonNull(reader, "reader"), options.listener());
        return apply(bridge, null, reader.width(), reader.height(), reader.channels(), outDir, options);
    }

    /**
     * As {@link #apply(RegionReader, Path, ApplyOptions)} for an image file
     * (TIFF of 8/16-bit integers or 32-bit floats with any number of
     * channels, PNG or JPEG), read into memory as a whole.
     *
     * @param imageFile the image
     * @param outDir folder for the results, created if needed
     * @param options tiling and outputs
     * @return the files written and the per-class measurements
     * @throws IOException if the image cannot be read or a result not written
     * @throws IllegalArgumentException if the options or the image's channels do not fit the model
     */
    public ApplyResult apply(Path imageFile, Path outDir, ApplyOptions options) throws IOException {
        ApplyBridge bridge = new ApplyBridge(null, options.listener());
        return apply(bridge, imageFile.toString(), 0, 0, 0, outDir, options);
    }

    private ApplyResult apply(ApplyBridge bridge, String image, int width, int height, int channels, Path outDir,
            ApplyOptions options) throws IOException {
        String out = outDir.toString();
        try {
            return new ApplyResult(Json.parseObject(
                    nativeApply(handle, bridge, image, width, height, channels, out, options.toJson())));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Frees the model once calls already running have returned. Closing twice is harmless. */
    @Override
    public void close() {
        closed = true;
        cleanable.clean();
    }

    @Override
    public String toString() {
        return "Predictor[" + info + (closed ? ", closed]" : "]");
    }

    /** Open predictors in this process, for tests of the cleaner. */
    static native int nativeLiveHandles();

    /** Whether two predictors run the very same loaded model, for tests of the cache. */
    static boolean sharesModelWith(Predictor a, Predictor b) {
        return nativeSameModel(a.handle, b.handle);
    }

    private static native boolean nativeSameModel(long a, long b);

    private static native long nativeOpen(String modelDir, String optionsJson) throws IOException;

    private static native long nativeOpenOnnx(String onnx, String metadata, String optionsJson) throws IOException;

    private static native void nativeClose(long handle);

    private static native String nativeInfo(long handle);

    private static native void nativePredict(long handle, ByteBuffer tiles, int tilesOffset, int tilesLength,
            int count, int channels, int height, int width, int order, int dtype,
            ByteBuffer probabilities, int probabilitiesOffset, int probabilitiesLength,
            ByteBuffer classMap, int classMapOffset, int classMapLength);

    private static native void nativePredictArrays(long handle, float[] floatTiles, byte[] byteTiles,
            int count, int channels, int height, int width, int order, int dtype,
            float[] probabilities, byte[] classMap);

    private static native String nativeApply(long handle, ApplyBridge bridge, String image, int width, int height,
            int channels, String outDir, String optionsJson) throws IOException;
}
