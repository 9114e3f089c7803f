package org.dlclassifier;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import org.dlclassifier.internal.Native;
import org.dlclassifier.internal.NativeHandle;

/**
 * A booking of device memory shared with every process on this machine, so
 * that several trainings and predictors on one GPU wait for each other
 * instead of running out of memory. Requests are served first come, first
 * served, across processes; a booking is released by {@link #close()}, by the
 * garbage collector as a safety net, or when its process exits, even if killed.
 *
 * <pre>{@code
 * try (Reservation r = Reservation.reserve("cuda:0", 6L << 30, Duration.ofMinutes(10))) {
 *     // use up to 6 GiB of cuda:0
 * }
 * }</pre>
 *
 * <p>Booking files live in the folder named by the environment variable
 * {@code DLC_RESERVATION_DIR}, else in the system temp dir. Training and
 * prediction book memory themselves when their configuration asks for it
 * ({@link TrainingConfig.Builder#gpuReservation}, {@link PredictorOptions.Builder#gpuReservation}).
 */
public final class Reservation implements AutoCloseable {
    private final String device;
    private final long bytes;
    private final NativeHandle handle;

    private Reservation(String device, long bytes, long reservation) {
        this.device = device;
        this.bytes = bytes;
        this.handle = new NativeHandle(this, "reservation", reservation, Native::reservationFree);
    }

    /**
     * Books {@code bytes} of {@code device}'s memory against its total memory.
     *
     * @param device {@code cuda} or {@code cuda:N} ({@code cpu} needs the budget of the other overload)
     * @param bytes how much to book
     * @param timeout how long to wait behind earlier requests
     * @return the booking, to close when done
     * @throws DlcTimeoutException if the booking did not fit in time; the message says what was booked
     * @throws IllegalArgumentException for an unknown or absent device, or more than the device has
     * @throws IOException if the booking files cannot be created, read or locked
     */
    public static Reservation reserve(String device, long bytes, Duration timeout) throws IOException {
        return reserve(device, bytes, timeout, 0, null);
    }

    /**
     * Books {@code bytes} of {@code device}'s memory against a budget of
     * {@code budgetBytes}, in the booking files of {@code dir}.
     *
     * @param device {@code cpu}, {@code cuda} or {@code cuda:N}
     * @param bytes how much to book
     * @param timeout how long to wait behind earlier requests
     * @param budgetBytes the most all bookings on the device may add up to; 0 for the device's total memory
     * @param dir folder of the booking files, or null for the default
     * @return the booking, to close when done
     * @throws DlcTimeoutException if the booking did not fit in time; the message says what was booked
     * @throws IllegalArgumentException for an unknown or absent device, a negative number, or more than the budget
     * @throws IOException if the booking files cannot be created, read or locked
     */
    public static Reservation reserve(String device, long bytes, Duration timeout, long budgetBytes, Path dir)
            throws IOException {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(timeout, "timeout");
        if (bytes < 0 || budgetBytes < 0 || timeout.isNegative()) {
            throw new IllegalArgumentException("bytes, budgetBytes and timeout must not be negative");
        }
        long timeoutMs = timeout.compareTo(Duration.ofMillis(Long.MAX_VALUE)) >= 0 ? Long.MAX_VALUE : timeout.toMillis();
        long reservation = Native.reserve(device, bytes, budgetBytes, timeoutMs, dir == null ? null : dir.toString());
        return new Reservation(device, bytes, reservation);
    }

    /** @return the device as given */
    public String device() {
        return device;
    }

    /** @return the bytes booked */
    public long bytes() {
        return bytes;
    }

    /** Releases the booking; the same as {@link #close()}. Releasing twice is harmless. */
    public void release() {
        handle.close();
    }

    @Override
    public void close() {
        release();
    }

    @Override
    public String toString() {
        return "Reservation[" + bytes + " bytes on " + device + "]";
    }
}
