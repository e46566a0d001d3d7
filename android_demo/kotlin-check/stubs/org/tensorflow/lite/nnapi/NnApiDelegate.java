package org.tensorflow.lite.nnapi;

public class NnApiDelegate implements org.tensorflow.lite.Delegate, AutoCloseable {
    public static final class Options {
        public Options() {}
    }

    public NnApiDelegate(Options options) {}
    public NnApiDelegate() {}
    @Override
    public long getNativeHandle() { return 0; }
    @Override
    public void close() {}
}
