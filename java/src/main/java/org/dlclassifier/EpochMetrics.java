package org.dlclassifier;

import java.util.Locale;
import java.util.Map;

/**
 * What one finished epoch achieved: losses, validation metrics over the
 * labelled pixels of the validation images, and the early-stopping state.
 * One entry of a model's {@code training_history.json}.
 */
public final class EpochMetrics {
    private final int epoch;
    private final int totalEpochs;
    private final double trainLoss;
    private final double valLoss;
    private final double pixelAccuracy;
    private final double[] perClassIoU;
    private final double meanIoU;
    private final double learningRate;
    private final double elapsedSeconds;
    private final int bestEpoch;
    private final double bestScore;
    private final int epochsWithoutImprovement;
    private final boolean best;

    EpochMetrics(Map<String, Object> json) {
        epoch = JsonFields.integer(json, "epoch");
        totalEpochs = JsonFields.integer(json, "total_epochs");
        trainLoss = JsonFields.number(json, "train_loss");
        valLoss = JsonFields.number(json, "val_loss");
        pixelAccuracy = JsonFields.number(json, "pixel_accuracy");
        perClassIoU = JsonFields.doubles(json, "per_class_iou");
        meanIoU = JsonFields.number(json, "mean_iou");
        learningRate = JsonFields.number(json, "learning_rate");
        elapsedSeconds = JsonFields.number(json, "elapsed_s");
        bestEpoch = JsonFields.integer(json, "best_epoch");
        bestScore = JsonFields.number(json, "best_score");
        epochsWithoutImprovement = JsonFields.integer(json, "epochs_without_improvement");
        best = JsonFields.bool(json, "is_best");
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

    /** @return epochs since the monitored metric last improved */
    public int epochsWithoutImprovement() {
        return epochsWithoutImprovement;
    }

    /** @return whether this epoch improved on all earlier ones (its weights are kept) */
    public boolean isBest() {
        return best;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "epoch %d/%d: train loss %.4f, val loss %.4f, mean IoU %.4f, "
                + "pixel accuracy %.4f, lr %.3g%s", epoch, totalEpochs, trainLoss, valLoss, meanIoU,
                pixelAccuracy, learningRate, best ? " (best)" : "");
    }
}
