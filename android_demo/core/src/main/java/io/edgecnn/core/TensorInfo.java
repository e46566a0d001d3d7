package io.edgecnn.core;

import java.util.Arrays;

/**
 * What the app reads from the interpreter about one input or output tensor: shape, element type and,
 * for int8/uint8, its quantisation (from the model itself, not from preprocess.json).
 */
public final class TensorInfo {
    public final int[] shape;
    public final DType dtype;
    /** Null for float32 tensors. */
    public final Quantization quantization;

    public TensorInfo(int[] shape, DType dtype, Quantization quantization) {
        this.shape = shape.clone();
        this.dtype = dtype;
        this.quantization = quantization;
    }

    /** Number of elements. */
    public int size() {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    public int byteSize() {
        return size() * dtype.bytes;
    }

    @Override
    public String toString() {
        return Arrays.toString(shape) + " " + dtype.jsonName + (quantization == null ? "" : " (" + quantization + ")");
    }
}
