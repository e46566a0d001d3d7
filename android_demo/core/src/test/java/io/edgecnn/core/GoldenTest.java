package io.edgecnn.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The cross-language golden test: for the PNGs that tools/make_android_golden.py wrote, core must produce
 * the very bytes edgecnn's Python preprocessing fed the interpreter, and the same top-3 from the
 * interpreter's recorded outputs. The second half checks that the comparison itself catches a difference.
 */
class GoldenTest {
    private static Path dir;
    private static Map<String, Object> manifest;
    private static List<String> labels;

    @BeforeAll
    static void load() throws IOException, URISyntaxException, CoreException {
        URL url = GoldenTest.class.getResource("/golden/manifest.json");
        assertNotNull(url, "golden/manifest.json is not on the test classpath (run tools/make_android_golden.py)");
        dir = Paths.get(url.toURI()).getParent();
        manifest = Json.parseObject(read("manifest.json"));
        labels = Labels.parse(read("labels.txt"));
    }

    private static String read(String name) throws IOException {
        return new String(Files.readAllBytes(dir.resolve(name)), StandardCharsets.UTF_8);
    }

    /**
     * A PNG's stored samples as a packed image, the way Pillow gives them. BufferedImage.getRGB would
     * colour-convert grey images (linear grey → sRGB) and change values, so the raster is read directly.
     */
    static PixelImage readPng(Path path) throws IOException, CoreException {
        BufferedImage img = ImageIO.read(path.toFile());
        assertNotNull(img, "javax.imageio cannot read " + path);
        Raster raster = img.getRaster();
        int bands = raster.getNumBands();
        assertTrue(bands == 1 || bands == 3, path + ": expected a grey or RGB PNG, got " + bands + " bands");
        assertEquals(8, img.getColorModel().getComponentSize(0), path + ": expected 8 bits per sample");
        int[] samples = raster.getPixels(0, 0, img.getWidth(), img.getHeight(), (int[]) null);
        byte[] data = new byte[samples.length];
        for (int i = 0; i < samples.length; i++) {
            data[i] = (byte) samples[i];
        }
        return new PixelImage(img.getWidth(), img.getHeight(), bands, data);
    }

    /**
     * A golden image as the app has it: the stored pixels turned by the EXIF orientation the manifest
     * records for it (on the phone, ExifInterface reads the tag; javax.imageio does not read PNG's eXIf).
     */
    static PixelImage readImage(String name) throws IOException, CoreException {
        return readPng(dir.resolve(name)).orient(orientation(name));
    }

    @SuppressWarnings("unchecked")
    private static int orientation(String image) {
        Map<String, Object> tags = (Map<String, Object>) manifest.get("exif_orientation");
        Object tag = tags == null ? null : tags.get(image);
        return tag == null ? 1 : ((Double) tag).intValue();
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> list(Map<String, Object> m, String key) {
        return (List<Map<String, Object>>) (List<?>) m.get(key);
    }

    @SuppressWarnings("unchecked")
    private static PreprocessSpec spec(String name) throws CoreException {
        Map<String, Object> specs = (Map<String, Object>) manifest.get("specs");
        return PreprocessSpec.fromMap((Map<String, Object>) specs.get(name));
    }

    /** Null when equal, else where and how they differ. */
    static String compareBytes(byte[] expected, byte[] actual) {
        if (expected.length != actual.length) {
            return "length " + actual.length + " != expected " + expected.length;
        }
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] != actual[i]) {
                return String.format("byte %d: 0x%02x != expected 0x%02x", i, actual[i] & 0xFF, expected[i] & 0xFF);
            }
        }
        return null;
    }

    /** Null when the top-3 matches the recorded one exactly (indices and float32 scores), else the difference. */
    static String compareTop3(List<Map<String, Object>> expected, List<Prediction> actual) {
        if (expected.size() != actual.size()) {
            return "got " + actual.size() + " predictions, expected " + expected.size();
        }
        for (int j = 0; j < expected.size(); j++) {
            int index = ((Double) expected.get(j).get("index")).intValue();
            float score = ((Double) expected.get(j).get("score")).floatValue();
            Prediction p = actual.get(j);
            if (p.index != index || p.score != score || !p.label.equals(expected.get(j).get("label"))) {
                return "rank " + (j + 1) + ": " + p.index + " " + p.label + " " + p.score + " != expected "
                        + index + " " + expected.get(j).get("label") + " " + score;
            }
        }
        return null;
    }

    private List<String> inputMismatches(java.util.function.Function<String, String> specFor) throws Exception {
        List<String> bad = new ArrayList<>();
        for (Map<String, Object> entry : list(manifest, "inputs")) {
            PixelImage image = readImage((String) entry.get("image"));
            byte[] actual = Preprocessor.toInputBytes(image, spec(specFor.apply((String) entry.get("spec"))));
            byte[] expected = Files.readAllBytes(dir.resolve((String) entry.get("file")));
            String diff = compareBytes(expected, actual);
            if (diff != null) {
                bad.add(entry.get("file") + ": " + diff);
            }
        }
        return bad;
    }

    @Test
    void inputTensorsAreByteIdenticalToPython() throws Exception {
        List<Map<String, Object>> inputs = list(manifest, "inputs");
        assertTrue(inputs.size() >= 40, "expected the full set of golden inputs, got " + inputs.size());
        List<String> bad = inputMismatches(s -> s);
        assertTrue(bad.isEmpty(), bad.size() + " of " + inputs.size() + " tensors differ: " + bad);
    }

    @Test
    void goldenCoversEveryVariant() throws CoreException {
        boolean[] seen = new boolean[16];
        for (Map<String, Object> entry : list(manifest, "inputs")) {
            PreprocessSpec s = spec((String) entry.get("spec"));
            seen[s.resize.ordinal()] = true;
            seen[3 + s.channels] = true; // 4 and 6
            seen[8 + s.inputDtype.ordinal()] = true;
        }
        for (int i : new int[] {0, 1, 2, 4, 6, 8, 9, 10}) {
            assertTrue(seen[i], "variant " + i + " missing from the golden set");
        }
    }

    @Test
    void top3FromRecordedOutputsMatchesPython() throws Exception {
        int runs = 0;
        for (Map<String, Object> model : list(manifest, "models")) {
            @SuppressWarnings("unchecked")
            Map<String, Object> out = (Map<String, Object>) model.get("output");
            TensorInfo output = outputInfo(out);
            for (Map<String, Object> run : list(model, "runs")) {
                byte[] raw = Files.readAllBytes(dir.resolve((String) run.get("output")));
                float[] scores = Postprocess.dequantize(raw, output.dtype, output.quantization);
                assertTrue(Postprocess.isProbability(scores), "softmax outputs should be left as they are");
                List<Prediction> top = Postprocess.topK(Postprocess.probabilities(scores), labels, 3);
                String diff = compareTop3(list(run, "top3"), top);
                assertNull(diff, model.get("name") + " on " + run.get("image") + ": " + diff);
                runs++;
            }
        }
        assertEquals(20, runs);
    }

    @Test
    void classifierEndToEndMatchesPython() throws Exception {
        // The path the app takes: preprocess.json + labels + tensor details → input bytes → (model) → top-3.
        for (Map<String, Object> model : list(manifest, "models")) {
            PreprocessSpec s = spec((String) model.get("spec"));
            String json = specJson((String) model.get("spec"));
            @SuppressWarnings("unchecked")
            TensorInfo output = outputInfo((Map<String, Object>) model.get("output"));
            TensorInfo input = new TensorInfo(new int[] {1, s.height, s.width, s.channels}, s.inputDtype,
                    s.inputQuantization);
            Classifier c = Classifier.create(json, read("labels.txt"), input, output);
            for (Map<String, Object> run : list(model, "runs")) {
                byte[] in = c.inputBytes(readImage((String) run.get("image")));
                assertNull(compareBytes(Files.readAllBytes(dir.resolve((String) run.get("input"))), in));
                byte[] raw = Files.readAllBytes(dir.resolve((String) run.get("output")));
                assertNull(compareTop3(list(run, "top3"), c.top(raw, 3)), model.get("name") + " " + run.get("image"));
            }
        }
    }

    private static String specJson(String name) {
        // Rebuild a preprocess.json text from the manifest's spec (exercises the JSON reader end to end).
        @SuppressWarnings("unchecked")
        Map<String, Object> specs = (Map<String, Object>) manifest.get("specs");
        return toJson(specs.get(name));
    }

    private static String toJson(Object v) {
        if (v instanceof Map) {
            StringBuilder b = new StringBuilder("{");
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                b.append(b.length() > 1 ? "," : "").append('"').append(e.getKey()).append("\":").append(toJson(e.getValue()));
            }
            return b.append('}').toString();
        }
        if (v instanceof String) {
            return '"' + (String) v + '"';
        }
        return String.valueOf(v); // Double.toString round-trips exactly
    }

    private static TensorInfo outputInfo(Map<String, Object> out) throws CoreException {
        DType dtype = DType.fromName((String) out.get("dtype"));
        Quantization q = dtype.isQuantized()
                ? new Quantization((Double) out.get("scale"), ((Double) out.get("zero_point")).intValue()) : null;
        @SuppressWarnings("unchecked")
        List<Object> shape = (List<Object>) out.get("shape");
        int[] dims = new int[shape.size()];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = ((Double) shape.get(i)).intValue();
        }
        return new TensorInfo(dims, dtype, q);
    }

    // ---- the comparison must catch differences ---------------------------------------------------

    @Test
    void aChangedByteIsCaught() throws Exception {
        Map<String, Object> entry = list(manifest, "inputs").get(0);
        byte[] expected = Files.readAllBytes(dir.resolve((String) entry.get("file")));
        byte[] actual = Preprocessor.toInputBytes(readImage((String) entry.get("image")),
                spec((String) entry.get("spec")));
        assertNull(compareBytes(expected, actual));
        actual[actual.length / 2] ^= 1;
        assertNotNull(compareBytes(expected, actual));
        assertNotNull(compareBytes(expected, java.util.Arrays.copyOf(expected, expected.length - 1)));
    }

    @Test
    void aWrongPreprocessingIsCaught() throws Exception {
        // Swapping each variant for another of the same output shape must break some tensors of every variant.
        Map<String, String> swaps = Map.of("bilinear_rgb_u8_ties", "bilinear_rgb_u8_ties_away",
                "model_int8", "model_int8_floor", "nearest_rgb_f32", "nearest_rgb_f32_bilinear");
        for (Map.Entry<String, String> swap : swaps.entrySet()) {
            int differing = 0;
            int total = 0;
            for (Map<String, Object> entry : list(manifest, "inputs")) {
                if (!entry.get("spec").equals(swap.getKey())) {
                    continue;
                }
                total++;
                PixelImage image = readImage((String) entry.get("image"));
                byte[] actual = mutated(swap.getValue(), image, spec(swap.getKey()));
                if (compareBytes(Files.readAllBytes(dir.resolve((String) entry.get("file"))), actual) != null) {
                    differing++;
                }
            }
            assertTrue(total > 0 && differing > 0, swap.getValue() + " went unnoticed on " + total + " images");
        }
    }

    /** Deliberately wrong variants of the pipeline: the golden data must tell them apart from the right one. */
    private static byte[] mutated(String how, PixelImage image, PreprocessSpec s) throws CoreException {
        PixelImage px = Preprocessor.adapt(image, s);
        float[] x = Preprocessor.toFloat(px, s);
        byte[] out = new byte[x.length];
        switch (how) {
            case "bilinear_rgb_u8_ties_away": // Math.round rounds half up, not half to even
                for (int i = 0; i < x.length; i++) {
                    float v = Math.round(x[i] / (float) s.inputQuantization.scale) + s.inputQuantization.zeroPoint;
                    out[i] = (byte) (int) Math.min(Math.max(v, 0f), 255f);
                }
                return out;
            case "model_int8_floor": // truncation instead of rint
                for (int i = 0; i < x.length; i++) {
                    float v = (float) Math.floor(x[i] / (float) s.inputQuantization.scale) + s.inputQuantization.zeroPoint;
                    out[i] = (byte) (int) Math.min(Math.max(v, -128f), 127f);
                }
                return out;
            default: { // bilinear where nearest is asked
                PreprocessSpec wrong = new PreprocessSpec(s.height, s.width, s.channels, PreprocessSpec.Resize.BILINEAR,
                        s.scale, s.offset, s.labels, s.inputDtype, s.inputQuantization);
                return Preprocessor.toInputBytes(image, wrong);
            }
        }
    }

    @Test
    void aChangedOutputIsCaught() throws Exception {
        Map<String, Object> model = list(manifest, "models").get(1); // int8
        @SuppressWarnings("unchecked")
        TensorInfo output = outputInfo((Map<String, Object>) model.get("output"));
        Map<String, Object> run = list(model, "runs").get(0);
        byte[] raw = Files.readAllBytes(dir.resolve((String) run.get("output")));
        int second = ((Double) list(run, "top3").get(1).get("index")).intValue();
        raw[second] += 1; // one quantisation step on the runner-up
        float[] scores = Postprocess.dequantize(raw, output.dtype, output.quantization);
        assertNotNull(compareTop3(list(run, "top3"), Postprocess.topK(scores, labels, 3)));
    }

    @Test
    void ignoringTheExifOrientationIsCaught() throws Exception {
        @SuppressWarnings("unchecked")
        Map<String, Object> tags = (Map<String, Object>) manifest.get("exif_orientation");
        assertEquals(3, tags.size(), "the golden set has images stored sideways");
        for (String image : tags.keySet()) {
            int differing = 0;
            for (Map<String, Object> entry : list(manifest, "inputs")) {
                if (!entry.get("image").equals(image)) {
                    continue;
                }
                byte[] asStored = Preprocessor.toInputBytes(readPng(dir.resolve(image)), spec((String) entry.get("spec")));
                if (compareBytes(Files.readAllBytes(dir.resolve((String) entry.get("file"))), asStored) != null) {
                    differing++;
                }
            }
            assertTrue(differing > 0, image + ": reading it as stored went unnoticed");
        }
    }
}
