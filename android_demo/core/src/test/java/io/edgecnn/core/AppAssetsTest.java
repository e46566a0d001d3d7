package io.edgecnn.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The models the app ships with (assets/models/NAME/, written by {@code edgecnn export android}) parse with
 * core and fit together. test.sh points {@code edgecnn.appAssets} at app/src/main/assets; without it the test
 * is skipped.
 */
class AppAssetsTest {
    @Test
    void shippedModelsParseAndMatch() throws Exception {
        String dir = System.getProperty("edgecnn.appAssets");
        assumeTrue(dir != null, "edgecnn.appAssets not set");
        List<Path> models;
        try (Stream<Path> listing = Files.list(Paths.get(dir, "models"))) {
            models = listing.sorted().collect(Collectors.toList());
        }
        assertTrue(models.size() >= 2, "the app ships several models for its picker: " + models);
        for (Path folder : models) {
            checkModel(folder);
        }
    }

    private static void checkModel(Path folder) throws Exception {
        PreprocessSpec spec = PreprocessSpec.parse(read(folder.resolve("preprocess.json")));
        List<String> labels = Labels.parse(read(folder.resolve(spec.labels)));
        byte[] model = Files.readAllBytes(folder.resolve("model.tflite"));
        assertTrue(model.length > 8 && new String(model, 4, 4, StandardCharsets.US_ASCII).equals("TFL3"),
                folder + "/model.tflite is not a .tflite file");
        if (spec.inputDtype.isQuantized()) {
            assertTrue(spec.inputQuantization != null, "an int8/uint8 model's preprocess.json carries its quantisation");
        }
        // The contract the app checks on the device, with the tensor details preprocess.json promises.
        TensorInfo input = new TensorInfo(new int[] {1, spec.height, spec.width, spec.channels}, spec.inputDtype,
                spec.inputQuantization);
        TensorInfo output = new TensorInfo(new int[] {1, labels.size()}, DType.FLOAT32, null);
        assertEquals(0, ModelContract.check(spec, input, output, labels).warnings.size(), folder.toString());
    }

    private static String read(Path p) throws java.io.IOException {
        return new String(Files.readAllBytes(p), StandardCharsets.UTF_8);
    }
}
