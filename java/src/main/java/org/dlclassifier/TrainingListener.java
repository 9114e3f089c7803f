package org.dlclassifier;

/**
 * Receives the metrics of each finished epoch, on the training thread, before
 * the next epoch starts: keep it quick, or hand the work to another thread.
 * It may call {@link TrainingJob#pause()} or {@link TrainingJob#cancel()}.
 * An exception it throws is logged and training continues; an {@link Error}
 * stops the run as {@link TrainingJob#cancel()} does (the best model so far
 * is still written), and the run then fails with that error.
 */
@FunctionalInterface
public interface TrainingListener {
    /**
     * @param metrics the epoch that just finished
     */
    void onEpoch(EpochMetrics metrics);
}
