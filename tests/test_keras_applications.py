"""Real Keras Applications models through ``edgecnn convert X.keras --int8 --prune 0.5 --qat --data FOLDER``.

Every family issue 12 names (MobileNet, MobileNetV2, V3Small, V3Large, EfficientNetB0, ResNet50, DenseNet121,
VGG16, ConvNeXtTiny) is built by ``tf_keras.applications`` with random weights at 32×32×3 for 4 classes (the
MobileNets at a small alpha), its BatchNorm statistics set from real images (one training-mode pass with
momentum 0, so activations do not vanish and the model's answers depend on the image), saved as a user's
``.keras`` file, and converted by the CLI — two conversions at a time — on a folder of Fashion-MNIST PNGs.
VGG16 is built the way Keras' transfer-learning guide does (``include_top=False`` base called with
``training=False`` inside a new model), so a nested model goes through too.

Checked per family: exit 0; a full-int8 file (int8 input, zero float32 tensors) that XNNPACK runs; pruning's
zeros in the stored weights; and, where edgecnn rewrote the graph, its note with the output difference it
measured against the original (≤ keras_rewrite.OUTPUT_TOLERANCE). Accuracy and agreement are recorded, not
judged: with random weights on 24 test images they are chance-level numbers (test_convert.py judges int8
agreement on briefly trained zoo models).

Cost: these are the most expensive tests of the suite (several minutes, see the integrator's report):
tiny inputs, --limit 32 fine-tuning images, 16 evaluation images, 16 calibration images.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import all_layers
from image_folders import fashion_folder

SIZE = 32
CLASSES = [0, 1, 7, 8]  # T-shirt/top, Trouser, Sneaker, Bag
FAMILIES = {  # Keras Applications constructor → extra arguments
    "MobileNet": {"alpha": 0.25},
    "MobileNetV2": {"alpha": 0.35},
    "MobileNetV3Small": {"alpha": 0.75},
    "MobileNetV3Large": {"alpha": 0.75},
    "EfficientNetB0": {},
    "ResNet50": {},
    "DenseNet121": {},
    "VGG16": {"nested": True},
    "ConvNeXtTiny": {},
}
# The families whose graph tfmot refuses as Keras builds it (raw TF ops, nested models, preprocessing or custom
# layers: see edgecnn/keras_rewrite.py and tests/test_keras_rewrite.py::test_tfmot_refuses_the_original).
REWRITTEN = {"MobileNetV3Small", "MobileNetV3Large", "EfficientNetB0", "ConvNeXtTiny", "VGG16"}
CONVERT_ARGS = ["--int8", "--prune", "0.5", "--qat", "--epochs", "1", "--limit", "32", "--eval-limit", "16",
                "--calibration-samples", "16"]


def _build(name: str, folder: Path, out: Path) -> Path:
    """The Keras Applications model with BatchNorm statistics from real images, saved as a .keras file."""
    from edgecnn._tf import keras
    from edgecnn.data import load_dataset
    from edgecnn.keras_rewrite import input_preprocessing
    from edgecnn.preprocess import PreprocessSpec

    options = dict(FAMILIES[name])
    nested = options.pop("nested", False)
    build = getattr(keras.applications, name)
    if nested:
        base = build(weights=None, input_shape=(SIZE, SIZE, 3), include_top=False, **options)
        inputs = keras.Input((SIZE, SIZE, 3))
        x = keras.layers.GlobalAveragePooling2D()(base(inputs, training=False))
        model = keras.Model(inputs, keras.layers.Dense(len(CLASSES), activation="softmax")(x))
    else:
        model = build(weights=None, input_shape=(SIZE, SIZE, 3), classes=len(CLASSES), **options)
    images = load_dataset(str(folder), PreprocessSpec(SIZE, SIZE, 3, resize="bilinear"), seed=0).x_train[:64]
    # The input convert feeds without preprocess.json: raw pixels to a model that scales its own input, else /255.
    x = images.astype(np.float32) / (1.0 if input_preprocessing(model) else 255.0)
    batch_norms = [layer for layer in all_layers(model) if type(layer).__name__ == "BatchNormalization"]
    for layer in batch_norms:
        layer.momentum = 0.0
    model(x, training=True)
    path = out / f"{name}.keras"
    model.save(path)
    return path


def _convert(path: Path, folder: Path) -> dict:
    t0 = time.time()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_USE_LEGACY_KERAS="1")
    proc = subprocess.run([sys.executable, "-m", "edgecnn", "convert", str(path), *CONVERT_ARGS, "--data",
                           str(folder)], capture_output=True, text=True, env=env, timeout=3600)
    report_path = path.parent / "tflite" / f"{path.stem}_pruned50_qat_int8.report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return {"code": proc.returncode, "stderr": proc.stderr[-4000:], "report": report,
            "seconds": round(time.time() - t0, 1)}


def _variant_summary(report: dict | None) -> dict:
    if not report or not report["variants"]:
        return {}
    v = report["variants"][0]
    return {"accuracy": v["accuracy"], "agreement": v["agreement_with_float32"],
            "weight_sparsity": v["weight_sparsity"], "xnnpack": v["xnnpack"], "notes": report["notes"]}


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, dict]:
    """Every family built here, then converted by the CLI, two at a time (2 cores); results by family."""
    root = tmp_path_factory.mktemp("keras_apps")
    folder = fashion_folder(root / "folder", CLASSES, 40, SIZE)
    paths, build_seconds = {}, {}
    for name in FAMILIES:
        (root / name).mkdir()
        t0 = time.time()
        paths[name] = _build(name, folder, root / name)
        build_seconds[name] = round(time.time() - t0, 1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_convert, path, folder) for name, path in paths.items()}
        results = {name: future.result() for name, future in futures.items()}
    for name, result in results.items():
        result["build_seconds"] = build_seconds[name]
    summary = {n: {"seconds": r["seconds"], "build_seconds": r["build_seconds"], "code": r["code"],
                   **_variant_summary(r["report"])} for n, r in results.items()}
    print(json.dumps(summary, indent=1))  # shown with -s / in CI logs: the numbers the report quotes
    return results


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FAMILIES))
def test_keras_application_converts_pruned_qat_int8(converted, name):
    from edgecnn.keras_rewrite import OUTPUT_TOLERANCE

    result = converted[name]
    assert result["code"] == 0, result["stderr"]
    assert "Traceback" not in result["stderr"]
    report = result["report"]
    int8 = report["variants"][0]
    assert int8["variant"] == "int8" and int8["input_dtype"] == "int8"
    assert int8["float32_tensors"] == 0
    assert int8["xnnpack"] != "refused", int8["xnnpack"]
    assert int8["weight_sparsity"] >= 0.3, int8["weight_sparsity"]  # Conv2D/Dense at 50%; depthwise kept
    assert report["optimisations"]["prune"] == 0.5 and report["optimisations"]["qat"] is True
    # without --distill: pruning fine-tunes on the dense model's predictions, QAT on the labels
    assert report["optimisations"]["prune_distill"] == 1.0 and report["optimisations"]["qat_distill"] == 0.0
    notes = " ".join(report["notes"])
    if name in REWRITTEN:
        match = re.search(r"same outputs as the original on (\d+) images \(max \|difference\| ([0-9.e+-]+)\)", notes)
        assert match, notes
        assert int(match.group(1)) >= 16 and float(match.group(2)) <= OUTPUT_TOLERANCE
    else:
        assert "same outputs as the original" not in notes  # nothing to rewrite: the model went as it was
    assert 0.0 <= int8["accuracy"] <= 1.0 and report["test_images"] == 16


@pytest.mark.slow
def test_rewrites_say_what_changed(converted):
    """The user is told what changed: the hard-swish of V3, EfficientNet's input layers, ConvNeXt's nesting."""
    notes = {name: " ".join(converted[name]["report"]["notes"]) for name in REWRITTEN if converted[name]["report"]}
    assert "HardSwish" in notes["MobileNetV3Small"] and "preprocess.json" in notes["MobileNetV3Small"]
    assert "Rescaling" in notes["EfficientNetB0"] and "Normalization" in notes["EfficientNetB0"]
    assert "inlined" in notes["ConvNeXtTiny"] and "LayerScale" in notes["ConvNeXtTiny"]
    assert "inlined" in notes["VGG16"]
    # EfficientNet's Rescaling(1/255) went into preprocess.json: the written file says pixel/255, not raw pixels.
    from edgecnn.preprocess import PreprocessSpec

    spec = PreprocessSpec.load(Path(converted["EfficientNetB0"]["report"]["output_dir"]) / "preprocess.json")
    assert spec.scale == pytest.approx(1 / 255) and spec.offset == 0.0
