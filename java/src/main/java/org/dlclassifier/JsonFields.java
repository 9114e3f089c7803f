package org.dlclassifier;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.function.Function;

/**
 * Typed reads from the JSON objects the engine returns, and the engine's
 * names of Java enums (the lower-case constant name, as serde writes them).
 * Numbers are read through {@link Number}: {@link Json} gives integers as
 * {@code Long} (or {@code BigInteger}) and other numbers as {@code Double}.
 */
final class JsonFields {
    private JsonFields() {
    }

    static double number(Map<String, ?> json, String key) {
        return ((Number) json.get(key)).doubleValue();
    }

    /** A count or index; the engine's unsigned integers fit an int here. */
    static int integer(Map<String, ?> json, String key) {
        return Math.toIntExact(longInteger(json, key));
    }

    /** A count of pixels, bytes or parameters, exact. */
    static long longInteger(Map<String, ?> json, String key) {
        return ((Number) json.get(key)).longValue();
    }

    /** A number that may be absent or null. */
    static OptionalDouble optionalNumber(Map<String, ?> json, String key) {
        return json.get(key) == null ? OptionalDouble.empty() : OptionalDouble.of(number(json, key));
    }

    /** A count or index that may be absent or null. */
    static OptionalInt optionalInteger(Map<String, ?> json, String key) {
        return json.get(key) == null ? OptionalInt.empty() : OptionalInt.of(integer(json, key));
    }

    static boolean bool(Map<String, ?> json, String key) {
        return (Boolean) json.get(key);
    }

    static String string(Map<String, ?> json, String key) {
        return (String) json.get(key);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> object(Map<String, ?> json, String key) {
        return (Map<String, Object>) json.get(key);
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Map<String, ?> json, String key) {
        return (List<Object>) json.get(key);
    }

    /** An array of strings, as an unmodifiable list. */
    static List<String> strings(Map<String, ?> json, String key) {
        List<String> strings = new ArrayList<>();
        for (Object s : list(json, key)) {
            strings.add((String) s);
        }
        return Collections.unmodifiableList(strings);
    }

    /** Makes one {@code T} of each JSON object of an array, as an unmodifiable list. */
    @SuppressWarnings("unchecked")
    static <T> List<T> objects(List<?> json, Function<Map<String, Object>, T> make) {
        List<T> list = new ArrayList<>();
        for (Object o : json) {
            list.add(make.apply((Map<String, Object>) o));
        }
        return Collections.unmodifiableList(list);
    }

    /** An array of numbers; a null entry (a metric that is undefined) becomes NaN. */
    static double[] doubles(Map<String, ?> json, String key) {
        List<Object> list = list(json, key);
        double[] values = new double[list.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = list.get(i) == null ? Double.NaN : ((Number) list.get(i)).doubleValue();
        }
        return values;
    }

    /** A new JSON object of these keys and values, in this order. */
    static Map<String, Object> objectOf(Object... keysAndValues) {
        Map<String, Object> json = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            json.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return json;
    }

    static <E extends Enum<E>> E enumValue(Class<E> type, Map<String, ?> json, String key) {
        return Enum.valueOf(type, string(json, key).toUpperCase(Locale.ROOT));
    }

    static String jsonName(Enum<?> value) {
        return value.name().toLowerCase(Locale.ROOT);
    }
}
