package org.tensorflow.lite;

public interface Tensor {
    class QuantizationParams {
        public QuantizationParams(final float scale, final int zeroPoint) {}
        public float getScale() { return 0; }
        public int getZeroPoint() { return 0; }
    }

    DataType dataType();
    int[] shape();
    QuantizationParams quantizationParams();
}
