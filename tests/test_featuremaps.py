"""edgecnn featuremaps: activations of a trained run's layers drawn as a PNG grid.

The run folder is made by hand (a small tf_keras CNN fitted for a few steps on Fashion-MNIST-like
shapes, saved as model.keras with preprocess.json/labels.txt/config.json/metrics.json), so the test
exercises exactly what `edgecnn train` leaves behind without depending on training speed.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli

pytest.importorskip("tensorflow")

LABELS = [f"class{i}" for i in range(10)]


def _errors(stderr: str) -> list[str]:
    """The user-facing lines of stderr (TensorFlow's native logging may add its own lines)."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def _make_run(run_dir: Path, model_name: str = "tinycnn") -> Path:
    from edgecnn._tf import keras
    from edgecnn.preprocess import PreprocessSpec

    layers = keras.layers
    inp = keras.Input((28, 28, 1))
    x = layers.Conv2D(8, 3, padding="same", name="conv1")(inp)
    x = layers.ReLU(name="relu1")(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same", name="conv2")(x)
    x = layers.ReLU(name="relu2")(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same", name="conv3")(x)  # 7×7: the deep default
    x = layers.Conv2D(16, 3, strides=2, padding="same", name="conv4")(x)  # 4×4, still ≥ 4
    x = layers.Conv2D(16, 3, strides=2, padding="same", name="conv5")(x)  # 2×2: too small for the default
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    out = layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(inp, out, name="tinycnn")
    rng = np.random.default_rng(0)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(rng.random((64, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 64), epochs=1, verbose=0)

    run_dir.mkdir(parents=True)
    model.save(run_dir / "model.keras")
    PreprocessSpec(height=28, width=28, channels=1, resize="pad").save(run_dir / "preprocess.json")
    (run_dir / "labels.txt").write_text("".join(f"{label}\n" for label in LABELS))
    (run_dir / "config.json").write_text(json.dumps({"model": model_name, "input_shape": [28, 28, 1]}))
    (run_dir / "metrics.json").write_text(json.dumps({"test_accuracy": 0.1}))
    return run_dir


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return _make_run(tmp_path_factory.mktemp("runs") / "tinycnn")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    grey = np.zeros((28, 28), np.uint8)
    grey[6:22, 9:19] = 200  # a bright bar: edges for conv1 to find
    rgb = np.zeros((30, 40, 3), np.uint8)  # other size and channels: adapt_image must convert it
    rgb[5:25, 10:30] = (250, 120, 30)
    paths = {"grey": folder / "bar.png", "rgb": folder / "patch.jpg", "text": folder / "notes.png"}
    Image.fromarray(grey).save(paths["grey"])
    Image.fromarray(rgb).save(paths["rgb"])
    paths["text"].write_text("this is not an image\n")
    return paths


def test_default_layers_are_first_and_deep_conv(run):
    from edgecnn.featuremaps import default_layers, load_run_model, map_layers

    model = load_run_model(run)
    assert default_layers(model) == ["conv1", "conv4"]
    assert map_layers(model)[:3] == ["conv1", "relu1", "conv2"]
    assert "pool" not in map_layers(model) and "predictions" not in map_layers(model)


def test_maps_use_the_exact_preprocessing(run, images, tmp_path):
    """The drawn activations equal the model's on load_image → adapt_image → to_float_input."""
    from edgecnn._tf import keras
    from edgecnn.featuremaps import activations, feature_maps, load_run_model
    from edgecnn.preprocess import PreprocessSpec, adapt_image, load_image, to_float_input

    out = tmp_path / "grid.png"
    result = feature_maps(run, images["rgb"], layers=["conv2", "relu1"], out=out, max_channels=4)
    assert result.path == out and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.layers == ["conv2", "relu1"]
    assert result.shapes == {"conv2": (14, 14, 16), "relu1": (28, 28, 8)}
    assert result.prediction is not None and result.prediction[0] in LABELS and 0 < result.prediction[1] <= 1

    spec = PreprocessSpec.load(run / "preprocess.json")
    x = to_float_input(adapt_image(load_image(images["rgb"]), spec), spec)
    assert x.shape == (28, 28, 1) and x.dtype == np.float32 and 0 < x.max() <= 1.0
    model = load_run_model(run)
    expected = keras.Model(model.inputs, model.get_layer("conv2").output)(x[None])[0].numpy()
    np.testing.assert_allclose(activations(model, ["conv2"], x)["conv2"], expected, rtol=1e-5, atol=1e-6)


def test_strongest_channels_order():
    from edgecnn.featuremaps import strongest_channels

    fmap = np.zeros((4, 4, 5), np.float32)
    fmap[..., 3] = 2.0
    fmap[..., 1] = 1.0
    fmap[..., 4] = -1.0
    assert strongest_channels(fmap, 3).tolist() == [3, 1, 0]


@pytest.mark.slow
def test_cli_run_dir_default_layers(run, images, tmp_path):
    out = tmp_path / "grid.png"
    proc = run_cli("featuremaps", str(run), str(images["grey"]), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "conv1 28×28×8" in proc.stdout and "conv4 4×4×16" in proc.stdout
    from PIL import Image

    with Image.open(out) as im:  # a real grid: input row + 32/8 rows for conv1 + 16/8 rows for conv4
        assert im.format == "PNG" and im.size[0] > 500 and im.size[1] > 500


@pytest.mark.slow
def test_cli_model_name_picks_newest_run_and_errors(tmp_path, images):
    from edgecnn.zoo import list_models

    names = list_models()
    if not names:
        pytest.skip("no model registered yet")
    name = names[0]
    root = tmp_path / "runs"
    _make_run(root / name, model_name=name)
    newer = _make_run(root / f"{name}-2", model_name=name)
    out = tmp_path / "byname.png"
    proc = run_cli("featuremaps", name, str(images["grey"]), "--layer", "conv3", "-o", str(out),
                   "--runs-dir", str(root))
    assert proc.returncode == 0, proc.stderr
    assert f"run {newer}" in proc.stdout and "conv3 7×7×16" in proc.stdout and out.is_file()

    bad_layer = run_cli("featuremaps", str(newer), str(images["grey"]), "--layer", "conv9", "-o",
                        str(tmp_path / "x.png"))
    assert bad_layer.returncode == 2
    lines = _errors(bad_layer.stderr)
    assert len(lines) == 1 and "unknown layer 'conv9'" in lines[0] and "conv1" in lines[0]
    assert not (tmp_path / "x.png").exists()


def test_cli_errors_are_one_line(run, images, tmp_path):
    not_image = run_cli("featuremaps", str(run), str(images["text"]), "-o", str(tmp_path / "y.png"))
    assert not_image.returncode == 1
    lines = _errors(not_image.stderr)
    assert len(lines) == 1 and "not a readable image" in lines[0]

    dense = run_cli("featuremaps", str(run), str(images["grey"]), "--layer", "predictions")
    assert dense.returncode == 2 and "has no 2-D feature map" in dense.stderr
    assert len(_errors(dense.stderr)) == 1

    no_run = run_cli("featuremaps", str(tmp_path / "nothing"), str(images["grey"]))
    assert no_run.returncode == 1 and "no such run folder" in no_run.stderr
