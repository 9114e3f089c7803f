package org.dlclassifier;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import org.junit.Test;

/** Byte counts of tile layouts, which buffers are checked against, at the edges of {@code long}. */
public class TileLayoutTest {
    private static final int MAX = Integer.MAX_VALUE;

    @Test
    public void countsBeyondIntAreExact() {
        TileLayout layout = TileLayout.of(1, 3, MAX, 1 << 20, TileLayout.Order.HWC, TileLayout.Dtype.F32);
        long pixels = (long) MAX << 20;
        assertEquals(pixels, layout.classMapBytes());
        assertEquals(pixels * 3 * 4, layout.inputBytes());
        assertEquals(pixels * 5 * 4, layout.probabilityBytes(5));
        assertEquals(pixels * 5, layout.probabilityBytes(5, ProbabilityFormat.UINT8));
    }

    @Test
    public void countsThatOverflowAreRefusedNotWrapped() {
        TileLayout huge = TileLayout.of(MAX, MAX, MAX, MAX, TileLayout.Order.CHW, TileLayout.Dtype.F32);
        expectTooLarge(huge, huge::inputBytes);
        expectTooLarge(huge, huge::classMapBytes);
        expectTooLarge(huge, () -> huge.probabilityBytes(2));
        expectTooLarge(huge, () -> huge.probabilityBytes(2, ProbabilityFormat.UINT8));

        // 2 x (2^31 - 1)^2 values just fit a long; the element size is what overflows.
        TileLayout u8 = TileLayout.of(2, MAX, MAX, 1, TileLayout.Order.HWC, TileLayout.Dtype.U8);
        assertEquals(2L * MAX * MAX, u8.inputBytes());
        assertEquals(2L * MAX * MAX, u8.probabilityBytes(MAX, ProbabilityFormat.UINT8));
        expectTooLarge(u8, () -> u8.probabilityBytes(MAX));
        TileLayout u16 = TileLayout.of(2, MAX, MAX, 1, TileLayout.Order.HWC, TileLayout.Dtype.U16);
        expectTooLarge(u16, u16::inputBytes);
    }

    @Test
    public void aClassCountBelowOneIsRefused() {
        TileLayout layout = TileLayout.of(1, 1, 8, 8, TileLayout.Order.HWC, TileLayout.Dtype.U8);
        for (int classes : new int[] {0, -1, Integer.MIN_VALUE}) {
            try {
                layout.probabilityBytes(classes);
                fail("numClasses " + classes + " gave a byte count");
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("numClasses"));
            }
        }
    }

    private static void expectTooLarge(TileLayout layout, LongCall call) {
        try {
            fail(layout + " gave " + call.get() + " bytes");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(layout.toString()));
            assertTrue(e.getMessage(), e.getMessage().contains("too large"));
        }
    }

    @FunctionalInterface
    private interface LongCall {
        long get();
    }
}
