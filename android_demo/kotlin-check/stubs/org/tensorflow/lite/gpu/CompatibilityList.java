package org.tensorflow.lite.gpu;

public class CompatibilityList implements java.io.Closeable {
    public CompatibilityList() {}
    public boolean isDelegateSupportedOnThisDevice() { return false; }
    public GpuDelegate.Options getBestOptionsForThisDevice() { return null; }
    @Override
    public void close() {}
}
