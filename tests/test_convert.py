"""`edgecnn convert` end to end: every zoo family to full int8, pruning, QAT, user models, bad input.

What is tested honestly, and what is not:
- Every registered family is built at its small input with ``width=0.25``, fitted for ``FIT_EPOCHS`` short
  epochs (30 Adam steps) on 640 Fashion-MNIST images so that its class scores are not near-ties, its
  BatchNorm statistics then set from one batch of real images, converted to full int8 (int8 I/O) by the same
  code ``edgecnn convert`` runs in its child processes, and run in the LiteRT interpreter on 128 held-out
  test images. Checked: int8 input, zero float32 tensors, XNNPACK takes the graph, the float model is not
  degenerate (≥3 predicted classes), top-1 agreement with the float32 .tflite of the same model ≥
  ``AGREEMENT`` on all images and ≥ ``DECISIVE_AGREEMENT`` on the images where the float model's top-1
  score leads its top-2 by ``MARGIN`` — and a broken conversion of the same model scores below
  ``AGREEMENT`` on the same images.
- The thresholds separate good from broken conversions, measured on 2 cores for every family with this fit
  (2026-12): good int8 agreed 0.83 (MobileNetV3-large, the least fitted: 27% accuracy) to 1.00 on all images,
  0.98-1.00 on the decisive ones. Broken conversions of the same models agreed 0.05-0.24 (input scale
  x255, as when calibrated on 0-255 pixels: the one the test builds), 0.00-0.42 (calibrated on x255 images),
  0.05-0.34 (every activation scale x8, except where it is largely absorbed: ConvNeXt's LayerNorm 0.78,
  AlexNet 0.72). With Adam at 1e-3 for every family (the previous fit) the MobileNets stayed at 27-32%
  accuracy and agreed only 0.66-0.73, which is why the bound had sunk to 0.30; at 5e-3 the plain
  AlexNet/VGG stacks diverge in these 30 steps (11-23% accuracy), hence ``FAMILY_LR``.
  QAT int8 after a 2-step fine-tune (which also moves the weights) agreed 0.84–0.96 on all images with the
  previous fit, hence QAT_AGREEMENT. Trained models agree ≥ 0.95 (the digits test below asserts it).
- QAT runs for the families with layers the default quantize registry rejects (custom hard-swish, squeeze-
  excite Multiply, LayerNormalization), with a 2-step fine-tune; DenseNet's (BN not after a conv,
  AveragePooling2D) is covered by the Keras Applications DenseNet121 in test_keras_applications.py.
- Families run several to a child process (conversion and a first run of a new model can crash the process),
  two children in parallel, their results written as JSON that the tests read.
- Accuracy targets (int8 within 0.5 points of float32) need fully trained runs: they are measured by the
  benchmark in the report, not here. The digits tests use a really trained (tiny) model and check accuracy.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

AGREEMENT = 0.70          # all test images: good conversions measured 0.80-1.00, broken ones 0.05-0.24
DECISIVE_AGREEMENT = 0.80  # images where the float model's top-1 leads its top-2 by MARGIN: good 0.89-1.00
# Why not 0.90: in a CI-like run (2026-12-02) every family but one kept 0.98-1.00 of its decisive answers;
# ResNet-50 kept 0.89 (97 of 109) with 0.80 on all images. Not a broken conversion (its broken twin: 0.09): the
# per-layer explanation (edgecnn.layer_error.compare, 64 images) puts the harm on the last 1x1 convolutions of the
# deep bottlenecks, whose heavy-tailed outputs get a coarse per-tensor int8 step: layer SNR 6.6 dB at
# stage5_block3_3_conv, 9.3 dB at stage5_block2_3_conv, against >= 40 dB for the stem. That is int8's own loss,
# the case `convert --max-drop` keeps in float, and it is what the precision-plan tests cover. 0.80 leaves three
# binomial standard deviations (0.03 on ~110 images) below ResNet-50's 0.89 so that the test does not flake.
MARGIN = 0.1
QAT_AGREEMENT = 0.60
TRAIN_IMAGES = 128  # for QAT's fine-tune
FIT_EPOCHS = 3     # on the 640 training images of the family job
FIT_LR = 5e-3      # Adam; at 1e-3 the MobileNets stayed near chance in these 30 steps (see the docstring)
FAMILY_LR = {"alexnet": 1e-3, "vgg11": 1e-3, "vgg16": 1e-3}  # deep plain stacks: they diverge at 5e-3
# Plain VGGs (no BatchNorm) stay near chance in so short a fit; their BN variants train.
FAMILY_KNOBS = {"vgg11": {"batch_norm": True}, "vgg16": {"batch_norm": True}}
QAT_IMAGES = 64
TEST_IMAGES = 128  # what load_dataset's limit leaves for testing (TRAIN_IMAGES * 5 // 5)
WIDTH = 0.25
# Families whose QAT path is exercised too: the ones with layers the default registry rejects (custom
# layers, squeeze-excite Multiply, LayerNormalization). DenseNet's BN-after-concatenation and AveragePooling2D
# go through QAT in tests/test_keras_applications.py (Keras' DenseNet121, pruned + QAT by the CLI): its QAT
# here cost 13 of the suite's 100 minutes on 2 shared cores (2026-12-02) for a layer pattern tested there.
QAT_FAMILIES = ("mobilenet_v3_small", "efficientnet_b0", "convnext_tiny")


def _family_job(names: list[str], out_dir: str) -> None:
    """Child process: for each family, build → short fit → (QAT) → float32 + int8 .tflite → measure."""
    import time

    import importlib

    cv = importlib.import_module("edgecnn.convert")  # the package also has a convert() function
    from edgecnn import optimize
    from edgecnn._tf import tf
    from edgecnn.data import calibration_samples, load_dataset
    from edgecnn.evaluate import agreement, evaluate_tflite, predict_tflite
    from edgecnn.preprocess import PreprocessSpec, to_float_input
    from edgecnn.tflite_checks import io_quantization
    from edgecnn.tflite_file import read_tflite
    from edgecnn.zoo import create_model, get_spec

    out = Path(out_dir)
    for name in names:
        t0 = time.time()
        spec_model = get_spec(name)
        shape = tuple(spec_model.small_input)
        spec = PreprocessSpec(shape[0], shape[1], shape[2])
        ds = load_dataset("fashion_mnist", spec, seed=0, limit=TRAIN_IMAGES * 5)
        model = create_model(name, input_shape=shape, num_classes=10, **FAMILY_KNOBS.get(name, {}),
                             **({"width": WIDTH} if "width" in spec_model.knobs else {}))
        data = optimize.FineTuneData(ds.x_train[:TRAIN_IMAGES], ds.y_train[:TRAIN_IMAGES], spec)
        _short_fit(model, optimize.FineTuneData(ds.x_train, ds.y_train, spec), FAMILY_LR.get(name, FIT_LR))
        _calibrate_batchnorm(model, data)
        models = {"base": model}
        if name in QAT_FAMILIES:
            small = optimize.FineTuneData(data.x[:QAT_IMAGES], data.y[:QAT_IMAGES], spec)
            models["qat"] = optimize.quantize_aware(model, data=small, epochs=1, batch_size=32,
                                                    custom_objects=optimize.zoo_custom_objects())
        work = out / name
        work.mkdir(parents=True, exist_ok=True)
        np.save(work / "calib.npy", to_float_input(calibration_samples(ds, 64), spec))
        x_test, y_test = ds.x_test[:TEST_IMAGES], ds.y_test[:TEST_IMAGES]
        result = {"name": name, "shape": list(shape)}
        scores: dict[str, np.ndarray] = {}
        for key, keras_model in models.items():
            saved = work / f"{key}_saved"
            tf.saved_model.save(keras_model, str(saved))
            for variant in (("float32", "int8") if key == "base" else ("int8",)):
                path = work / f"{key}_{variant}.tflite"
                info = cv.convert_saved_model({"variant": variant, "saved_model": str(saved),
                                                    "calibration": str(work / "calib.npy"), "output": str(path)})
                blob = path.read_bytes()
                dtype, quant, floats = io_quantization(blob)
                vspec = PreprocessSpec.from_json({**spec.to_json(), "input_dtype": dtype})
                vspec.input_quantization = quant
                measured = evaluate_tflite(blob, x_test, y_test, vspec)
                scores[f"{key}_{variant}"], _ = predict_tflite(blob, x_test, vspec)
                tfl = read_tflite(blob)
                result[f"{key}_{variant}"] = {
                    "accuracy": measured["accuracy"], "predictions": measured["predictions"].tolist(),
                    "input_dtype": dtype, "float32_tensors": floats,
                    "float_tensor_names": [t.name for t in tfl.float_tensors()][:5],
                    "xnnpack": info["xnnpack"], "size": len(blob)}
        base = result["base_float32"]["predictions"]
        top2 = np.sort(scores["base_float32"], axis=1)[:, -2:]
        decisive = (top2[:, 1] - top2[:, 0]) >= MARGIN
        for key in [k for k in result if k.endswith("_int8")]:
            same = np.array(result[key]["predictions"]) == np.array(base)
            result[key]["agreement"] = agreement(np.array(result[key]["predictions"]), np.array(base))
            result[key]["decisive_images"] = int(decisive.sum())
            result[key]["decisive_agreement"] = float(same[decisive].mean()) if decisive.any() else None
        # The same int8 file as a broken conversion makes it (input quantisation calibrated on 0-255 pixels
        # while the model is fed pixel/255), fed through its own preprocess.json: what a broken conversion
        # scores on the same images, so the test shows that AGREEMENT separates the two.
        blob = _scale_input((work / "base_int8.tflite").read_bytes(), 255.0)
        dtype, quant, _ = io_quantization(blob)
        vspec = PreprocessSpec.from_json({**spec.to_json(), "input_dtype": dtype})
        vspec.input_quantization = quant
        broken = evaluate_tflite(blob, x_test, y_test, vspec)["predictions"]
        result["base_int8"]["broken_agreement"] = agreement(np.asarray(broken), np.array(base))
        result["seconds"] = round(time.time() - t0, 1)
        (out / f"{name}.json").write_text(json.dumps(result))


def _scale_input(model_bytes: bytes, factor: float) -> bytes:
    """An int8 model whose input quantisation scale is ``factor`` times too large (as if calibrated on pixels
    ``factor`` times larger than the model is fed): a conversion broken at its first step."""
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    model = fbu.convert_bytearray_to_object(bytearray(model_bytes))
    graph = model.subgraphs[0]
    for index in graph.inputs:
        quant = graph.tensors[index].quantization
        quant.scale = np.asarray(quant.scale) * factor
    return bytes(fbu.convert_object_to_bytearray(model))


def _short_fit(model, data, learning_rate: float) -> None:
    """A few hundred real images for FIT_EPOCHS epochs: enough for the model to separate the classes, so
    that its class scores are no longer near-ties and top-1 agreement with int8 measures the conversion
    (untrained networks score all classes alike, and int8 rounding then flips argmax at random)."""
    from edgecnn._tf import keras

    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy")
    model.fit(data.tf_dataset(64, shuffle=True, seed=0), epochs=FIT_EPOCHS, verbose=0)


def _calibrate_batchnorm(model, data) -> None:
    """After so short a fit the moving BatchNorm statistics still lag the weights: one forward pass in training mode with momentum 0 sets
    every BN layer's moving mean/variance to its statistics on real images (no gradient step: fast)."""
    import tensorflow as tf

    bns = [layer for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
    for layer in bns:
        layer.momentum = 0.0
    x = next(iter(data.tf_dataset(TRAIN_IMAGES, shuffle=False)))[0]
    model(x, training=True)
    for layer in bns:
        layer.momentum = 0.99
    del tf


# Seconds each family's job took here under load (short fit, conversions, and QAT for QAT_FAMILIES):
# used only to share the zoo evenly between the children, so neither waits alone at the end.
JOB_SECONDS = {"simple_cnn": 18, "lenet5": 12, "alexnet": 30, "vgg11": 34, "vgg16": 71, "googlenet": 181,
               "resnet18": 82, "resnet34": 168, "resnet50": 219, "densenet121": 350, "mobilenet_v1": 92,
               "mobilenet_v2": 100, "mobilenet_v3_large": 159, "mobilenet_v3_small": 180,
               "efficientnet_b0": 375, "convnext_tiny": 295}


def _balanced_chunks(names: list[str], groups: int) -> list[list[str]]:
    """Longest job first onto the least-loaded child."""
    chunks: list[list[str]] = [[] for _ in range(groups)]
    loads = [0.0] * groups
    for name in sorted(names, key=lambda n: -JOB_SECONDS.get(n, 200)):
        i = loads.index(min(loads))
        chunks[i].append(name)
        loads[i] += JOB_SECONDS.get(name, 200)
    return chunks


def _run_family_children(names: list[str], out: Path, groups: int = 2) -> dict[str, dict]:
    chunks = _balanced_chunks(names, groups)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_USE_LEGACY_KERAS="1")
    procs = [subprocess.Popen([sys.executable, __file__, str(out), *chunk], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for chunk in chunks if chunk]
    # The whole zoo in two children: 25 min on 2 shared cores (2026-12-02); longer while the other pytest worker
    # runs too. The timeout only stops a hung child before CI's own 90-minute limit does.
    logs = [p.communicate(timeout=4800) for p in procs]
    results = {}
    for name in names:
        path = out / f"{name}.json"
        if path.exists():
            results[name] = json.loads(path.read_text())
    results["_stderr"] = "\n".join(err[-3000:] for _, err in logs)  # type: ignore[assignment]
    results["_codes"] = [p.returncode for p in procs]  # type: ignore[assignment]
    return results


@pytest.fixture(scope="module")
def family_results(tmp_path_factory):
    pytest.importorskip("tensorflow")
    from edgecnn.zoo import list_models

    out = tmp_path_factory.mktemp("families")
    return _run_family_children(list_models(), out)


def _families():
    try:
        from edgecnn.zoo.registry import _REGISTRY  # noqa: F401
        from edgecnn.zoo import list_models

        return list_models()
    except Exception:  # noqa: BLE001
        return []


@pytest.mark.slow
@pytest.mark.parametrize("name", _families())
def test_every_family_converts_to_full_int8(family_results, name):
    assert name in family_results, f"{name} crashed or failed in its child:\n{family_results['_stderr']}"
    result = family_results[name]
    int8 = result["base_int8"]
    assert int8["input_dtype"] == "int8"
    assert int8["float32_tensors"] == 0, int8["float_tensor_names"]
    assert int8["xnnpack"] != "refused"
    assert int8["agreement"] >= AGREEMENT, (name, int8["agreement"], int8["accuracy"],
                                            result["base_float32"]["accuracy"])
    # the threshold is meaningful for this family: the same file with broken requantisation falls below it
    assert int8["broken_agreement"] < AGREEMENT, (name, int8["broken_agreement"])
    # Where the float model is decisive (top-1 ahead of top-2 by MARGIN), int8 must keep its answer.
    if int8["decisive_images"] >= 10:
        assert int8["decisive_agreement"] >= DECISIVE_AGREEMENT, (name, int8["decisive_images"],
                                                                  int8["decisive_agreement"])
    # Not a degenerate model whose agreement would be trivial: it predicts several classes.
    assert len(set(result["base_float32"]["predictions"])) >= 3
    assert int8["size"] < result["base_float32"]["size"] * 0.5


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in QAT_FAMILIES if n in _families()])
def test_qat_int8_per_family(family_results, name):
    result = family_results[name]
    qat = result["qat_int8"]
    assert qat["input_dtype"] == "int8"
    assert qat["float32_tensors"] == 0, qat["float_tensor_names"]
    assert qat["xnnpack"] != "refused"
    assert qat["agreement"] >= QAT_AGREEMENT, (name, qat["agreement"])
    if qat["decisive_images"] >= 10:
        assert qat["decisive_agreement"] >= DECISIVE_AGREEMENT, (name, qat["decisive_agreement"])


# ---- the command on user model files and run folders (digits: 8x8 images, quick) -----------------------

def _digits_model(path: Path, *, lambda_cumsum: bool = False) -> Path:
    """A small trained digits classifier saved as a user model file (built in a child: TF stays out of here)."""
    code = f"""
import sys
import numpy as np
from edgecnn._tf import tf, keras
from edgecnn.data import load_dataset
from edgecnn.preprocess import PreprocessSpec
L = keras.layers
inp = keras.Input((8, 8, 1))
x = L.Conv2D(16, 3, padding="same", use_bias=False)(inp)
x = L.BatchNormalization()(x)
x = L.ReLU()(x)
x = L.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
x = L.GlobalAveragePooling2D()(x)
if {lambda_cumsum}:
    x = L.Lambda(lambda t: tf.math.cumsum(t, axis=-1), name="weird_cumsum")(x)
out = L.Dense(10, activation="softmax")(x)
model = keras.Model(inp, out)
ds = load_dataset("digits", PreprocessSpec(8, 8, 1), seed=0)
model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", ["accuracy"])
model.fit(ds.x_train / np.float32(255), ds.y_train, epochs=15, batch_size=32, verbose=0)
model.save(sys.argv[1])
"""
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return path


@pytest.fixture(scope="module")
def user_model(tmp_path_factory) -> Path:
    pytest.importorskip("tensorflow")
    return _digits_model(tmp_path_factory.mktemp("user") / "digits.keras")


def _one_line_error(proc, code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    lines = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.slow
def test_user_model_all_variants_layout_and_report(user_model, tmp_path, cli):
    from edgecnn.preprocess import PreprocessSpec
    from edgecnn.tflite_file import read_tflite


    out = tmp_path / "out"
    proc = cli("convert", str(user_model), "--all", "--data", "digits", "-o", str(out / "d.tflite"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "d.report.json").read_text())
    by_variant = {v["variant"]: v for v in report["variants"]}
    assert set(by_variant) == {"float32", "float16", "dynamic", "int8", "uint8"}
    assert report["test_images"] >= 250  # digits: 15% held out
    for variant, entry in by_variant.items():
        path = out / variant / f"d_{variant}.tflite"
        assert entry["path"] == str(path) and path.exists()
        assert (out / variant / "labels.txt").read_text().split() == [str(i) for i in range(10)] or \
            len((out / variant / "labels.txt").read_text().split()) == 10
        spec = PreprocessSpec.load(out / variant / "preprocess.json")
        tensor = read_tflite(path.read_bytes()).input_tensors[0]
        assert spec.input_dtype == tensor.dtype  # preprocess.json is true for the file beside it
        if variant in ("int8", "uint8"):
            assert spec.input_quantization == {"scale": float(tensor.scales[0]),
                                               "zero_point": int(tensor.zero_points[0])}
            assert not read_tflite(path.read_bytes()).float_tensors()
            assert entry["ratio_to_float32"] < 0.5
        assert entry["gzip_bytes"] < entry["size_bytes"] * 1.01
    # A trained model: float32 accuracy through the interpreter, and int8 close to it.
    assert by_variant["float32"]["accuracy"] > 0.8
    assert by_variant["int8"]["agreement_with_float32"] >= 0.95
    assert abs(by_variant["int8"]["accuracy"] - by_variant["float32"]["accuracy"]) <= 0.03
    assert "int8" in proc.stdout and "float16" in proc.stdout  # the printed table
    assert not list(out.rglob("*.part"))


def _make_run_dir(user_model: Path, root: Path) -> Path:
    """A run folder around the user model, as `edgecnn train` lays it out."""
    run = root / "runs" / "digitsnet"
    run.mkdir(parents=True)
    (run / "model.keras").write_bytes(user_model.read_bytes())
    (run / "labels.txt").write_text("\n".join(str(i) for i in range(10)) + "\n")
    (run / "preprocess.json").write_text(json.dumps({"height": 8, "width": 8, "channels": 1, "resize": "pad",
                                                      "scale": 1 / 255, "offset": 0.0, "labels": "labels.txt"}))
    (run / "config.json").write_text(json.dumps({"model": "digitsnet", "data": {"source": "digits", "seed": 0,
                                                                                 "limit": None}}))
    (run / "metrics.json").write_text(json.dumps({"test_accuracy": 0.9}))
    return run


@pytest.mark.slow
def test_run_dir_prune_then_prune_preserving_qat_shows_zeros_in_file(user_model, tmp_path, cli):
    from edgecnn.tflite_file import read_tflite


    run = _make_run_dir(user_model, tmp_path)
    proc = cli("convert", str(run), "--int8", "--prune", "0.5", "--qat", "--epochs", "2", "--edgetpu",
               "--distill", "0.5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    tflite = run / "tflite" / "digitsnet_pruned50_qat_int8.tflite"
    assert tflite.exists() and (tflite.parent / "preprocess.json").exists()
    report = json.loads((tflite.parent / "digitsnet_pruned50_qat_int8.report.json").read_text())
    assert report["optimisations"]["prune"] == 0.5 and report["optimisations"]["qat"] is True
    assert report["optimisations"]["distill"] == 0.5
    assert report["optimisations"]["prune_distill"] == 0.5 and report["optimisations"]["qat_distill"] == 0.5
    assert "distilling from the dense model (50% of the targets)" in proc.stderr
    # After the 2 planned epochs, if over 1 point below the dense model on validation: again from the dense model
    # over 4 (room for it by default: 3 × 2 epochs in all), and the better of the two makes the file.
    finetune = report["optimisations"]["prune_finetune"]
    assert finetune["epochs_planned"] == 2 and finetune["max_epochs"] == 6 and finetune["recover_points"] == 1.0
    attempts = finetune["attempts"]
    assert [a["epochs"] for a in attempts] in ([2], [2, 4])
    assert (attempts[0]["val_drop_points"] <= 1.0) == (len(attempts) == 1)  # retried exactly when over budget
    best = min(a["val_drop_points"] for a in attempts)
    kept = [a for a in attempts if a["kept"]]
    assert len(kept) == 1 and kept[0]["val_drop_points"] == best and finetune["kept_epochs"] == kept[0]["epochs"]
    assert finetune["epochs_run"] == sum(a["epochs"] for a in attempts)
    if len(attempts) == 2:
        assert any("pruned again from the dense model over 4 epochs" in n for n in report["notes"])
    model = read_tflite(tflite.read_bytes())
    assert not model.float_tensors()
    # Pruning shows up as zeros in the stored int8 weights of the pruned layers (conv and dense).
    # The default keep rule leaves the smallest layers dense while together they hold <= 5% of the prunable
    # weights: by hand, the first conv (3*3*1*16 = 144 of 144 + 4608 + 320 = 5072 weights, 2.8%); adding the
    # Dense layer (320) would make it 9.1%. The other two are pruned to 50% * 5072 / 4928 = 51.5%.
    assert report["optimisations"]["prune_keep"] == "smallest"
    assert report["optimisations"]["dense_layers"] == ["conv2d"]
    entry = report["variants"][0]
    by_layer = entry["layer_sparsity"]  # zeros per weight tensor as stored, by Keras layer (quant_ prefix dropped)
    assert by_layer.get("conv2d", 1.0) < 0.05, by_layer
    pruned = {name: frac for name, frac in by_layer.items() if name in ("conv2d_1", "dense")}
    assert len(pruned) == 2 and all(frac >= 0.45 for frac in pruned.values()), by_layer
    assert len(model.sparsity_by_tensor()) >= 3  # the stored file has the three weight tensors
    assert entry["weight_sparsity"] >= 0.45
    assert entry["accuracy"] > 0.6  # 2 epochs of fine-tuning after halving the weights
    assert "pruning" in proc.stderr and "prune-preserving QAT" in proc.stderr
    # --edgetpu pins the batch to 1 (static shapes for the Edge TPU): no -1 left in any shape signature
    assert all(t.shape_signature[:1] != (-1,) for t in model.tensors)
    assert model.input_tensors[0].shape_signature == (1, 8, 8, 1)
    # --edgetpu: compiled when edgetpu_compiler is installed, else the model is reported ready + how to install.
    assert report["edgetpu"]["input_model"] == str(tflite)
    assert report["edgetpu"]["compiled"] or "edgetpu_compiler" in report["edgetpu"]["message"]
    assert "Edge TPU:" in proc.stdout


def test_bad_sparsity_is_a_usage_error(tmp_path, cli):

    for value in ("1.0", "-0.2"):
        _one_line_error(cli("convert", "simple_cnn", "--prune", value), 2, "[0, 1)")
    for value in ("1.5", "-0.1"):
        _one_line_error(cli("convert", "simple_cnn", "--prune", "0.5", "--distill", value), 2, "[0, 1]")
    # without a fine-tune there is nothing to distil into: said, not silently ignored
    _one_line_error(cli("convert", "simple_cnn", "--distill", "0.5"), 2, "--distill needs --prune or --qat")
    _one_line_error(cli("convert", "simple_cnn", "--prune", "0.5", "--prune-recover", "-1"), 2, "--prune-recover")
    _one_line_error(cli("convert", "simple_cnn", "--int8", "--max-drop-margin", "1"), 2, "use it with --max-drop")
    _one_line_error(cli("convert", "simple_cnn", "--int8", "--max-drop", "0.5", "--max-drop-margin", "-1"), 2,
                    "standard errors")
    _one_line_error(cli("convert", "simple_cnn", "--prune", "0.5", "--epochs", "3", "--prune-max-epochs", "2"), 2,
                    "fewer than --epochs")


def test_sparse_encoding_is_tried_only_where_it_can_shrink_the_file():
    """Hand derivation: a kept weight costs its value + a >= 1-byte index, a dense one its value alone, so
    the sparse file can be smaller only when (1 - s)(b + 1) < b for b bytes per value."""
    from edgecnn.convert import _sparse_can_pay

    for variant, bytes_per_value in (("int8", 1), ("uint8", 1), ("dynamic", 1), ("float16", 2), ("float32", 4)):
        breakeven = 1 / (bytes_per_value + 1)  # the sparsity where (1 - s)(b + 1) == b
        assert not _sparse_can_pay(variant, breakeven - 0.05), variant
        assert _sparse_can_pay(variant, breakeven + 0.05), variant
        assert not _sparse_can_pay(variant, None)
    assert not _sparse_can_pay("int8", 0.5)  # what `convert --prune 0.5 --int8` asks: one conversion, not two


def test_not_a_keras_model(tmp_path, cli):

    fake = tmp_path / "fake.keras"
    fake.write_text("not a model")
    _one_line_error(cli("convert", str(fake), "--float32"), 1, "not a Keras model")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    _one_line_error(cli("convert", str(other), "--float32"), 1, "not a Keras model")
    _one_line_error(cli("convert", str(tmp_path / "missing.keras")), 1, "no such file")
    assert not (tmp_path / "tflite").exists()


def test_int8_user_model_without_data_says_what_to_pass(tmp_path, cli):

    model = tmp_path / "m.keras"
    model.write_bytes(b"PK")  # never loaded: the missing --data is reported first
    _one_line_error(cli("convert", str(model), "--int8"), 1, "--data")
    assert not (tmp_path / "tflite").exists()


@pytest.mark.slow
def test_unwritable_output(user_model, tmp_path, cli):

    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_line_error(cli("convert", str(user_model), "--float32", "-o", str(blocker / "m.tflite")), 1,
                    "cannot write")
    _one_line_error(cli("convert", str(user_model), "--float32", "-o", str(tmp_path / "m.bin")), 2, ".tflite")


@pytest.mark.slow
def test_op_int8_cannot_handle_names_layer_and_flag(tmp_path, cli):

    model = _digits_model(tmp_path / "cumsum.h5", lambda_cumsum=True)
    out = tmp_path / "out" / "m.tflite"
    # a Lambda layer runs stored code when loaded: refused unless trusted (tests/test_model_trust.py)
    proc = cli("convert", str(model), "--int8", "--data", "digits", "-o", str(out), "--trust-model")
    _one_line_error(proc, 1, "weird_cumsum", "--dynamic")
    assert not out.parent.exists() or not list(out.parent.iterdir())  # nothing half-written


if __name__ == "__main__":  # child process of _run_family_children
    _family_job(sys.argv[2:], sys.argv[1])
