package org.dlclassifier;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.Native;

/**
 * Trains pixel classifiers on QuPath training-data exports: a folder with
 * {@code config.json}, {@code train/images}, {@code train/masks},
 * {@code validation/images} and {@code validation/masks}. The result is a
 * model folder ({@code model.pt}, {@code model.onnx}, {@code metadata.json},
 * {@code training_history.json}, ...) written atomically: it appears complete
 * or not at all. {@link #plan} shows beforehand what a run will use.
 */
public final class Trainer {
    private static final AtomicInteger THREADS = new AtomicInteger();

    private Trainer() {
    }

    /**
     * What training with {@code config} would use on {@code dataDir}, without
     * training: the settings left open (tile size, crops per epoch, intensity
     * augmentation) chosen from the data, the steps per epoch, and the reasons.
     * Reads the whole training data, as training does.
     *
     * @param dataDir the training-data export
     * @param config the settings
     * @return the plan
     * @throws IOException for unreadable training data
     * @throws IllegalArgumentException for settings that cannot work with the data
     *     (say, brightfield augmentation of images that are not RGB)
     */
    public static TrainingPlan plan(Path dataDir, TrainingConfig config) throws IOException {
        String data = Objects.requireNonNull(dataDir, "dataDir").toAbsolutePath().toString();
        String settings = Objects.requireNonNull(config, "config").toJson();
        return TrainingPlan.of(Json.parseObject(Native.trainingPlanJson(data, settings)));
    }

    /**
     * Starts training on a new daemon thread named
     * {@code dlclassifier-training-N}; the data is read there, so every failure,
     * unreadable data included, arrives through {@link TrainingJob#future()}.
     *
     * @param dataDir the training-data export
     * @param outputDir the model folder to create; must not exist unless
     *     {@link TrainingConfig#overwrite()}
     * @param config the settings
     * @return the running job
     */
    public static TrainingJob start(Path dataDir, Path outputDir, TrainingConfig config) {
        return start(dataDir, outputDir, config, null);
    }

    /**
     * As {@link #start(Path, Path, TrainingConfig)}, with a listener that sees every epoch.
     *
     * @param dataDir the training-data export
     * @param outputDir the model folder to create
     * @param config the settings
     * @param listener called after each epoch; may be null
     * @return the running job
     */
    public static TrainingJob start(Path dataDir, Path outputDir, TrainingConfig config, TrainingListener listener) {
        TrainingJob job = new TrainingJob(dataDir, outputDir, config, listener);
        Thread thread = new Thread(job::run, "dlclassifier-training-" + THREADS.incrementAndGet());
        thread.setDaemon(true);
        thread.start();
        return job;
    }

    /**
     * Trains on the calling thread and returns when the model folder is written.
     * Use {@link #start} to pause or cancel.
     *
     * @param dataDir the training-data export
     * @param outputDir the model folder to create
     * @param config the settings
     * @param listener called after each epoch; may be null
     * @return the result
     * @throws IOException for unreadable training data or an existing output folder
     * @throws IllegalArgumentException for settings that do not fit the data or machine
     * @throws DlcException for failures inside the engine
     */
    public static TrainingResult train(Path dataDir, Path outputDir, TrainingConfig config, TrainingListener listener)
            throws IOException {
        TrainingJob job = new TrainingJob(dataDir, outputDir, config, listener);
        job.run();
        return job.finished();
    }
}
