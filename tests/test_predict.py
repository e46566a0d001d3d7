"""`edgecnn predict`: real Fashion-MNIST test images through the tiny trained models (no TensorFlow)."""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgecnn.errors import EdgecnnError, UsageError
from edgecnn.predict import predict
from edgecnn.preprocess import PreprocessSpec

FASHION = Path("/usr/share/datasets/fashion-mnist")
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
N_IMAGES = 40


def _idx(name: str) -> np.ndarray:
    data = gzip.open(FASHION / name).read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tests_data):
    """A folder like a run: both models, labels.txt, preprocess.json and test images as PNG."""
    if not (FASHION / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    from PIL import Image

    folder = tmp_path_factory.mktemp("run")
    for name in ("tiny_cnn_float32.tflite", "tiny_cnn_int8.tflite"):
        shutil.copy(tests_data / name, folder / name)
    (folder / "labels.txt").write_text("\n".join(LABELS) + "\n")
    PreprocessSpec(height=28, width=28, channels=1).save(folder / "preprocess.json")
    images, labels = _idx("t10k-images-idx3-ubyte.gz")[:N_IMAGES], _idx("t10k-labels-idx1-ubyte.gz")[:N_IMAGES]
    paths = []
    for i, img in enumerate(images):
        path = folder / f"test_{i:02d}.png"
        Image.fromarray(img).save(path)
        paths.append(str(path))
    return folder, paths, labels.astype(int)


def test_predict_accuracy_and_int8_agreement(run_dir):
    folder, paths, labels = run_dir
    float_res = predict(folder / "tiny_cnn_float32.tflite", paths, top_k=3)
    int8_res = predict(folder / "tiny_cnn_int8.tflite", paths, top_k=3)
    assert len(float_res) == N_IMAGES and all(len(r["top_k"]) == 3 for r in float_res)
    top1_float = np.array([r["top_k"][0]["index"] for r in float_res])
    top1_int8 = np.array([r["top_k"][0]["index"] for r in int8_res])
    assert (top1_float == labels).mean() >= 0.55  # the tiny model reaches ~67% on these 40 images
    assert (top1_int8 == top1_float).mean() >= 0.9  # quantisation keeps nearly every decision
    for r in float_res:
        scores = [item["score"] for item in r["top_k"]]
        assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
        assert r["top_k"][0]["label"] == LABELS[r["top_k"][0]["index"]]
    # int8 scores are dequantised probabilities (output scale 1/256, zero point -128)
    assert all(0 <= item["score"] <= 1 for r in int8_res for item in r["top_k"])


def test_cli_predict_json_and_table(cli, run_dir):
    folder, paths, labels = run_dir
    out = cli("predict", str(folder / "tiny_cnn_int8.tflite"), *paths[:3], "--top-k", "2", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [d["image"] for d in doc] == paths[:3] and all(len(d["top_k"]) == 2 for d in doc)
    table = cli("predict", str(folder / "tiny_cnn_float32.tflite"), paths[1])
    assert table.returncode == 0 and "Predictions" in table.stdout and "score" in table.stdout


def test_predict_errors(run_dir, tmp_path, cli):
    folder, paths, _ = run_dir
    model = folder / "tiny_cnn_float32.tflite"
    with pytest.raises(EdgecnnError, match="no such file"):
        predict(model, [str(tmp_path / "missing.png")])
    (tmp_path / "not_image.png").write_text("hello")
    with pytest.raises(EdgecnnError, match="not a readable image"):
        predict(model, [str(tmp_path / "not_image.png")])
    with pytest.raises(UsageError):
        predict(model, paths[:1], top_k=0)
    out = cli("predict", str(model), str(tmp_path / "missing.png"))
    assert out.returncode == 1 and out.stderr.startswith("Error: ") and "Traceback" not in out.stderr


def test_predict_without_sidecars_and_wrong_labels(run_dir, tmp_path, tests_data, capfd):
    _, paths, _ = run_dir
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(tests_data / "tiny_cnn_int8.tflite", bare / "m.tflite")
    (res,) = predict(bare / "m.tflite", paths[:1], top_k=1)
    assert res["top_k"][0]["label"].startswith("class ")  # no labels.txt: class numbers
    assert "no preprocess.json" in capfd.readouterr().err
    (bare / "labels.txt").write_text("a\nb\n")
    with pytest.raises(EdgecnnError, match="2 labels, the model gives 10 scores"):
        predict(bare / "m.tflite", paths[:1])
    PreprocessSpec(height=32, width=32, channels=1).save(bare / "preprocess.json")
    with pytest.raises(EdgecnnError, match="32x32x1 input, the model takes 28x28x1"):
        predict(bare / "m.tflite", paths[:1])
