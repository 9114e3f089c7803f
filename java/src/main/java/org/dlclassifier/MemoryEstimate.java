package org.dlclassifier;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonMapper;
import org.dlclassifier.internal.Native;

/**
 * The estimated peak device memory of a training run or of prediction,
 * before starting it, and the largest training batch that fits a budget. The estimate covers the weights,
 * their gradients, AdamW's two moments and the layer outputs kept for the
 * backward pass; measured CPU peaks are within 30% of it.
 */
public final class MemoryEstimate {
    private int batchSize;
    private long parameters;
    private long gradients;
    private long optimizer;
    private long activations;
    private long total;

    /** Filled from the engine's JSON by {@link JsonMapper}. */
    private MemoryEstimate() {
    }

    /** {@code "estimate"} or {@code "suggested"} of the engine's answer for training settings. */
    private static MemoryEstimate training(TrainingConfig config, int channels, int classes, long budget, String key) {
        if (channels < 0 || classes < 0) {
            throw new IllegalArgumentException("channels and classes must not be negative, got " + channels
                    + " and " + classes);
        }
        Map<String, Object> json = Json.parseObject(Native.estimateJson(config.toJson(), channels, classes, budget));
        MemoryEstimate estimate = JsonMapper.read(MemoryEstimate.class, json.get(key));
        if (estimate == null) {
            throw new DlcException("the engine answered no " + key + " estimate for a budget of " + budget + " bytes");
        }
        return estimate;
    }

    /**
     * Estimates training with {@code config} (architecture, encoder, tile
     * size, batch size; mixed precision when AMP is on and the device is CUDA).
     * A config that leaves the tile size to the data is estimated at 256, the
     * largest tile the engine chooses; {@code Trainer.plan(...).config()} gives
     * the one a run will use.
     *
     * @param config the training settings
     * @param channels input channels of the data
     * @param classes classes of the data
     * @return the estimate
     * @throws IllegalArgumentException for impossible settings
     */
    public static MemoryEstimate forTraining(TrainingConfig config, int channels, int classes) {
        Objects.requireNonNull(config, "config");
        return training(config, channels, classes, 0, "estimate");
    }

    /**
     * The largest batch (ignoring the batch size of {@code config}) whose
     * estimated training peak fits {@code budgetBytes}.
     *
     * @param config the training settings
     * @param channels input channels of the data
     * @param classes classes of the data
     * @param budgetBytes the memory available, in bytes (positive)
     * @return the estimate at that batch size
     * @throws IllegalArgumentException when not even batch 1 fits, or the budget is not positive
     */
    public static MemoryEstimate suggestBatch(TrainingConfig config, int channels, int classes, long budgetBytes) {
        Objects.requireNonNull(config, "config");
        if (budgetBytes <= 0) {
            throw new IllegalArgumentException("the budget must be positive, got " + budgetBytes);
        }
        return training(config, channels, classes, budgetBytes, "suggested");
    }

    /**
     * Estimates the peak device memory of predicting with a model folder.
     *
     * @param modelDir a model folder written by training
     * @param tileSize tile side in pixels; 0 takes the model's own tile size
     * @param batchSize tiles per batch
     * @param fp16 half precision (TorchScript on CUDA)
     * @return the estimate
     * @throws IOException if the folder is not a readable model
     * @throws IllegalArgumentException if the sizes cannot work
     */
    public static MemoryEstimate forInference(Path modelDir, int tileSize, int batchSize, boolean fp16) throws IOException {
        Objects.requireNonNull(modelDir, "modelDir");
        if (tileSize < 0 || batchSize < 0) {
            throw new IllegalArgumentException("tile size and batch size must not be negative, got " + tileSize
                    + " and " + batchSize);
        }
        String json = Native.estimateInferenceJson(modelDir.toString(), tileSize, batchSize, fp16);
        return JsonMapper.read(MemoryEstimate.class, Json.parse(json));
    }

    /** @return the batch size estimated */
    public int batchSize() {
        return batchSize;
    }

    /** @return bytes of the weights */
    public long parameters() {
        return parameters;
    }

    /** @return bytes of the gradients */
    public long gradients() {
        return gradients;
    }

    /** @return bytes of the optimizer's state */
    public long optimizer() {
        return optimizer;
    }

    /** @return bytes of layer outputs, the loss and the batches */
    public long activations() {
        return activations;
    }

    /** @return the estimated peak, in bytes */
    public long total() {
        return total;
    }

    @Override
    public String toString() {
        return "batch " + batchSize + ": " + total + " bytes at the peak";
    }
}
