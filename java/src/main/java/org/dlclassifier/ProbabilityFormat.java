package org.dlclassifier;

/**
 * How {@link Predictor#predict(java.nio.ByteBuffer, TileLayout, java.nio.ByteBuffer, ProbabilityFormat,
 * java.nio.ByteBuffer)} writes class probabilities. The constants' order is
 * shared with the native library.
 */
public enum ProbabilityFormat {
    /** One 32-bit float per value, in the platform's native byte order, exactly as predicted. */
    FLOAT32(Float.BYTES),
    /** One unsigned byte per value: the probability x 255, rounded (a Java {@code byte} read as 0..255). */
    UINT8(1);

    private final int size;

    ProbabilityFormat(int size) {
        this.size = size;
    }

    /** @return bytes per value */
    public int size() {
        return size;
    }
}
