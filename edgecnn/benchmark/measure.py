"""One model of the benchmark, measured in a child process: train (or reuse the run), convert, evaluate, time.

:func:`measure_model` is what :func:`edgecnn.benchmark.run` runs for each (config, model) through
:func:`edgecnn.safety.run_in_child` (a crash, a hang or the memory of a training stays in the child). It
goes through the product: :func:`edgecnn.train.train`, :func:`edgecnn.convert.convert` (whose report
carries the accuracy :mod:`edgecnn.evaluate` measured through the interpreter on the run's held-out test
images) and :func:`edgecnn.profile.profile` (every file of the model timed interleaved in one process).

The canonical config (paper input size, random weights: timing and size only) has no data to calibrate on,
so it converts with :func:`keras_to_tflite`: the very conversion step of ``edgecnn convert``
(:func:`edgecnn.convert.convert_saved_model`) fed random calibration inputs.
"""
from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from edgecnn.benchmark.results import Settings
from edgecnn.benchmark.variants import VARIANTS
from edgecnn.errors import EdgecnnError

Log = Callable[[str], None]


def now() -> str:
    """A UTC timestamp, as every row and session records it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def measure_model(job: dict[str, Any], settings: dict[str, Any], work: str, log_file: str) -> dict[str, Any]:
    """(Child process) measure one job of :func:`edgecnn.benchmark.results.plan_jobs` (as a dict).

    Returns ``{"rows": [...], "failures": [...]}``: a variant that cannot be made or timed is a failure
    of that variant, not of the model.
    """
    log = _file_log(log_file)
    cfg = Settings(**settings)
    folder = Path(work) / job["config"] / job["model"]
    folder.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    try:
        if job["config"] == "small":
            base, made, failures = _small(job, cfg, folder, log)
        else:
            base, made, failures = _canonical(job, cfg, folder, log)
    except Exception as exc:  # noqa: BLE001 - training or building failed: one line for the whole model
        log(f"failed: {_first_line(exc)}")
        if isinstance(exc, EdgecnnError):
            raise
        raise EdgecnnError(f"{job['config']}/{job['model']}: {_first_line(exc)}") from exc
    for variant, row in job["keep"].items():  # reused: file, size and accuracy; timed again below
        made[variant] = {k: row.get(k) for k in _FILE_FIELDS}
    timing, timing_failures = time_variants(made, cfg, log)
    failures.update(timing_failures)
    seconds = round(time.monotonic() - start, 1)
    rows = []
    for variant in VARIANTS:
        if variant in made and variant in timing:
            rows.append({**base, "variant": variant, "label": VARIANTS[variant].label,
                         "precision": VARIANTS[variant].precision, **made[variant], **timing[variant],
                         "reproduce": _reproduce(job, cfg, variant, base), "fingerprint": job["fingerprint"],
                         "job_seconds": seconds})
    log(f"done in {seconds:.0f} s: {len(rows)} rows, {len(failures)} failures")
    return {"rows": rows, "failures": [{"config": job["config"], "model": job["model"], "variant": v, "error": e,
                                        "at": now()} for v, e in failures.items()]}


_FILE_FIELDS = ("file", "size_bytes", "gzip_bytes", "accuracy", "agreement_with_float32", "test_images",
                "convert_seconds", "xnnpack", "plan_precision", "plan_float_layers", "plan_val_drop_points",
                "plan_val_sigma_points", "plan_margin_sigmas", "plan_reason", "finetune")


def _file_log(path: str) -> Log:
    def log(message: str) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{now()}  {message}\n")

    return log


def _first_line(exc: BaseException) -> str:
    """One line for a row's error: an EdgecnnError's own message, else the exception's type and first line."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return (first if isinstance(exc, EdgecnnError) else f"{type(exc).__name__}: {first}".rstrip(": "))[:300]


# ---- small: trained on Fashion-MNIST --------------------------------------------------------------------

def trained_run(model: str, settings: Settings, width: float | None, run_dir: Path, log: Log) -> Path:
    """The benchmark's training run of ``model`` in ``run_dir``: reused when complete with the same budget,
    continued from its last epoch when a killed benchmark left it unfinished, else trained afresh."""
    from edgecnn import runs
    from edgecnn.train import SMALL_INPUT_KNOBS, train

    wanted_width = width if width is not None else SMALL_INPUT_KNOBS.get(model, {}).get("width")
    try:
        config = runs.read_config(run_dir)
    except EdgecnnError:
        config = None
    same = config is not None and (
        config.get("model") == model and config.get("epochs") == settings.epochs
        and config["data"].get("limit") == settings.train_images and config["data"].get("source") == "fashion_mnist"
        and config.get("knobs", {}).get("width") == wanted_width)
    if same and runs.is_complete(run_dir, model):
        log(f"reusing the training run {run_dir}")
        return run_dir
    if same:  # a benchmark killed while training (e.g. at the end of a session): go on from its last epoch
        try:
            log(f"resuming the interrupted training run {run_dir}")
            train(model, resume=True, out_dir=run_dir, verbose=False)
            return run_dir
        except EdgecnnError as exc:  # killed before the first epoch ended: nothing to resume
            log(f"cannot resume ({exc}); training again")
    shutil.rmtree(run_dir, ignore_errors=True)  # another budget, or nothing to resume
    log(f"training {model}: {settings.epochs} epoch(s) on {settings.train_images} Fashion-MNIST images"
        + (f", width {width:g}" if width is not None else ""))
    # The same call as `edgecnn train` (the row's reproduce commands say so): default patience and seed.
    train(model, "fashion_mnist", epochs=settings.epochs, limit=settings.train_images, width=width,
          out_dir=run_dir, verbose=False)
    return run_dir


def _model_facts(run_dir: Path) -> dict[str, Any]:
    """Parameters and MACs of the trained Keras model (the paper's conventions, edgecnn.analysis)."""
    from edgecnn import runs
    from edgecnn._tf import keras
    from edgecnn.analysis import analyze_model
    from edgecnn.optimize import zoo_custom_objects

    with keras.utils.custom_object_scope(zoo_custom_objects()):
        model = keras.models.load_model(run_dir / runs.MODEL_FILE, compile=False)
    analysis = analyze_model(model)
    return {"params": analysis.params, "macs": analysis.macs}


def _small(job: dict[str, Any], settings: Settings, folder: Path,
           log: Log) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, str]]:
    from edgecnn import runs
    from edgecnn.convert import convert

    run_dir = trained_run(job["model"], settings, job["width"], folder / "run", log)
    config, metrics = runs.read_config(run_dir), runs.read_metrics(run_dir)
    base = {"config": "small", "model": job["model"], "family": job["family"],
            "width": config.get("knobs", {}).get("width", 1.0), "input_shape": config["input_shape"],
            **_model_facts(run_dir),
            "train": {"images": metrics["images"]["train"], "epochs": metrics.get("epochs_run"),
                      "seconds": metrics.get("train_seconds"), "cpu_seconds": metrics.get("train_cpu_seconds"),
                      "keras_test_accuracy": metrics.get("test_accuracy"), "run": str(run_dir)}}
    made: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    for names in _groups(job["convert"]):
        recipe = dict(VARIANTS[names[0]].recipe)
        output = folder / "-".join(names) / f"{job['model']}.tflite"
        log(f"converting {', '.join(names)} through edgecnn.convert" + (f" ({recipe})" if recipe else ""))
        try:
            report = convert(run_dir, [VARIANTS[n].precision for n in names], output=output,
                             eval_limit=settings.test_images, epochs=settings.finetune_epochs,
                             calibration_samples=settings.calibration_samples, log=log, **recipe)
        except Exception as exc:  # noqa: BLE001 - one variant failing is a result, not the end of the model
            log(f"failed: {_first_line(exc)}")
            failures.update({n: _first_line(exc) for n in names})
            continue
        for name in names:
            result = report.variant(VARIANTS[name].precision)
            made[name] = {"file": result.path, "size_bytes": result.size_bytes, "gzip_bytes": result.gzip_bytes,
                          "accuracy": result.accuracy, "agreement_with_float32": result.agreement_with_float32,
                          "test_images": report.test_images, "convert_seconds": result.convert_seconds,
                          "xnnpack": result.xnnpack}
            # how the fine-tune was taught (its defaults change as recipes are measured: docs/RECIPES.md)
            taught = {k: report.optimisations[k] for k in ("prune_distill", "qat_distill") if k in report.optimisations}
            finetune = report.optimisations.get("prune_finetune") or {}
            if finetune:  # whether pruning was retried on validation (optimize.PRUNE_RECOVER_POINTS)
                attempts = finetune.get("attempts", [])
                taught.update({"prune_epochs": finetune.get("kept_epochs"),
                               "prune_attempts": [a["epochs"] for a in attempts],
                               "prune_val_drops": [a["val_drop_points"] for a in attempts]})
            if taught:
                made[name]["finetune"] = taught
            if report.plan is not None:  # what the precision plan wrote, and the layers it kept in float
                chosen = next(c for c in report.plan["candidates"] if c["name"] == report.plan["chosen"])
                made[name].update({"plan_precision": result.precision, "plan_float_layers": chosen["float_layers"],
                                   "plan_val_drop_points": chosen["val_drop_points"],
                                   "plan_val_sigma_points": chosen.get("val_sigma_points"),
                                   "plan_margin_sigmas": report.plan.get("margin_sigmas"),
                                   "plan_reason": report.plan["reason"]})
    return base, made, failures


def _groups(variants: list[str]) -> list[list[str]]:
    """Variants with the same convert() recipe, in registry order: one convert call each."""
    groups: dict[tuple, list[str]] = {}
    for name in variants:
        groups.setdefault(VARIANTS[name].recipe_key, []).append(name)
    return list(groups.values())


def _reproduce(job: dict[str, Any], settings: Settings, variant: str, base: dict[str, Any]) -> list[str]:
    """The edgecnn commands that make this row's file (small config); [] for random-weight rows."""
    if job["config"] != "small":
        return []
    model, run = job["model"], f"runs/{job['model']}-bench"
    train = f"edgecnn train {model} --epochs {settings.epochs} --limit {settings.train_images}"
    if job["width"] is not None:
        train += f" --width {job['width']:g}"
    convert = f"edgecnn convert {run} {' '.join(VARIANTS[variant].convert_flags)}"
    if VARIANTS[variant].needs_data and settings.finetune_epochs != 1:
        convert += f" --epochs {settings.finetune_epochs}"
    if settings.calibration_samples != 200:
        convert += f" --calibration-samples {settings.calibration_samples}"
    if settings.test_images is not None:
        convert += f" --eval-limit {settings.test_images}"
    return [f"{train} -o {run}", f"{convert} -o {model}_{variant}.tflite"]


# ---- canonical: the paper's input size, random weights -------------------------------------------------

def keras_to_tflite(model: Any, outputs: Mapping[str, tuple[str, str | os.PathLike]],
                    calibration: np.ndarray | None = None) -> dict[str, dict[str, Any]]:
    """Convert a Keras model the way ``edgecnn convert`` does, without a data set.

    ``outputs``: name → (precision, path), precision one of convert's variants (float32, float16, dynamic,
    int8, uint8); ``calibration``: float inputs (N, H, W, C) for the integer ones. Each file is written by
    :func:`edgecnn.convert.convert_saved_model` (SavedModel → converter → strip_for_runtime → one run on
    zeros) in this process. Returns name → {"file", "size_bytes", "gzip_bytes", "convert_seconds", "xnnpack"}.
    """
    from edgecnn._tf import tf
    from edgecnn.convert import convert_saved_model

    made = {}
    with tempfile.TemporaryDirectory(prefix="edgecnn-bench-") as tmp:
        saved = Path(tmp) / "savedmodel"
        tf.saved_model.save(model, str(saved))
        calibration_file = Path(tmp) / "calibration.npy"
        if calibration is not None:
            np.save(calibration_file, calibration.astype(np.float32))
        for name, (precision, path) in outputs.items():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            info = convert_saved_model({"variant": precision, "saved_model": str(saved),
                                        "calibration": str(calibration_file), "output": str(path),
                                        "try_sparse": False})
            data = Path(path).read_bytes()
            made[name] = {"file": str(path), "size_bytes": len(data),
                          "gzip_bytes": len(gzip.compress(data, compresslevel=9, mtime=0)),
                          "convert_seconds": round(float(info.get("convert_seconds", 0.0)), 2),
                          "xnnpack": info.get("xnnpack", "n/a")}
    return made


def _canonical(job: dict[str, Any], settings: Settings, folder: Path,
               log: Log) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, str]]:
    from edgecnn.analysis import analyze_model
    from edgecnn.zoo import create_model, get_spec
    from edgecnn.zoo.random_weights import he_init

    spec = get_spec(job["model"])
    log(f"building {job['model']} at {spec.canonical_input}, {spec.canonical_classes} classes, random weights")
    model = create_model(job["model"])
    he_init(model)
    analysis = analyze_model(model)
    base = {"config": "canonical", "model": job["model"], "family": job["family"], "width": 1.0,
            "input_shape": list(spec.canonical_input), "params": analysis.params, "macs": analysis.macs,
            "published_params": spec.published_params, "published_macs": spec.published_macs, "train": None}
    # Random inputs in the preprocessing range [0, 1]: enough to calibrate what is only timed.
    calibration = np.random.default_rng(0).random((settings.canonical_calibration, *spec.canonical_input),
                                                  dtype=np.float32)
    made: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    for name in job["convert"]:
        log(f"converting {name}")
        try:
            made.update(keras_to_tflite(model, {name: (VARIANTS[name].precision, folder / f"{name}.tflite")},
                                        calibration))
        except Exception as exc:  # noqa: BLE001
            log(f"failed: {_first_line(exc)}")
            failures[name] = _first_line(exc)
            continue
        made[name].update({"accuracy": None, "agreement_with_float32": None, "test_images": 0})
    return base, made, failures


# ---- timing ---------------------------------------------------------------------------------------------

def time_variants(made: Mapping[str, Mapping[str, Any]], settings: Settings,
                  log: Log = lambda message: None) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Time every ``made[variant]["file"]`` of one model in one interleaved loop (:func:`edgecnn.profile.profile`);
    each file alone if one of them cannot run. TensorFlow-free. Returns (variant → latency fields, failures)."""
    from edgecnn.profile import profile
    from edgecnn.profile_options import ProfileOptions

    options = ProfileOptions(num_threads=settings.threads, warmup_runs=3, num_runs=settings.timing_runs,
                             max_secs=settings.timing_seconds)
    names = [v for v in VARIANTS if v in made]
    if not names:
        return {}, {}
    log(f"timing {', '.join(names)} interleaved ({settings.threads} threads, up to {settings.timing_runs} runs)")
    failures: dict[str, str] = {}
    try:
        batches = [(names, profile([made[n]["file"] for n in names], options))]
    except EdgecnnError as exc:
        log(f"interleaved timing failed ({exc}); timing each file alone")
        batches = []
        for name in names:
            try:
                batches.append(([name], profile([made[name]["file"]], options)))
            except EdgecnnError as alone:
                failures[name] = str(alone)
    timing = {}
    for batch, results in batches:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        for name, r in zip(batch, results):
            lat = r["latency_ms"]
            timing[name] = {"latency_ms": lat["p50"], "p90_ms": lat["p90"], "mean_ms": lat["mean"],
                            "min_ms": lat["min"], "runs": r["runs"], "threads": r["num_threads"],
                            "interleaved_with": len(batch) - 1, "loadavg": load, "measured_at": now(),
                            "min_turn_ms": r["timing"].get("min_turn_ms"), "burst": r["timing"].get("burst"),
                            "fully_int8": r.get("fully_int8"),
                            "ops_delegated": f"{r['delegate']['ops_delegated']}/{r['delegate']['ops_total']}"}
    return timing, failures
