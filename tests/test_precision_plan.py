"""The precision plan (`edgecnn convert --int8 --max-drop PTS`, edgecnn.precision_plan).

The choice rule is checked on hand-made candidates (no TensorFlow): within the budget on validation, never slower
than float32, the smallest of a tie — and test numbers cannot change it. The whole command runs on a small CNN
trained here on Fashion-MNIST: what it writes must be within the budget on validation, no slower than float32 in
the same interleaved measurement, and be the file the report says (its test accuracy re-measured independently).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgecnn.precision_plan import Candidate, choose


def _c(name, kind, ms, drop, size, *, within=None, test=None):
    return Candidate(name=name, kind=kind, float_layers=[] if kind != "mixed" else ["x"], why="", size_bytes=size,
                     val_accuracy=0.9 - drop / 100, val_drop_points=drop,
                     within_budget=(drop <= 0.5) if within is None else within, latency_ms=ms,
                     speedup_vs_float32=None, test_accuracy=test)


def _set(*extra):
    base = [_c("float32", "float32", 1.00, 0.0, 4000), _c("float16", "float16", 1.01, 0.0, 2000)]
    for c in base + list(extra):
        c.speedup_vs_float32 = 1.00 / c.latency_ms
    return base + list(extra)


def test_fastest_within_budget_wins():
    chosen, reason = choose(_set(_c("full int8", "int8", 0.60, 0.3, 1000), _c("mixed", "mixed", 0.70, 0.1, 1500)))
    assert chosen.name == "full int8"
    assert "fastest within the budget" in reason


def test_over_budget_is_never_chosen_however_fast():
    chosen, _ = choose(_set(_c("full int8", "int8", 0.30, 2.0, 1000), _c("mixed", "mixed", 0.80, 0.4, 1500)))
    assert chosen.name == "mixed"


def test_nothing_slower_than_float32_even_in_a_tie():
    # int8 is 2 % slower than float32: inside the tie band, but a slower file is never written.
    chosen, reason = choose(_set(_c("full int8", "int8", 1.02, 0.0, 1000)))
    assert chosen.kind == "float32"  # float16 measured 1 % slower: not written either
    assert "no int8 or mixed file within the budget beat float32" in reason
    cands = _set(_c("full int8", "int8", 1.02, 0.0, 1000))
    cands[1].latency_ms = 0.995  # float16 as fast as float32 (the same float32 kernels run): half the size wins
    assert choose(cands)[0].kind == "float16"


def test_a_tie_goes_to_the_smaller_file():
    chosen, _ = choose(_set(_c("mixed", "mixed", 0.800, 0.2, 1500), _c("full int8", "int8", 0.815, 0.4, 1000)))
    assert chosen.name == "full int8"


def test_test_numbers_cannot_change_the_choice():
    cands = _set(_c("full int8", "int8", 0.60, 0.4, 1000), _c("mixed", "mixed", 0.70, 0.1, 1500))
    first, _ = choose(cands)
    for c in cands:  # make the test split say the opposite of validation
        c.test_accuracy = 0.0 if c.name == first.name else 1.0
        c.test_drop_points = 90.0 if c.name == first.name else 0.0
    again, _ = choose(cands)
    assert again.name == first.name


def test_paired_sigma_by_hand():
    """σ of the drop from the discordant pairs, derived by hand: 100 images, the reference alone right on 6, the
    candidate alone right on 2, both right or both wrong on the rest. d = +1 ×6, −1 ×2, 0 ×92: mean 0.04,
    mean(d²) 0.08, variance 0.08 − 0.0016 = 0.0784, standard error sqrt(0.0784 / 100) = 0.028 = 2.8 points."""
    from edgecnn.precision_plan import paired_sigma_points

    reference = np.array([1] * 6 + [0] * 2 + [1] * 50 + [0] * 42, bool)
    candidate = np.array([0] * 6 + [1] * 2 + [1] * 50 + [0] * 42, bool)
    assert paired_sigma_points(reference, candidate) == pytest.approx(2.8, abs=1e-9)
    assert paired_sigma_points(reference, reference) == 0.0  # identical answers: no uncertainty in the drop
    # Only discordant images count: the same 6/2 split among 1000 images is sqrt(0.00798 / 1000) ≈ 0.2825 points.
    big_ref = np.concatenate([reference, np.ones(900, bool)])
    big_cand = np.concatenate([candidate, np.ones(900, bool)])
    assert paired_sigma_points(big_ref, big_cand) == pytest.approx(100 * np.sqrt((0.008 - 0.004 ** 2) / 1000))


def test_margin_must_be_non_negative():
    from edgecnn.errors import EdgecnnError
    from edgecnn.precision_plan import PlanInputs, plan

    inputs = PlanInputs(saved_model=None, calibration_npy=None, float32_bytes=b"", float16_bytes=b"", spec=None,
                        x_val=np.zeros((1, 28, 28, 1), np.uint8), y_val=np.zeros(1), x_test=None, y_test=None)
    with pytest.raises(EdgecnnError, match="standard errors"):
        plan(inputs, max_drop=0.5, margin_sigmas=-1.0)


# ---- the whole command on a trained model ------------------------------------------------------------

@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A small CNN (conv-BN-ReLU ×3, a residual add, GAP, softmax) trained 2 epochs on 3000 images."""
    tf = pytest.importorskip("tensorflow")  # noqa: F841 - fails under EDGECNN_REQUIRE_ALL in CI
    from edgecnn._tf import keras
    from edgecnn.data import load_dataset
    from edgecnn.preprocess import PreprocessSpec

    folder = tmp_path_factory.mktemp("plan_model")
    spec = PreprocessSpec(28, 28, 1)
    ds = load_dataset("fashion_mnist", spec, limit=3000)
    keras.utils.set_random_seed(0)
    layers = keras.layers
    inp = keras.Input((28, 28, 1))
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="c1")(inp)
    x = layers.ReLU(name="r1")(layers.BatchNormalization(name="b1")(x))
    y = layers.Conv2D(16, 3, padding="same", use_bias=False, name="c2")(x)
    y = layers.ReLU(name="r2")(layers.BatchNormalization(name="b2")(y))
    x = layers.Add(name="add")([x, y])
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="c3")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    out = layers.Dense(10, activation="softmax", name="fc")(x)
    model = keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(ds.x_train.astype("float32") / 255.0, ds.y_train, epochs=2, batch_size=64, verbose=0)
    model.save(folder / "small.keras")
    spec.save(folder / "preprocess.json")
    return folder / "small.keras"


@pytest.mark.slow
def test_convert_max_drop_writes_the_fastest_file_within_budget(small_model, tmp_path, cli):
    out = tmp_path / "planned.tflite"
    proc = cli("convert", str(small_model), "--int8", "--max-drop", "0.5", "--data", "fashion_mnist",
               "--limit", "1000", "--eval-limit", "600", "-o", str(out), timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "planned_planned.report.json").read_text())
    plan = report["plan"]
    assert plan["split"] == "validation" and plan["val_images"] > 0
    names = [c["name"] for c in plan["candidates"]]
    assert {"float32", "float16", "full int8"} <= set(names)
    chosen = next(c for c in plan["candidates"] if c["name"] == plan["chosen"])
    # The budget, on validation, with the default one-σ margin; never slower than float32 in the same rounds.
    assert plan["margin_sigmas"] == 1.0
    assert chosen["val_drop_points"] + chosen["val_sigma_points"] <= 0.5 + 1e-9
    for c in plan["candidates"]:  # within the budget exactly when drop + σ is; float32 against itself has σ 0
        assert c["within_budget"] == (c["val_drop_points"] + c["val_sigma_points"] <= 0.5 + 1e-9), c
    float32 = next(c for c in plan["candidates"] if c["name"] == "float32")
    assert float32["val_sigma_points"] == 0.0
    assert chosen["latency_ms"] <= float32["latency_ms"]
    # Test accuracy of every candidate is reported (measured after the choice).
    assert all(c["test_accuracy"] is not None for c in plan["candidates"])
    # The file written is the chosen one: same size, same test accuracy measured independently here.
    assert out.stat().st_size == chosen["size_bytes"]
    from edgecnn.data import load_dataset
    from edgecnn.evaluate import evaluate_tflite
    from edgecnn.preprocess import spec_beside

    spec = spec_beside(out)
    ds = load_dataset("fashion_mnist", spec)
    measured = evaluate_tflite(out, ds.x_test[:600], ds.y_test[:600], spec)["accuracy"]
    assert measured == pytest.approx(chosen["test_accuracy"], abs=1e-9)
    written = report["variants"][0]
    assert written["variant"] == "int8" and written["precision"] == chosen["kind"]
    assert "precision plan" in proc.stdout and "← written" in proc.stdout
    # The diagnosis behind it: every layer of the network ranked, and the plot beside the report.
    assert {"c1", "c2", "c3", "fc"} <= set(report["explain"]["ranking"])
    assert (tmp_path / "planned_planned.explain.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_max_drop_with_qat_fine_tunes_the_quantised_layers_of_a_faster_candidate(small_model, tmp_path, cli):
    """--max-drop --qat: after the plan's candidates are timed, the fastest quantised one faster than float32 is
    fine-tuned with QAT (its float layers left unannotated) and measured as one more candidate."""
    out = tmp_path / "qat.tflite"
    proc = cli("convert", str(small_model), "--int8", "--max-drop", "0.5", "--qat", "--epochs", "1",
               "--data", "fashion_mnist", "--limit", "1000", "--eval-limit", "300", "-o", str(out), timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    plan = json.loads((tmp_path / "qat_planned.report.json").read_text())["plan"]
    quantised = [c for c in plan["candidates"] if c["kind"] in ("int8", "mixed") and not c["qat"]]
    tuned = [c for c in plan["candidates"] if c["qat"]]
    if not tuned:  # no quantised file was faster than float32 in the plan's timing: said, not silently skipped
        assert any("QAT skipped" in note for note in plan["notes"]), plan["notes"]
        return
    (qat,) = tuned
    target = qat["name"].removeprefix("QAT ")
    assert target in {c["name"] for c in quantised}
    assert qat["float_layers"] == next(c for c in quantised if c["name"] == target)["float_layers"]
    assert qat["val_sigma_points"] is not None and qat["latency_ms"] is not None
    chosen = next(c for c in plan["candidates"] if c["name"] == plan["chosen"])
    assert out.stat().st_size == chosen["size_bytes"]


@pytest.mark.slow
def test_edgetpu_plan_stays_full_int8_and_explain_alone(small_model, tmp_path, cli):
    out = tmp_path / "tpu.tflite"
    proc = cli("convert", str(small_model), "--int8", "--max-drop", "0", "--edgetpu", "--data", "fashion_mnist",
               "--limit", "600", "--eval-limit", "300", "-o", str(out), timeout=1800)
    # No edgetpu_compiler here: convert says how to install it and exits 1, after writing the file and report.
    report = json.loads((tmp_path / "tpu_planned.report.json").read_text())
    assert report["plan"]["chosen"] == "full int8", report["plan"]["reason"]
    assert report["variants"][0]["precision"] == "int8"
    assert "--edgetpu" in report["plan"]["reason"]
    from edgecnn.tflite_file import read_tflite

    assert read_tflite(out).fully_int8
    for layer in report["plan"]["edgetpu_would_keep_float"]:
        assert layer in proc.stdout
    # --explain without a plan: the int8 file's per-layer error and time, in the report and as a PNG.
    proc = cli("convert", str(small_model), "--int8", "--explain", "--data", "fashion_mnist", "--limit", "600",
               "--eval-limit", "300", "-o", str(tmp_path / "x.tflite"), timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    explained = json.loads((tmp_path / "x.report.json").read_text())["explain"]
    assert {"c1", "c2", "c3", "fc"} <= set(explained["ranking"])
    assert any(r["quant_ms"] is not None for r in explained["rows"]) or "unavailable" in explained["timing"]
    assert (tmp_path / "x.explain.png").exists()
    assert "per-layer error" in proc.stdout


@pytest.mark.slow
def test_plan_keeps_a_badly_calibrated_layer_float(small_model, tmp_path, monkeypatch):
    """A calibration set that gives one layer a wrong range: the plan must name it and keep it in float."""
    from edgecnn import precision_plan

    from edgecnn._tf import keras, tf
    from edgecnn.convert import _run_child
    from edgecnn.data import load_dataset
    from edgecnn.preprocess import PreprocessSpec, to_float_input

    model = keras.models.load_model(small_model)
    spec = PreprocessSpec(28, 28, 1)
    ds = load_dataset("fashion_mnist", spec, limit=2000)
    saved = tmp_path / "sm"
    tf.saved_model.save(model, str(saved))
    calibration = tmp_path / "calibration.npy"
    np.save(calibration, to_float_input(ds.x_train[:100], spec))
    produced = {}
    for variant in ("float32", "float16"):
        job = {"variant": variant, "saved_model": str(saved), "calibration": str(calibration),
               "output": str(tmp_path / f"{variant}.tflite")}
        _run_child(job, variant, tmp_path)
        produced[variant] = (tmp_path / f"{variant}.tflite").read_bytes()
    inputs = precision_plan.PlanInputs(saved_model=saved, calibration_npy=calibration,
                                       float32_bytes=produced["float32"], float16_bytes=produced["float16"],
                                       spec=spec, x_val=ds.x_val, y_val=ds.y_val, x_test=None, y_test=None)
    # Break the calibrated model's range of c2 (×60 too wide) before the plan quantises it.
    run_in_child = precision_plan._run

    def calibrate_then_break(function, kwargs, label):
        result = run_in_child(function, kwargs, label)
        if function == "calibrate_child":
            _widen_range(kwargs["output"], "c2", 60.0)
        return result

    monkeypatch.setattr(precision_plan, "_run", calibrate_then_break)
    result, data = precision_plan.plan(inputs, max_drop=0.5, workdir=tmp_path / "plan")
    ranking = result.explain["ranking"]
    assert ranking[0] == "c2", ranking[:5]
    kept = [c for c in result.candidates if c.kind == "mixed" and "c2" in c.float_layers]
    assert kept, [(c.name, c.float_layers) for c in result.candidates]
    # No test split given: the plan chose without one, and no candidate carries a test number.
    assert all(c.test_accuracy is None for c in result.candidates)
    assert result.chosen_candidate.val_drop_points <= 0.5


def _widen_range(calibrated_path, layer: str, factor: float) -> None:
    """Scale the calibration min/max recorded for ``layer``'s output in a calibrated (float) model."""
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    model = fbu.read_model(str(calibrated_path))
    graph = model.subgraphs[0]
    hits = 0
    for op in graph.operators:
        tensor = graph.tensors[op.outputs[0]]
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else tensor.name
        if f"/{layer}/" in name.split(";")[-1] + "/" and tensor.quantization is not None:
            q = tensor.quantization
            q.min = np.asarray(q.min, np.float32) * factor
            q.max = np.asarray(q.max, np.float32) * factor
            hits += 1
    assert hits >= 1, f"no calibrated tensor for {layer}"
    fbu.write_model(model, str(calibrated_path))
