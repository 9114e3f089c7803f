package org.dlclassifier;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.dlclassifier.internal.TestNative;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ReservationTest {
    private static final long BUDGET = 100;

    @Rule
    public TemporaryFolder temp = new TemporaryFolder();

    private Reservation reserve(Path dir, long bytes, Duration timeout) throws IOException {
        return Reservation.reserve("cpu", bytes, timeout, BUDGET, dir);
    }

    /** {@link #reserve} for a {@link java.util.function.Supplier}. */
    private Reservation reserveUnchecked(Path dir, long bytes, Duration timeout) {
        try {
            return reserve(dir, bytes, timeout);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    public void bookingsShareTheBudgetAndTimeOut() throws Exception {
        Path dir = temp.getRoot().toPath();
        try (Reservation a = reserve(dir, 60, Duration.ZERO); Reservation b = reserve(dir, 40, Duration.ZERO)) {
            assertEquals(60, a.bytes());
            assertEquals("cpu", b.device());
            long started = System.nanoTime();
            DlcTimeoutException e = assertThrows(DlcTimeoutException.class, () -> reserve(dir, 1, Duration.ofMillis(150)));
            assertTrue(System.nanoTime() - started >= TimeUnit.MILLISECONDS.toNanos(150));
            assertTrue(e.getMessage(), e.getMessage().contains("1 bytes on cpu") && e.getMessage().contains("100 bytes of 100 bytes booked"));
        }
        reserve(dir, 100, Duration.ZERO).close();
    }

    @Test
    public void releaseLetsAWaitingRequestIn() throws Exception {
        Path dir = temp.getRoot().toPath();
        Reservation holder = reserve(dir, 80, Duration.ZERO);
        CompletableFuture<Reservation> waiter = CompletableFuture.supplyAsync(() -> reserveUnchecked(dir, 50, Duration.ofSeconds(10)));
        Thread.sleep(200);
        assertTrue("the waiter must wait while the holder holds", !waiter.isDone());
        holder.release();
        holder.release();
        try (Reservation got = waiter.get(5, TimeUnit.SECONDS)) {
            assertEquals(50, got.bytes());
        }
        assertEquals(0, TestNative.liveHandles("reservation"));
    }

    @Test
    public void predictorOptionsCarryTheReservationToTheEngine() {
        assertTrue(PredictorOptions.defaults().toJson().contains("\"gpu_reservation\":null"));
        PredictorOptions options = PredictorOptions.builder().gpuReservation(1L << 30, Duration.ofSeconds(90)).build();
        assertEquals(1L << 30, options.gpuReservationBytes());
        assertEquals(Duration.ofSeconds(90), options.gpuReservationTimeout());
        assertTrue(options.toJson(), options.toJson().contains("\"gpu_reservation\":{\"bytes\":1073741824,\"timeout_ms\":90000}"));
        assertThrows(IllegalArgumentException.class, () -> PredictorOptions.builder().gpuReservation(0, Duration.ZERO));
    }

    @Test
    public void impossibleRequestsFailAtOnce() throws IOException {
        Path dir = temp.getRoot().toPath();
        IllegalArgumentException tooBig = assertThrows(IllegalArgumentException.class, () -> reserve(dir, 101, Duration.ofMinutes(1)));
        assertTrue(tooBig.getMessage(), tooBig.getMessage().contains("more than its capacity"));
        assertThrows(IllegalArgumentException.class, () -> Reservation.reserve("cpu", 1, Duration.ZERO, 0, dir));
        assertThrows(IllegalArgumentException.class, () -> Reservation.reserve("tpu", 1, Duration.ZERO, BUDGET, dir));
        assertThrows(IllegalArgumentException.class, () -> reserve(dir, -1, Duration.ZERO));
    }
}
