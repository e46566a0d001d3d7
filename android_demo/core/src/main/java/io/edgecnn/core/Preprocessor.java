package io.edgecnn.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The exact input preprocessing of {@code edgecnn/preprocess.py}, reproduced bit for bit (the golden test
 * compares the bytes with what Python feeds its interpreter):
 *
 * <ol>
 *   <li>channels: grey→RGB repeats; RGB→grey is the integer BT.601 luma {@code (299R + 587G + 114B + 500) / 1000};</li>
 *   <li>resize: nearest {@code (2i+1)*src / (2*dst)} in integers; bilinear with half-pixel centres in float64,
 *       x then y, rounded by {@code floor(v + 0.5)}; pad centres on zeros, first shrinking by nearest when the
 *       image does not fit;</li>
 *   <li>scale: {@code float32(pixel) * float32(scale) + float32(offset)}, each step rounded to float32;</li>
 *   <li>quantise: {@code clip(rint(x / float32(qscale)) + float32(zeroPoint))}, rint rounding half to even.</li>
 * </ol>
 * Java's float and double arithmetic is IEEE 754 with one rounding per operation (strict since Java 17, and
 * no fused multiply-add unless asked), the same as NumPy's element-wise operations, so the results match.
 */
public final class Preprocessor {
    private Preprocessor() {
    }

    // ---- 1. channels ----------------------------------------------------------------------------

    public static PixelImage convertChannels(PixelImage img, int channels) throws CoreException {
        if (img.channels == channels) {
            return img;
        }
        int n = img.width * img.height;
        byte[] out = new byte[n * channels];
        if (img.channels == 1 && channels == 3) {
            for (int i = 0; i < n; i++) {
                byte v = img.data[i];
                out[3 * i] = v;
                out[3 * i + 1] = v;
                out[3 * i + 2] = v;
            }
        } else if (img.channels == 3 && channels == 1) {
            for (int i = 0; i < n; i++) {
                int r = img.data[3 * i] & 0xFF;
                int g = img.data[3 * i + 1] & 0xFF;
                int b = img.data[3 * i + 2] & 0xFF;
                out[i] = (byte) ((299 * r + 587 * g + 114 * b + 500) / 1000);
            }
        } else {
            throw new CoreException("cannot turn " + img.channels + " channels into " + channels);
        }
        return new PixelImage(img.width, img.height, channels, out);
    }

    // ---- 2. resize ------------------------------------------------------------------------------

    static int[] nearestIndex(int dst, int src) {
        int[] idx = new int[dst];
        for (int i = 0; i < dst; i++) {
            long v = (2L * i + 1) * src / (2L * dst);
            idx[i] = (int) Math.min(v, src - 1);
        }
        return idx;
    }

    public static PixelImage resizeNearest(PixelImage img, int height, int width) throws CoreException {
        int[] rows = nearestIndex(height, img.height);
        int[] cols = nearestIndex(width, img.width);
        int c = img.channels;
        byte[] out = new byte[height * width * c];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                System.arraycopy(img.data, (rows[y] * img.width + cols[x]) * c, out, (y * width + x) * c, c);
            }
        }
        return new PixelImage(width, height, c, out);
    }

    /** lo, hi and frac of each destination index, as {@code _bilinear_weights} computes them. */
    private static final class Weights {
        final int[] lo;
        final int[] hi;
        final double[] frac;

        Weights(int dst, int src) {
            lo = new int[dst];
            hi = new int[dst];
            frac = new double[dst];
            double ratio = (double) src / (double) dst;
            for (int i = 0; i < dst; i++) {
                double pos = ((double) i + 0.5) * ratio - 0.5;
                pos = Math.min(Math.max(pos, 0.0), (double) (src - 1));
                int l = (int) Math.floor(pos);
                lo[i] = l;
                hi[i] = Math.min(l + 1, src - 1);
                frac[i] = pos - l;
            }
        }
    }

    public static PixelImage resizeBilinear(PixelImage img, int height, int width) throws CoreException {
        Weights wy = new Weights(height, img.height);
        Weights wx = new Weights(width, img.width);
        int c = img.channels;
        byte[] out = new byte[height * width * c];
        for (int y = 0; y < height; y++) {
            double fy = wy.frac[y];
            for (int x = 0; x < width; x++) {
                double fx = wx.frac[x];
                for (int ch = 0; ch < c; ch++) {
                    double a = img.get(wy.lo[y], wx.lo[x], ch);
                    double b = img.get(wy.lo[y], wx.hi[x], ch);
                    double d = img.get(wy.hi[y], wx.lo[x], ch);
                    double e = img.get(wy.hi[y], wx.hi[x], ch);
                    // The same operations in the same order as NumPy: x first, then y.
                    double top = a * (1.0 - fx) + b * fx;
                    double bottom = d * (1.0 - fx) + e * fx;
                    double v = top * (1.0 - fy) + bottom * fy;
                    double r = Math.floor(v + 0.5);
                    out[(y * width + x) * c + ch] = (byte) (int) Math.min(Math.max(r, 0.0), 255.0);
                }
            }
        }
        return new PixelImage(width, height, c, out);
    }

    public static PixelImage resizePad(PixelImage img, int height, int width) throws CoreException {
        int h = img.height;
        int w = img.width;
        if (h > height || w > width) {
            double f = Math.min((double) height / h, (double) width / w);
            h = Math.max(1, (int) Math.floor(h * f + 0.5));
            w = Math.max(1, (int) Math.floor(w * f + 0.5));
            h = Math.min(h, height);
            w = Math.min(w, width);
            img = resizeNearest(img, h, w);
        }
        int c = img.channels;
        byte[] out = new byte[height * width * c]; // zeros
        int top = (height - h) / 2;
        int left = (width - w) / 2;
        for (int y = 0; y < h; y++) {
            System.arraycopy(img.data, y * w * c, out, ((top + y) * width + left) * c, w * c);
        }
        return new PixelImage(width, height, c, out);
    }

    /** Steps 1-2: any image → uint8 pixels of the model's height, width and channels. */
    public static PixelImage adapt(PixelImage image, PreprocessSpec spec) throws CoreException {
        PixelImage img = convertChannels(image, spec.channels);
        if (img.height == spec.height && img.width == spec.width) {
            return img;
        }
        switch (spec.resize) {
            case NEAREST:
                return resizeNearest(img, spec.height, spec.width);
            case BILINEAR:
                return resizeBilinear(img, spec.height, spec.width);
            default:
                return resizePad(img, spec.height, spec.width);
        }
    }

    // ---- 3-4. scale and quantise ---------------------------------------------------------------

    /** Step 3: adapted pixels → float32 values. */
    public static float[] toFloat(PixelImage pixels, PreprocessSpec spec) {
        float scale = (float) spec.scale;
        float offset = (float) spec.offset;
        float[] out = new float[pixels.data.length];
        for (int i = 0; i < out.length; i++) {
            float p = (float) (pixels.data[i] & 0xFF);
            float scaled = p * scale; // rounded to float32 here, as NumPy rounds the product array
            out[i] = scaled + offset;
        }
        return out;
    }

    /** Step 4: float32 → int8/uint8 values (as bytes) with the given quantisation. */
    public static byte[] quantize(float[] x, Quantization q, DType dtype) throws CoreException {
        if (!dtype.isQuantized()) {
            throw new CoreException("quantize: " + dtype.jsonName + " is not an integer type");
        }
        float scale = (float) q.scale;
        float zeroPoint = (float) q.zeroPoint;
        byte[] out = new byte[x.length];
        for (int i = 0; i < x.length; i++) {
            float d = x[i] / scale;
            float r = (float) Math.rint(d); // half to even, like np.rint; exact in float
            float v = r + zeroPoint;
            float clipped = Math.min(Math.max(v, (float) dtype.min), (float) dtype.max);
            out[i] = (byte) (int) clipped;
        }
        return out;
    }

    /**
     * Steps 1-4: the exact bytes of the input tensor (float32 little-endian, or int8/uint8), ready to copy
     * into the interpreter's input buffer. {@code quant} is the model's input quantisation (null for float32).
     */
    public static byte[] toInputBytes(PixelImage image, PreprocessSpec spec, DType dtype, Quantization quant)
            throws CoreException {
        PixelImage pixels = adapt(image, spec);
        float[] x = toFloat(pixels, spec);
        if (dtype == DType.FLOAT32) {
            ByteBuffer buf = ByteBuffer.allocate(x.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            buf.asFloatBuffer().put(x);
            return buf.array();
        }
        if (quant == null) {
            throw new CoreException(dtype.jsonName + " input needs its quantisation scale and zero point");
        }
        return quantize(x, quant, dtype);
    }

    /** Steps 1-4 with everything taken from preprocess.json (what edgecnn's to_model_input does). */
    public static byte[] toInputBytes(PixelImage image, PreprocessSpec spec) throws CoreException {
        return toInputBytes(image, spec, spec.inputDtype, spec.inputQuantization);
    }
}
