package io.edgecnn.core;

/**
 * A problem with the model, its assets or an image, with a message fit to show the user as it is
 * (the app puts it on screen instead of crashing).
 */
public class CoreException extends Exception {
    private static final long serialVersionUID = 1L;

    public CoreException(String message) {
        super(message);
    }

    public CoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
