package org.tensorflow.lite;
public interface Tensor { DataType dataType(); int[] shape(); QuantizationParams quantizationParams();
  class QuantizationParams { public float getScale() { return 0; } public int getZeroPoint() { return 0; } } }
