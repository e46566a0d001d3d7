package io.edgecnn.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Checks that the model, its preprocess.json and its labels belong together, before the first frame is
 * classified, so a wrong asset gives one readable message instead of garbage or a crash.
 */
public final class ModelContract {
    /** Non-fatal findings (e.g. preprocess.json's quantisation differs from the model's; the model's is used). */
    public final List<String> warnings;

    private ModelContract(List<String> warnings) {
        this.warnings = warnings;
    }

    /**
     * The model's input must be {@code [1, height, width, channels]} of preprocess.json's input_dtype, with
     * quantisation for int8/uint8; the output must hold one score per label. Throws with every problem found.
     */
    public static ModelContract check(PreprocessSpec spec, TensorInfo input, TensorInfo output, List<String> labels)
            throws CoreException {
        List<String> problems = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        int[] want = {1, spec.height, spec.width, spec.channels};
        int[] have = input.shape;
        boolean shapeOk = have.length == 4 && have[1] == want[1] && have[2] == want[2] && have[3] == want[3]
                && (have[0] == 1 || have[0] == -1);
        if (!shapeOk) {
            problems.add("the model's input is " + shapeText(have) + " but preprocess.json says "
                    + shapeText(want));
        }
        if (input.dtype != spec.inputDtype) {
            problems.add("the model's input is " + input.dtype.jsonName + " but preprocess.json says "
                    + spec.inputDtype.jsonName);
        }
        if (input.dtype.isQuantized() && input.quantization == null) {
            problems.add("the model's " + input.dtype.jsonName + " input has no quantisation parameters");
        }
        if (input.dtype.isQuantized() && input.quantization != null && spec.inputQuantization != null) {
            Quantization a = input.quantization;
            Quantization b = spec.inputQuantization;
            if ((float) a.scale != (float) b.scale || a.zeroPoint != b.zeroPoint) {
                warnings.add("preprocess.json's input quantisation (" + b + ") differs from the model's ("
                        + a + "); using the model's");
            }
        }
        if (output.dtype.isQuantized() && output.quantization == null) {
            problems.add("the model's " + output.dtype.jsonName + " output has no quantisation parameters");
        }
        int outputs = output.size();
        if (outputs != labels.size()) {
            problems.add(String.format(Locale.ROOT, "the model has %d outputs but labels.txt has %d labels",
                    outputs, labels.size()));
        }
        if (!problems.isEmpty()) {
            throw new CoreException("Model and assets do not match: " + String.join("; ", problems));
        }
        return new ModelContract(warnings);
    }

    static String shapeText(int[] shape) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < shape.length; i++) {
            b.append(i == 0 ? "" : "x").append(shape[i]);
        }
        return b.toString();
    }
}
