#!/usr/bin/env python
"""Why QAT is often no better than post-training int8, and why 50 % pruning costs MobileNetV2 8 points:
measure fine-tuning recipes per family and write docs/recipes.json + docs/RECIPES.md.

    python tools/recipe_study.py --families lenet5,mobilenet_v2 --recipes qat    # measure (cached)
    python tools/recipe_study.py --families mobilenet_v2 --recipes sensitivity   # per-layer pruning damage
    python tools/recipe_study.py --report                                        # JSON + markdown from the cache

Each model is trained once at the benchmark's small config (`edgecnn benchmark --small`: 8000 Fashion-MNIST
images × 3 epochs, the heavy families at width 0.5) into ``--work``. Every recipe starts from that trained
model, fine-tunes on the same 8000 images through edgecnn.optimize, converts through
edgecnn.convert.convert_saved_model (full int8, int8 I/O, 100 calibration images as the benchmark) and is
scored through the TFLite interpreter (edgecnn.evaluate) on the **validation** split (1600 images held out
of Fashion-MNIST's training set: the numbers recipes are chosen by) and on the benchmark's 1000 test images
(reported, never used to choose). One recipe per child process (the converter can crash the process);
results are cached per recipe in ``--work/<model>/results/``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tools"):
    if str(path) not in sys.path:  # run as a script from a checkout
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402

DEFAULT_WORK = Path("/work/wt/recipes-work")
# The benchmark's small config (edgecnn.benchmark.results.Settings): what "the benchmark budget" means.
TRAIN_IMAGES, TRAIN_EPOCHS, TEST_IMAGES, CALIBRATION_IMAGES, SPARSITY = 8000, 3, 1000, 100, 0.5
SCHEMA = 1


# ---- recipes ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recipe:
    """One way from the trained model to an int8 file: ``kind`` is ptq, float_ft, qat or prune; ``options``
    are keyword arguments of edgecnn.optimize.quantize_aware / prune (or of the float fine-tune)."""

    kind: str
    about: str
    options: dict[str, Any] = field(default_factory=dict)


_OLD_QAT = {"epochs": 1, "learning_rate": 1e-4, "lr_schedule": "constant", "freeze_batch_norm": False}
_OLD_PRUNE = {"epochs": 1, "learning_rate": 3e-4, "lr_schedule": "constant", "schedule": "constant"}
RECIPES: dict[str, Recipe] = {
    # QAT: what separates one QAT epoch from post-training quantisation?
    "ptq": Recipe("ptq", "post-training int8 of the trained model (no fine-tune)"),
    "qat_ranges_only": Recipe("qat", "QAT model with measured activation ranges, 0 epochs",
                              {**_OLD_QAT, "epochs": 0}),
    "float_ft": Recipe("float_ft", "the old QAT fine-tune without fake quantisation, then PTQ",
                       {"epochs": 1, "learning_rate": 1e-4, "lr_schedule": "constant"}),
    "qat_old": Recipe("qat", "old default: 1 epoch, Adam 1e-4 constant, BatchNorm on batch statistics", _OLD_QAT),
    "qat_old_s1": Recipe("qat", "old default, fine-tune seed 1", {**_OLD_QAT, "seed": 1}),
    "qat_bn_frozen": Recipe("qat", "old + BatchNorm frozen (moving statistics)",
                            {**_OLD_QAT, "freeze_batch_norm": True}),
    "qat_lr1e-5": Recipe("qat", "old with Adam 1e-5", {**_OLD_QAT, "learning_rate": 1e-5}),
    "qat_cosine": Recipe("qat", "old with the learning rate decayed to 0 (cosine)",
                         {**_OLD_QAT, "lr_schedule": "cosine"}),
    "qat_bn_frozen_cosine": Recipe("qat", "BatchNorm frozen + cosine decay",
                                   {**_OLD_QAT, "freeze_batch_norm": True, "lr_schedule": "cosine"}),
    "qat_bn_frozen_lr1e-5": Recipe("qat", "BatchNorm frozen + Adam 1e-5",
                                   {**_OLD_QAT, "freeze_batch_norm": True, "learning_rate": 1e-5}),
    "qat_3ep_bn_frozen_cosine": Recipe("qat", "3 epochs, BatchNorm frozen + cosine decay",
                                       {**_OLD_QAT, "epochs": 3, "freeze_batch_norm": True,
                                        "lr_schedule": "cosine"}),
    # Pruning: one-shot vs gradual, learning-rate decay, epochs, sensitive layers kept dense.
    "prune_old": Recipe("prune", "old default: one-shot 50% at step 0, 1 epoch, Adam 3e-4 constant", _OLD_PRUNE),
    "prune_poly": Recipe("prune", "polynomial ramp over 70% of 1 epoch", {**_OLD_PRUNE, "schedule": "polynomial"}),
    "prune_poly_cosine": Recipe("prune", "polynomial ramp + cosine decay, 1 epoch",
                                {**_OLD_PRUNE, "schedule": "polynomial", "lr_schedule": "cosine"}),
    "prune_poly_cosine_3ep": Recipe("prune", "polynomial ramp + cosine decay, 3 epochs",
                                    {**_OLD_PRUNE, "schedule": "polynomial", "lr_schedule": "cosine",
                                     "epochs": 3}),
    # The library's defaults as they are when measured (the options used are recorded in the result).
    "qat_default": Recipe("qat", "edgecnn.optimize.quantize_aware defaults"),
    "prune_default": Recipe("prune", "edgecnn.optimize.prune defaults when measured (options in docs/recipes.json)"),
    "prune_first": Recipe("prune", "old + the first conv kept dense", {**_OLD_PRUNE, "keep": "first"}),
    "prune_smallest": Recipe("prune", "old + the smallest layers (≤ 5% of the weights) kept dense",
                             {**_OLD_PRUNE, "keep": "smallest"}),
    "prune_poly_first": Recipe("prune", "polynomial ramp + the first conv kept dense",
                               {**_OLD_PRUNE, "schedule": "polynomial", "keep": "first"}),
    "prune_poly_smallest": Recipe("prune", "polynomial ramp + the smallest layers kept dense",
                                  {**_OLD_PRUNE, "schedule": "polynomial", "keep": "smallest"}),
    "prune_smallest_2ep": Recipe("prune", "old + the smallest layers kept dense, 2 epochs",
                                 {**_OLD_PRUNE, "keep": "smallest", "epochs": 2}),
    "prune_smallest_lr1e-3": Recipe("prune", "old + the smallest layers kept dense, Adam 1e-3",
                                    {**_OLD_PRUNE, "keep": "smallest", "learning_rate": 1e-3}),
    "prune_smallest_kd": Recipe("prune", "old + the smallest layers kept dense, targets half the dense model's "
                                          "predictions (distillation)", {**_OLD_PRUNE, "keep": "smallest",
                                                                         "distill": 0.5}),
    "prune_smallest_kd_full": Recipe("prune", "old + the smallest layers kept dense, targets the dense model's "
                                               "predictions only", {**_OLD_PRUNE, "keep": "smallest", "distill": 1.0}),
    "qat_default_kd": Recipe("qat", "edgecnn.optimize.quantize_aware defaults, targets half the float model's "
                                    "predictions (distillation)", {"distill": 0.5}),
    "prune_poly_3ep": Recipe("prune", "polynomial ramp over 3 epochs", {**_OLD_PRUNE, "schedule": "polynomial",
                                                                       "epochs": 3}),
}
RECIPE_GROUPS = {
    "qat": ["ptq", "qat_ranges_only", "float_ft", "qat_old", "qat_bn_frozen", "qat_cosine", "qat_bn_frozen_cosine",
            "qat_lr1e-5"],
    "prune": ["prune_old", "prune_poly", "prune_poly_cosine"],
    "keep": ["prune_first", "prune_smallest", "prune_poly_first", "prune_poly_smallest"],
}


# ---- one model's data and trained run --------------------------------------------------------------------

def small_width(model_name: str) -> float | None:
    from edgecnn.benchmark.results import SMALL_WIDTH
    from edgecnn.zoo import get_spec

    return SMALL_WIDTH.get(get_spec(model_name).family)


def trained_run(model_name: str, work: Path) -> Path:
    """The model trained once at the benchmark's small config (reused when complete)."""
    from edgecnn import runs

    run_dir = work / model_name / "run"
    if runs.is_complete(run_dir):
        return run_dir
    import shutil

    from edgecnn.train import train

    shutil.rmtree(run_dir, ignore_errors=True)  # a half-finished run
    _log(f"{model_name}: training {TRAIN_EPOCHS} epochs on {TRAIN_IMAGES} images")
    train(model_name, data="fashion_mnist", epochs=TRAIN_EPOCHS, limit=TRAIN_IMAGES, width=small_width(model_name),
          out_dir=run_dir, verbose=False, patience=TRAIN_EPOCHS)
    return run_dir


@dataclass
class Splits:
    spec: Any
    tuning: Any          # edgecnn.data.Dataset: x_train (fine-tuning, calibration) and x_val (choices)
    x_test: np.ndarray   # the benchmark's test images (reported only)
    y_test: np.ndarray


def load_splits(run_dir: Path) -> Splits:
    from edgecnn import runs
    from edgecnn.data import load_dataset
    from edgecnn.preprocess import PreprocessSpec, adapt_batch

    spec = PreprocessSpec.load(run_dir / runs.PREPROCESS_FILE)
    seed = runs.read_config(run_dir).get("data", {}).get("seed", 0)
    tuning = load_dataset("fashion_mnist", spec, seed=seed, limit=TRAIN_IMAGES)  # the run's own subset
    full = load_dataset("fashion_mnist", None, seed=seed)  # adapted below: only the images used
    return Splits(spec, tuning, adapt_batch(full.x_test[:TEST_IMAGES], spec), full.y_test[:TEST_IMAGES])


def load_trained(run_dir: Path):
    from edgecnn import runs
    from edgecnn._tf import keras
    from edgecnn.optimize import zoo_custom_objects

    with keras.utils.custom_object_scope(zoo_custom_objects()):  # hard-swish, layer scale, … by their names
        return keras.models.load_model(run_dir / runs.MODEL_FILE, compile=False)


# ---- conversion and scoring --------------------------------------------------------------------------------

def to_tflite(model, variant: str, splits: Splits, folder: Path, name: str) -> Path:
    """SavedModel → .tflite through edgecnn.convert.convert_saved_model (what `edgecnn convert` runs)."""
    from edgecnn._tf import tf
    from edgecnn.convert import convert_saved_model
    from edgecnn.preprocess import to_float_input

    saved = folder / f"{name}_savedmodel"
    tf.saved_model.save(model, str(saved))
    calibration = folder / "calibration.npy"
    np.save(calibration, to_float_input(splits.tuning.x_train[:CALIBRATION_IMAGES], splits.spec))
    output = folder / f"{name}_{variant}.tflite"
    convert_saved_model({"variant": variant, "saved_model": str(saved), "calibration": str(calibration),
                         "output": str(output)})
    import shutil

    shutil.rmtree(saved, ignore_errors=True)
    return output


def score(path: Path, splits: Splits) -> dict[str, Any]:
    """Accuracy and per-image correctness on the validation and test images, through the interpreter."""
    import dataclasses

    from edgecnn.evaluate import evaluate_tflite
    from edgecnn.runtime import make_interpreter

    spec = splits.spec
    detail = make_interpreter(str(path)).get_input_details()[0]
    if detail["dtype"] != np.float32:  # as `edgecnn convert` writes preprocess.json for an int8 file
        scale, zero_point = detail["quantization"]
        spec = dataclasses.replace(spec, input_dtype=np.dtype(detail["dtype"]).name,
                                   input_quantization={"scale": float(scale), "zero_point": int(zero_point)})
    out = {}
    for split, x, y in (("val", splits.tuning.x_val, splits.tuning.y_val), ("test", splits.x_test, splits.y_test)):
        result = evaluate_tflite(path, x, y, spec, num_threads=1)
        out[split] = {"accuracy": result["accuracy"],
                      "correct": "".join("1" if p == t else "0" for p, t in zip(result["predictions"], y))}
    return out


def prunable_sparsity(model) -> dict[str, Any]:
    from edgecnn.optimize import weight_sparsity

    per_layer = weight_sparsity(model)
    sizes = {layer.name: int(np.prod(layer.get_weights()[0].shape)) for layer in model.layers if layer.name in per_layer}
    total = sum(sizes.values())
    overall = sum(per_layer[n] * sizes[n] for n in sizes) / total if total else 0.0
    return {"overall": round(overall, 4), "dense_layers": sorted(n for n, v in per_layer.items() if v < 0.01)}


# ---- running one recipe (child process) ------------------------------------------------------------------------

def _float_finetune(model, splits: Splits, options: dict[str, Any]):
    """The QAT recipe's fine-tune without fake quantisation (separates 'fine-tuning moved the model' from
    'quantisation-aware training')."""
    from edgecnn._tf import keras
    from edgecnn.optimize import LR_SCHEDULES, FineTuneData, steps_per_epoch

    data = FineTuneData.from_dataset(splits.tuning, splits.spec)
    steps = steps_per_epoch(len(data.x), 64) * options["epochs"]
    rate = LR_SCHEDULES[options["lr_schedule"]](options["learning_rate"], steps)
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy")
    model.fit(data.tf_dataset(64, seed=options.get("seed", 0)), epochs=options["epochs"], verbose=0)
    return model


_KNOBS = ("epochs", "learning_rate", "lr_schedule", "freeze_batch_norm", "schedule", "keep", "batch_size", "distill")


def library_defaults(kind: str) -> dict[str, Any]:
    """The fine-tuning knobs edgecnn.optimize uses when a recipe does not set them."""
    import inspect

    from edgecnn import optimize

    function = {"qat": optimize.quantize_aware, "prune": optimize.prune}.get(kind)
    if function is None:
        return {}
    parameters = inspect.signature(function).parameters
    return {name: parameters[name].default for name in _KNOBS if name in parameters}


def run_recipe(model_name: str, recipe_name: str, work: Path) -> dict[str, Any]:
    from edgecnn import optimize

    recipe = RECIPES[recipe_name]
    run_dir = trained_run(model_name, work)
    splits = load_splits(run_dir)
    folder = work / model_name / "files"
    folder.mkdir(parents=True, exist_ok=True)
    model = load_trained(run_dir)
    custom = optimize.zoo_custom_objects()
    row: dict[str, Any] = {"recipe": recipe_name, "kind": recipe.kind, "about": recipe.about,
                           "options": {**library_defaults(recipe.kind), **recipe.options},
                           "loadavg_start": os.getloadavg()[0]}
    t0, cpu0 = time.perf_counter(), time.process_time()
    files: dict[str, Path] = {}
    if recipe.kind == "ptq":
        files["float32"] = to_tflite(model, "float32", splits, folder, recipe_name)
        files["int8"] = to_tflite(model, "int8", splits, folder, recipe_name)
    elif recipe.kind == "float_ft":
        tuned = _float_finetune(model, splits, recipe.options)
        files["int8"] = to_tflite(tuned, "int8", splits, folder, recipe_name)
    elif recipe.kind == "qat":
        qat = optimize.quantize_aware(model, data=splits.tuning, spec=splits.spec, custom_objects=custom,
                                      **recipe.options)
        files["int8"] = to_tflite(qat, "int8", splits, folder, recipe_name)
    elif recipe.kind == "prune":
        # Each recipe names its epochs: no retry on top unless the recipe asks for it.
        options = {"recover_points": None, **recipe.options}
        pruned = optimize.prune(model, SPARSITY, data=splits.tuning, spec=splits.spec, custom_objects=custom,
                                **options)
        row["sparsity"] = prunable_sparsity(pruned)
        files["float32"] = to_tflite(pruned, "float32", splits, folder, recipe_name)
        files["int8"] = to_tflite(pruned, "int8", splits, folder, recipe_name)
    else:
        raise ValueError(f"unknown recipe kind {recipe.kind}")
    row["seconds"] = round(time.perf_counter() - t0, 1)
    row["cpu_seconds"] = round(time.process_time() - cpu0, 1)
    row["scores"] = {variant: score(path, splits) for variant, path in files.items()}
    for path in files.values():
        path.unlink(missing_ok=True)  # the numbers are the result; the files would fill the disk
    row["loadavg_end"] = os.getloadavg()[0]
    row["measured_at"] = _now()
    return row


# ---- per-layer pruning sensitivity (child process) -----------------------------------------------------------

def run_sensitivity(model_name: str, work: Path) -> dict[str, Any]:
    """Validation accuracy (float32, Keras) with one prunable layer at a time magnitude-pruned to 50 %, no
    fine-tune: the damage each layer's pruning does on its own."""
    from edgecnn.optimize import PRUNABLE_TYPES
    from edgecnn.preprocess import to_float_input

    run_dir = trained_run(model_name, work)
    splits = load_splits(run_dir)
    model = load_trained(run_dir)
    x = to_float_input(splits.tuning.x_val, splits.spec)
    y = np.asarray(splits.tuning.y_val)

    def accuracy() -> float:
        return float(np.mean(model.predict(x, batch_size=256, verbose=0).argmax(1) == y))

    base = accuracy()
    total = sum(int(np.prod(l.get_weights()[0].shape)) for l in model.layers if type(l).__name__ in PRUNABLE_TYPES)
    layers = []
    for index, layer in enumerate(model.layers):
        if type(layer).__name__ not in PRUNABLE_TYPES:
            continue
        weights = layer.get_weights()
        kernel = weights[0]
        threshold = np.quantile(np.abs(kernel), SPARSITY)
        layer.set_weights([np.where(np.abs(kernel) <= threshold, 0.0, kernel).astype(kernel.dtype), *weights[1:]])
        acc = accuracy()
        layer.set_weights(weights)
        layers.append({"layer": layer.name, "type": type(layer).__name__, "index": index,
                       "kernel": list(kernel.shape), "weights": int(kernel.size),
                       "share": round(kernel.size / total, 5), "val_accuracy": acc, "drop": round(base - acc, 4)})
        _log(f"{model_name}: {layer.name} {kernel.shape} drop {100 * (base - acc):+.2f}")
    return {"recipe": "sensitivity", "val_accuracy": base, "val_images": int(len(y)), "layers": layers,
            "measured_at": _now(), "loadavg": os.getloadavg()[0]}


def child_main(model_name: str, recipe_name: str, work: Path, result: Path) -> int:
    from edgecnn.fileio import write_json

    try:
        row = run_sensitivity(model_name, work) if recipe_name == "sensitivity" else \
            run_recipe(model_name, recipe_name, work)
    except Exception as exc:  # a failing recipe is a result, not a dead study
        if os.environ.get("EDGECNN_DEBUG"):
            raise
        text = str(exc).strip()
        row = {"recipe": recipe_name, "error": f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"}
    write_json(result, row)
    return 0


# ---- parent ----------------------------------------------------------------------------------------------

def result_path(work: Path, model_name: str, recipe_name: str) -> Path:
    return work / model_name / "results" / f"{recipe_name}.json"


def measure(model_name: str, recipe_name: str, work: Path, force: bool, timeout: float) -> dict[str, Any]:
    path = result_path(work, model_name, recipe_name)
    if path.is_file() and not force:
        row = json.loads(path.read_text())
        if "error" not in row:
            return row
    path.parent.mkdir(parents=True, exist_ok=True)
    log = path.with_suffix(".log")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", model_name, recipe_name, "--work", str(work)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    _log(f"{model_name}: {recipe_name} ...")
    start = time.perf_counter()
    try:
        with open(log, "w") as handle:
            subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"recipe": recipe_name, "error": f"timed out after {timeout:.0f} s"}
    row = json.loads(path.read_text()) if path.is_file() else {"recipe": recipe_name,
                                                               "error": f"child died (log: {log})"}
    _log(f"{model_name}: {recipe_name} done in {time.perf_counter() - start:.0f} s: {summary(row)}")
    return row


def summary(row: dict[str, Any]) -> str:
    if "error" in row:
        return row["error"]
    if "scores" not in row:
        return f"{len(row.get('layers', []))} layers"
    return ", ".join(f"{v} val {s['val']['accuracy']:.3f} test {s['test']['accuracy']:.3f}"
                     for v, s in row["scores"].items())


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- report ------------------------------------------------------------------------------------------------

def paired(row_correct: str, ref_correct: str) -> dict[str, float]:
    """Accuracy difference of two models on the same images, and its standard error (paired: each image
    counts +1, 0 or -1), in points."""
    a = np.frombuffer(row_correct.encode(), np.uint8) - 48
    b = np.frombuffer(ref_correct.encode(), np.uint8) - 48
    d = a.astype(np.int8) - b.astype(np.int8)
    return {"delta": round(100 * float(d.mean()), 2), "se": round(100 * float(d.std(ddof=1) / np.sqrt(len(d))), 2),
            "disagree": round(float(np.mean(d != 0)), 4)}


def model_summary(model_name: str, work: Path) -> dict[str, Any] | None:
    from edgecnn import runs

    folder = work / model_name / "results"
    ptq = folder / "ptq.json"
    if not ptq.is_file():
        return None
    rows = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
    reference = rows["ptq"]["scores"]["float32"]
    run_dir = work / model_name / "run"
    config, metrics = runs.read_config(run_dir), runs.read_metrics(run_dir)
    out: dict[str, Any] = {
        "width": config.get("knobs", {}).get("width"), "input_shape": config.get("input_shape"),
        "train_seconds": metrics.get("train_seconds"),
        "float32": {split: round(reference[split]["accuracy"], 4) for split in ("val", "test")},
        "recipes": {}}
    for name, row in rows.items():
        if name == "sensitivity":
            out["sensitivity"] = {k: v for k, v in row.items() if k != "recipe"}
            continue
        if "error" in row:
            out["recipes"][name] = {"error": row["error"]}
            continue
        entry = {k: row[k] for k in ("kind", "about", "options", "seconds", "cpu_seconds", "loadavg_start",
                                     "loadavg_end", "measured_at") if k in row}
        if "sparsity" in row:
            entry["sparsity"] = row["sparsity"]
        for variant, scores in row["scores"].items():
            if name == "ptq" and variant == "float32":
                continue
            entry[variant] = {split: {"accuracy": round(scores[split]["accuracy"], 4),
                                      **paired(scores[split]["correct"], reference[split]["correct"])}
                              for split in ("val", "test")}
        out["recipes"][name] = entry
    return out


def write_report(work: Path, docs: Path, models: list[str]) -> None:
    from edgecnn.fileio import write_json, write_text
    from edgecnn.profile import machine_info

    data = {"schema": SCHEMA, "generated_by": "tools/recipe_study.py", "updated": _now(),
            "environment": {**machine_info(), "loadavg_at_report": os.getloadavg()[0],
                            "note": "2 cores shared by six developers while measured; seconds are not timings"},
            "settings": {"train_images": TRAIN_IMAGES, "train_epochs": TRAIN_EPOCHS, "test_images": TEST_IMAGES,
                         "val_images": TRAIN_IMAGES // 5, "calibration_images": CALIBRATION_IMAGES,
                         "sparsity": SPARSITY, "finetune_batch_size": 64},
            "recipes": {name: {"kind": r.kind, "about": r.about, "options": r.options} for name, r in RECIPES.items()},
            "models": {}}
    # Models measured in an earlier work folder stay as they were (a model is never mixed across two
    # trainings: every cell of a column is relative to that column's own float32).
    earlier = docs / "recipes.json"
    if earlier.is_file():
        data["models"].update(json.loads(earlier.read_text()).get("models", {}))
    for model_name in models or sorted(p.name for p in work.iterdir() if (p / "results").is_dir()):
        summary_row = model_summary(model_name, work)
        if summary_row is None:
            continue
        before = data["models"].get(model_name)
        if before is not None and before.get("float32") != summary_row["float32"]:
            # another training of the same model: its column stays, under its own name
            data["models"][f"{model_name} (earlier training)"] = before
        data["models"][model_name] = summary_row
    write_json(docs / "recipes.json", data)
    write_text(docs / "RECIPES.md", markdown(data))


def _cell(entry: dict[str, Any] | None, variant: str = "int8") -> str:
    if not entry or variant not in entry:
        return "—" if not entry or "error" not in entry else "error"
    val, test = entry[variant]["val"], entry[variant]["test"]
    return f"{val['delta']:+.1f} ({test['delta']:+.1f})"


def _disagreement_cell(entry: dict[str, Any] | None, variant: str = "int8") -> str:
    if not entry or variant not in entry or "disagree" not in entry[variant]["val"]:
        return "—"
    val, test = entry[variant]["val"], entry[variant]["test"]
    return f"{100 * val['disagree']:.1f}% ({100 * test['disagree']:.1f}%)"


def markdown(data: dict[str, Any]) -> str:
    lines = ["# Fine-tuning recipes: QAT and pruning, measured", "",
             "Generated by `tools/recipe_study.py --report` from docs/recipes.json (do not edit by hand).", "",
             "Each model trained once at the benchmark's small config ({train_images} Fashion-MNIST images × "
             "{train_epochs} epochs), every recipe fine-tunes that model for the stated epochs on the same images, "
             "is converted to full int8 and scored through the LiteRT interpreter on {val_images} validation images "
             "(what a recipe is chosen by) and {test_images} test images (in brackets, never used to choose). "
             "Accuracy only: the machine ({cpu}, {cores} cores) was shared while measuring.".format(
                 **data["settings"], cpu=data["environment"].get("cpu", "?"),
                 cores=data["environment"].get("cpu_count", "?")), "",
             "**What edgecnn uses by default since this study**: QAT with cosine decay of the learning rate and "
             "BatchNorm frozen on its moving statistics (`qat_bn_frozen_cosine`; `edgecnn.optimize.quantize_aware`); "
             "pruning that leaves the smallest layers dense while together they hold ≤ 5 % of the prunable "
             "weights, the others pruned harder so that the total is the asked sparsity (`prune_smallest`; "
             "`edgecnn convert --prune-keep smallest`). In MobileNetV2 those are the stem and the 1×1 convolutions "
             "of the first blocks: pruning the 144-weight stem alone cost 20 points of validation accuracy "
             "(`sensitivity` in docs/recipes.json). Pruning also fine-tunes towards the dense model's own predictions "
             "instead of the labels (`prune_smallest_kd_full`, `edgecnn.optimize.PRUNE_DISTILL`; `--distill 0` "
             "turns it off): it closed ResNet-18's 1.4-point gap on validation images and MobileNetV3-Large's on "
             "test images, where labels alone had not. QAT keeps the labels (distillation's effect on it was "
             "within noise).", ""]
    models = data["models"]
    for title, group in (("QAT", RECIPE_GROUPS["qat"]), ("Pruning (50 %, int8)", RECIPE_GROUPS["prune"])):
        names = [n for n in RECIPES if any(n in m["recipes"] for m in models.values())
                 and RECIPES[n].kind in ({"ptq", "qat", "float_ft"} if title == "QAT" else {"prune"})]
        lines += [f"## {title}: points against float32, validation (test)", "",
                  "| recipe | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
        lines.append("| float32 accuracy | " + " | ".join(
            f"{100 * m['float32']['val']:.1f}% ({100 * m['float32']['test']:.1f}%)" for m in models.values()) + " |")
        for name in names:
            lines.append(f"| {name}: {RECIPES[name].about} | " +
                         " | ".join(_cell(m["recipes"].get(name)) for m in models.values()) + " |")
        lines.append("")
    # Accuracy differences of a point are within the noise of 1000–1600 images; how often the int8 file's top-1
    # differs from float32's is what distillation acts on, and it is measured on every image.
    names = [n for n in RECIPES if RECIPES[n].kind in ("qat", "prune", "ptq")
             and any(n in m["recipes"] for m in models.values())]
    lines += ["## Top-1 disagreement of the int8 file with float32, validation (test)", "",
              "| recipe | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(_disagreement_cell(m["recipes"].get(name))
                                                for m in models.values()) + " |")
    lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", default="", help="comma-separated model names")
    parser.add_argument("--recipes", default="qat,prune",
                        help=f"recipe names or groups ({', '.join(RECIPE_GROUPS)}, sensitivity)")
    parser.add_argument("--work", default=str(DEFAULT_WORK), help="trained runs and cached results")
    parser.add_argument("--force", action="store_true", help="re-measure cached recipes")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per recipe")
    parser.add_argument("--report", action="store_true", help="write docs/recipes.json and docs/RECIPES.md")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "RECIPE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    work = Path(args.work)
    if args.child:
        return child_main(args.child[0], args.child[1], work, result_path(work, *args.child))
    if args.report:
        write_report(work, ROOT / "docs", [s.strip() for s in args.families.split(",") if s.strip()])
        return 0
    wanted: list[str] = []
    for item in filter(None, (s.strip() for s in args.recipes.split(","))):
        names = RECIPE_GROUPS.get(item, [item])
        for name in names:
            if name != "sensitivity" and name not in RECIPES:
                parser.error(f"unknown recipe {name!r} (known: {', '.join(RECIPES)}, sensitivity)")
            wanted.append(name)
    for model_name in filter(None, (s.strip() for s in args.families.split(","))):
        for recipe_name in dict.fromkeys(wanted):
            measure(model_name, recipe_name, work, args.force, args.timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
