package org.tensorflow.lite.gpu;

public class GpuDelegate implements org.tensorflow.lite.Delegate {
    public GpuDelegate(GpuDelegateFactory.Options options) {}
    public GpuDelegate() {}

    /** Deprecated in LiteRT, yet still what CompatibilityList.getBestOptionsForThisDevice returns. */
    @Deprecated
    public static class Options extends GpuDelegateFactory.Options {}

    @Override
    public long getNativeHandle() { return 0; }

    @Override
    public void close() {}
}
