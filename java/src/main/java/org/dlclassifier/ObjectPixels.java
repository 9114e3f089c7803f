package org.dlclassifier;

import java.nio.ByteBuffer;

/**
 * What an {@link ObjectMeasurement} measures: a traced object's class and
 * outline, and the image under its bounding box with the mask of its
 * pixels. Coordinates are the full-resolution image's; pixel values are the
 * image's as read, every channel. Valid only during
 * {@link ObjectMeasurement#measure(ObjectPixels)}.
 */
public final class ObjectPixels {
    private final String className;
    private final double[][] exterior;
    private final int x;
    private final int y;
    private final int width;
    private final int height;
    private final int channels;
    private final float[] values;
    private final boolean[] mask;

    /** Decodes the engine's object from {@code data}: the exterior's x, y doubles, the CHW floats, then a mask byte per pixel. */
    ObjectPixels(String className, int x, int y, int width, int height, int channels, int points, ByteBuffer data) {
        this.className = className;
        this.x = x;
        this.y = y;
        this.width = width;
        this.height = height;
        this.channels = channels;
        exterior = new double[points][];
        for (int i = 0; i < points; i++) {
            exterior[i] = new double[] {data.getDouble(16 * i), data.getDouble(16 * i + 8)};
        }
        int offset = 16 * points;
        values = new float[channels * width * height];
        data.position(offset);
        data.asFloatBuffer().get(values);
        offset += 4 * values.length;
        mask = new boolean[width * height];
        for (int i = 0; i < mask.length; i++) {
            mask[i] = data.get(offset + i) != 0;
        }
        data.position(0);
    }

    /** @return the object's class name */
    public String className() {
        return className;
    }

    /** @return the exterior ring as {@code [x, y]} points, closed */
    public double[][] exterior() {
        double[][] copy = new double[exterior.length][];
        for (int i = 0; i < exterior.length; i++) {
            copy[i] = exterior[i].clone();
        }
        return copy;
    }

    /** @return the bounding box's left column in the image */
    public int x() {
        return x;
    }

    /** @return the bounding box's top row in the image */
    public int y() {
        return y;
    }

    /** @return the bounding box's width */
    public int width() {
        return width;
    }

    /** @return the bounding box's height */
    public int height() {
        return height;
    }

    /** @return the image's channels */
    public int channels() {
        return channels;
    }

    /**
     * @param channel the channel
     * @param col column inside the bounding box
     * @param row row inside the bounding box
     * @return the image's value there
     */
    public float value(int channel, int col, int row) {
        check(col, row);
        if (channel < 0 || channel >= channels) {
            throw new IndexOutOfBoundsException("channel " + channel + " of " + channels);
        }
        return values[(channel * height + row) * width + col];
    }

    /**
     * @param col column inside the bounding box
     * @param row row inside the bounding box
     * @return whether the pixel belongs to the object
     */
    public boolean inside(int col, int row) {
        check(col, row);
        return mask[row * width + col];
    }

    private void check(int col, int row) {
        if (col < 0 || col >= width || row < 0 || row >= height) {
            throw new IndexOutOfBoundsException("(" + col + ", " + row + ") outside the " + width + "x" + height + " box");
        }
    }
}
