package org.tensorflow.lite.gpu;
public class CompatibilityList implements java.io.Closeable { public boolean isDelegateSupportedOnThisDevice() { return true; } public GpuDelegateFactory.Options getBestOptionsForThisDevice() { return null; } public void close() {} }
