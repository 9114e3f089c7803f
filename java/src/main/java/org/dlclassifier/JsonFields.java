package org.dlclassifier;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * Typed reads from the JSON objects the engine returns, and the engine's
 * names of Java enums (the lower-case constant name, as serde writes them).
 */
final class JsonFields {
    private JsonFields() {
    }

    static double number(Map<String, ?> json, String key) {
        return ((Number) json.get(key)).doubleValue();
    }

    /** A count or index; the engine's unsigned integers fit an int here. */
    static int integer(Map<String, ?> json, String key) {
        return Math.toIntExact(((Number) json.get(key)).longValue());
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

    static <E extends Enum<E>> E enumValue(Class<E> type, Map<String, ?> json, String key) {
        return Enum.valueOf(type, string(json, key).toUpperCase(Locale.ROOT));
    }

    static String jsonName(Enum<?> value) {
        return value.name().toLowerCase(Locale.ROOT);
    }
}
