package org.dlclassifier;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Objects;
import org.dlclassifier.internal.ApplyBridge;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonMapper;
import org.dlclassifier.internal.Native;
import org.dlclassifier.internal.NativeHandle;

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
 * <p>Errors: {@link NullPointerException} naming the parameter for a null
 * argument not documented as nullable, {@link IllegalArgumentException} for
 * bad arguments (buffer sizes, layouts, options), {@link IOException} for unreadable files,
 * {@link DlcException} for failures inside the engine; messages carry the
 * native error chain.
 */
public final class Predictor implements AutoCloseable {
    private final NativeHandle handle;
    private final ModelInfo info;

    private Predictor(long predictor) {
        this.handle = new NativeHandle(this, "predictor", predictor, Native::predictorFree);
        try {
            this.info = JsonMapper.read(ModelInfo.class, Json.parse(handle.call(Native::predictorInfoJson)));
        } catch (RuntimeException e) {
            handle.close();
            throw e;
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
        Objects.requireNonNull(modelDir, "modelDir");
        Objects.requireNonNull(options, "options");
        return new Predictor(Native.predictorOpen(modelDir.toString(), options.toJson()));
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
        Objects.requireNonNull(onnxFile, "onnxFile");
        Objects.requireNonNull(options, "options");
        String metadataPath = metadata == null ? null : metadata.toString();
        return new Predictor(Native.predictorOpenOnnx(onnxFile.toString(), metadataPath, options.toJson()));
    }

    /**
     * @return what the model takes and gives
     * @throws IllegalStateException if closed
     */
    public ModelInfo info() {
        return handle.call(h -> info);
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
     * Predicts a batch of tiles without copying, with float32 probabilities:
     * {@link #predict(ByteBuffer, TileLayout, ByteBuffer, ProbabilityFormat, ByteBuffer)}
     * with {@link ProbabilityFormat#FLOAT32}.
     *
     * @param tiles the tiles, as for the five-argument form
     * @param layout the tiles' shape and encoding
     * @param probabilities direct, writable buffer in native order with at least
     *     {@link TileLayout#probabilityBytes(int)} remaining bytes, or null
     * @param classMap direct, writable buffer with at least
     *     {@link TileLayout#classMapBytes()} remaining bytes for class indices, or null
     * @throws IllegalArgumentException as for the five-argument form
     * @throws IllegalStateException if closed
     */
    public void predict(ByteBuffer tiles, TileLayout layout, ByteBuffer probabilities, ByteBuffer classMap) {
        predict(tiles, layout, probabilities, ProbabilityFormat.FLOAT32, classMap);
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
     * @param probabilities direct, writable buffer with at least
     *     {@link TileLayout#probabilityBytes(int, ProbabilityFormat)} remaining bytes
     *     for the probabilities in the input's order ({@code [N][H][W][K]} for HWC,
     *     {@code [N][K][H][W]} for CHW), in native order for FLOAT32; or null
     * @param format how the probabilities are stored: FLOAT32, or UINT8 (probability x 255,
     *     rounded), a quarter of the memory
     * @param classMap direct, writable buffer with at least
     *     {@link TileLayout#classMapBytes()} remaining bytes for class indices, or null
     * @throws IllegalArgumentException for heap or read-only buffers, a wrong
     *     byte order, sizes that do not fit the layout, a wrong channel count,
     *     or if both outputs are null
     * @throws IllegalStateException if closed
     */
    public void predict(ByteBuffer tiles, TileLayout layout, ByteBuffer probabilities, ProbabilityFormat format,
            ByteBuffer classMap) {
        Objects.requireNonNull(tiles, "tiles");
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(format, "format");
        checkBuffer(tiles, "tiles", layout.dtype().size() > 1, false);
        if (probabilities != null) {
            checkBuffer(probabilities, "probabilities", format.size() > 1, true);
        }
        if (classMap != null) {
            checkBuffer(classMap, "classMap", false, true);
        }
        // Slices: the native side uses address..capacity, so positions and limits stay the caller's.
        ByteBuffer in = tiles.slice();
        ByteBuffer probs = probabilities == null ? null : probabilities.slice();
        ByteBuffer classes = classMap == null ? null : classMap.slice();
        int[] shape = layout.toNative();
        handle.run(h -> Native.predictorPredict(h, in, shape, probs, format.ordinal(), classes));
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
     * @throws IllegalStateException if closed
     */
    public float[] predict(float[] tiles, TileLayout layout) {
        Objects.requireNonNull(tiles, "tiles");
        Objects.requireNonNull(layout, "layout");
        requireDtype(layout, TileLayout.Dtype.F32);
        ByteBuffer in = arrayInput(tiles.length * (long) Float.BYTES);
        in.asFloatBuffer().put(tiles);
        return predictProbabilities(in, layout);
    }

    /**
     * Predicts class probabilities of 8-bit tiles held in a Java array (bytes
     * read as 0..255). Copies as {@link #predict(float[], TileLayout)}.
     *
     * @param tiles exactly {@code layout.inputBytes()} values
     * @param layout the tiles' shape; its dtype must be U8
     * @return float32 probabilities in the input's order
     * @throws IllegalArgumentException if the layout or array does not fit
     * @throws IllegalStateException if closed
     */
    public float[] predict(byte[] tiles, TileLayout layout) {
        Objects.requireNonNull(tiles, "tiles");
        Objects.requireNonNull(layout, "layout");
        requireDtype(layout, TileLayout.Dtype.U8);
        ByteBuffer in = arrayInput(tiles.length);
        in.put(tiles).flip();
        return predictProbabilities(in, layout);
    }

    /**
     * Predicts the most likely class of each pixel of 8-bit tiles held in a
     * Java array. Copies as {@link #predict(float[], TileLayout)}.
     *
     * @param tiles exactly {@code layout.inputBytes()} values
     * @param layout the tiles' shape; its dtype must be U8
     * @return one class index per pixel, {@code [N][H][W]}
     * @throws IllegalArgumentException if the layout or array does not fit
     * @throws IllegalStateException if closed
     */
    public byte[] predictClasses(byte[] tiles, TileLayout layout) {
        Objects.requireNonNull(tiles, "tiles");
        Objects.requireNonNull(layout, "layout");
        requireDtype(layout, TileLayout.Dtype.U8);
        ByteBuffer in = arrayInput(tiles.length);
        in.put(tiles).flip();
        ByteBuffer out = ByteBuffer.allocateDirect(arrayLength(layout.classMapBytes()));
        predict(in, layout, null, out);
        byte[] classMap = new byte[out.capacity()];
        out.get(classMap);
        return classMap;
    }

    private static void requireDtype(TileLayout layout, TileLayout.Dtype dtype) {
        if (layout.dtype() != dtype) {
            throw new IllegalArgumentException("this overload takes " + dtype + " tiles, the layout says " + layout.dtype());
        }
    }

    private static int arrayLength(long length) {
        if (length > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a result of " + length + " bytes does not fit one buffer; "
                    + "predict fewer tiles at once");
        }
        return (int) length;
    }

    /**
     * A direct buffer for an array's tiles, in native order. Its size is the
     * array's, so that the engine names an array that does not fit the layout.
     */
    private static ByteBuffer arrayInput(long bytes) {
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tiles of " + bytes + " bytes do not fit one buffer; predict fewer at once");
        }
        return ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
    }

    /** The float32 probabilities of tiles in a direct buffer, copied out once into an array. */
    private float[] predictProbabilities(ByteBuffer tiles, TileLayout layout) {
        int bytes = arrayLength(layout.probabilityBytes(info.numClasses()));
        ByteBuffer out = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        predict(tiles, layout, out, null);
        float[] probabilities = new float[bytes / Float.BYTES];
        out.asFloatBuffer().get(probabilities);
        return probabilities;
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
     * @throws IllegalStateException if the reader leaves values of a region unwritten
     *     (see {@link RegionReader#read})
     */
    public ApplyResult apply(RegionReader reader, Path outDir, ApplyOptions options) throws IOException {
        Objects.requireNonNull(reader, "reader");
        Objects.requireNonNull(outDir, "outDir");
        Objects.requireNonNull(options, "options");
        return apply(ApplyBridge.of(reader, options.listener(), hooks(options)), outDir, options);
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
        Objects.requireNonNull(imageFile, "imageFile");
        Objects.requireNonNull(outDir, "outDir");
        Objects.requireNonNull(options, "options");
        return apply(ApplyBridge.of(imageFile, options.listener(), hooks(options)), outDir, options);
    }

    /** The caller's object measurements, or null for none. */
    private static ApplyBridge.Measurements hooks(ApplyOptions options) {
        ObjectOptions objects = options.objects();
        return objects == null || objects.measurements().isEmpty() ? null : new MeasurementHooks(objects.measurements());
    }

    private ApplyResult apply(ApplyBridge bridge, Path outDir, ApplyOptions options) throws IOException {
        String out = outDir.toString();
        String settings = options.toJson();
        String report = handle.call(h -> Native.predictorApply(h, bridge, out, settings, 0));
        return JsonMapper.read(ApplyResult.class, Json.parse(report));
    }

    /**
     * Classifies a rectangle of an image into the caller's buffers, as a live
     * overlay needs (QuPath's {@code PixelClassifier} renders such tiles while
     * the user browses): the result {@link #apply(RegionReader, Path, ApplyOptions)}
     * gives there, with context read from the image around the rectangle, at
     * the resolution the options choose, returned at the reader's full
     * resolution. Only the tiling, pixel size and downsample of
     * {@code options} apply. Buffers are used from their position over their
     * remaining bytes and written only when the call succeeds.
     *
     * @param reader the image, read on the calling thread
     * @param x left column of the rectangle
     * @param y top row
     * @param width columns
     * @param height rows
     * @param options tiling and resolution
     * @param probabilities direct, writable buffer with at least {@code K * width * height}
     *     values (4 bytes each, native order, for FLOAT32) of planar probabilities
     *     {@code [K][height][width]}; or null
     * @param format FLOAT32, or UINT8 (probability x 255, rounded)
     * @param classMap direct, writable buffer with at least {@code width * height} bytes
     *     for the class index of each pixel, row by row; or null
     * @throws IOException if the reader fails with one
     * @throws IllegalArgumentException if the rectangle is empty or leaves the image, a
     *     buffer is too small, heap, read-only or in the wrong byte order, or both are null
     * @throws IllegalStateException if closed
     */
    public void classifyRegion(RegionReader reader, int x, int y, int width, int height, ApplyOptions options,
            ByteBuffer probabilities, ProbabilityFormat format, ByteBuffer classMap) throws IOException {
        Objects.requireNonNull(reader, "reader");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(format, "format");
        if (probabilities != null) {
            checkBuffer(probabilities, "probabilities", format.size() > 1, true);
        }
        if (classMap != null) {
            checkBuffer(classMap, "classMap", false, true);
        }
        if (x < 0 || y < 0 || width < 0 || height < 0) {
            throw new IllegalArgumentException("the rectangle " + width + "x" + height + " at (" + x + ", " + y
                    + ") has a negative coordinate or size");
        }
        ApplyBridge bridge = ApplyBridge.of(reader, null);
        String settings = options.tilingJson();
        ByteBuffer probs = probabilities == null ? null : probabilities.slice();
        ByteBuffer classes = classMap == null ? null : classMap.slice();
        handle.run(h -> Native.predictorClassifyRegion(h, bridge, x, y, width, height, settings, probs, format.ordinal(),
                classes, 0));
    }

    /**
     * The class map of a rectangle, as
     * {@link #classifyRegion(RegionReader, int, int, int, int, ApplyOptions, ByteBuffer, ProbabilityFormat, ByteBuffer)}
     * gives it, copied into an array.
     *
     * @param reader the image
     * @param x left column
     * @param y top row
     * @param width columns
     * @param height rows
     * @param options tiling and resolution
     * @return the class index of each pixel, {@code [height][width]} row by row
     * @throws IOException if the reader fails with one
     * @throws IllegalArgumentException as for the buffer form
     */
    public byte[] classifyRegion(RegionReader reader, int x, int y, int width, int height, ApplyOptions options)
            throws IOException {
        ByteBuffer out = ByteBuffer.allocateDirect(arrayLength((long) Math.max(width, 0) * Math.max(height, 0)));
        classifyRegion(reader, x, y, width, height, options, null, ProbabilityFormat.FLOAT32, out);
        byte[] classes = new byte[out.capacity()];
        out.get(classes);
        return classes;
    }

    /** Frees the model once calls already running have returned. Closing twice is harmless. */
    @Override
    public void close() {
        handle.close();
    }

    /** @return the handle, for tests that ask the native side about it */
    NativeHandle handle() {
        return handle;
    }

    @Override
    public String toString() {
        return "Predictor[" + info + (handle.isClosed() ? ", closed]" : "]");
    }
}
