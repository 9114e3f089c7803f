package org.dlclassifier;

import java.util.Map;
import java.util.OptionalDouble;
import org.dlclassifier.internal.JsonFields;

/**
 * The settings of an intensity normalization, read alike from the one training
 * is given ({@link Normalization}) and the one a model was
 * trained with ({@link Model.Normalization}, which adds the statistics).
 */
abstract class NormalizationSettings extends SettingValue {
    NormalizationSettings(Map<String, Object> json) {
        super(json);
    }

    /** @return how intensities are mapped to the model's input range */
    public Normalization.Strategy strategy() {
        return JsonFields.enumValue(Normalization.Strategy.class, json, "strategy");
    }

    /** @return whether statistics are per channel instead of over all channels */
    public boolean perChannel() {
        return JsonFields.bool(json, "per_channel");
    }

    /** @return the high clip percentile of {@link Normalization.Strategy#PERCENTILE_99}; the low one is 100 minus it */
    public double clipPercentile() {
        return JsonFields.number(json, "clip_percentile");
    }

    /** @return the intensity mapped to 0 by {@link Normalization.Strategy#FIXED_RANGE}, if given */
    public OptionalDouble fixedMin() {
        return JsonFields.optionalNumber(json, "fixed_min");
    }

    /** @return the intensity mapped to 1 by {@link Normalization.Strategy#FIXED_RANGE}, if given */
    public OptionalDouble fixedMax() {
        return JsonFields.optionalNumber(json, "fixed_max");
    }
}
