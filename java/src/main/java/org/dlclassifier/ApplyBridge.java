package org.dlclassifier;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * Java's half of one {@code apply} call, called by the native side on the
 * applying thread: reads regions into a direct buffer that Java owns (the
 * engine copies out of it, so no Java code can ever hold native memory) and
 * forwards progress.
 */
final class ApplyBridge {
    private final RegionReader reader;
    private final int channels;
    private final ApplyOptions.ProgressListener listener;
    private ByteBuffer scratch;

    ApplyBridge(RegionReader reader, ApplyOptions.ProgressListener listener) {
        this.reader = reader;
        this.channels = reader == null ? 0 : reader.channels();
        this.listener = listener;
    }

    /** Reads a CHW region; returns the buffer holding it from offset 0 in native order. */
    ByteBuffer read(int x, int y, int w, int h) {
        int values = Math.multiplyExact(Math.multiplyExact(channels, w), h);
        int bytes = Math.multiplyExact(values, Float.BYTES);
        if (scratch == null || scratch.capacity() < bytes) {
            scratch = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        }
        FloatBuffer dest = scratch.asFloatBuffer().limit(values).slice();
        reader.read(x, y, w, h, dest);
        return scratch;
    }

    void progress(int tilesDone, int tilesTotal) {
        if (listener != null) {
            listener.progress(tilesDone, tilesTotal);
        }
    }
}
