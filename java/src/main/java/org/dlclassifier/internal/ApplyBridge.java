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
    private ByteBuffer scratch;

    private ApplyBridge(String imagePath, RegionReader reader, ApplyOptions.ProgressListener listener) {
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
    }

    /**
     * @param reader the image, read region by region
     * @param listener told after each batch, or null
     * @return the bridge
     */
    public static ApplyBridge of(RegionReader reader, ApplyOptions.ProgressListener listener) {
        return new ApplyBridge(null, reader, listener);
    }

    /**
     * @param imageFile an image file the engine reads as a whole
     * @param listener told after each batch, or null
     * @return the bridge
     */
    public static ApplyBridge of(Path imageFile, ApplyOptions.ProgressListener listener) {
        return new ApplyBridge(imageFile.toString(), null, listener);
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
