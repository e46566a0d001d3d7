package io.edgecnn.core;

import java.util.Locale;
import java.util.Map;

/**
 * What {@code preprocess.json} holds: the model's input size and channels, how to resize, the float
 * scaling ({@code input = pixel * scale + offset}) and, for int8/uint8 models, the input quantisation.
 * Mirrors {@code edgecnn.preprocess.PreprocessSpec}; unknown keys are ignored there and here.
 */
public final class PreprocessSpec {
    /** How an image of another size is brought to the model's size. */
    public enum Resize { PAD, BILINEAR, NEAREST }

    public final int height;
    public final int width;
    public final int channels;
    public final Resize resize;
    /** float64 as written; converted to float32 where used, as NumPy does. */
    public final double scale;
    public final double offset;
    public final String labels;
    public final DType inputDtype;
    /** Input quantisation from preprocess.json, or null (float32 models; the model's own values win anyway). */
    public final Quantization inputQuantization;

    public PreprocessSpec(int height, int width, int channels, Resize resize, double scale, double offset,
                          String labels, DType inputDtype, Quantization inputQuantization) throws CoreException {
        if (height < 1 || width < 1) {
            throw new CoreException("preprocess: bad size " + height + "x" + width);
        }
        if (channels != 1 && channels != 3) {
            throw new CoreException("preprocess: channels must be 1 or 3, got " + channels);
        }
        if (!Double.isFinite(scale) || !Double.isFinite(offset)) {
            throw new CoreException("preprocess: scale and offset must be finite numbers");
        }
        this.height = height;
        this.width = width;
        this.channels = channels;
        this.resize = resize;
        this.scale = scale;
        this.offset = offset;
        this.labels = labels;
        this.inputDtype = inputDtype;
        this.inputQuantization = inputQuantization;
    }

    /** Reads the text of a preprocess.json. Every problem becomes one readable message. */
    public static PreprocessSpec parse(String jsonText) throws CoreException {
        Map<String, Object> data;
        try {
            data = Json.parseObject(jsonText);
        } catch (CoreException ex) {
            throw new CoreException("preprocess.json is not valid JSON (" + ex.getMessage() + ")", ex);
        }
        return fromMap(data);
    }

    /** Builds a spec from parsed JSON, with the same defaults as edgecnn.preprocess. */
    public static PreprocessSpec fromMap(Map<String, Object> data) throws CoreException {
        int height = requiredInt(data, "height");
        int width = requiredInt(data, "width");
        int channels = requiredInt(data, "channels");
        String resizeName = optionalString(data, "resize", "pad");
        Resize resize;
        try {
            resize = Resize.valueOf(resizeName.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException ex) {
            throw new CoreException("preprocess: resize must be one of pad, bilinear, nearest, got '" + resizeName + "'");
        }
        double scale = optionalNumber(data, "scale", 1.0 / 255.0);
        double offset = optionalNumber(data, "offset", 0.0);
        String labels = optionalString(data, "labels", "labels.txt");
        String dtypeName = optionalString(data, "input_dtype", "float32");
        DType dtype = DType.fromName(dtypeName);
        if (dtype == null) {
            throw new CoreException("preprocess: input_dtype must be one of float32, int8, uint8, got '" + dtypeName + "'");
        }
        Quantization quant = null;
        Object q = data.get("input_quantization");
        if (q != null && q != Json.NULL) {
            if (!(q instanceof Map)) {
                throw new CoreException("preprocess: input_quantization must be an object with scale and zero_point");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> qm = (Map<String, Object>) q;
            if (!qm.containsKey("scale") || !qm.containsKey("zero_point")) {
                throw new CoreException("preprocess: input_quantization needs scale and zero_point");
            }
            quant = new Quantization(optionalNumber(qm, "scale", 0), requiredInt(qm, "zero_point"));
        }
        return new PreprocessSpec(height, width, channels, resize, scale, offset, labels, dtype, quant);
    }

    private static int requiredInt(Map<String, Object> data, String key) throws CoreException {
        if (!data.containsKey(key)) {
            throw new CoreException("preprocess.json lacks '" + key + "'");
        }
        Object v = data.get(key);
        if (!(v instanceof Double)) {
            throw new CoreException("preprocess: " + key + " must be a number");
        }
        double d = (Double) v;
        if (d != Math.rint(d) || Math.abs(d) > 1_000_000_000) {
            throw new CoreException("preprocess: " + key + " must be a whole number, got " + d);
        }
        return (int) d;
    }

    private static double optionalNumber(Map<String, Object> data, String key, double fallback) throws CoreException {
        Object v = data.get(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof Double)) {
            throw new CoreException("preprocess: " + key + " must be a number");
        }
        return (Double) v;
    }

    private static String optionalString(Map<String, Object> data, String key, String fallback) throws CoreException {
        Object v = data.get(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof String)) {
            throw new CoreException("preprocess: " + key + " must be a string");
        }
        return (String) v;
    }

    @Override
    public String toString() {
        return height + "x" + width + "x" + channels + " " + resize.name().toLowerCase(Locale.ROOT)
                + ", x*" + scale + (offset >= 0 ? "+" : "") + offset + ", " + inputDtype.jsonName;
    }
}
