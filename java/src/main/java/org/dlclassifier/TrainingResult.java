package org.dlclassifier;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import org.dlclassifier.internal.JsonFields;
import org.dlclassifier.internal.JsonMapper;

/**
 * A written model folder and how training got there. A run stopped by
 * {@link TrainingJob#cancel()} after at least one epoch also ends here, with
 * {@link #cancelled()} true and the best epoch so far saved.
 */
public final class TrainingResult {
    /** How a run ended. */
    public enum Status {
        /** All configured epochs ran. */
        COMPLETED,
        /** Early stopping ended the run. */
        EARLY_STOPPED,
        /** The run was cancelled; the best epoch before the cancel was saved. */
        CANCELLED
    }

    private final Model model;
    private final List<TrainingPlan.Choice> plan;

    private TrainingResult(Model model, List<TrainingPlan.Choice> plan) {
        this.model = model;
        this.plan = plan;
    }

    /** From the engine's answer to training: {@code {"model_dir", "metadata", "history", "plan"}}. */
    static TrainingResult of(Map<String, Object> json) {
        return new TrainingResult(Model.of(Paths.get(JsonFields.string(json, "model_dir")), json),
                JsonMapper.readList(TrainingPlan.Choice.class, json.get("plan")));
    }

    /** @return the model folder ({@code model.pt}, {@code model.onnx}, {@code metadata.json}, ...) */
    public Path modelDir() {
        return model.directory();
    }

    /** @return the written model's metadata: classes, channels, normalization, settings */
    public Model model() {
        return model;
    }

    /** @return how the run ended */
    public Status status() {
        return model.status();
    }

    /** @return whether the run was cancelled (the model holds the best epoch before the cancel) */
    public boolean cancelled() {
        return status() == Status.CANCELLED;
    }

    /** @return the epoch whose weights were saved */
    public EpochMetrics bestEpoch() {
        // A written model always has one: the first epoch improves on nothing.
        return model.bestEpoch().get();
    }

    /** @return every epoch of the run, including earlier sessions of a resumed run */
    public List<EpochMetrics> history() {
        return model.history();
    }

    /**
     * @return the training plan this run followed: the settings that matter, each with its
     *     value and reason, as {@link Trainer#plan} gives them; its resolved settings are
     *     {@code model().trainingConfig()}. Unmodifiable
     */
    public List<TrainingPlan.Choice> plan() {
        return plan;
    }

    @Override
    public String toString() {
        return "TrainingResult[" + modelDir() + ", " + status() + ", " + history().size() + " epochs, best " + bestEpoch() + "]";
    }
}
