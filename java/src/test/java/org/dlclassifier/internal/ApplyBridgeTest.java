package org.dlclassifier.internal;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import java.nio.FloatBuffer;
import java.util.function.IntPredicate;
import org.dlclassifier.RegionReader;
import org.junit.Test;

/** The bridge's check that a {@link RegionReader} wrote every value of a region, without the engine. */
public class ApplyBridgeTest {
    /** A 3-channel image whose reader writes the values its {@code skip} does not name. */
    private static final class Reader implements RegionReader {
        IntPredicate skip = i -> false;

        @Override
        public int width() {
            return 10;
        }

        @Override
        public int height() {
            return 10;
        }

        @Override
        public int channels() {
            return 3;
        }

        @Override
        public void read(int x, int y, int w, int h, FloatBuffer dest) {
            for (int i = 0; i < dest.remaining(); i++) {
                if (!skip.test(i)) {
                    dest.put(i, i);
                }
            }
        }
    }

    @Test
    public void aFullyWrittenRegionComesBackAsWritten() {
        ApplyBridge bridge = ApplyBridge.of(new Reader(), null);
        FloatBuffer region = bridge.read(1, 2, 4, 5).asFloatBuffer();
        for (int i = 0; i < 3 * 4 * 5; i++) {
            assertEquals(i, region.get(i), 0);
        }
    }

    @Test
    public void valuesLeftFromAnEarlierRegionCountAsUnwritten() {
        Reader reader = new Reader();
        ApplyBridge bridge = ApplyBridge.of(reader, null);
        bridge.read(0, 0, 4, 5);
        // The same buffer again: the first region's values are still in it.
        reader.skip = i -> i >= 27;
        expectUnwritten(bridge, "RegionReader.read(x=6, y=5, w=4, h=5) left 33 of 60 values unwritten "
                + "(first at index 27: channel 1, row 1, column 3)");
        reader.skip = i -> i == 59;
        expectUnwritten(bridge, "RegionReader.read(x=6, y=5, w=4, h=5) left 1 of 60 values unwritten "
                + "(first at index 59: channel 2, row 4, column 3)");
        reader.skip = i -> false;
        bridge.read(6, 5, 4, 5);
    }

    private static void expectUnwritten(ApplyBridge bridge, String message) {
        try {
            bridge.read(6, 5, 4, 5);
            fail("unwritten values passed");
        } catch (IllegalStateException e) {
            assertEquals(message, e.getMessage());
        }
    }
}
