package org.dlclassifier.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.file.Path;
import org.dlclassifier.ApplyOptions;
import org.dlclassifier.RegionReader;

/**
 * Java's half of one {@link Native#predictorApply} call, called by the native
 * side on the applying thread: names the image file or reads regions into a
 * direct buffer that Java owns (the engine copies out of it, so no Java code
 * can ever hold native memory), and forwards progress.
 */
public final class ApplyBridge {
    /**
     * The bits every value of a region holds until the reader writes it: a
     * quiet NaN with a payload that no arithmetic produces, so that a value
     * a reader skipped is found instead of reaching the model as whatever an
     * earlier region left in the buffer.
     */
    static final int UNWRITTEN = 0x7fc0dead;

    private final String imagePath;
    private final RegionReader reader;
    private final int width;
    private final int height;
    private final int channels;
    private final String[] channelNames;
    private final double pixelSizeMicrons;
    private final ApplyOptions.ProgressListener listener;
    private final Measurements measurements;
    private ByteBuffer scratch;
    private ByteBuffer objectData;

    /** The caller's per-object measurements, as the engine calls them. */
    public interface Measurements {
        /** @return how many measurements there are */
        int count();

        /**
         * @param which a measurement
         * @return its names
         */
        String[] names(int which);

        /**
         * @param which a measurement
         * @param className the object's class
         * @param x its bounding box's left column
         * @param y its top row
         * @param w its width
         * @param h its height
         * @param channels the image's channels
         * @param points the exterior's points
         * @param data the exterior's x, y doubles, then the CHW floats, then a mask byte per pixel
         * @return one value per name
         */
        double[] measure(int which, String className, int x, int y, int w, int h, int channels, int points, ByteBuffer data);
    }

    private ApplyBridge(String imagePath, RegionReader reader, ApplyOptions.ProgressListener listener, Measurements measurements) {
        this.imagePath = imagePath;
        this.reader = reader;
        // Asked once, so the engine and the reader agree for the whole run.
        this.width = reader == null ? 0 : reader.width();
        this.height = reader == null ? 0 : reader.height();
        this.channels = reader == null ? 0 : reader.channels();
        String[] names = reader == null ? null : reader.channelNames();
        this.channelNames = names == null ? null : names.clone();
        this.pixelSizeMicrons = reader == null ? Double.NaN : reader.pixelSizeMicrons();
        this.listener = listener;
        this.measurements = measurements;
    }

    /**
     * @param reader the image, read region by region
     * @param listener told after each batch, or null
     * @return the bridge
     */
    public static ApplyBridge of(RegionReader reader, ApplyOptions.ProgressListener listener) {
        return of(reader, listener, null);
    }

    /**
     * @param reader the image, read region by region
     * @param listener told after each batch, or null
     * @param measurements the caller's per-object measurements, or null for none
     * @return the bridge
     */
    public static ApplyBridge of(RegionReader reader, ApplyOptions.ProgressListener listener, Measurements measurements) {
        return new ApplyBridge(null, reader, listener, measurements);
    }

    /**
     * @param imageFile an image file the engine reads as a whole
     * @param listener told after each batch, or null
     * @param measurements the caller's per-object measurements, or null for none
     * @return the bridge
     */
    public static ApplyBridge of(Path imageFile, ApplyOptions.ProgressListener listener, Measurements measurements) {
        return new ApplyBridge(imageFile.toString(), null, listener, measurements);
    }

    /** @return the image file, or null when the engine reads through {@link #read} */
    public String imagePath() {
        return imagePath;
    }

    /** @return the reader's image width; 0 for a file */
    public int width() {
        return width;
    }

    /** @return the reader's image height; 0 for a file */
    public int height() {
        return height;
    }

    /** @return the reader's channels; 0 for a file */
    public int channels() {
        return channels;
    }

    /** @return the reader's channel names, or null for a file or a reader without names */
    public String[] channelNames() {
        return channelNames == null ? null : channelNames.clone();
    }

    /** @return the reader's µm per pixel; NaN when unknown or for a file */
    public double pixelSizeMicrons() {
        return pixelSizeMicrons;
    }

    /**
     * Reads a CHW region of float32 values, checking that the reader wrote every one.
     *
     * @param x left edge
     * @param y top edge
     * @param w region width
     * @param h region height
     * @return the buffer holding the region from offset 0, in native order
     * @throws IllegalStateException if the reader left values unwritten
     */
    public ByteBuffer read(int x, int y, int w, int h) {
        int values = Math.multiplyExact(Math.multiplyExact(channels, w), h);
        int bytes = Math.multiplyExact(values, Float.BYTES);
        if (scratch == null || scratch.capacity() < bytes) {
            scratch = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        }
        // The marker goes in and is looked for as raw bits: as a float a NaN's payload may not survive.
        IntBuffer bits = scratch.asIntBuffer();
        for (int i = 0; i < values; i++) {
            bits.put(i, UNWRITTEN);
        }
        FloatBuffer dest = scratch.asFloatBuffer().limit(values).slice();
        reader.read(x, y, w, h, dest);
        int unwritten = 0;
        int first = -1;
        for (int i = 0; i < values; i++) {
            if (bits.get(i) == UNWRITTEN) {
                unwritten++;
                if (first < 0) {
                    first = i;
                }
            }
        }
        if (unwritten > 0) {
            throw new IllegalStateException("RegionReader.read(x=" + x + ", y=" + y + ", w=" + w + ", h=" + h
                    + ") left " + unwritten + " of " + values + " values unwritten (first at index " + first
                    + ": channel " + first / (w * h) + ", row " + first / w % h + ", column " + first % w + ")");
        }
        return scratch;
    }

    /** @return how many per-object measurements the caller gave */
    public int measurementCount() {
        return measurements == null ? 0 : measurements.count();
    }

    /**
     * @param which a measurement
     * @return its names
     */
    public String[] measurementNames(int which) {
        return measurements.names(which);
    }

    /**
     * @param bytes the size of one object's data
     * @return a direct buffer in native order of at least that size, from offset 0, for the engine to fill
     */
    public ByteBuffer objectBuffer(int bytes) {
        if (objectData == null || objectData.capacity() < bytes) {
            objectData = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        }
        return objectData;
    }

    /**
     * Measures the object the engine wrote into {@link #objectBuffer}, and
     * writes the values back into it as doubles from offset 0.
     *
     * @param which a measurement
     * @param className the object's class
     * @param x its bounding box's left column
     * @param y its top row
     * @param w its width
     * @param h its height
     * @param channels the image's channels
     * @param points the exterior's points
     * @return how many values were written
     */
    public int measure(int which, String className, int x, int y, int w, int h, int channels, int points) {
        double[] values = measurements.measure(which, className, x, y, w, h, channels, points, objectData);
        if (values == null) {
            throw new IllegalStateException("ObjectMeasurement " + which + " returned null");
        }
        objectBuffer(Math.multiplyExact(values.length, Double.BYTES)).asDoubleBuffer().put(values);
        return values.length;
    }

    /**
     * @param tilesDone tiles predicted so far
     * @param tilesTotal tiles of the whole image
     */
    public void progress(int tilesDone, int tilesTotal) {
        if (listener != null) {
            listener.progress(tilesDone, tilesTotal);
        }
    }
}
