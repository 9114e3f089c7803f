package org.dlclassifier.internal;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.math.BigInteger;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/** The internal JSON: integers stay exact both ways. */
public class JsonTest {
    @Test
    public void integersAreLongsOrBigIntegersAndOtherNumbersDoubles() {
        List<?> values = (List<?>) Json.parse("[0, -3, 9223372036854775807, 18446744073709551615, 1.0, 2e3, -0.5E-2]");
        assertEquals(Arrays.asList(0L, -3L, Long.MAX_VALUE, new BigInteger("18446744073709551615"), 1.0, 2000.0, -0.005),
                values);
    }

    @Test
    public void writingKeepsIntegersExact() {
        String text = "{\"a\":9007199254740993,\"b\":18446744073709551615,\"c\":[1.5,-7,null,true,\"x\\n\"]}";
        Map<String, Object> json = Json.parseObject(text);
        assertEquals(text, Json.write(json));
        // Integral doubles are written without a fraction, for the engine's integer fields.
        assertEquals("[3,0.25,1.0E20]", Json.write(Arrays.asList(3.0, 0.25, 1e20)));
        assertEquals("[12,1000000000000000000000]", Json.write(Arrays.asList(12, BigInteger.TEN.pow(21))));
    }

    @Test
    public void malformedDocumentsAreIllegalArguments() {
        for (String bad : new String[] {"", "[1,", "{\"a\" 1}", "[1-2]", "[1.2.3]", "tru", "[1] x"}) {
            try {
                Json.parse(bad);
                fail("parsed " + bad);
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().startsWith("invalid JSON"));
            }
        }
        try {
            Json.write(Arrays.asList(Double.NaN));
            fail("wrote NaN");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("NaN"));
        }
    }
}
