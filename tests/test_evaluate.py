"""evaluate_tflite: accuracy through the interpreter with the exact preprocessing, int8/uint8 I/O handled.

The models are made once, in a child process (TensorFlow + the converter), from a two-class Keras model
whose answer is known: class 1 when the mean pixel is above 127.5, else class 0. evaluate.py itself never
imports TensorFlow (checked below).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edgecnn.errors import EdgecnnError
from edgecnn.preprocess import PreprocessSpec, quantize

MAKE_MODELS = textwrap.dedent("""
    import importlib, json, sys
    from pathlib import Path
    import numpy as np
    from edgecnn._tf import tf, keras
    cv = importlib.import_module("edgecnn.convert")
    out = Path(sys.argv[1])
    inp = keras.Input((8, 8, 1))
    x = keras.layers.GlobalAveragePooling2D()(inp)
    # logit_1 - logit_0 = 40 * (mean - 0.5): class 1 exactly for bright images
    dense = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inp, dense(x))
    dense.set_weights([np.array([[-20.0, 20.0]], np.float32), np.array([10.0, -10.0], np.float32)])
    tf.saved_model.save(model, str(out / "saved"))
    rng = np.random.default_rng(0)
    np.save(out / "calib.npy", rng.integers(0, 256, (32, 8, 8, 1)).astype(np.float32) / 255)
    for variant in ("float32", "int8", "uint8"):
        info = cv.convert_saved_model({"variant": variant, "saved_model": str(out / "saved"),
                                            "calibration": str(out / "calib.npy"),
                                            "output": str(out / f"{variant}.tflite")})
        print(variant, json.dumps(info))
""")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    pytest.importorskip("tensorflow")
    out = tmp_path_factory.mktemp("eval_models")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-c", MAKE_MODELS, str(out)], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def _images(n: int = 64, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Images whose mean is clearly below or above 127.5 (levels 40–90 or 165–215), and their classes."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    base = np.where(labels == 1, 190, 65)[:, None, None, None]
    images = np.clip(base + rng.integers(-25, 26, (n, 8, 8, 1)), 0, 255).astype(np.uint8)
    return images, labels


def _spec_for(path: Path) -> PreprocessSpec:
    from edgecnn.tflite_file import read_tflite

    tensor = read_tflite(path.read_bytes()).input_tensors[0]
    spec = PreprocessSpec(8, 8, 1, input_dtype=tensor.dtype)
    if tensor.dtype != "float32":
        spec.input_quantization = {"scale": float(tensor.scales[0]), "zero_point": int(tensor.zero_points[0])}
    return spec


@pytest.mark.parametrize("variant", ["float32", "int8", "uint8"])
def test_accuracy_of_known_model(models, variant):
    from edgecnn.evaluate import evaluate_tflite

    images, labels = _images()
    path = models / f"{variant}.tflite"
    result = evaluate_tflite(path, images, labels, _spec_for(path))
    assert result["accuracy"] == 1.0
    assert result["predictions"].dtype == np.int64 and result["images"] == 64
    assert result["seconds"] > 0
    # Wrong labels → accuracy 0: the number really compares predictions with labels.
    assert evaluate_tflite(path, images, 1 - labels, _spec_for(path))["accuracy"] == 0.0


def test_reads_preprocess_json_beside_model(models, tmp_path):
    from edgecnn.evaluate import evaluate_tflite

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "m.tflite").write_bytes((models / "int8.tflite").read_bytes())
    _spec_for(models / "int8.tflite").save(folder / "preprocess.json")
    images, labels = _images(10)
    assert evaluate_tflite(folder / "m.tflite", images, labels)["accuracy"] == 1.0


def test_int8_scores_are_dequantised_probabilities(models):
    from edgecnn.evaluate import predict_tflite

    images, _ = _images(8)
    scores, _ = predict_tflite(models / "int8.tflite", images, _spec_for(models / "int8.tflite"))
    assert scores.dtype == np.float32 and scores.shape == (8, 2)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=0.02)


def test_quantisation_mismatch_and_dtype_mismatch_are_errors(models):
    from edgecnn.evaluate import evaluate_tflite

    images, labels = _images(4)
    wrong = _spec_for(models / "int8.tflite")
    wrong.input_quantization = {"scale": 0.5, "zero_point": 0}
    with pytest.raises(EdgecnnError, match="does not match"):
        evaluate_tflite(models / "int8.tflite", images, labels, wrong)
    with pytest.raises(EdgecnnError, match="takes int8 input"):
        evaluate_tflite(models / "int8.tflite", images, labels, PreprocessSpec(8, 8, 1))
    with pytest.raises(EdgecnnError, match="no preprocess.json"):
        evaluate_tflite(models / "int8.tflite", images, labels)


def test_input_is_quantised_exactly_as_preprocess_says(models):
    """Feeding the quantised tensor by hand gives the same scores as evaluate's path."""
    from ai_edge_litert.interpreter import Interpreter

    from edgecnn.evaluate import dequantize, predict_tflite

    path = models / "uint8.tflite"
    spec = _spec_for(path)
    images, _ = _images(3)
    scores, _ = predict_tflite(path, images, spec, batch_size=1)
    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    q = spec.input_quantization
    for i, image in enumerate(images):
        x = quantize(image.astype(np.float32) / np.float32(255.0) * 1.0, q["scale"], q["zero_point"], "uint8")
        interp.set_tensor(inp["index"], x[None])
        interp.invoke()
        np.testing.assert_allclose(dequantize(interp.get_tensor(out["index"]), out)[0], scores[i], atol=1e-6)


def test_evaluate_module_does_not_import_tensorflow():
    code = "import sys, edgecnn.evaluate; print(json.dumps([m for m in sys.modules if m.startswith('tensorflow')]))"
    proc = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
