package org.dlclassifier;

/**
 * A wait that ran out of time: a {@link Reservation} of device memory, also
 * when training or a predictor makes one because its configuration asks for
 * it. Unchecked, like {@link DlcException}, so that it can come out of
 * {@link Predictor#open} and training unannounced; the message says what was
 * requested, what was booked and how long it waited.
 */
public class DlcTimeoutException extends DlcException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what timed out, and the state it was waiting on
     */
    public DlcTimeoutException(String message) {
        super(message);
    }
}
