package org.dlclassifier;

/**
 * A failure inside the dlclassifier engine (libtorch, ONNX Runtime, a model
 * that does not fit its files, or an internal error). Bad arguments raise
 * {@link IllegalArgumentException}, closed handles {@link IllegalStateException},
 * unreadable files {@link java.io.IOException} and cancelled jobs
 * {@link java.util.concurrent.CancellationException}; the message always
 * carries the native error chain.
 */
public class DlcException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what failed, with its causes
     */
    public DlcException(String message) {
        super(message);
    }

    /**
     * @param message what failed
     * @param cause the underlying failure
     */
    public DlcException(String message, Throwable cause) {
        super(message, cause);
    }
}
