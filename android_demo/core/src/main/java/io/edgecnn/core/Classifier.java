package io.edgecnn.core;

import java.util.List;

/**
 * Everything between the camera and the screen except running the model: the app builds one from its
 * assets and the interpreter's tensor details, then per frame calls {@link #inputBytes} and, after the
 * interpreter has run, {@link #top}.
 */
public final class Classifier {
    public final PreprocessSpec spec;
    public final List<String> labels;
    public final TensorInfo input;
    public final TensorInfo output;
    public final ModelContract contract;

    private Classifier(PreprocessSpec spec, List<String> labels, TensorInfo input, TensorInfo output,
                       ModelContract contract) {
        this.spec = spec;
        this.labels = labels;
        this.input = input;
        this.output = output;
        this.contract = contract;
    }

    /** Parses preprocess.json and labels.txt and checks them against the model's tensors. */
    public static Classifier create(String preprocessJson, String labelsText, TensorInfo input, TensorInfo output)
            throws CoreException {
        PreprocessSpec spec = PreprocessSpec.parse(preprocessJson);
        List<String> labels = Labels.parse(labelsText);
        ModelContract contract = ModelContract.check(spec, input, output, labels);
        return new Classifier(spec, labels, input, output, contract);
    }

    /** The input tensor's bytes for an image; int8/uint8 use the model's own quantisation. */
    public byte[] inputBytes(PixelImage image) throws CoreException {
        return Preprocessor.toInputBytes(image, spec, input.dtype, input.quantization);
    }

    /** The k best labels from the output tensor's bytes. */
    public List<Prediction> top(byte[] outputBytes, int k) throws CoreException {
        return top(outputBytes, k, Float.NEGATIVE_INFINITY);
    }

    /** The k best labels scoring at least {@code minScore} (a probability, 0-1) from the output tensor's bytes. */
    public List<Prediction> top(byte[] outputBytes, int k, float minScore) throws CoreException {
        if (outputBytes.length != output.byteSize()) {
            throw new CoreException("output has " + outputBytes.length + " bytes, expected " + output.byteSize());
        }
        float[] scores = Postprocess.probabilities(Postprocess.dequantize(outputBytes, output.dtype, output.quantization));
        return Postprocess.topK(scores, labels, k, minScore);
    }
}
