package org.tensorflow.lite;

public interface Delegate extends java.io.Closeable {
    long getNativeHandle();

    @Override
    default void close() {}
}
