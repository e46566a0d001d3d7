package io.edgecnn.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ModelContractTest {
    private static final List<String> TEN = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
    private static final String INT8_SPEC = "{\"height\": 28, \"width\": 28, \"channels\": 1, \"input_dtype\": \"int8\","
            + " \"input_quantization\": {\"scale\": 0.003921568859368563, \"zero_point\": -128}}";

    private static TensorInfo int8In() throws CoreException {
        return new TensorInfo(new int[] {1, 28, 28, 1}, DType.INT8, new Quantization(0.003921568859368563, -128));
    }

    private static TensorInfo int8Out(int n) throws CoreException {
        return new TensorInfo(new int[] {1, n}, DType.INT8, new Quantization(0.00390625, -128));
    }

    @Test
    void matchingModelPasses() throws CoreException {
        ModelContract c = ModelContract.check(PreprocessSpec.parse(INT8_SPEC), int8In(), int8Out(10), TEN);
        assertTrue(c.warnings.isEmpty());
    }

    @Test
    void listsEveryMismatch() throws CoreException {
        PreprocessSpec spec = PreprocessSpec.parse("{\"height\": 32, \"width\": 32, \"channels\": 3}");
        String msg = assertThrows(CoreException.class,
                () -> ModelContract.check(spec, int8In(), int8Out(5), TEN)).getMessage();
        assertTrue(msg.contains("the model's input is 1x28x28x1 but preprocess.json says 1x32x32x3"), msg);
        assertTrue(msg.contains("the model's input is int8 but preprocess.json says float32"), msg);
        assertTrue(msg.contains("the model has 5 outputs but labels.txt has 10 labels"), msg);
    }

    @Test
    void missingQuantisationIsAnError() throws CoreException {
        TensorInfo noQuant = new TensorInfo(new int[] {1, 28, 28, 1}, DType.INT8, null);
        String msg = assertThrows(CoreException.class,
                () -> ModelContract.check(PreprocessSpec.parse(INT8_SPEC), noQuant, int8Out(10), TEN)).getMessage();
        assertTrue(msg.contains("int8 input has no quantisation"), msg);
    }

    @Test
    void differentQuantisationWarnsAndTheModelWins() throws Exception {
        String spec = INT8_SPEC.replace("-128", "0");
        TensorInfo out = new TensorInfo(new int[] {1, 10}, DType.FLOAT32, null);
        Classifier c = Classifier.create(spec, String.join("\n", TEN), int8In(), out);
        assertEquals(1, c.contract.warnings.size());
        assertTrue(c.contract.warnings.get(0).contains("using the model's"));
        // pixel 0 → x = 0 → q = 0/scale + (-128), the model's zero point, not preprocess.json's 0.
        byte[] in = c.inputBytes(new PixelImage(1, 1, 1, new byte[] {0}));
        assertEquals(784, in.length);
        assertEquals(-128, in[0]);
    }

    @Test
    void classifierChecksOutputSize() throws Exception {
        TensorInfo out = new TensorInfo(new int[] {1, 10}, DType.FLOAT32, null);
        Classifier c = Classifier.create(INT8_SPEC, String.join("\n", TEN), int8In(), out);
        assertThrows(CoreException.class, () -> c.top(new byte[39], 3));
        assertEquals(3, c.top(new byte[40], 3).size());
    }
}
