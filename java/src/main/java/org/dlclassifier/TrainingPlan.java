package org.dlclassifier;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonFields;
import org.dlclassifier.internal.JsonMapper;

/**
 * What a training run will use on its data, decided before training: the
 * settings with every choice left to the engine resolved (tile size, crops
 * per epoch, intensity augmentation), the optimizer steps per epoch, and each
 * setting that matters with the reason for its value. From
 * {@link Trainer#plan}; a run's own choices are in {@link TrainingResult#plan()}.
 * Immutable, compared by value.
 */
public final class TrainingPlan {
    private final TrainingConfig config;
    private final int stepsPerEpoch;
    private final List<Choice> choices;

    private TrainingPlan(TrainingConfig config, int stepsPerEpoch, List<Choice> choices) {
        this.config = config;
        this.stepsPerEpoch = stepsPerEpoch;
        this.choices = choices;
    }

    /** From the engine's answer: {@code {"config", "steps_per_epoch", "choices"}}. */
    static TrainingPlan of(Map<String, Object> json) {
        return new TrainingPlan(TrainingConfig.fromJson(Json.write(JsonFields.object(json, "config"))),
                JsonFields.integer(json, "steps_per_epoch"), JsonMapper.readList(Choice.class, json.get("choices")));
    }

    /**
     * @return the settings as the run will use them, nothing left to choose; training
     *     with them makes the same choices
     */
    public TrainingConfig config() {
        return config;
    }

    /** @return optimizer steps (batches) per epoch */
    public int stepsPerEpoch() {
        return stepsPerEpoch;
    }

    /** @return the settings that matter, and facts about the data, each with its reason; unmodifiable */
    public List<Choice> choices() {
        return choices;
    }

    @Override
    public boolean equals(Object other) {
        if (!(other instanceof TrainingPlan)) {
            return false;
        }
        TrainingPlan o = (TrainingPlan) other;
        return config.equals(o.config) && stepsPerEpoch == o.stepsPerEpoch && choices.equals(o.choices);
    }

    @Override
    public int hashCode() {
        return Objects.hash(config, stepsPerEpoch, choices);
    }

    /** @return the choices, one per line */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("TrainingPlan[" + stepsPerEpoch + " steps per epoch]");
        for (Choice choice : choices) {
            s.append("\n  ").append(choice);
        }
        return s.toString();
    }

    /** One setting of a plan (or a fact about the data), its value and why. Compared by value. */
    public static final class Choice {
        private String setting;
        private String value;
        private String reason;
        private boolean chosen;

        /** Filled from the engine's JSON by {@link JsonMapper}. */
        private Choice() {
        }

        /**
         * @return the setting, as the engine's JSON names it (e.g. {@code tile_size},
         *     {@code augmentation.intensity_mode}), or what a fact concerns (e.g. {@code labels})
         */
        public String setting() {
            return setting;
        }

        /** @return the value, as text (e.g. {@code 128}, {@code fluorescence}) */
        public String value() {
            return value;
        }

        /** @return why the setting has this value, in a sentence for users */
        public String reason() {
            return reason;
        }

        /**
         * @return whether the engine chose the value from the data; false for a value the
         *     settings give (a default included) and for facts about the data
         */
        public boolean chosen() {
            return chosen;
        }

        @Override
        public boolean equals(Object other) {
            if (!(other instanceof Choice)) {
                return false;
            }
            Choice o = (Choice) other;
            return setting.equals(o.setting) && value.equals(o.value) && reason.equals(o.reason) && chosen == o.chosen;
        }

        @Override
        public int hashCode() {
            return Objects.hash(setting, value, reason, chosen);
        }

        /** @return {@code setting = value: reason}, with {@code (chosen)} after the value where the engine chose it */
        @Override
        public String toString() {
            return setting + " = " + value + (chosen ? " (chosen): " : ": ") + reason;
        }
    }
}
