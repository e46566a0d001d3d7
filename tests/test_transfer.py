"""Transfer learning in one command: ``edgecnn train NAME --data FOLDER --weights FILE`` beats training from
scratch at the same budget, records what it did, and the run converts like any other.

The "pretrained" weights are made here, offline (no ImageNet download is possible): edgecnn's MobileNetV2
(width 0.35, Keras Applications layout, 64 px) is trained briefly on five Fashion-MNIST classes (T-shirt/top,
Trouser, Pullover, Sandal, Bag) and written as Keras Applications' MobileNetV2 .h5 by
``pretrained.save_keras_weights``. The target is an image folder of the five *other* classes (Dress, Coat,
Shirt, Sneaker, Ankle boot: PNGs from the test split, 80 per class, 280 for training), each a relative of a
source class as a user's classes are of ImageNet's. Both runs use the same ``edgecnn train`` budget (epochs,
batch size, learning rate, images). Accuracy is measured on 1,000 held-out test images of the target classes
that are not in the folder (a run's own test split is 60 images). The test asks for a lead of MARGIN = 0.05,
three binomial standard deviations of a 1,000-image accuracy (0.016).

Measured while fixing the recipe (2026-12-02, seed 0): fine-tuned 0.75, from scratch 0.49. Two earlier
mistakes this test caught: a lead that came from loading the *source* classifier (the new classifier is what
a user's classes get), and a source/target split with nothing in common (upper-body clothes → footwear, bags,
trousers: a linear classifier on the pretrained features reached 0.52 where one on raw pixels reaches 0.86).
tools/transfer_experiment.py is the larger version of this experiment (docs/transfer.json).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from image_folders import fashion_folder

SOURCE_CLASSES = [0, 1, 2, 5, 8]   # T-shirt/top, Trouser, Pullover, Sandal, Bag
TARGET_CLASSES = [3, 4, 6, 7, 9]   # Dress, Coat, Shirt, Sneaker, Ankle boot
SIZE = 64
WIDTH = 0.35
PRETRAIN_IMAGES = 6000
PRETRAIN_EPOCHS = 3
PER_CLASS = 80          # target folder: 80 images per class → 280 train, 60 validation, 60 test
HELD_OUT = 200          # per class, after the folder's images
EPOCHS = 8
MARGIN = 0.05

PRETRAIN = f"""
import sys
import numpy as np
from edgecnn import create_model, pretrained
from edgecnn._tf import keras
from edgecnn.data import load_dataset
from edgecnn.preprocess import PreprocessSpec
scale, offset = 1 / 127.5, -1.0  # keras.applications.mobilenet_v2.preprocess_input
ds = load_dataset("fashion_mnist", PreprocessSpec({SIZE}, {SIZE}, 1, resize="bilinear"), seed=0)
keep = np.isin(ds.y_train, {SOURCE_CLASSES})
x = ds.x_train[keep][:{PRETRAIN_IMAGES}].astype(np.float32) * np.float32(scale) + np.float32(offset)
y = np.searchsorted({SOURCE_CLASSES}, ds.y_train[keep][:{PRETRAIN_IMAGES}])
keras.utils.set_random_seed(0)
model = create_model("mobilenet_v2", input_shape=({SIZE}, {SIZE}, 1), num_classes=5, width={WIDTH}, stem="imagenet")
steps = -(-len(x) // 64) * {PRETRAIN_EPOCHS}
model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps, alpha=0.01)),
              "sparse_categorical_crossentropy", ["accuracy"])
model.fit(x, y, batch_size=64, epochs={PRETRAIN_EPOCHS}, verbose=0)
pretrained.save_keras_weights(model, "mobilenet_v2", sys.argv[1], scale, offset)
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("transfer")
    weights = root / "fashion_upper_body_mobilenet_v2.h5"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_USE_LEGACY_KERAS="1")
    proc = subprocess.run([sys.executable, "-c", PRETRAIN, str(weights)], capture_output=True, text=True, env=env,
                          timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = fashion_folder(root / "target", TARGET_CLASSES, PER_CLASS, 28, rgb=False)
    # --patience EPOCHS: both runs train every epoch of the budget (early stopping on 60 validation images once
    # ended the scratch run after 4 of 8 epochs, and the comparison is about the same budget)
    common = ["--data", str(folder), "--epochs", str(EPOCHS), "--patience", str(EPOCHS), "--batch-size", "32",
              "--seed", "0", "-q"]
    transfer = run_cli("train", "mobilenet_v2", *common, "--weights", str(weights), "-o", str(root / "transfer"),
                       timeout=3600, cwd=root)
    scratch = run_cli("train", "mobilenet_v2", *common, "--input-size", str(SIZE), "--width", str(WIDTH),
                      "-o", str(root / "scratch"), timeout=3600, cwd=root)
    return {"root": root, "weights": weights, "transfer": transfer, "scratch": scratch}


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def _held_out_accuracy(run_dir: Path) -> float:
    """Accuracy of the run's model.keras on Fashion-MNIST test images of the target classes not in the folder,
    preprocessed exactly as its preprocess.json says."""
    import numpy as np

    from edgecnn._tf import keras
    from edgecnn.data import load_dataset
    from edgecnn.optimize import zoo_custom_objects
    from edgecnn.preprocess import PreprocessSpec, adapt_batch, to_float_input

    ds = load_dataset("fashion_mnist", None, seed=0)
    labels = sorted(ds.labels[c] for c in TARGET_CLASSES)  # the folder's classes, in the run's label order
    index = np.concatenate([np.where(ds.y_test == c)[0][PER_CLASS:PER_CLASS + HELD_OUT] for c in TARGET_CLASSES])
    y = np.array([labels.index(ds.labels[c]) for c in ds.y_test[index]])
    spec = PreprocessSpec.load(run_dir / "preprocess.json")
    with keras.utils.custom_object_scope(zoo_custom_objects()):
        model = keras.models.load_model(run_dir / "model.keras", compile=False)
    scores = model.predict(to_float_input(adapt_batch(ds.x_test[index], spec), spec), batch_size=200, verbose=0)
    return float(np.mean(np.argmax(scores, axis=1) == y))


@pytest.mark.slow
def test_fine_tuning_beats_scratch_at_the_same_budget(runs):
    for key in ("transfer", "scratch"):
        assert runs[key].returncode == 0, runs[key].stderr[-3000:]
    transfer, scratch = _metrics(runs["root"] / "transfer"), _metrics(runs["root"] / "scratch")
    assert transfer["images"] == scratch["images"] and transfer["epochs_run"] == scratch["epochs_run"] == EPOCHS
    fine_tuned = _held_out_accuracy(runs["root"] / "transfer")
    from_scratch = _held_out_accuracy(runs["root"] / "scratch")
    print(f"held out ({HELD_OUT * 5} images): fine-tuned {fine_tuned:.4f}, from scratch {from_scratch:.4f}; "
          f"the runs' own test splits: {transfer['test_accuracy']:.4f} vs {scratch['test_accuracy']:.4f}")
    assert fine_tuned >= from_scratch + MARGIN


@pytest.mark.slow
def test_the_run_folder_records_the_transfer(runs):
    from edgecnn.preprocess import PreprocessSpec

    run = runs["root"] / "transfer"
    config = json.loads((run / "config.json").read_text())
    transfer = config["transfer"]
    assert transfer["weights"] == str(runs["weights"].resolve())
    assert transfer["keras_application"] == "MobileNetV2" and transfer["head_epochs"] == EPOCHS // 3
    # the recipe's rates, from the run's learning rate (the CLI default, 1e-3)
    assert config["learning_rate"] == pytest.approx(1e-3)
    assert transfer["head_learning_rate"] == pytest.approx(3e-3)
    assert transfer["fine_tune_learning_rate"] == pytest.approx(1e-3)
    assert transfer["new_layers"] == ["head_logits"] and transfer["head_loaded"] is False
    # The size and width came from the weight file (recorded at export), the layout from Keras Applications.
    assert config["input_shape"] == [SIZE, SIZE, 1]
    assert config["knobs"] == {"width": WIDTH, "stem": "imagenet"}
    spec = PreprocessSpec.load(run / "preprocess.json")
    assert spec.scale == pytest.approx(1 / 127.5) and spec.offset == pytest.approx(-1.0)
    history = _metrics(run)["history"]
    assert len(history["loss"]) == EPOCHS


@pytest.mark.slow
def test_the_transfer_run_converts(runs):
    from edgecnn.tflite_file import read_tflite

    run = runs["root"] / "transfer"
    proc = run_cli("convert", str(run), "--int8", "--eval-limit", "60", timeout=3600, cwd=runs["root"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    tflite = run / "tflite" / "mobilenet_v2_int8.tflite"
    assert not read_tflite(tflite.read_bytes()).float_tensors()
    report = json.loads((run / "tflite" / "mobilenet_v2_int8.report.json").read_text())
    int8 = report["variants"][0]
    assert int8["accuracy"] >= _metrics(run)["test_accuracy"] - 0.1  # int8 keeps the fine-tuned model's accuracy


@pytest.mark.slow
def test_head_epochs_without_weights_is_a_usage_error(tmp_path):
    proc = run_cli("train", "lenet5", "--data", "digits", "--head-epochs", "2", cwd=tmp_path)
    assert proc.returncode == 2 and "--head-epochs needs --weights" in proc.stderr
