package org.dlclassifier;

import static org.dlclassifier.InferenceFixtures.direct;
import static org.dlclassifier.InferenceFixtures.randomBytes;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.Test;

/**
 * 10,000 predictions from 4 threads on one predictor: no error, the same
 * answer every time, and flat native memory.
 */
public class SoakTest {
    private static final int THREADS = 4;
    private static final int CALLS = 10_000;
    private static final int WARM_UP = 400;
    private static final int SIDE = 32;
    private static final long MAX_GROWTH_BYTES = 20L << 20;
    private static final TileLayout LAYOUT = TileLayout.of(1, 1, SIDE, SIDE, TileLayout.Order.HWC, TileLayout.Dtype.U8);

    /** Resident memory of this process, from /proc/self/status. */
    private static long residentBytes() throws IOException {
        for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    /** Runs {@code calls} predictions split over the threads; each checks its class map. */
    private static void predict(Predictor predictor, ExecutorService pool, int calls, byte[] expected) throws Exception {
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            futures.add(pool.submit(() -> {
                ByteBuffer tiles = direct(SIDE * SIDE);
                tiles.put(randomBytes(SIDE * SIDE, 7)).flip();
                ByteBuffer classes = direct(SIDE * SIDE);
                byte[] seen = new byte[SIDE * SIDE];
                for (int i = 0; i < calls / THREADS; i++) {
                    predictor.predictClasses(tiles, LAYOUT, classes);
                    classes.duplicate().get(seen);
                    assertArrayEquals(expected, seen);
                }
                return null;
            }));
        }
        for (Future<?> f : futures) {
            f.get();
        }
    }

    @Test
    public void tenThousandCallsFromFourThreadsKeepMemoryFlat() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        PredictorOptions options = PredictorOptions.builder().device("cpu").threads(1).concurrentRuns(2).build();
        try (Predictor predictor = Predictor.open(InferenceFixtures.nucleiModel(), options)) {
            byte[] expected = predictor.predictClasses(randomBytes(SIDE * SIDE, 7), LAYOUT);
            predict(predictor, pool, WARM_UP, expected);
            long before = residentBytes();
            long start = System.nanoTime();
            predict(predictor, pool, CALLS, expected);
            double seconds = (System.nanoTime() - start) / 1e9;
            long growth = residentBytes() - before;
            System.out.printf("soak: %d calls in %.1f s, RSS %+.1f MB%n", CALLS, seconds, growth / 1048576.0);
            assertTrue("RSS grew by " + growth + " bytes", growth < MAX_GROWTH_BYTES);
        } finally {
            pool.shutdown();
        }
    }
}
