package org.dlclassifier;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.dlclassifier.internal.JsonFields;

/**
 * Random augmentation of training crops (image and mask together). Each
 * transform fires independently per crop.
 */
public final class Augmentation extends SettingValue {
    /** From the engine's canonical JSON, such as a config's block. */
    Augmentation(Map<String, Object> json) {
        super(json);
    }

    /** @return a builder starting from the engine's defaults: flips and 90° rotations on, the rest off */
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

    /** @return {@code brightness}, {@code contrast} and {@code saturation} amounts; empty when off */
    public Map<String, Double> colorJitter() {
        return numbers(JsonFields.object(json, "color_jitter"));
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
         * Random brightness, contrast and saturation factors drawn from
         * {@code [max(0, 1 - amount), 1 + amount]}, as in torchvision; RGB images only.
         *
         * @param brightness amount, at least 0
         * @param contrast amount, at least 0
         * @param saturation amount, at least 0
         * @return this builder
         */
        public Builder colorJitter(double brightness, double contrast, double saturation) {
            json.put("color_jitter", JsonFields.objectOf(
                    "brightness", brightness, "contrast", contrast, "saturation", saturation));
            return this;
        }

        /** @return this builder, without colour jitter */
        public Builder noColorJitter() {
            json.put("color_jitter", null);
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
