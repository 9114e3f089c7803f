package org.dlclassifier.internal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * Typed reads of single members of the JSON objects {@link Json} parses, for
 * the classes that keep the engine's JSON as their state (settings, model
 * metadata), and the engine's names of Java enums (the lower-case constant
 * name, as serde writes them). Numbers are read through {@link Number}:
 * integers arrive as {@code Long} (or {@code BigInteger}), others as {@code Double}.
 */
public final class JsonFields {
    private JsonFields() {
    }

    /**
     * @param json an object
     * @param key a member holding a number
     * @return the number
     */
    public static double number(Map<String, ?> json, String key) {
        return ((Number) json.get(key)).doubleValue();
    }

    /**
     * A count or index; the engine's unsigned integers fit an int here.
     *
     * @param json an object
     * @param key a member holding an integer
     * @return the integer
     * @throws ArithmeticException if it does not fit an int
     */
    public static int integer(Map<String, ?> json, String key) {
        return Math.toIntExact(longInteger(json, key));
    }

    /**
     * A count of pixels, bytes or parameters, exact; an unsigned 64-bit value
     * above {@link Long#MAX_VALUE} keeps its 64 bits.
     *
     * @param json an object
     * @param key a member holding an integer
     * @return the integer
     */
    public static long longInteger(Map<String, ?> json, String key) {
        return ((Number) json.get(key)).longValue();
    }

    /**
     * @param json an object
     * @param key a member holding a number, null or absent
     * @return the number, if any
     */
    public static OptionalDouble optionalNumber(Map<String, ?> json, String key) {
        return json.get(key) == null ? OptionalDouble.empty() : OptionalDouble.of(number(json, key));
    }

    /**
     * @param json an object
     * @param key a member holding a count or index, null or absent
     * @return the integer, if any
     */
    public static OptionalInt optionalInteger(Map<String, ?> json, String key) {
        return json.get(key) == null ? OptionalInt.empty() : OptionalInt.of(integer(json, key));
    }

    /**
     * @param json an object
     * @param key a member holding a boolean
     * @return the boolean
     */
    public static boolean bool(Map<String, ?> json, String key) {
        return (Boolean) json.get(key);
    }

    /**
     * @param json an object
     * @param key a member holding a string
     * @return the string, or null
     */
    public static String string(Map<String, ?> json, String key) {
        return (String) json.get(key);
    }

    /**
     * @param json an object
     * @param key a member holding an object
     * @return the object, or null
     */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> object(Map<String, ?> json, String key) {
        return (Map<String, Object>) json.get(key);
    }

    /**
     * @param json an object
     * @param key a member holding an array
     * @return the array, or null
     */
    @SuppressWarnings("unchecked")
    public static List<Object> list(Map<String, ?> json, String key) {
        return (List<Object>) json.get(key);
    }

    /**
     * @param json an object
     * @param key a member holding an array of strings
     * @return the strings, unmodifiable
     */
    public static List<String> strings(Map<String, ?> json, String key) {
        List<String> strings = new ArrayList<>();
        for (Object s : list(json, key)) {
            strings.add((String) s);
        }
        return Collections.unmodifiableList(strings);
    }

    /**
     * @param json an object
     * @param key a member holding an array of numbers; a null entry (a metric that is undefined) becomes NaN
     * @return the numbers
     */
    public static double[] doubles(Map<String, ?> json, String key) {
        List<Object> list = list(json, key);
        double[] values = new double[list.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = list.get(i) == null ? Double.NaN : ((Number) list.get(i)).doubleValue();
        }
        return values;
    }

    /**
     * @param keysAndValues keys (strings) alternating with their values
     * @return a new, modifiable JSON object of these members, in this order
     */
    public static Map<String, Object> objectOf(Object... keysAndValues) {
        Map<String, Object> json = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            json.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return json;
    }

    /**
     * @param <E> the enum
     * @param type the enum's class
     * @param json an object
     * @param key a member holding the engine's name of a constant
     * @return the constant
     */
    public static <E extends Enum<E>> E enumValue(Class<E> type, Map<String, ?> json, String key) {
        return enumNamed(type, string(json, key));
    }

    /**
     * @param <E> the enum
     * @param type the enum's class
     * @param name the engine's name of a constant
     * @return the constant
     */
    public static <E extends Enum<E>> E enumNamed(Class<E> type, String name) {
        return Enum.valueOf(type, name.toUpperCase(Locale.ROOT));
    }

    /**
     * @param value an enum constant
     * @return the engine's name of it
     */
    public static String jsonName(Enum<?> value) {
        return value.name().toLowerCase(Locale.ROOT);
    }
}
