package org.dlclassifier;

import java.util.Map;
import java.util.Objects;
import org.dlclassifier.internal.JsonFields;

/**
 * Intensity normalization to override the one the training data's
 * {@code config.json} sets ({@link TrainingConfig.Builder#normalization(Normalization)}).
 * A model's own, with its statistics, is {@link Model.Normalization}.
 */
public final class Normalization extends NormalizationSettings {
    /** How the model's input is scaled from image intensities. */
    public enum Strategy {
        /** To [0, 1] by the training images' minimum and maximum, unclipped. */
        MIN_MAX,
        /** To [0, 1] between the low and high clip percentiles, clipped. */
        PERCENTILE_99,
        /** By mean and standard deviation, clipped at 5 standard deviations. */
        Z_SCORE,
        /** To [0, 1] from a fixed intensity range, clipped. */
        FIXED_RANGE
    }

    /** From the engine's canonical JSON, such as a config's block. */
    Normalization(Map<String, Object> json) {
        super(json);
    }

    private static Normalization checked(Map<String, Object> json) {
        return new Normalization(canonical("normalization", json));
    }

    /**
     * @param strategy the strategy; {@link Strategy#FIXED_RANGE} means 0 to 255 here
     * @param perChannel statistics per channel instead of over all channels
     * @return the normalization, with the default clip percentile (99)
     */
    public static Normalization of(Strategy strategy, boolean perChannel) {
        return checked(JsonFields.objectOf(
                "strategy", JsonFields.jsonName(Objects.requireNonNull(strategy, "strategy")), "per_channel", perChannel));
    }

    /**
     * {@link Strategy#PERCENTILE_99} with another percentile.
     *
     * @param clipPercentile the high percentile, in (50, 100]; the low one is {@code 100 - clipPercentile}
     * @param perChannel statistics per channel instead of over all channels
     * @return the normalization
     */
    public static Normalization percentile(double clipPercentile, boolean perChannel) {
        return checked(JsonFields.objectOf("strategy", JsonFields.jsonName(Strategy.PERCENTILE_99),
                "per_channel", perChannel, "clip_percentile", clipPercentile));
    }

    /**
     * {@link Strategy#FIXED_RANGE}: {@code min} maps to 0 and {@code max} to 1.
     *
     * @param min the intensity mapped to 0
     * @param max the intensity mapped to 1, above {@code min}
     * @return the normalization
     */
    public static Normalization fixedRange(double min, double max) {
        return checked(JsonFields.objectOf("strategy", JsonFields.jsonName(Strategy.FIXED_RANGE),
                "fixed_min", min, "fixed_max", max));
    }
}
