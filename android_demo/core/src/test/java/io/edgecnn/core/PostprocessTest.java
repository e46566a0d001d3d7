package io.edgecnn.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

class PostprocessTest {
    @Test
    void dequantisesEachType() throws CoreException {
        assertArrayEquals(new float[] {0f, 0.5f, 127.5f / 256f * 2f},
                Postprocess.dequantize(new byte[] {-128, 0, 127}, DType.INT8, new Quantization(0.00390625, -128)), 1e-9f);
        assertArrayEquals(new float[] {-1.5f, 125.5f},
                Postprocess.dequantize(new byte[] {0, (byte) 254}, DType.UINT8, new Quantization(0.5, 3)));
        byte[] f = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(0.25f).putFloat(-3f).array();
        assertArrayEquals(new float[] {0.25f, -3f}, Postprocess.dequantize(f, DType.FLOAT32, null));
        assertThrows(CoreException.class, () -> Postprocess.dequantize(new byte[5], DType.FLOAT32, null));
        assertThrows(CoreException.class, () -> Postprocess.dequantize(new byte[2], DType.INT8, null));
    }

    @Test
    void softmaxOnlyForLogits() {
        float[] probs = {0.7f, 0.2f, 0.1f};
        assertTrue(Postprocess.isProbability(probs));
        assertArrayEquals(probs, Postprocess.probabilities(probs));
        float[] logits = {2f, 1f, -1f};
        assertFalse(Postprocess.isProbability(logits));
        float[] p = Postprocess.probabilities(logits);
        double e2 = Math.exp(2);
        double e1 = Math.exp(1);
        double em1 = Math.exp(-1);
        assertEquals(e2 / (e2 + e1 + em1), p[0], 1e-7);
        assertEquals(em1 / (e2 + e1 + em1), p[2], 1e-7);
        // Large logits do not overflow.
        float[] big = Postprocess.softmax(new float[] {1000f, 999f});
        assertEquals(1.0 / (1 + Math.exp(-1)), big[0], 1e-6);
    }

    @Test
    void topKBestFirstTiesInIndexOrder() {
        List<String> labels = List.of("a", "b", "c", "d", "e");
        List<Prediction> top = Postprocess.topK(new float[] {0.1f, 0.3f, 0.1f, 0.3f, 0.2f}, labels, 3);
        assertEquals(List.of(1, 3, 4), top.stream().map(p -> p.index).collect(java.util.stream.Collectors.toList()));
        assertEquals("b", top.get(0).label);
        assertEquals(0.3f, top.get(0).score);
        // 0.0 and -0.0 are equal, as in NumPy.
        List<Prediction> zeros = Postprocess.topK(new float[] {-0.0f, 0.0f}, labels, 2);
        assertEquals(0, zeros.get(0).index);
        // k larger than the classes; labels missing → "class i".
        assertEquals(2, Postprocess.topK(new float[] {1f, 2f}, null, 5).size());
        assertEquals("class 1", Postprocess.topK(new float[] {1f, 2f}, null, 1).get(0).label);
    }

    @Test
    void scoreThresholdLeavesOutLowerScores() {
        List<String> labels = List.of("a", "b", "c", "d", "e");
        float[] scores = {0.1f, 0.3f, 0.1f, 0.3f, 0.2f};
        java.util.function.Function<List<Prediction>, List<Integer>> idx =
                l -> l.stream().map(p -> p.index).collect(java.util.stream.Collectors.toList());
        assertEquals(List.of(1, 3), idx.apply(Postprocess.topK(scores, labels, 3, 0.25f)));
        assertEquals(List.of(1, 3), idx.apply(Postprocess.topK(scores, labels, 3, 0.3f))); // at the threshold: kept
        assertEquals(List.of(), idx.apply(Postprocess.topK(scores, labels, 3, 0.31f)));
        assertEquals(List.of(1), idx.apply(Postprocess.topK(scores, labels, 1, 0.0f)));
        assertEquals(List.of(1), idx.apply(Postprocess.topK(new float[] {Float.NaN, 0.5f}, labels, 2, 0.1f)));
    }
}
