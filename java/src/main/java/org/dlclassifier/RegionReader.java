package org.dlclassifier;

import java.nio.FloatBuffer;

/**
 * A source of raw pixel intensities that {@link Predictor#apply(RegionReader,
 * java.nio.file.Path, ApplyOptions)} reads region by region, so that an image
 * never has to be in memory as a whole. Regions are asked for on the thread
 * that called {@code apply}; an exception thrown here ends the run and
 * reaches the caller of {@code apply} unchanged.
 */
public interface RegionReader {
    /** @return image width in pixels */
    int width();

    /** @return image height in pixels */
    int height();

    /** @return values per pixel; must equal the model's input channels unless {@link #channelNames()} names them */
    int channels();

    /**
     * The image's calibration, asked once per run. When both it and the
     * model's training pixel size are known, the model runs on the image
     * downsampled to the pixel size it was trained at (unless
     * {@link ApplyOptions.Builder#downsample} says otherwise); it also
     * calibrates areas when {@link ApplyOptions.Builder#pixelSize} is not given.
     * Results are at full resolution either way.
     *
     * @return µm per full-resolution pixel, or NaN when unknown (the default)
     */
    default double pixelSizeMicrons() {
        return Double.NaN;
    }

    /**
     * Writes the {@code w} x {@code h} region at ({@code x}, {@code y}), which
     * lies inside the image, channels first: {@code dest.put((c * h + row) * w + col, value)}.
     * {@code dest} holds exactly {@code channels() * w * h} values, starts at
     * position 0 and belongs to the engine: it is valid only during this call.
     *
     * <p>Every value must be written. Before the call each one holds a
     * marker, the NaN with the bits {@code 0x7fc0dead}; if any still holds
     * it afterwards, the run ends with an {@link IllegalStateException}
     * naming the region and the first value left, rather than predicting
     * from pixels the image never had. Any other NaN is an ordinary value.
     *
     * @param x left edge
     * @param y top edge
     * @param w region width
     * @param h region height
     * @param dest where the region's values go, in CHW order
     */
    void read(int x, int y, int w, int h, FloatBuffer dest);

    /**
     * The names of the channels, in order, such as {@code {"CD3", "CK", "DAPI"}}.
     * When the model knows the names of the channels it was trained on, it
     * then reads those channels by name (exact first, else ignoring case),
     * whatever their order and however many others the image has; a channel
     * it cannot find ends the run with an {@link IllegalArgumentException}
     * naming it, before any file is written.
     *
     * @return one name per channel, or null (the default) to give the
     *     model the channels in order, as many as it takes
     */
    default String[] channelNames() {
        return null;
    }
}
