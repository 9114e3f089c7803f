package org.dlclassifier;

import java.util.Objects;

/**
 * Shape and encoding of a batch of tiles in one buffer: {@code count} tiles
 * of {@code height} x {@code width} pixels with {@code channels} raw
 * intensities each (the model's training normalization is applied inside the
 * engine). Tiles of any size can be predicted; they are padded to the model's
 * stride internally and the results cropped back.
 */
public final class TileLayout {
    /** Memory order of one tile. The constants' order is shared with the native library. */
    public enum Order {
        /** Channels last, as images are stored: {@code [height][width][channels]}. */
        HWC,
        /** Channels first: {@code [channels][height][width]}. */
        CHW
    }

    /**
     * Element type of the tile values. Multi-byte types are read in the
     * platform's native byte order. The constants' order is shared with the native library.
     */
    public enum Dtype {
        /** Unsigned 8-bit: a Java {@code byte} read as 0..255. */
        U8(1),
        /** Unsigned 16-bit: a Java {@code short} read as 0..65535. */
        U16(2),
        /** 32-bit float. */
        F32(4);

        private final int size;

        Dtype(int size) {
            this.size = size;
        }

        /** @return bytes per value */
        public int size() {
            return size;
        }
    }

    private final int count;
    private final int channels;
    private final int height;
    private final int width;
    private final Order order;
    private final Dtype dtype;

    private TileLayout(int count, int channels, int height, int width, Order order, Dtype dtype) {
        this.count = positive(count, "count");
        this.channels = positive(channels, "channels");
        this.height = positive(height, "height");
        this.width = positive(width, "width");
        this.order = Objects.requireNonNull(order, "order");
        this.dtype = Objects.requireNonNull(dtype, "dtype");
    }

    private static int positive(int value, String name) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
        return value;
    }

    /**
     * @param count tiles in the batch
     * @param channels values per pixel; must equal the model's input channels
     * @param height tile height in pixels
     * @param width tile width in pixels
     * @param order memory order of each tile
     * @param dtype element type
     * @return the layout
     * @throws IllegalArgumentException if a size is not positive
     */
    public static TileLayout of(int count, int channels, int height, int width, Order order, Dtype dtype) {
        return new TileLayout(count, channels, height, width, order, dtype);
    }

    /** @return tiles in the batch */
    public int count() {
        return count;
    }

    /** @return values per pixel */
    public int channels() {
        return channels;
    }

    /** @return tile height in pixels */
    public int height() {
        return height;
    }

    /** @return tile width in pixels */
    public int width() {
        return width;
    }

    /** @return memory order of each tile */
    public Order order() {
        return order;
    }

    /** @return element type */
    public Dtype dtype() {
        return dtype;
    }

    /**
     * @return bytes the input buffer must hold: count x channels x height x width x dtype size
     * @throws IllegalArgumentException if the layout is too large for the count to fit a {@code long}
     */
    public long inputBytes() {
        return times(times(pixels(), channels), dtype.size());
    }

    /**
     * @param numClasses the model's classes
     * @return bytes of the float32 probabilities of the batch, in this layout's order
     * @throws IllegalArgumentException if {@code numClasses} is not positive, or the layout is
     *     too large for the count to fit a {@code long}
     */
    public long probabilityBytes(int numClasses) {
        return probabilityBytes(numClasses, ProbabilityFormat.FLOAT32);
    }

    /**
     * @param numClasses the model's classes
     * @param format how each probability is stored
     * @return bytes of the probabilities of the batch in {@code format}, in this layout's order
     * @throws IllegalArgumentException if {@code numClasses} is not positive, or the layout is
     *     too large for the count to fit a {@code long}
     */
    public long probabilityBytes(int numClasses, ProbabilityFormat format) {
        Objects.requireNonNull(format, "format");
        return times(times(pixels(), positive(numClasses, "numClasses")), format.size());
    }

    /** @return the layout as {@link org.dlclassifier.internal.Native#predictorPredict} takes it */
    int[] toNative() {
        return new int[] {count, channels, height, width, order.ordinal(), dtype.ordinal()};
    }

    /**
     * @return bytes of the class map of the batch: one class index per pixel
     * @throws IllegalArgumentException if the layout is too large for the count to fit a {@code long}
     */
    public long classMapBytes() {
        return pixels();
    }

    private long pixels() {
        return times(times(count, height), width);
    }

    /**
     * {@code a * b}, refusing to wrap: a wrapped size would let a buffer check
     * pass for a buffer far smaller than the batch.
     */
    private long times(long a, long b) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(
                    "tile layout " + this + " is too large: its byte count does not fit a long");
        }
    }

    @Override
    public boolean equals(Object other) {
        if (!(other instanceof TileLayout)) {
            return false;
        }
        TileLayout o = (TileLayout) other;
        return count == o.count && channels == o.channels && height == o.height && width == o.width
                && order == o.order && dtype == o.dtype;
    }

    @Override
    public int hashCode() {
        return Objects.hash(count, channels, height, width, order, dtype);
    }

    @Override
    public String toString() {
        return count + " x " + height + "x" + width + "x" + channels + " " + order + " " + dtype;
    }
}
