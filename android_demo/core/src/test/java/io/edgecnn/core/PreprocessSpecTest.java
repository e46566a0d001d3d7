package io.edgecnn.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PreprocessSpecTest {
    @Test
    void defaultsAreEdgecnnDefaults() throws CoreException {
        PreprocessSpec s = PreprocessSpec.parse("{\"height\": 28, \"width\": 32, \"channels\": 1}");
        assertEquals(28, s.height);
        assertEquals(32, s.width);
        assertEquals(1, s.channels);
        assertEquals(PreprocessSpec.Resize.PAD, s.resize);
        assertEquals(1.0 / 255.0, s.scale);
        assertEquals(0.0, s.offset);
        assertEquals("labels.txt", s.labels);
        assertEquals(DType.FLOAT32, s.inputDtype);
        assertNull(s.inputQuantization);
    }

    @Test
    void readsAQuantisedModelsSpecAndIgnoresUnknownKeys() throws CoreException {
        PreprocessSpec s = PreprocessSpec.parse("{\"height\": 224, \"width\": 224, \"channels\": 3, \"resize\": "
                + "\"bilinear\", \"scale\": 0.0078125, \"offset\": -1, \"labels\": \"names.txt\", \"input_dtype\": "
                + "\"uint8\", \"input_quantization\": {\"scale\": 0.0078125, \"zero_point\": 128}, \"future\": [1]}");
        assertEquals(PreprocessSpec.Resize.BILINEAR, s.resize);
        assertEquals(-1.0, s.offset);
        assertEquals("names.txt", s.labels);
        assertEquals(DType.UINT8, s.inputDtype);
        assertEquals(0.0078125, s.inputQuantization.scale);
        assertEquals(128, s.inputQuantization.zeroPoint);
    }

    private static String error(String json) {
        return assertThrows(CoreException.class, () -> PreprocessSpec.parse(json)).getMessage();
    }

    @Test
    void everyProblemIsOneReadableMessage() {
        assertTrue(error("{\"width\": 2, \"channels\": 1}").contains("lacks 'height'"));
        assertTrue(error("{\"height\": 2, \"width\": 2, \"channels\": 4}").contains("channels must be 1 or 3"));
        assertTrue(error("{\"height\": 0, \"width\": 2, \"channels\": 1}").contains("bad size 0x2"));
        assertTrue(error("{\"height\": 2.5, \"width\": 2, \"channels\": 1}").contains("whole number"));
        assertTrue(error("{\"height\": \"2\", \"width\": 2, \"channels\": 1}").contains("height must be a number"));
        assertTrue(error("{\"height\": 2, \"width\": 2, \"channels\": 1, \"resize\": \"area\"}")
                .contains("resize must be one of pad, bilinear, nearest"));
        assertTrue(error("{\"height\": 2, \"width\": 2, \"channels\": 1, \"input_dtype\": \"float16\"}")
                .contains("input_dtype must be one of"));
        assertTrue(error("{\"height\": 2, \"width\": 2, \"channels\": 1, \"input_quantization\": {\"scale\": 0.1}}")
                .contains("needs scale and zero_point"));
        assertTrue(error("{\"height\": 2, \"width\": 2, \"channels\": 1, \"input_quantization\": "
                + "{\"scale\": 0, \"zero_point\": 0}}").contains("positive"));
        assertTrue(error("not json").startsWith("preprocess.json is not valid JSON"));
        assertTrue(error("[]").startsWith("preprocess.json is not valid JSON"));
    }
}
