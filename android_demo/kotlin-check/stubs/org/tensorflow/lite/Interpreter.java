package org.tensorflow.lite;

import org.checkerframework.checker.nullness.qual.NonNull;

public final class Interpreter implements AutoCloseable {
    public static class Options {
        public Options() {}
        public Options setUseXNNPACK(boolean useXNNPACK) { return this; }
        public Options setNumThreads(int numThreads) { return this; }
        public Options addDelegate(Delegate delegate) { return this; }
    }

    public Interpreter(@NonNull java.nio.ByteBuffer byteBuffer, Options options) {}
    public void run(Object input, Object output) {}
    public void allocateTensors() {}
    public Tensor getInputTensor(int inputIndex) { return null; }
    public Tensor getOutputTensor(int outputIndex) { return null; }
    public Long getLastNativeInferenceDurationNanoseconds() { return null; }
    @Override
    public void close() {}
}
