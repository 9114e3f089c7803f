package org.dlclassifier;

import java.util.Locale;
import org.dlclassifier.internal.JsonName;

/**
 * What one finished epoch achieved: how much it trained, losses,
 * validation metrics over the labelled pixels of the validation images, and
 * the early-stopping state. One entry of a model's {@code training_history.json}.
 */
public final class EpochMetrics {
    private int epoch;
    private int totalEpochs;
    private double trainLoss;
    private double valLoss;
    private double pixelAccuracy;
    @JsonName("per_class_iou")
    private double[] perClassIoU;
    @JsonName("mean_iou")
    private double meanIoU;
    private double learningRate;
    @JsonName("elapsed_s")
    private double elapsedSeconds;
    private int bestEpoch;
    private double bestScore;
    private double smoothedScore;
    private int epochsWithoutImprovement;
    @JsonName("is_best")
    private boolean best;
    private int samples;
    private int steps;

    /** Filled from the engine's JSON by {@link org.dlclassifier.internal.JsonMapper}. */
    private EpochMetrics() {
    }

    /** @return this epoch's number, from 1 */
    public int epoch() {
        return epoch;
    }

    /** @return the configured number of epochs (early stopping may end sooner) */
    public int totalEpochs() {
        return totalEpochs;
    }

    /** @return the mean training loss over the epoch's batches */
    public double trainLoss() {
        return trainLoss;
    }

    /** @return the validation loss */
    public double valLoss() {
        return valLoss;
    }

    /** @return the fraction of labelled validation pixels classified correctly */
    public double pixelAccuracy() {
        return pixelAccuracy;
    }

    /**
     * @return the validation intersection over union of each class, by class
     *     index; NaN for a class absent from both truth and prediction
     */
    public double[] perClassIoU() {
        return perClassIoU.clone();
    }

    /** @return the mean of the defined per-class IoUs */
    public double meanIoU() {
        return meanIoU;
    }

    /** @return the learning rate at the epoch's last batch */
    public double learningRate() {
        return learningRate;
    }

    /** @return seconds since the run started, including earlier sessions of a resumed run */
    public double elapsedSeconds() {
        return elapsedSeconds;
    }

    /** @return the best epoch so far (this one if {@link #isBest()}) */
    public int bestEpoch() {
        return bestEpoch;
    }

    /** @return the monitored metric at the best epoch */
    public double bestScore() {
        return bestScore;
    }

    /**
     * @return the monitored metric averaged over early stopping's window of recent
     *     epochs ({@link TrainingConfig#earlyStoppingSmoothing()}), which early stopping judges
     */
    public double smoothedScore() {
        return smoothedScore;
    }

    /** @return epochs since {@link #smoothedScore()} last improved */
    public int epochsWithoutImprovement() {
        return epochsWithoutImprovement;
    }

    /** @return whether this epoch improved on all earlier ones (its weights are kept) */
    public boolean isBest() {
        return best;
    }

    /** @return the training crops drawn this epoch */
    public int samples() {
        return samples;
    }

    /** @return the optimizer steps (batches) this epoch made */
    public int steps() {
        return steps;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "epoch %d/%d: train loss %.4f, val loss %.4f, mean IoU %.4f, "
                + "pixel accuracy %.4f, lr %.3g%s", epoch, totalEpochs, trainLoss, valLoss, meanIoU,
                pixelAccuracy, learningRate, best ? " (best)" : "");
    }
}
