package org.dlclassifier;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonFields;
import org.dlclassifier.internal.Native;

/**
 * A nested training setting (a scheduler, augmentation or normalization) held
 * as the engine's complete JSON, compared by value.
 */
abstract class SettingValue {
    final Map<String, Object> json;

    SettingValue(Map<String, Object> json) {
        this.json = json;
    }

    /**
     * The engine's complete, checked form of one nested setting, so that
     * nested values carry every default and fail early, exactly as whole
     * configs do.
     */
    static Map<String, Object> canonical(String key, Map<String, Object> value) {
        String canonical = Native.configCanonicalJson("{}", Json.write(Collections.singletonMap(key, value)));
        return JsonFields.object(Json.parseObject(canonical), key);
    }

    /** The numbers of a JSON object by key; empty for null (a setting that is off). */
    static Map<String, Double> numbers(Map<String, Object> object) {
        Map<String, Double> out = new LinkedHashMap<>();
        if (object != null) {
            for (Map.Entry<String, Object> e : object.entrySet()) {
                out.put(e.getKey(), ((Number) e.getValue()).doubleValue());
            }
        }
        return Collections.unmodifiableMap(out);
    }

    @Override
    public boolean equals(Object other) {
        return other != null && other.getClass() == getClass() && json.equals(((SettingValue) other).json);
    }

    @Override
    public int hashCode() {
        return json.hashCode();
    }

    /** @return the JSON form */
    @Override
    public String toString() {
        return Json.write(json);
    }
}
