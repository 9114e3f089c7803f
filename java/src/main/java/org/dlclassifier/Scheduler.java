package org.dlclassifier;

import java.util.LinkedHashMap;
import java.util.Map;
import org.dlclassifier.internal.JsonFields;

/**
 * A learning-rate schedule ({@link TrainingConfig.Builder#scheduler(Scheduler)}).
 * The factories without parameters use the engine's defaults for them;
 * {@link #parameters()} shows the values.
 */
public final class Scheduler extends SettingValue {
    /** From the engine's canonical JSON, such as a config's block. */
    Scheduler(Map<String, Object> json) {
        super(json);
    }

    private static Scheduler of(String type, Object... keysAndValues) {
        Map<String, Object> json = JsonFields.objectOf("type", type);
        json.putAll(JsonFields.objectOf(keysAndValues));
        return new Scheduler(canonical("scheduler", json));
    }

    /** @return PyTorch's OneCycleLR (cosine annealing), stepped per batch, with default parameters */
    public static Scheduler oneCycle() {
        return of("onecycle");
    }

    /**
     * PyTorch's OneCycleLR, stepped per batch; the configured learning rate is the peak.
     *
     * @param pctStart fraction of the steps spent warming up, in [0, 1)
     * @param divFactor initial rate = peak / divFactor
     * @param finalDivFactor final rate = initial / finalDivFactor
     * @return the schedule
     */
    public static Scheduler oneCycle(double pctStart, double divFactor, double finalDivFactor) {
        return of("onecycle", "pct_start", pctStart, "div_factor", divFactor, "final_div_factor", finalDivFactor);
    }

    /** @return PyTorch's CosineAnnealingWarmRestarts with default parameters */
    public static Scheduler cosine() {
        return of("cosine");
    }

    /**
     * PyTorch's CosineAnnealingWarmRestarts, with fractional epochs per batch.
     *
     * @param t0 epochs until the first restart
     * @param tMult factor by which each cycle grows
     * @param etaMin the minimum learning rate
     * @return the schedule
     */
    public static Scheduler cosine(int t0, int tMult, double etaMin) {
        return of("cosine", "t0", t0, "t_mult", tMult, "eta_min", etaMin);
    }

    /** @return PyTorch's StepLR with default parameters */
    public static Scheduler step() {
        return of("step");
    }

    /**
     * PyTorch's StepLR: the rate is multiplied by {@code gamma} every {@code stepSize} epochs.
     *
     * @param stepSize epochs between reductions
     * @param gamma the factor
     * @return the schedule
     */
    public static Scheduler step(int stepSize, double gamma) {
        return of("step", "step_size", stepSize, "gamma", gamma);
    }

    /** @return a constant learning rate */
    public static Scheduler none() {
        return of("none");
    }

    /** @return {@code onecycle}, {@code cosine}, {@code step} or {@code none} */
    public String type() {
        return JsonFields.string(json, "type");
    }

    /** @return the parameters by their engine names (e.g. {@code pct_start}), empty for {@code none} */
    public Map<String, Double> parameters() {
        Map<String, Object> parameters = new LinkedHashMap<>(json);
        parameters.remove("type");
        return numbers(parameters);
    }
}
