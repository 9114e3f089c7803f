package org.dlclassifier;

import static org.dlclassifier.InferenceFixtures.direct;
import static org.dlclassifier.InferenceFixtures.nucleiModel;
import static org.dlclassifier.InferenceFixtures.randomBytes;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.dlclassifier.internal.TestNative;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The tile buffer API of {@link Predictor} on a real trained model, through JNI. */
public class PredictorTest {
    private static final int N = 2;
    private static final int SIDE = 64;
    private static final int PIXELS = N * SIDE * SIDE;
    private static final TileLayout U8 = TileLayout.of(N, 1, SIDE, SIDE, TileLayout.Order.HWC, TileLayout.Dtype.U8);

    private static Predictor predictor;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @BeforeClass
    public static void open() throws IOException {
        predictor = Predictor.open(nucleiModel(), PredictorOptions.builder().device("cpu").threads(2).build());
    }

    @AfterClass
    public static void close() {
        predictor.close();
    }

    private static ByteBuffer tiles(byte[] values) {
        ByteBuffer b = direct(values.length);
        b.put(values).flip();
        return b;
    }

    private static float[] floats(ByteBuffer probabilities) {
        float[] f = new float[probabilities.remaining() / Float.BYTES];
        probabilities.duplicate().order(ByteOrder.nativeOrder()).asFloatBuffer().get(f);
        return f;
    }

    @Test
    public void infoDescribesTheModel() throws IOException {
        ModelInfo info = predictor.info();
        assertEquals("nuclei", info.name());
        assertEquals(nucleiModel(), info.source());
        assertEquals(1, info.inChannels());
        assertEquals(2, info.numClasses());
        assertEquals("Background", info.classes().get(0).name());
        assertEquals(1, info.classes().get(1).index());
        assertEquals(0xFF0000, info.classes().get(1).rgb());
        assertEquals("#FF0000", info.classes().get(1).color());
        assertEquals(64, info.tileSize());
        assertEquals("a UNet runs on any multiple of 32", 32, info.minSize());
        assertEquals(1.0, info.downsample(), 0);
        assertFalse(info.trainingPixelSizeMicrons().isPresent());
        assertFalse(info.fixedHeight().isPresent() || info.fixedWidth().isPresent());
        assertTrue(info.backend(), info.backend().startsWith("onnxruntime"));
        assertTrue(info.toString().contains("2 classes"));
        assertTrue(predictor.toString().contains("nuclei"));
    }

    @Test
    public void probabilitiesSumToOneAndEveryInputPathAgrees() {
        byte[] values = randomBytes(PIXELS, 1);
        ByteBuffer probs = direct((int) U8.probabilityBytes(2));
        predictor.predict(tiles(values), U8, probs);
        float[] p = floats(probs);
        for (int i = 0; i < PIXELS; i++) {
            assertEquals(1.0, p[2 * i] + p[2 * i + 1], 1e-5);
        }
        assertTrue("probabilities depend on the pixels", max(p) - min(p) > 1e-3f);

        assertArrayEquals(p, predictor.predict(values, U8), 0f);
        float[] asFloats = new float[PIXELS];
        ByteBuffer u16 = direct(PIXELS * 2);
        for (int i = 0; i < PIXELS; i++) {
            asFloats[i] = values[i] & 0xFF;
            u16.putShort((short) (values[i] & 0xFF));
        }
        u16.flip();
        TileLayout f32 = TileLayout.of(N, 1, SIDE, SIDE, TileLayout.Order.HWC, TileLayout.Dtype.F32);
        assertArrayEquals(p, predictor.predict(asFloats, f32), 1e-6f);
        ByteBuffer u16probs = direct(probs.capacity());
        predictor.predict(u16, TileLayout.of(N, 1, SIDE, SIDE, TileLayout.Order.HWC, TileLayout.Dtype.U16), u16probs);
        assertArrayEquals(p, floats(u16probs), 1e-6f);

        byte[] classes = predictor.predictClasses(values, U8);
        ByteBuffer classMap = direct(PIXELS);
        predictor.predictClasses(tiles(values), U8, classMap);
        ByteBuffer both = direct(probs.capacity());
        ByteBuffer bothClasses = direct(PIXELS);
        predictor.predict(tiles(values), U8, both, bothClasses);
        assertArrayEquals(p, floats(both), 0f);
        for (int i = 0; i < PIXELS; i++) {
            int argmax = p[2 * i + 1] > p[2 * i] ? 1 : 0;
            assertEquals(argmax, classes[i]);
            assertEquals(argmax, classMap.get(i));
            assertEquals(argmax, bothClasses.get(i));
        }
    }

    @Test
    public void uint8ProbabilitiesAreTheFloatOnesTimes255Rounded() {
        byte[] values = randomBytes(PIXELS, 11);
        float[] expected = predictor.predict(values, U8);
        assertEquals(PIXELS * 2, U8.probabilityBytes(2, ProbabilityFormat.UINT8));
        // Any byte order: one byte per value has none.
        ByteBuffer bytes = ByteBuffer.allocateDirect((int) U8.probabilityBytes(2, ProbabilityFormat.UINT8));
        ByteBuffer classMap = direct(PIXELS);
        predictor.predict(tiles(values), U8, bytes, ProbabilityFormat.UINT8, classMap);
        assertEquals("position unchanged", 0, bytes.position());
        for (int i = 0; i < expected.length; i++) {
            assertEquals("value " + i, Math.round(255 * expected[i]), bytes.get(i) & 0xFF, 1);
        }
        for (int i = 0; i < PIXELS; i++) {
            assertEquals(expected[2 * i + 1] > expected[2 * i] ? 1 : 0, classMap.get(i));
        }
        expectIllegalArgument("needs", () -> predictor.predict(tiles(values), U8,
                ByteBuffer.allocateDirect(PIXELS * 2 - 1), ProbabilityFormat.UINT8, null));
    }

    @Test
    public void chwProbabilitiesAreClassPlanes() {
        byte[] values = randomBytes(PIXELS, 2);
        float[] hwc = predictor.predict(values, U8);
        float[] chw = predictor.predict(values, TileLayout.of(N, 1, SIDE, SIDE, TileLayout.Order.CHW, TileLayout.Dtype.U8));
        int plane = SIDE * SIDE;
        for (int t = 0; t < N; t++) {
            for (int px = 0; px < plane; px++) {
                for (int k = 0; k < 2; k++) {
                    assertEquals(hwc[(t * plane + px) * 2 + k], chw[(t * 2 + k) * plane + px], 0f);
                }
            }
        }
    }

    @Test
    public void buffersAreUsedInPlaceFromTheirPositionWithoutMovingIt() {
        byte[] values = randomBytes(PIXELS, 3);
        float[] expected = predictor.predict(values, U8);

        // Tiles at an offset in a larger buffer, behind bytes that are not tiles.
        ByteBuffer input = direct(PIXELS + 300);
        input.put(randomBytes(100, 9)).put(values).put(randomBytes(200, 10));
        input.position(100).limit(100 + PIXELS);
        // Probabilities written into a window of one block of memory, seen through another view of it.
        int probBytes = (int) U8.probabilityBytes(2);
        ByteBuffer memory = direct(probBytes + 64);
        for (int i = 0; i < memory.capacity(); i++) {
            memory.put(i, (byte) 0x7F);
        }
        ByteBuffer window = memory.duplicate().order(ByteOrder.nativeOrder());
        window.position(32).limit(32 + probBytes);

        predictor.predict(input, U8, window);

        assertEquals("input position unchanged", 100, input.position());
        assertEquals(100 + PIXELS, input.limit());
        assertEquals("output position unchanged", 32, window.position());
        for (int i = 0; i < 32; i++) {
            assertEquals("untouched before", 0x7F, memory.get(i));
            assertEquals("untouched after", 0x7F, memory.get(32 + probBytes + i));
        }
        FloatBuffer seen = memory.duplicate().position(32).slice().order(ByteOrder.nativeOrder()).asFloatBuffer();
        float[] written = new float[expected.length];
        seen.get(written);
        assertArrayEquals("the engine wrote into the caller's memory", expected, written, 0f);

        // Changing the caller's memory changes what the next call reads: nothing was cached.
        input.put(100, (byte) (values[0] ^ 0xFF));
        ByteBuffer again = direct(probBytes);
        predictor.predict(input, U8, again);
        assertNotEquals(expected[0], floats(again)[0], 0f);
    }

    @Test
    public void heapReadOnlyMisorderedOrOverlappingBuffersAreRefused() {
        ByteBuffer probs = direct((int) U8.probabilityBytes(2));
        TileLayout f32 = TileLayout.of(N, 1, SIDE, SIDE, TileLayout.Order.HWC, TileLayout.Dtype.F32);
        ByteOrder wrong = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;

        expectIllegalArgument("direct ByteBuffer", () -> predictor.predict(ByteBuffer.allocate(PIXELS), U8, probs));
        expectIllegalArgument("direct ByteBuffer", () -> predictor.predict(tiles(new byte[PIXELS]), U8, ByteBuffer.allocate(probs.capacity())));
        expectIllegalArgument("native byte order",
                () -> predictor.predict(direct(PIXELS * 4).order(wrong), f32, probs));
        expectIllegalArgument("native byte order",
                () -> predictor.predict(tiles(new byte[PIXELS]), U8, direct(probs.capacity()).order(wrong)));
        expectIllegalArgument("read-only",
                () -> predictor.predict(tiles(new byte[PIXELS]), U8, probs.asReadOnlyBuffer().order(ByteOrder.nativeOrder())));
        ByteBuffer shared = direct(PIXELS + probs.capacity());
        ByteBuffer in = shared.duplicate().limit(PIXELS).slice();
        ByteBuffer out = shared.duplicate().position(PIXELS - 1).slice().order(ByteOrder.nativeOrder());
        expectIllegalArgument("overlap", () -> predictor.predict(in, U8, out));
        ByteBuffer classMap = probs.duplicate().position(8).slice();
        expectIllegalArgument("overlap", () -> predictor.predict(tiles(new byte[PIXELS]), U8, probs, classMap));

        // 8-bit data has no byte order: any order is fine.
        predictor.predictClasses(tiles(new byte[PIXELS]).order(wrong), U8, direct(PIXELS));
    }

    @Test
    public void sizesLayoutsAndOutputsThatDoNotFitAreRefused() {
        ByteBuffer probs = direct((int) U8.probabilityBytes(2));
        expectIllegalArgument("bytes", () -> predictor.predict(tiles(new byte[PIXELS - 1]), U8, probs));
        expectIllegalArgument("needs", () -> predictor.predict(tiles(new byte[PIXELS]), U8, direct(probs.capacity() - 4)));
        expectIllegalArgument("needs", () -> predictor.predictClasses(tiles(new byte[PIXELS]), U8, direct(PIXELS - 1)));
        TileLayout rgb = TileLayout.of(N, 3, SIDE, SIDE, TileLayout.Order.HWC, TileLayout.Dtype.U8);
        expectIllegalArgument("input channels", () -> predictor.predict(new byte[PIXELS * 3], rgb));
        expectIllegalArgument("no output buffer", () -> predictor.predict(tiles(new byte[PIXELS]), U8, null, null));
        expectIllegalArgument("F32", () -> predictor.predict(new float[PIXELS], U8));
        expectIllegalArgument("U8", () -> predictor.predict(new byte[PIXELS],
                TileLayout.of(N, 1, SIDE, SIDE, TileLayout.Order.HWC, TileLayout.Dtype.U16)));
        expectIllegalArgument("bytes", () -> predictor.predictClasses(new byte[5], U8));
        expectIllegalArgument("positive", () -> TileLayout.of(0, 1, 1, 1, TileLayout.Order.HWC, TileLayout.Dtype.U8));
    }

    @Test
    public void layoutsAndOptionsAreValues() {
        TileLayout layout = TileLayout.of(3, 2, 5, 7, TileLayout.Order.CHW, TileLayout.Dtype.U16);
        assertEquals(3 * 2 * 5 * 7 * 2, layout.inputBytes());
        assertEquals(3 * 5 * 7 * 4 * 4, layout.probabilityBytes(4));
        assertEquals(3 * 5 * 7, layout.classMapBytes());
        assertEquals(TileLayout.of(3, 2, 5, 7, TileLayout.Order.CHW, TileLayout.Dtype.U16), layout);
        assertEquals(layout.hashCode(), TileLayout.of(3, 2, 5, 7, TileLayout.Order.CHW, TileLayout.Dtype.U16).hashCode());
        assertEquals(Arrays.asList(3, 2, 5, 7), Arrays.asList(layout.count(), layout.channels(), layout.height(), layout.width()));
        assertEquals(TileLayout.Order.CHW, layout.order());
        assertEquals(2, layout.dtype().size());
        assertTrue(layout.toString().contains("CHW"));

        PredictorOptions options = PredictorOptions.builder().backend(PredictorOptions.Backend.TORCH).device("cuda:1")
                .fp16(true).threads(3).concurrentRuns(2).nonFinite(PredictorOptions.NonFinite.ZERO).build();
        assertEquals("{\"backend\":\"torch\",\"device\":\"cuda:1\",\"fp16\":true,\"threads\":3,\"concurrent_runs\":2,"
                + "\"non_finite\":\"zero\",\"gpu_reservation\":null}",
                options.toJson());
        assertEquals(PredictorOptions.Backend.TORCH, options.backend());
        assertEquals("cuda:1", options.device());
        assertTrue(options.fp16());
        assertEquals(3, options.threads());
        assertEquals(2, options.concurrentRuns());
        assertEquals(options.toJson(), options.toString());
        assertEquals(PredictorOptions.defaults(), PredictorOptions.builder().build());
        assertEquals(PredictorOptions.defaults().hashCode(), PredictorOptions.builder().build().hashCode());
        assertTrue(PredictorOptions.defaults().toJson().contains("\"threads\":null"));
        expectIllegalArgument("threads", () -> PredictorOptions.builder().threads(-1));
    }

    @Test
    public void halfPrecisionIsRefusedWhereItCannotRun() throws Exception {
        Path model = InferenceFixtures.nucleiModel();
        PredictorOptions.Builder half = PredictorOptions.builder().device("cpu").fp16(true);
        expectIllegalArgument("fp16 inference needs a CUDA device",
                () -> Predictor.open(model, half.backend(PredictorOptions.Backend.TORCH).build()));
        expectIllegalArgument("ONNX models run in float32",
                () -> Predictor.open(model, half.backend(PredictorOptions.Backend.ONNX).build()));
    }

    @Test
    public void badModelsAndOptionsRaiseTypedExceptions() throws IOException {
        try {
            Predictor.open(tmp.getRoot().toPath().resolve("missing"));
            fail("opened a missing folder");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("metadata.json is missing"));
        }
        Path corrupt = tmp.newFolder("corrupt").toPath();
        Files.write(corrupt.resolve("metadata.json"), "{ not json".getBytes("UTF-8"));
        try {
            Predictor.open(corrupt);
            fail("opened corrupt metadata");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("invalid JSON"));
        }
        Path truncated = tmp.newFolder("truncated").toPath();
        Files.copy(nucleiModel().resolve("metadata.json"), truncated.resolve("metadata.json"));
        Files.write(truncated.resolve("model.onnx"), new byte[] {8, 1, 18});
        try {
            Predictor.open(truncated, PredictorOptions.builder().backend(PredictorOptions.Backend.ONNX).build());
            fail("opened a truncated model");
        } catch (IOException | DlcException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("model.onnx"));
        }
        expectIllegalArgument("unknown device 'tpu'",
                () -> open(PredictorOptions.builder().device("tpu").build()));
        expectIllegalArgument("concurrent_runs",
                () -> open(PredictorOptions.builder().concurrentRuns(0).build()));
        expectIllegalArgument("no CUDA device",
                () -> open(PredictorOptions.builder().device("cuda").build()));
        expectIllegalArgument("onnx backend only", () -> Predictor.openOnnx(nucleiModel().resolve("model.onnx"), null,
                PredictorOptions.builder().backend(PredictorOptions.Backend.TORCH).build()));
    }

    private static void open(PredictorOptions options) throws IOException {
        Predictor.open(nucleiModel(), options).close();
    }

    /** A model that loads but whose run fails: its failure is the engine's, not an I/O error. */
    @Test
    public void aFailingModelRunIsAnEngineFailure() throws Exception {
        String python = System.getenv("DLC_PYTHON");
        assertTrue("DLC_PYTHON names the test venv's python (make test sets it)", python != null);
        Path script = TrainingFixtures.nuclei().getParent().getParent().resolve("tests/python/make_failing_onnx.py");
        Path onnx = tmp.getRoot().toPath().resolve("fails.onnx");
        Process make = new ProcessBuilder(python, script.toString(), onnx.toString()).inheritIO().start();
        assertEquals(0, make.waitFor());
        try (Predictor failing = Predictor.openOnnx(onnx, null, PredictorOptions.defaults())) {
            failing.predictClasses(new byte[PIXELS], U8);
            fail("the run succeeded");
        } catch (DlcException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("ONNX Runtime run failed"));
        }
    }

    @Test
    public void torchScriptAndImportedOnnxAgreeWithTheModelFolder() throws IOException {
        byte[] values = randomBytes(PIXELS, 4);
        float[] expected = predictor.predict(values, U8);
        try (Predictor torch = Predictor.open(nucleiModel(), PredictorOptions.builder()
                .backend(PredictorOptions.Backend.TORCH).device("cpu").build())) {
            assertTrue(torch.info().backend(), torch.info().backend().startsWith("torchscript"));
            assertArrayEquals(expected, torch.predict(values, U8), 1e-4f);
        }
        Path model = nucleiModel();
        try (Predictor imported = Predictor.openOnnx(model.resolve("model.onnx"), model.resolve("metadata.json"),
                PredictorOptions.defaults())) {
            assertEquals(model.resolve("model.onnx"), imported.info().source());
            assertEquals("Nucleus", imported.info().classes().get(1).name());
            assertArrayEquals(expected, imported.predict(values, U8), 0f);
        }
        try (Predictor bare = Predictor.openOnnx(model.resolve("model.onnx"), null, PredictorOptions.defaults())) {
            assertEquals("class 1", bare.info().classes().get(1).name());
            assertEquals(1, bare.info().inChannels());
        }
    }

    @Test
    public void manyThreadsShareOnePredictor() throws Exception {
        byte[] values = randomBytes(PIXELS, 5);
        float[] expected = predictor.predict(values, U8);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<float[]>> results = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                Callable<float[]> task = () -> {
                    ByteBuffer probs = direct(expected.length * 4);
                    predictor.predict(tiles(values), U8, probs);
                    return floats(probs);
                };
                results.add(pool.submit(task));
            }
            for (Future<float[]> r : results) {
                assertArrayEquals(expected, r.get(), 0f);
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    public void useAfterCloseThrowsAndClosingTwiceIsHarmless() throws IOException {
        Predictor p = Predictor.open(nucleiModel());
        p.close();
        p.close();
        expectIllegalState(p::info);
        expectIllegalState(() -> p.predict(tiles(new byte[PIXELS]), U8, direct(PIXELS * 8)));
        expectIllegalState(() -> p.predictClasses(new byte[PIXELS], U8));
        expectIllegalState(() -> p.apply(InferenceFixtures.nucleiImage(), tmp.getRoot().toPath(), ApplyOptions.defaults()));
        assertTrue(p.toString().contains("closed"));
    }

    @Test
    public void closingWhileAnotherThreadPredictsIsSafe() throws Exception {
        Predictor p = Predictor.open(nucleiModel(), PredictorOptions.builder().threads(1).build());
        AtomicInteger done = new AtomicInteger();
        List<Throwable> unexpected = new ArrayList<>();
        Thread user = new Thread(() -> {
            ByteBuffer in = tiles(randomBytes(PIXELS, 6));
            ByteBuffer out = direct(PIXELS);
            try {
                while (true) {
                    p.predictClasses(in, U8, out);
                    done.incrementAndGet();
                }
            } catch (IllegalStateException expected) {
                // The predictor was closed between two calls.
            } catch (Throwable t) {
                unexpected.add(t);
            }
        });
        user.start();
        while (done.get() < 3) {
            Thread.sleep(1);
        }
        p.close();
        user.join(30_000);
        assertFalse("the predicting thread ended", user.isAlive());
        assertTrue(unexpected.toString(), unexpected.isEmpty());
    }

    @Test
    public void theCleanerFreesAPredictorNobodyClosed() throws Exception {
        int before = TestNative.liveHandles("predictor");
        openAndForget();
        assertEquals(before + 1, TestNative.liveHandles("predictor"));
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (TestNative.liveHandles("predictor") > before && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
        assertEquals(before, TestNative.liveHandles("predictor"));
    }

    private static void openAndForget() throws IOException {
        Predictor.open(nucleiModel()).info();
    }

    interface Action {
        void run() throws Exception;
    }

    static void expectIllegalArgument(String fragment, Action action) {
        try {
            action.run();
            fail("expected IllegalArgumentException containing '" + fragment + "'");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(fragment));
        } catch (Exception e) {
            throw new AssertionError("expected IllegalArgumentException, got " + e, e);
        }
    }

    static void expectIllegalState(Action action) {
        try {
            action.run();
            fail("expected IllegalStateException");
        } catch (IllegalStateException e) {
            assertEquals("this predictor is closed", e.getMessage());
        } catch (Exception e) {
            throw new AssertionError("expected IllegalStateException, got " + e, e);
        }
    }

    private static float min(float[] values) {
        float m = Float.MAX_VALUE;
        for (float v : values) {
            m = Math.min(m, v);
        }
        return m;
    }

    private static float max(float[] values) {
        float m = -Float.MAX_VALUE;
        for (float v : values) {
            m = Math.max(m, v);
        }
        return m;
    }
}
