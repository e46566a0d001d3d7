package io.edgecnn.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Output tensor bytes → scores → top-k. */
public final class Postprocess {
    private Postprocess() {
    }

    /**
     * The output tensor's bytes as float32 scores: float32 read little-endian; int8/uint8 dequantised as
     * {@code float32(q - zeroPoint) * float32(scale)}.
     */
    public static float[] dequantize(byte[] raw, DType dtype, Quantization quant) throws CoreException {
        if (raw.length % dtype.bytes != 0) {
            throw new CoreException("output has " + raw.length + " bytes, not a whole number of " + dtype.jsonName);
        }
        int n = raw.length / dtype.bytes;
        float[] out = new float[n];
        if (dtype == DType.FLOAT32) {
            ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
            return out;
        }
        if (quant == null) {
            throw new CoreException(dtype.jsonName + " output needs its quantisation scale and zero point");
        }
        float scale = (float) quant.scale;
        for (int i = 0; i < n; i++) {
            int q = dtype == DType.INT8 ? raw[i] : (raw[i] & 0xFF);
            out[i] = (float) (q - quant.zeroPoint) * scale;
        }
        return out;
    }

    /** True when the scores already look like probabilities (edgecnn models end in softmax). */
    public static boolean isProbability(float[] scores) {
        double sum = 0;
        for (float s : scores) {
            if (!(s >= -1e-3f && s <= 1.001f)) {
                return false;
            }
            sum += s;
        }
        // int8 softmax outputs are coarse (steps of 1/256): allow for it.
        return Math.abs(sum - 1.0) <= 0.05 + scores.length / 256.0;
    }

    /** Numerically stable softmax in float64, returned as float32. */
    public static float[] softmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double[] e = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            e[i] = Math.exp(logits[i] - max);
            sum += e[i];
        }
        float[] out = new float[logits.length];
        for (int i = 0; i < logits.length; i++) {
            out[i] = (float) (e[i] / sum);
        }
        return out;
    }

    /** Scores as probabilities: left as they are if they already are, else softmax (a logits model). */
    public static float[] probabilities(float[] scores) {
        return isProbability(scores) ? scores : softmax(scores);
    }

    /**
     * The k best classes, highest score first; equal scores (common with int8 outputs) in index order,
     * like NumPy's {@code argsort(-scores, kind="stable")}.
     */
    public static List<Prediction> topK(float[] scores, List<String> labels, int k) {
        return topK(scores, labels, k, Float.NEGATIVE_INFINITY);
    }

    /**
     * The k best classes whose score is at least {@code minScore} (the score threshold of the official
     * LiteRT/TFLite classification samples: results below it are left out), best first, ties in index order.
     */
    public static List<Prediction> topK(float[] scores, List<String> labels, int k, float minScore) {
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        // Arrays.sort on objects is stable: ties (also 0.0 and -0.0, equal as in NumPy) keep index order.
        Arrays.sort(order, (a, b) -> scores[a] > scores[b] ? -1 : (scores[a] < scores[b] ? 1 : 0));
        List<Prediction> top = new ArrayList<>();
        boolean threshold = minScore > Float.NEGATIVE_INFINITY;
        for (int j = 0; j < order.length && top.size() < k; j++) {
            int i = order[j];
            if (threshold && !(scores[i] >= minScore)) {
                continue; // below the threshold (a NaN score never passes one)
            }
            String label = labels != null && i < labels.size() ? labels.get(i) : "class " + i;
            top.add(new Prediction(i, label, scores[i]));
        }
        return top;
    }
}
