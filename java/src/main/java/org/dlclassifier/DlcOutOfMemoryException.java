package org.dlclassifier;

/**
 * The engine ran out of memory: a device (CUDA, MPS) or the system could not
 * allocate what a model, a batch or a training step needs. Retrying with a
 * smaller batch or tile, fewer concurrent runs, or after other work has freed
 * memory can succeed; {@link MemoryEstimate} tells in advance what a run
 * needs and {@link Reservation} makes processes sharing a GPU wait for each
 * other. The message carries the native error chain.
 */
public class DlcOutOfMemoryException extends DlcException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what could not be allocated, with its causes
     */
    public DlcOutOfMemoryException(String message) {
        super(message);
    }
}
