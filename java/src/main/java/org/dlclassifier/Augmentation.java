package org.dlclassifier;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalDouble;
import org.dlclassifier.internal.JsonFields;

/**
 * Random augmentation of training crops (image and mask together). Each
 * transform fires independently per crop. Intensities vary as the
 * {@link IntensityMode} says: colour jitter for brightfield stains,
 * per-channel scaling for fluorescence, or nothing; by default the mode is
 * chosen from the training data.
 */
public final class Augmentation extends SettingValue {
    /** Which intensity augmentation runs, as suits the imaging modality. */
    public enum IntensityMode {
        /**
         * Chosen from the training data when training starts: {@link #BRIGHTFIELD}
         * for 8-bit RGB images, else {@link #FLUORESCENCE}.
         */
        AUTO,
        /**
         * Stained RGB (H&amp;E, IHC): random brightness, contrast and saturation, with the
         * {@link Augmentation#colorJitter()} parameters. Needs 3-channel images.
         */
        BRIGHTFIELD,
        /** Each channel scaled by its own random factor, with the {@link Augmentation#intensityJitter()} parameter. */
        FLUORESCENCE,
        /** Intensities stay as they are. */
        NONE
    }

    /** From the engine's canonical JSON, such as a config's block. */
    Augmentation(Map<String, Object> json) {
        super(json);
    }

    /**
     * @return a builder starting from the engine's defaults: flips and 90° rotations on,
     *     intensity mode {@link IntensityMode#AUTO} with default parameters, no elastic deformation
     */
    public static Builder builder() {
        return new Builder(Collections.<String, Object>emptyMap());
    }

    /** @return a builder starting from this augmentation */
    public Builder toBuilder() {
        return new Builder(json);
    }

    /** @return whether crops are mirrored left-right with probability 1/2 */
    public boolean flipHorizontal() {
        return JsonFields.bool(json, "flip_horizontal");
    }

    /** @return whether crops are mirrored top-bottom with probability 1/2 */
    public boolean flipVertical() {
        return JsonFields.bool(json, "flip_vertical");
    }

    /** @return whether crops are rotated by a random multiple of 90° */
    public boolean rotate90() {
        return JsonFields.bool(json, "rotate90");
    }

    /** @return the intensity augmentation; {@link IntensityMode#AUTO} until training resolves it */
    public IntensityMode intensityMode() {
        return JsonFields.enumValue(IntensityMode.class, json, "intensity_mode");
    }

    /**
     * @return the {@code brightness}, {@code contrast} and {@code saturation} amounts of the
     *     {@link IntensityMode#BRIGHTFIELD} colour jitter, if given; empty: the defaults (0.1 each).
     *     They apply only in that mode.
     */
    public Map<String, Double> colorJitter() {
        return numbers(JsonFields.object(json, "color_jitter"));
    }

    /**
     * @return the {@code scale} of the {@link IntensityMode#FLUORESCENCE} per-channel
     *     intensity factors, if given; empty: the default (0.2). It applies only in that mode.
     */
    public OptionalDouble intensityJitter() {
        Map<String, Object> jitter = JsonFields.object(json, "intensity_jitter");
        return jitter == null ? OptionalDouble.empty() : OptionalDouble.of(JsonFields.number(jitter, "scale"));
    }

    /** @return {@code alpha}, {@code sigma} and {@code probability}; empty when off */
    public Map<String, Double> elastic() {
        return numbers(JsonFields.object(json, "elastic"));
    }

    /** Builds an {@link Augmentation}. */
    public static final class Builder {
        private final Map<String, Object> json;

        private Builder(Map<String, Object> base) {
            json = new LinkedHashMap<>(base);
        }

        /**
         * @param on mirror left-right with probability 1/2
         * @return this builder
         */
        public Builder flipHorizontal(boolean on) {
            json.put("flip_horizontal", on);
            return this;
        }

        /**
         * @param on mirror top-bottom with probability 1/2
         * @return this builder
         */
        public Builder flipVertical(boolean on) {
            json.put("flip_vertical", on);
            return this;
        }

        /**
         * @param on rotate square crops by a random multiple of 90°
         * @return this builder
         */
        public Builder rotate90(boolean on) {
            json.put("rotate90", on);
            return this;
        }

        /**
         * @param mode the intensity augmentation (default {@link IntensityMode#AUTO}: chosen from the data)
         * @return this builder
         */
        public Builder intensityMode(IntensityMode mode) {
            json.put("intensity_mode", JsonFields.jsonName(Objects.requireNonNull(mode, "mode")));
            return this;
        }

        /**
         * The parameters of the {@link IntensityMode#BRIGHTFIELD} colour jitter:
         * random brightness, contrast and saturation factors drawn from
         * {@code [max(0, 1 - amount), 1 + amount]}, as in torchvision. They do
         * not switch it on: the intensity mode decides whether it runs.
         *
         * @param brightness amount, at least 0 (default 0.1)
         * @param contrast amount, at least 0 (default 0.1)
         * @param saturation amount, at least 0 (default 0.1)
         * @return this builder
         */
        public Builder colorJitter(double brightness, double contrast, double saturation) {
            json.put("color_jitter", JsonFields.objectOf(
                    "brightness", brightness, "contrast", contrast, "saturation", saturation));
            return this;
        }

        /**
         * Goes back to the default colour-jitter parameters (0.1 each). To run
         * no intensity augmentation, use {@link #intensityMode(IntensityMode)}
         * with {@link IntensityMode#NONE}.
         *
         * @return this builder
         */
        public Builder defaultColorJitter() {
            json.put("color_jitter", null);
            return this;
        }

        /**
         * The parameter of the {@link IntensityMode#FLUORESCENCE} intensity
         * scaling: each channel is multiplied by its own factor drawn from
         * {@code [max(0, 1 - scale), 1 + scale]}. It does not switch it on: the
         * intensity mode decides whether it runs.
         *
         * @param scale the factors' spread, at least 0 (default 0.2)
         * @return this builder
         */
        public Builder intensityJitter(double scale) {
            json.put("intensity_jitter", JsonFields.objectOf("scale", scale));
            return this;
        }

        /**
         * Goes back to the default intensity-jitter parameter (scale 0.2).
         *
         * @return this builder
         */
        public Builder defaultIntensityJitter() {
            json.put("intensity_jitter", null);
            return this;
        }

        /**
         * Elastic deformation: random displacements smoothed by a Gaussian.
         *
         * @param alpha displacement scale in pixels, at least 0
         * @param sigma smoothing in pixels, positive
         * @param probability chance of deforming a crop, in [0, 1]
         * @return this builder
         */
        public Builder elastic(double alpha, double sigma, double probability) {
            json.put("elastic", JsonFields.objectOf("alpha", alpha, "sigma", sigma, "probability", probability));
            return this;
        }

        /** @return this builder, without elastic deformation */
        public Builder noElastic() {
            json.put("elastic", null);
            return this;
        }

        /**
         * @return the checked augmentation
         * @throws IllegalArgumentException for out-of-range parameters
         */
        public Augmentation build() {
            return new Augmentation(canonical("augmentation", json));
        }
    }
}
