"""Keras Applications weights in edgecnn's own definitions (edgecnn.pretrained), for every family that has them.

The reference is Keras itself: each family's ``tf_keras.applications`` model is built with ``weights=None`` at
32×32×3 for 5 classes, given non-trivial weights (BatchNorm statistics from a training-mode pass with momentum
0, random gamma/beta and conv biases, so that folding biases and epsilons matters and the outputs depend on
the image), saved with ``save_weights(...h5)``, and loaded into the zoo model with ``weights=PATH``. On the
same random RGB images, Keras' model fed through Keras' own ``preprocess_input`` and the zoo model fed
``pixel × scale + offset`` (its import's scaling) must agree within 1e-4 — also for a grey zoo model against
Keras on the grey image as RGB. Families run in two child processes (two cores), each writing JSON.

Both models compute in float64 here (``keras.backend.set_floatx``), because the mapping is exact but not the
same float arithmetic (a bias folded into a BatchNorm, a kernel summed over R, G, B), and a deep network with
random weights amplifies rounding: in float32, ResNet50 differed by 2e-4 and EfficientNet-B0 (grey) by 5e-4
from Keras — in float64 by 4e-13 and 1e-58. Measured in float64: ≤ 5e-13 for MobileNet v1/v2, ResNet50,
DenseNet121, VGG16 and ConvNeXt; 4e-7 to 1.3e-5 for MobileNetV3 and EfficientNet, whose Keras models start
with a Rescaling layer that rounds in float32 even in a float64 model (its output already differs from
``x/127.5 - 1`` by 1.2e-7; the zoo model's first layers differ from Keras' by that much, no more).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import all_layers, run_cli

FAMILIES = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
            "resnet50", "densenet121", "vgg16", "convnext_tiny"]
TOLERANCE = 1e-4
SIZE = 32
EXPORTED = ("mobilenet_v2", "efficientnet_b0")  # families whose Keras input scaling is one scale and offset
# Two children of about equal work (measured build + compare time under load, DenseNet the longest).
GROUPS = (["densenet121", "mobilenet_v3_large", "vgg16", "mobilenet_v1", "efficientnet_b0"],
          ["resnet50", "convnext_tiny", "mobilenet_v3_small", "mobilenet_v2"])


def _job(names: list[str], out: str) -> None:
    """Child: for each family, Keras model → .h5 → zoo model; outputs of both on the same images."""
    import time

    from edgecnn._tf import keras

    keras.backend.set_floatx("float64")  # before any model exists (see the module docstring)
    from edgecnn import create_model, pretrained

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (8, SIZE, SIZE, 3)).astype(np.float64)
    for name in names:
        t0 = time.time()
        keras_model = pretrained.keras_application(name, input_shape=(SIZE, SIZE, 3), classes=5)
        preprocess = pretrained.keras_preprocess(name)
        _perturb(keras_model, preprocess(x.copy()), rng)
        path = Path(out) / f"{name}.h5"
        keras_model.save_weights(str(path))
        reference = keras_model(preprocess(x.copy()), training=False).numpy()
        result = {"spread": float(np.abs(reference - reference[0]).max()), "build_seconds": round(time.time() - t0, 1)}
        model = create_model(name, input_shape=(SIZE, SIZE, 3), num_classes=5, weights=str(path))
        scale, offset = model.edgecnn_input_scaling
        result["rgb"] = _diff(model, x, scale, offset, reference)
        result["layers"] = {layer.name: type(layer).__name__ for layer in model.layers}
        grey = x[..., :1]
        grey_model, grey_import = pretrained.create_pretrained(name, path, (SIZE, SIZE, 1), 5)
        grey_reference = keras_model(preprocess(np.repeat(grey, 3, axis=-1)), training=False).numpy()
        result["grey"] = _diff(grey_model, grey, grey_import.scale, grey_import.offset, grey_reference)
        # include_top=False-style: 3 classes on the same body; the body's weights are the 5-class import's.
        new_head, head_import = pretrained.create_pretrained(name, path, (SIZE, SIZE, 3), 3)
        result["new_head"] = {"head_loaded": head_import.head_loaded, "new_layers": head_import.new_layers,
                              "body_equal": _same_weights(model, new_head, set(head_import.new_layers)),
                              "notes": head_import.notes}
        if name in EXPORTED:
            result["export"] = _export_round_trip(name, grey_model, grey_import, grey, Path(out))
        result["seconds"] = round(time.time() - t0, 1)
        (Path(out) / f"{name}.json").write_text(json.dumps(result))


def _export_round_trip(name, model, loaded, grey, out: Path) -> dict:
    """save_keras_weights → Keras' own loader (keras.applications.X(weights=path)) → the same outputs."""
    from edgecnn import pretrained
    from edgecnn.transfer import recorded_input_size

    path = pretrained.save_keras_weights(model, name, out / f"{name}_export.h5", loaded.scale, loaded.offset)
    keras_model = pretrained.keras_application(name, weights=str(path), input_shape=(SIZE, SIZE, 3), classes=5)
    expected = model(grey * loaded.scale + loaded.offset, training=False).numpy()
    got = keras_model(pretrained.keras_preprocess(name)(np.repeat(grey, 3, axis=-1)), training=False).numpy()
    return {"diff": float(np.abs(got - expected).max()), "recorded_size": recorded_input_size(str(path))}


def _perturb(model, x, rng) -> None:
    """BatchNorm statistics of real activations (momentum 0, one training pass), random gamma/beta and biases."""
    layers = list(all_layers(model))
    for layer in layers:
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.8, 1.2, gamma.shape), rng.normal(0, 0.05, beta.shape), mean, var])
            layer.momentum = 0.0
        elif kind in ("Conv2D", "Dense", "DepthwiseConv2D") and getattr(layer, "use_bias", False):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.1, bias.shape)])
    model(x, training=True)


def _diff(model, x, scale, offset, reference) -> float:
    out = model(x * scale + offset, training=False).numpy()
    return float(np.abs(out - reference).max())


def _same_weights(a, b, skip: set[str]) -> bool:
    for layer in a.layers:
        if layer.name in skip:
            continue
        for wa, wb in zip(layer.get_weights(), b.get_layer(layer.name).get_weights()):
            if not np.array_equal(wa, wb):
                return False
    return True


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("pretrained")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_USE_LEGACY_KERAS="1")
    procs = [subprocess.Popen([sys.executable, __file__, str(out), *group], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for group in GROUPS]
    logs = [p.communicate(timeout=3600)[1] for p in procs]
    results = {n: json.loads((out / f"{n}.json").read_text()) for n in FAMILIES if (out / f"{n}.json").exists()}
    print(json.dumps({n: {k: r[k] for k in ("rgb", "grey", "spread", "seconds")} for n, r in results.items()},
                     indent=1))
    results["_stderr"] = "\n".join(log[-3000:] for log in logs)  # type: ignore[assignment]
    results["_out"] = str(out)  # type: ignore[assignment]
    return results


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_weights_give_the_keras_models_outputs(imported, name):
    assert name in imported, imported["_stderr"]
    result = imported[name]
    assert result["spread"] > 1e-3  # the outputs depend on the image: agreement is not trivial
    assert result["rgb"] <= TOLERANCE
    assert result["grey"] <= TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_new_head_on_the_pretrained_body(imported, name):
    head = imported[name]["new_head"]
    assert head["head_loaded"] is False and head["new_layers"]
    assert head["body_equal"]
    assert any("new classifier for 3 classes" in note for note in head["notes"])


@pytest.mark.slow
def test_structural_differences_are_handled_where_expected(imported):
    """Per-channel Keras scaling (caffe/torch modes, ConvNeXt's Normalization) becomes the frozen input layer;
    the MobileNets' and EfficientNet's goes into preprocess.json (no extra layer)."""
    for name in ("resnet50", "densenet121", "vgg16", "convnext_tiny"):
        assert imported[name]["layers"].get("input_normalization") == "DepthwiseConv2D", name
    for name in ("mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0"):
        assert "input_normalization" not in imported[name]["layers"], name
    assert "conv1_pad" in imported["resnet50"]["layers"]  # layout="keras": padded stem


@pytest.mark.slow
def test_wrong_files_are_one_line_errors(imported, tmp_path):
    from edgecnn import pretrained
    from edgecnn.errors import EdgecnnError, UsageError

    out = Path(imported["_out"])
    with pytest.raises(EdgecnnError, match="no weights for layer 'Conv1'.*MobileNetV2 weight file"):
        pretrained.create_pretrained("mobilenet_v2", out / "resnet50.h5", (SIZE, SIZE, 3), 5)
    with pytest.raises(EdgecnnError, match="width=0.5"):
        pretrained.create_pretrained("mobilenet_v2", out / "mobilenet_v2.h5", (SIZE, SIZE, 3), 5, width=0.5)
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(EdgecnnError, match="not an HDF5 weight file"):
        pretrained.create_pretrained("vgg16", text, (SIZE, SIZE, 3), 5)
    with pytest.raises(UsageError, match="no Keras Applications counterpart"):
        pretrained.create_pretrained("resnet18", out / "resnet50.h5", (SIZE, SIZE, 3), 5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_b0"])
def test_export_is_a_file_keras_loads(imported, name):
    """save_keras_weights (a grey zoo model's weights as Keras Applications' .h5): Keras' own loader takes the
    file and computes what the zoo model computes; the input size is recorded for transfer learning."""
    export = imported[name]["export"]
    assert export["diff"] <= TOLERANCE
    assert export["recorded_size"] == [SIZE, SIZE]


def test_imagenet_without_network_is_one_line_error(tmp_path):
    """Test machines may have no network; a proxy on a closed port makes that certain anywhere. Keras' download
    fails and the user gets one line saying what to do instead."""
    closed = "http://127.0.0.1:9"
    env = {"KERAS_HOME": str(tmp_path / "keras"), "https_proxy": closed, "HTTPS_PROXY": closed,
           "http_proxy": closed, "HTTP_PROXY": closed}
    proc = run_cli("train", "mobilenet_v2", "--data", "digits", "--weights", "imagenet", "--epochs", "1", env=env,
                   cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    assert "ImageNet weights" in errors[0] and "--weights" in errors[0]
    assert not (tmp_path / "runs").exists()


if __name__ == "__main__":  # child process of the `imported` fixture
    _job(sys.argv[2:], sys.argv[1])
