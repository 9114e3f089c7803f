package org.dlclassifier.internal;

import java.lang.invoke.MethodType;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import org.dlclassifier.DlcException;

/**
 * Builds the API's value classes from the engine's JSON answers, the one way
 * every such class is filled. A value class declares a no-argument
 * constructor (private is fine) and one instance field per member it keeps;
 * each field is read from the member of its name in snake case
 * ({@code numClasses} from {@code num_classes}) or the one {@link JsonName}
 * gives. Members the class has no field for are ignored, so the engine may
 * add some.
 *
 * <p>Field types: {@code int}, {@code long}, {@code double}, {@code boolean}
 * and their boxes, {@code String}, {@code Path}, enums (by their lower-case
 * name), {@code double[]} (a null entry is NaN), {@code int[]},
 * {@code List<T>}, {@code Optional<T>}, {@code OptionalInt},
 * {@code OptionalLong}, {@code OptionalDouble}, {@code Map} (the raw object)
 * and other value classes. Integers stay exact: {@code long} keeps all 64
 * bits of an unsigned engine value, {@code int} refuses one that does not
 * fit. A null or absent member is an empty optional, a null reference, NaN
 * for a {@code double}, and an error for other primitives.
 */
public final class JsonMapper {
    private static final ClassValue<List<Field>> FIELDS = new ClassValue<List<Field>>() {
        @Override
        protected List<Field> computeValue(Class<?> type) {
            List<Field> fields = new ArrayList<>();
            for (Field field : type.getDeclaredFields()) {
                int modifiers = field.getModifiers();
                if (!Modifier.isStatic(modifiers) && !Modifier.isTransient(modifiers) && !field.isSynthetic()) {
                    field.setAccessible(true);
                    fields.add(field);
                }
            }
            return Collections.unmodifiableList(fields);
        }
    };

    private JsonMapper() {
    }

    /**
     * @param <T> the value class
     * @param type the value class
     * @param json a JSON object as {@link Json} parses it, or null
     * @return the value, or null for null
     * @throws DlcException if the JSON does not fit the class (an engine and jar that disagree)
     */
    public static <T> T read(Class<T> type, Object json) {
        if (json == null) {
            return null;
        }
        if (!(json instanceof Map)) {
            throw mismatch(type.getSimpleName(), "an object", json);
        }
        Map<?, ?> object = (Map<?, ?>) json;
        T value = instantiate(type);
        for (Field field : FIELDS.get(type)) {
            String key = jsonName(field);
            String where = type.getSimpleName() + "." + key;
            try {
                field.set(value, convert(field.getGenericType(), object.get(key), where));
            } catch (IllegalAccessException e) {
                throw new DlcException("cannot set " + where + ": " + e, e);
            }
        }
        return value;
    }

    /**
     * @param <T> the value class
     * @param type the value class
     * @param json a JSON array of objects, or null
     * @return one value per object, unmodifiable; empty for null
     * @throws DlcException if the JSON does not fit the class
     */
    public static <T> List<T> readList(Class<T> type, Object json) {
        if (json == null) {
            return Collections.emptyList();
        }
        @SuppressWarnings("unchecked")
        List<T> list = (List<T>) convert(listOf(type), json, type.getSimpleName() + "[]");
        return list;
    }

    private static <T> T instantiate(Class<T> type) {
        try {
            Constructor<T> constructor = type.getDeclaredConstructor();
            constructor.setAccessible(true);
            return constructor.newInstance();
        } catch (ReflectiveOperationException e) {
            throw new DlcException(type.getName() + " is no JSON value class: " + e, e);
        }
    }

    private static String jsonName(Field field) {
        JsonName name = field.getAnnotation(JsonName.class);
        if (name != null) {
            return name.value();
        }
        StringBuilder snake = new StringBuilder();
        for (char c : field.getName().toCharArray()) {
            if (Character.isUpperCase(c)) {
                snake.append('_').append(Character.toLowerCase(c));
            } else {
                snake.append(c);
            }
        }
        return snake.toString();
    }

    private static Object convert(Type type, Object value, String where) {
        try {
            if (type instanceof ParameterizedType) {
                return convertGeneric((ParameterizedType) type, value, where);
            }
            Class<?> c = (Class<?>) type;
            if (c.isPrimitive()) {
                return primitive(c, value, where);
            }
            if (value == null) {
                return c == OptionalInt.class ? OptionalInt.empty()
                        : c == OptionalLong.class ? OptionalLong.empty()
                        : c == OptionalDouble.class ? OptionalDouble.empty()
                        : null;
            }
            if (c == String.class) {
                return (String) value;
            }
            if (c == Integer.class || c == Long.class || c == Double.class || c == Boolean.class) {
                return primitive(MethodType.methodType(c).unwrap().returnType(), value, where);
            }
            if (c == OptionalInt.class) {
                return OptionalInt.of((Integer) primitive(int.class, value, where));
            }
            if (c == OptionalLong.class) {
                return OptionalLong.of((Long) primitive(long.class, value, where));
            }
            if (c == OptionalDouble.class) {
                return OptionalDouble.of((Double) primitive(double.class, value, where));
            }
            if (c == java.nio.file.Path.class) {
                return Paths.get((String) value);
            }
            if (c.isEnum()) {
                return enumValue(c, (String) value);
            }
            if (c == double[].class) {
                List<?> list = (List<?>) value;
                double[] out = new double[list.size()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = (Double) primitive(double.class, list.get(i), where);
                }
                return out;
            }
            if (c == int[].class) {
                List<?> list = (List<?>) value;
                int[] out = new int[list.size()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = (Integer) primitive(int.class, list.get(i), where);
                }
                return out;
            }
            if (c == Map.class) {
                return (Map<?, ?>) value;
            }
            return read(c, value);
        } catch (ClassCastException | ArithmeticException | IllegalArgumentException e) {
            throw mismatch(where, type.getTypeName(), value);
        }
    }

    private static Object convertGeneric(ParameterizedType type, Object value, String where) {
        Type element = type.getActualTypeArguments()[0];
        if (type.getRawType() == Optional.class) {
            return Optional.ofNullable(convert(element, value, where));
        }
        if (type.getRawType() == List.class) {
            if (value == null) {
                return null;
            }
            List<Object> out = new ArrayList<>();
            for (Object item : (List<?>) value) {
                out.add(convert(element, item, where));
            }
            return Collections.unmodifiableList(out);
        }
        throw new DlcException("JsonMapper cannot fill " + type + " (" + where + ")");
    }

    private static Object primitive(Class<?> c, Object value, String where) {
        if (value == null) {
            if (c == double.class) {
                // serde writes a NaN metric as null.
                return Double.NaN;
            }
            throw new DlcException(where + " is missing from the engine's JSON");
        }
        if (c == boolean.class) {
            return (Boolean) value;
        }
        Number n = (Number) value;
        // Not one conditional expression: that would promote every box to Double.
        if (c == int.class) {
            return Math.toIntExact(n.longValue());
        }
        if (c == long.class) {
            return n.longValue();
        }
        return n.doubleValue();
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object enumValue(Class<?> type, String name) {
        return JsonFields.enumNamed((Class) type, name);
    }

    private static ParameterizedType listOf(Class<?> element) {
        return new ParameterizedType() {
            @Override
            public Type[] getActualTypeArguments() {
                return new Type[] {element};
            }

            @Override
            public Type getRawType() {
                return List.class;
            }

            @Override
            public Type getOwnerType() {
                return null;
            }
        };
    }

    private static DlcException mismatch(String where, String expected, Object value) {
        return new DlcException("the engine's JSON does not fit the jar: " + where + " should be " + expected
                + ", got " + value);
    }
}
