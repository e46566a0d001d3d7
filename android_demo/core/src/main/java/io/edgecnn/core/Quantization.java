package io.edgecnn.core;

/** Affine quantisation of a tensor: {@code real = (q - zeroPoint) * scale}. */
public final class Quantization {
    public final double scale;
    public final int zeroPoint;

    public Quantization(double scale, int zeroPoint) throws CoreException {
        if (!(scale > 0) || !Double.isFinite(scale)) {
            throw new CoreException("quantisation scale must be a positive number, got " + scale);
        }
        this.scale = scale;
        this.zeroPoint = zeroPoint;
    }

    @Override
    public String toString() {
        return "scale " + scale + ", zero point " + zeroPoint;
    }
}
