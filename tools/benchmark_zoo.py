#!/usr/bin/env python
"""Benchmark every zoo family on the way to the edge, and write docs/BENCHMARKS.md with plots.

    python tools/benchmark_zoo.py                          # all families, full settings
    python tools/benchmark_zoo.py --families lenet,resnet  # some families (by family or model name)
    python tools/benchmark_zoo.py --quick                  # tiny data and few timing runs (smoke test)
    python tools/benchmark_zoo.py --retime                 # re-measure latency only (e.g. on a quiet machine)

Two tables:

* **small** (one row per family, its ``small_input`` config, trained on Fashion-MNIST): params, MACs,
  training time, test accuracy through the TFLite interpreter of float32 / int8 (post-training) /
  QAT-int8 / 50 %-pruned-int8, file sizes (and gzip), and latency of every variant measured in the same
  process, interleaved (one invoke of each in turn, 2 threads), so that the float32 → int8 speed-up is a
  ratio taken under the same conditions.
* **canonical** (the paper's input size, random weights: timing and size only): float32 vs int8.

Every row runs in a child process (conversion or a first invoke can crash the native runtime; a crash
becomes an error row, not a dead benchmark). Results are cached in ``<out>/benchmarks.json``, written
atomically after each row; a second run skips rows already measured with the same settings. The .tflite
files stay in ``--work`` so that ``--retime`` can re-measure latency later without retraining.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

VARIANTS = ("float32", "int8", "qat_int8", "pruned_int8")
VARIANT_LABELS = {"float32": "float32", "int8": "int8 (PTQ)", "qat_int8": "QAT int8", "pruned_int8": "50%-pruned int8"}
CANONICAL_VARIANTS = ("float32", "int8")
# The family's representative when it registers several models (the speed target for MobileNet).
PREFERRED = {"mobilenet": "mobilenet_v2"}
# Small-table width of the families whose full-width rows would take an hour or more on 2 cores (measured:
# ConvNeXt-Tiny trains 11 minutes an epoch of 8000 images at width 1.0, 2.3 at 0.5; the others cost
# 0.18-0.89 G MACs per image at full width); --width overrides it for every family.
SMALL_WIDTH = {"convnext": 0.5, "vgg": 0.5, "googlenet": 0.5, "resnet": 0.5, "densenet": 0.5}
SCHEMA = 1


# ---- settings --------------------------------------------------------------------------------------------

def settings_for(args: argparse.Namespace) -> dict[str, Any]:
    """What a row's numbers depend on; a cached row is reused only when these match."""
    quick = bool(args.quick)
    return {
        # 8000 images x 3 epochs: SimpleCNN reaches 83% (2000 x 2 left BatchNorm families near chance).
        "epochs": args.epochs or (1 if quick else 3),
        "limit": args.limit or (300 if quick else 8000),          # training images (val/test: limit // 5)
        "finetune_epochs": 1,
        "width": args.width,  # None: SMALL_WIDTH, else each model's own small config
        "sparsity": 0.5,
        "test_images": args.test_images or (200 if quick else 1000),
        "calibration_images": 32 if quick else 100,
        "threads": args.threads,
        "timing_runs": args.runs or (20 if quick else 100),
        "timing_seconds": 10.0 if quick else 25.0,             # per row, all variants together
        "quick": quick,
    }


def _same(a: dict[str, Any], b: dict[str, Any], keys: tuple[str, ...]) -> bool:
    return all(a.get(k) == b.get(k) for k in keys)


SMALL_KEYS = ("epochs", "limit", "finetune_epochs", "width", "sparsity", "test_images", "calibration_images", "quick")
CANONICAL_KEYS = ("quick",)


# ---- model choice ------------------------------------------------------------------------------------------

def choose_models(selection: list[str] | None) -> list[tuple[str, str]]:
    """(family, model) pairs: one representative per family, or the families/models named."""
    from edgecnn.zoo import get_spec, list_models

    names = list_models()
    by_family: dict[str, list[str]] = {}
    for name in names:
        by_family.setdefault(get_spec(name).family, []).append(name)
    picks = {fam: PREFERRED.get(fam) if PREFERRED.get(fam) in models else models[0]
             for fam, models in by_family.items()}
    if not selection:
        return list(picks.items())
    chosen = []
    for item in selection:
        key = item.strip().lower()
        if key in picks:
            chosen.append((key, picks[key]))
            continue
        try:
            spec = get_spec(key)  # a model name (or alias): UsageError with 'did you mean' otherwise
        except Exception as exc:
            raise SystemExit(f"Error: {exc} (families: {', '.join(picks)})") from None
        chosen.append((spec.family, spec.name))
    return list(dict.fromkeys(chosen))


# ---- cache ----------------------------------------------------------------------------------------------

def load_cache(path: Path) -> dict[str, Any]:
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            if data.get("schema") == SCHEMA:
                return data
        except (OSError, json.JSONDecodeError):
            pass  # a damaged cache is rebuilt rather than trusted
    return {"schema": SCHEMA, "small": {}, "canonical": {}, "meta": {}}


def save_cache(path: Path, cache: dict[str, Any]) -> None:
    from edgecnn.fileio import write_json

    write_json(path, cache)


# ---- child: one row ----------------------------------------------------------------------------------------

def _converter_int8(converter: Any, calib: np.ndarray) -> None:
    from edgecnn._tf import tf

    def representative():
        for x in calib:
            yield [x[None, ...].astype(np.float32)]

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8


def to_tflite(model: Any, int8: bool, calib: np.ndarray | None = None) -> bytes:
    """float32, or full int8 with int8 input/output (calibrated on ``calib``, float model inputs).

    Converted in the row's child process (a converter crash kills only that row), then shrunk with
    :func:`edgecnn.convert.strip_for_runtime` like every model edgecnn writes.
    """
    from edgecnn._tf import tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        _converter_int8(converter, calib)
    model_bytes = converter.convert()
    try:  # exactly what `edgecnn convert` writes: same tensors and bits, without signatures/metadata
        from edgecnn.convert import strip_for_runtime
    except ImportError:  # pragma: no cover - an older edgecnn
        return model_bytes
    return strip_for_runtime(model_bytes)


def _write(path: Path, data: bytes) -> dict[str, Any]:
    from edgecnn.fileio import write_bytes

    write_bytes(path, data)
    return {"file": str(path), "bytes": len(data), "gzip_bytes": len(gzip.compress(data, compresslevel=9))}


def _interpreter(path: str | Path, threads: int) -> Any:
    from edgecnn.runtime import make_interpreter

    interp = make_interpreter(str(path), num_threads=threads)
    interp.allocate_tensors()
    return interp


def _model_input(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """float32 input (already scaled as preprocess.json says) → the tensor the model takes."""
    from edgecnn.preprocess import quantize

    if detail["dtype"] == np.float32:
        return x.astype(np.float32)
    scale, zero_point = detail["quantization"]
    return quantize(x, scale, zero_point, detail["dtype"])


def tflite_accuracy(path: Path, images: np.ndarray, labels: np.ndarray, spec: Any, threads: int) -> float:
    """Top-1 accuracy of a .tflite on uint8 images through the interpreter (edgecnn.evaluate)."""
    import dataclasses

    from edgecnn.evaluate import evaluate_tflite
    from edgecnn.runtime import make_interpreter

    # preprocess.json of an int8 model records its input quantisation (as `edgecnn convert` writes it).
    detail = make_interpreter(str(path)).get_input_details()[0]
    if detail["dtype"] != np.float32:
        scale, zero_point = detail["quantization"]
        spec = dataclasses.replace(spec, input_dtype=np.dtype(detail["dtype"]).name,
                                   input_quantization={"scale": float(scale), "zero_point": int(zero_point)})
    return float(evaluate_tflite(path, images, labels, spec, num_threads=threads)["accuracy"])


def interleaved_latency(paths: dict[str, Path], threads: int, runs: int, seconds: float,
                        burst: int = 1) -> dict[str, Any]:
    """Median latency (ms) of each model, invoking them in turn so that all see the same machine state.

    Each turn is ``burst`` invokes of one model; ``runs`` turns per model, stopping early after ``seconds``.
    """
    rng = np.random.default_rng(0)
    interps = {}
    for name, path in paths.items():
        interp = _interpreter(path, threads)
        detail = interp.get_input_details()[0]
        x = rng.random(tuple(detail["shape"]), dtype=np.float32)
        interp.set_tensor(detail["index"], _model_input(x, detail))
        for _ in range(3):  # first invoke builds XNNPACK's packed weights; then warm caches
            interp.invoke()
        interps[name] = interp
    times: dict[str, list[float]] = {name: [] for name in interps}
    deadline = time.perf_counter() + seconds
    for i in range(runs):
        for name, interp in interps.items():
            for _ in range(burst):
                start = time.perf_counter_ns()
                interp.invoke()
                times[name].append((time.perf_counter_ns() - start) / 1e6)
        if i >= 4 and time.perf_counter() > deadline:
            break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"median_ms": {n: float(np.median(t)) for n, t in times.items()},
            "p10_ms": {n: float(np.percentile(t, 10)) for n, t in times.items()},
            "p90_ms": {n: float(np.percentile(t, 90)) for n, t in times.items()},
            "runs": len(next(iter(times.values()))), "threads": threads, "loadavg": load,
            "measured_at": _now()}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_small(model_name: str, settings: dict[str, Any], work: Path) -> dict[str, Any]:
    """Train, optimise, convert, evaluate and time one model at its small config."""
    from edgecnn import runs
    from edgecnn._tf import keras
    from edgecnn.analysis import analyze_model
    from edgecnn.data import load_dataset
    from edgecnn.optimize import prune, quantize_aware
    from edgecnn.preprocess import PreprocessSpec, to_float_input
    from edgecnn.train import train

    folder = work / "small" / model_name
    folder.mkdir(parents=True, exist_ok=True)
    run_dir = folder / "run"
    wanted_width = settings.get("width")
    if not runs.is_complete(run_dir) or (
            wanted_width is not None and runs.read_config(run_dir)["knobs"].get("width") != wanted_width):
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)  # half-finished (a killed benchmark) or of another width
        _log(f"{model_name}: training {settings['epochs']} epoch(s) on {settings['limit']} images")
        result = train(model_name, data="fashion_mnist", epochs=settings["epochs"], limit=settings["limit"],
                       width=wanted_width, out_dir=run_dir, verbose=False, patience=settings["epochs"])
        metrics = result.metrics
    else:
        metrics = runs.read_metrics(run_dir)
    spec = PreprocessSpec.load(run_dir / runs.PREPROCESS_FILE)
    config = runs.read_config(run_dir)
    seed = config.get("data", {}).get("seed", 0)
    # The same training subset as the run (fine-tuning data), and a fixed slice of the full test set.
    tuning = load_dataset("fashion_mnist", spec, seed=seed, limit=settings["limit"])
    full = load_dataset("fashion_mnist", spec, seed=seed)
    n_test = settings["test_images"]
    x_test, y_test = full.x_test[:n_test], full.y_test[:n_test]
    calib = to_float_input(tuning.x_train[: settings["calibration_images"]], spec)

    def fresh_model():  # prune/QAT clones share layer objects: start each from the saved weights
        import edgecnn.zoo  # noqa: F401  (registers custom layers)

        return keras.models.load_model(run_dir / runs.MODEL_FILE, compile=False)

    model = fresh_model()
    analysis = analyze_model(model)
    files: dict[str, dict[str, Any]] = {}
    _log(f"{model_name}: converting float32 and int8")
    files["float32"] = _write(folder / "float32.tflite", to_tflite(model, False))
    files["int8"] = _write(folder / "int8.tflite", to_tflite(model, True, calib))
    errors: dict[str, str] = {}
    _log(f"{model_name}: QAT fine-tune")
    try:
        qat = quantize_aware(fresh_model(), data=tuning, spec=spec, epochs=settings["finetune_epochs"])
        files["qat_int8"] = _write(folder / "qat_int8.tflite", to_tflite(qat, True, calib))
    except Exception as exc:  # one family failing one step is a result, not a crash
        errors["qat_int8"] = _first_line(exc)
    _log(f"{model_name}: pruning to {settings['sparsity']:.0%}")
    try:
        pruned = prune(fresh_model(), settings["sparsity"], data=tuning, spec=spec,
                       epochs=settings["finetune_epochs"])
        files["pruned_int8"] = _write(folder / "pruned_int8.tflite", to_tflite(pruned, True, calib))
        files["pruned_float32"] = _write(folder / "pruned_float32.tflite", to_tflite(pruned, False))
    except Exception as exc:
        errors["pruned_int8"] = _first_line(exc)

    _log(f"{model_name}: accuracy through the interpreter on {len(y_test)} test images")
    accuracy = {}
    for variant in VARIANTS:
        if variant in files:
            accuracy[variant] = tflite_accuracy(Path(files[variant]["file"]), x_test, y_test, spec,
                                                settings["threads"])
    _log(f"{model_name}: latency, interleaved")
    latency = interleaved_latency({v: Path(files[v]["file"]) for v in VARIANTS if v in files},
                                  settings["threads"], settings["timing_runs"], settings["timing_seconds"])
    return {
        "model": model_name, "input_shape": list(spec.shape), "width": config.get("knobs", {}).get("width"),
        "params": analysis.params, "macs": analysis.macs,
        "train_seconds": metrics.get("train_seconds"), "train_cpu_seconds": metrics.get("train_cpu_seconds"),
        "epochs_run": metrics.get("epochs_run"),
        "keras_test_accuracy": metrics.get("test_accuracy"), "train_images": int(len(tuning.x_train)),
        "test_images": int(len(y_test)), "accuracy": accuracy, "files": files, "latency": latency,
        "errors": errors,
    }


def run_canonical(model_name: str, settings: dict[str, Any], work: Path) -> dict[str, Any]:
    """float32 vs int8 size and latency at the paper's input size, with random weights."""
    from edgecnn.analysis import analyze_model
    from edgecnn.zoo import create_model, get_spec

    spec = get_spec(model_name)
    folder = work / "canonical" / model_name
    folder.mkdir(parents=True, exist_ok=True)
    _log(f"{model_name}: building at {spec.canonical_input}, {spec.canonical_classes} classes")
    from sparse_speed import he_init  # tools/: random weights whose activations do not fade to zero

    model = create_model(model_name)
    he_init(model)  # Keras' default init leaves a deep random net's activations ~0: odd int8 calibration
    analysis = analyze_model(model)
    rng = np.random.default_rng(0)
    # Calibration on random inputs in the preprocessing range [0, 1]: enough to time int8 kernels.
    calib = rng.random((8, *spec.canonical_input), dtype=np.float32)
    files = {"float32": _write(folder / "float32.tflite", to_tflite(model, False))}
    files["int8"] = _write(folder / "int8.tflite", to_tflite(model, True, calib))
    del model
    _log(f"{model_name}: latency, interleaved")
    latency = interleaved_latency({v: Path(files[v]["file"]) for v in CANONICAL_VARIANTS},
                                  settings["threads"], settings["timing_runs"], settings["timing_seconds"])
    return {"model": model_name, "input_shape": list(spec.canonical_input), "classes": spec.canonical_classes,
            "params": analysis.params, "macs": analysis.macs, "published_params": spec.published_params,
            "published_macs": spec.published_macs, "files": files, "latency": latency, "errors": {}}


def retime(row: dict[str, Any], variants: tuple[str, ...], settings: dict[str, Any]) -> dict[str, Any]:
    paths = {v: Path(row["files"][v]["file"]) for v in variants if v in row.get("files", {})}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"model files gone: {missing[0]} (re-run without --retime)")
    return interleaved_latency(paths, settings["threads"], settings["timing_runs"], settings["timing_seconds"])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:300]


def child_main(args: argparse.Namespace) -> int:
    """Measure one row and write it as JSON to ``args.result``."""
    settings = json.loads(args.settings)
    work = Path(args.work)
    table, model_name = args.child
    try:
        if args.retime:
            row = json.loads(Path(args.result).read_text())
            row["latency"] = retime(row, VARIANTS if table == "small" else CANONICAL_VARIANTS, settings)
        elif table == "small":
            row = run_small(model_name, settings, work)
        else:
            row = run_canonical(model_name, settings, work)
    except Exception as exc:  # reported in the row; the parent keeps going
        if os.environ.get("EDGECNN_DEBUG"):
            raise
        row = {"model": model_name, "error": _first_line(exc)}
    from edgecnn.fileio import write_json

    write_json(args.result, row)
    return 0


# ---- parent: orchestration --------------------------------------------------------------------------------

def run_child(table: str, model_name: str, settings: dict[str, Any], work: Path, timeout: float,
              retime_row: dict[str, Any] | None = None) -> dict[str, Any]:
    result = work / f".{table}-{model_name}.json"
    result.parent.mkdir(parents=True, exist_ok=True)
    if retime_row is not None:
        result.write_text(json.dumps(retime_row))
    elif result.exists():
        result.unlink()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", table, model_name,
           "--settings", json.dumps(settings), "--work", str(work), "--result", str(result)]
    if retime_row is not None:
        cmd.append("--retime")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    log = work / f"{table}-{model_name}.log"
    try:
        with open(log, "w") as log_file:
            proc = subprocess.run(cmd, stdout=log_file, stderr=subprocess.STDOUT, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"model": model_name, "error": f"timed out after {timeout:.0f} s (log: {log})"}
    if result.is_file() and (retime_row is None or proc.returncode == 0):
        row = json.loads(result.read_text())
        if retime_row is None or "error" not in row:
            return row
        return {**retime_row, "retime_error": row["error"]}
    signal = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
    error = {"model": model_name, "error": f"the child process died ({signal}; log: {log})"}
    return {**retime_row, "retime_error": error["error"]} if retime_row is not None else error


def environment() -> dict[str, Any]:
    """The machine and library versions the numbers were measured with."""
    from importlib import metadata

    versions = {}
    for package in ("tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from edgecnn import __version__

    return {"cpu": cpu, "cores": os.cpu_count(), "arch": platform.machine(), "os": platform.platform(terse=True),
            "python": platform.python_version(), "versions": versions, "edgecnn": __version__}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", default="", help="comma-separated families or model names (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny data, few timing runs (a smoke test)")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="where BENCHMARKS.md, benchmarks.json, img/ go")
    parser.add_argument("--work", default=None, help="where run folders and .tflite files go (default: ~/.cache/edgecnn/benchmark)")
    parser.add_argument("--tables", default="small,canonical", help="small, canonical or both")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="training images")
    parser.add_argument("--width", type=float, default=None,
                        help="width multiplier for the small table (default: each model's own)")
    parser.add_argument("--test-images", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None, help="timed invokes per variant")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per row")
    parser.add_argument("--force", action="store_true", help="re-measure rows already in the cache")
    parser.add_argument("--retime", action="store_true", help="re-measure only latency of cached rows")
    parser.add_argument("--report-only", action="store_true", help="rewrite the markdown and plots from the cache")
    parser.add_argument("--child", nargs=2, metavar=("TABLE", "MODEL"), help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args)

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    out = Path(args.out)
    # Run folders and .tflite files (hundreds of MB for VGG at 224 px) stay out of the source tree.
    work = Path(args.work) if args.work else Path.home() / ".cache" / "edgecnn" / "benchmark"
    cache_path = out / "benchmarks.json"
    cache = load_cache(cache_path)
    settings = settings_for(args)
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    bad = [t for t in tables if t not in ("small", "canonical")]
    if bad:
        parser.error(f"unknown table {bad[0]!r} (small, canonical)")
    models = choose_models([f for f in args.families.split(",") if f.strip()] or None)

    if not args.report_only:
        jobs = []
        for table in tables:
            keys = SMALL_KEYS if table == "small" else CANONICAL_KEYS
            for family, model_name in models:
                row = cache[table].get(family)
                row_settings = settings
                if table == "small" and settings["width"] is None:
                    row_settings = {**settings, "width": SMALL_WIDTH.get(family)}
                if args.retime:
                    if row and "error" not in row and row.get("files"):
                        jobs.append((table, family, model_name, row, settings))
                    continue
                done = row and "error" not in row and row.get("model") == model_name and \
                    _same(row.get("settings", {}), row_settings, keys)
                if done and not args.force:
                    console.print(f"[dim]{table}/{family}: cached ({model_name}), skipped[/dim]")
                    continue
                jobs.append((table, family, model_name, None, row_settings))
        cache["meta"] = {**cache.get("meta", {}), "environment": environment(), "updated": _now()}
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("benchmark", total=len(jobs))
            for table, family, model_name, old, row_settings in jobs:
                what = "re-timing" if old else "measuring"
                progress.update(task, description=f"{what} {table}/{family} ({model_name})")
                start = time.time()
                row = run_child(table, model_name, row_settings, work, args.timeout, retime_row=old)
                row["family"] = family
                if old is None:
                    row["settings"] = row_settings
                    row["wall_seconds"] = round(time.time() - start, 1)
                cache[table][family] = row
                save_cache(cache_path, cache)  # atomically, after every row: a kill loses one row at most
                status = row.get("error") or row.get("retime_error")
                if status:
                    console.print(f"[red]{table}/{family}: {status}[/red]")
                else:
                    lat = row.get("latency", {}).get("median_ms", {})
                    console.print(f"{table}/{family} ({model_name}): "
                                  + ", ".join(f"{k} {v:.2f} ms" for k, v in lat.items()))
                progress.advance(task)
    write_report(cache, out, settings)
    console.print(f"wrote {out / 'BENCHMARKS.md'}, {cache_path} and plots in {out / 'img'}")
    return 0


# ---- report ----------------------------------------------------------------------------------------------

def _mb(n: int | None) -> str:
    return "–" if n is None else (f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB")


def _count(n: int | None) -> str:
    if n is None:
        return "–"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.2f} {unit}"
    return str(n)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _ms(v: float | None) -> str:
    return "–" if v is None else (f"{v:.2f}" if v < 100 else f"{v:.0f}")


def _speedup(lat: dict[str, float], a: str = "float32", b: str = "int8") -> str:
    if a in lat and b in lat and lat[b] > 0:
        return f"{lat[a] / lat[b]:.2f}×"
    return "–"


def _ok_rows(cache: dict[str, Any], table: str) -> list[dict[str, Any]]:
    return [row for row in cache.get(table, {}).values() if "error" not in row]


def _train_time(r: dict[str, Any]) -> str:
    """The row's own training budget (rows may differ: heavy families can be run with a smaller one)."""
    wall, cpu = r.get("train_seconds"), r.get("train_cpu_seconds")
    budget = f"{r.get('train_images', '?')} img × {r.get('epochs_run', '?')} ep"
    if wall is None:
        return budget
    return f"{budget}, {wall:.0f} s ({cpu:.0f} CPU s)" if cpu is not None else f"{budget}, {wall:.0f} s"


def _model_label(r: dict[str, Any]) -> str:
    width = r.get("width")
    return r["model"] if width in (None, 1.0) else f"{r['model']} (width {width:g})"


def small_table(rows: list[dict[str, Any]]) -> str:
    head = ("| family | model | input | params | MACs | training | float32 acc | int8 acc | QAT int8 acc "
            "| pruned int8 acc | float32 size (gzip) | int8 size (gzip) | pruned int8 gzip "
            "| float32 ms | int8 ms | QAT ms | pruned ms | int8 speed-up |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        acc, files = r.get("accuracy", {}), r.get("files", {})
        lat = r.get("latency", {}).get("median_ms", {})
        size = lambda v: (f"{_mb(files[v]['bytes'])} ({_mb(files[v]['gzip_bytes'])})" if v in files else "–")
        lines.append(
            f"| {r['family']} | {_model_label(r)} | {'×'.join(map(str, r['input_shape']))} | {_count(r['params'])} "
            f"| {_count(r['macs'])} | {_train_time(r)} | {_pct(acc.get('float32'))} "
            f"| {_pct(acc.get('int8'))} | {_pct(acc.get('qat_int8'))} | {_pct(acc.get('pruned_int8'))} "
            f"| {size('float32')} | {size('int8')} "
            f"| {_mb(files['pruned_int8']['gzip_bytes']) if 'pruned_int8' in files else '–'} "
            f"| {_ms(lat.get('float32'))} | {_ms(lat.get('int8'))} | {_ms(lat.get('qat_int8'))} "
            f"| {_ms(lat.get('pruned_int8'))} | {_speedup(lat)} |")
    return "\n".join(lines)


def canonical_table(rows: list[dict[str, Any]]) -> str:
    head = ("| family | model | input | params | MACs | float32 size | int8 size | float32 ms | int8 ms "
            "| int8 speed-up |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        files, lat = r.get("files", {}), r.get("latency", {}).get("median_ms", {})
        lines.append(
            f"| {r['family']} | {r['model']} | {'×'.join(map(str, r['input_shape']))} | {_count(r['params'])} "
            f"| {_count(r['macs'])} | {_mb(files.get('float32', {}).get('bytes'))} "
            f"| {_mb(files.get('int8', {}).get('bytes'))} | {_ms(lat.get('float32'))} | {_ms(lat.get('int8'))} "
            f"| {_speedup(lat)} |")
    return "\n".join(lines)


def plot_accuracy_latency(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from edgecnn.fileio import atomic_path

    markers = {"float32": "o", "int8": "s", "qat_int8": "^", "pruned_int8": "D"}
    fig, ax = plt.subplots(figsize=(8, 5.5))
    colours = plt.get_cmap("tab20").colors
    for i, r in enumerate(rows):
        lat, acc = r.get("latency", {}).get("median_ms", {}), r.get("accuracy", {})
        points = [(lat[v], acc[v], v) for v in VARIANTS if v in lat and v in acc]
        if not points:
            continue
        colour = colours[i % len(colours)]
        if "float32" in lat and "int8" in lat and "float32" in acc and "int8" in acc:  # the float32 → int8 step
            ax.plot([lat["float32"], lat["int8"]], [100 * acc["float32"], 100 * acc["int8"]], "-",
                    color=colour, alpha=0.5)
        for x, y, v in points:
            ax.scatter(x, 100 * y, marker=markers[v], color=colour, s=45, edgecolor="black", linewidth=0.4)
        ax.annotate(r["model"], (points[0][0], 100 * points[0][1]), fontsize=7, xytext=(4, 3),
                    textcoords="offset points")
    for v, m in markers.items():
        ax.scatter([], [], marker=m, color="grey", label=VARIANT_LABELS[v])
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("latency per image, ms (median, 2 threads, log scale)")
    ax.set_ylabel("Fashion-MNIST test accuracy through the interpreter, %")
    ax.set_title("Accuracy vs latency at the small (edge) config")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_sizes(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgecnn.fileio import atomic_path

    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(rows) + 2), 4.8))
    width = 0.8 / (len(VARIANTS) + 1)
    bars = [(v, "bytes", VARIANT_LABELS[v]) for v in VARIANTS] + [("pruned_int8", "gzip_bytes", "50%-pruned int8, gzipped")]
    for k, (variant, key, label) in enumerate(bars):
        xs, ys = [], []
        for i, r in enumerate(rows):
            f = r.get("files", {}).get(variant)
            if f:
                xs.append(i + (k - len(bars) / 2 + 0.5) * width)
                ys.append(f[key] / 1e6)
        ax.bar(xs, ys, width=width, label=label, hatch="//" if key == "gzip_bytes" else None)
    ax.set_xticks(range(len(rows)), [r["model"] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("file size, MB (log scale)")
    ax.set_title("Model file size per variant (small config)")
    ax.legend(fontsize=7)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_canonical(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgecnn.fileio import atomic_path

    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(rows) + 2), 4.8))
    for k, variant in enumerate(CANONICAL_VARIANTS):
        xs = [i + (k - 0.5) * 0.38 for i in range(len(rows))]
        ys = [r.get("latency", {}).get("median_ms", {}).get(variant, np.nan) for r in rows]
        ax.bar(xs, ys, width=0.38, label=variant)
    ax.set_xticks(range(len(rows)), [f"{r['model']}\n{r['input_shape'][0]}px" for r in rows], rotation=30,
                  ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("latency per image, ms (median, log scale)")
    ax.set_title("float32 vs int8 latency at the paper's input size (random weights)")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def sparse_section(out: Path) -> list[str]:
    """docs/sparse_speed.json (tools/sparse_speed.py) as a section, when it exists."""
    path = out / "sparse_speed.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    flags = data.get("cpu_flags", {})
    expected = data.get("xnnpack_sparse_kernels_expected")
    lines = ["## Pruned vs dense: XNNPACK sparse inference", "",
             "`tools/sparse_speed.py`: a MobileNet-v1-style net built the way XNNPACK's sparse (NCHW) path "
             "requires (explicit padding, 3×3 stride-2 stem on 3 channels, 1×1 convs, spatial mean), its 1×1 "
             "convs pruned, converted with `tf.lite.Optimize.EXPERIMENTAL_SPARSITY` (weights stored sparse "
             "with DENSIFY ops) and timed against the dense encoding of the same weights, interleaved, "
             f"{data.get('threads', 2)} threads. CPU flags: "
             + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items())
             + f". XNNPACK uses its sparse kernels on x86 only without AVX, so here they are expected: "
             f"**{'yes' if expected else 'no'}** (a max output difference of exactly 0 confirms the dense "
             "kernels ran).", "",
             "| input | 1×1 sparsity | dense ms | sparse-encoded ms | speed-up | size dense → sparse "
             "| max output diff |", "|---|---|---|---|---|---|---|"]
    for r in data.get("timing", []):
        lines.append(f"| {r['input']} | {r['pointwise_sparsity']:.0%} | {_ms(r['dense_ms'])} | {_ms(r['sparse_ms'])} "
                     f"| {r['speedup']:.2f}× | {_mb(r['dense_bytes'])} → {_mb(r['sparse_bytes'])} "
                     f"| {r['max_output_difference']:.1e} |")
    emulated = [r for r in data.get("emulated", []) if r.get("emulated") and "error" not in r["emulated"]]
    if emulated:
        cpu = emulated[0]["emulated"].get("cpu")
        lines += ["", f"The same files under `qemu-x86_64-static -cpu {cpu}` (an x86 CPU without AVX; CPUID is "
                  "emulated, so XNNPACK picks its SSE sparse kernels). Emulated time is not real time — the "
                  "point is which kernels run: the outputs now differ, and the sparse file is the fast one.", "",
                  "| input | 1×1 sparsity | dense (emulated ms) | sparse (emulated ms) | ratio | max output diff |",
                  "|---|---|---|---|---|---|"]
        for r in emulated:
            e = r["emulated"]
            lines.append(f"| {r['input']} | {r['pointwise_sparsity']:.0%} | {e['dense_ms']:.0f} | {e['sparse_ms']:.0f} "
                         f"| {e['speedup']:.1f}× | {e['max_output_difference']:.1e} |")
    trained = data.get("trained", [])
    if trained:
        first = trained[0]
        lines += ["", f"Trained on {first.get('train_images', '?')} Fashion-MNIST images (grey → 3 channels, "
                  f"{first['input']}×{first['input']}), then pruned with fine-tuning; accuracy through the "
                  f"interpreter on {first.get('test_images', '?')} test images:", "",
                  "| input | 1×1 sparsity | accuracy unpruned → pruned (sparse file) | unpruned ms "
                  "| sparse-encoded ms | speed-up |", "|---|---|---|---|---|---|"]
        for r in trained:
            lines.append(f"| {r['input']} | {r['pointwise_sparsity']:.0%} | {_pct(r['unpruned_accuracy'])} → "
                         f"{_pct(r['sparse_file_accuracy'])} | {_ms(r['unpruned_ms'])} | {_ms(r['sparse_ms'])} "
                         f"| {r['speedup_vs_unpruned']:.2f}× |")
    return lines + [""]


def int8_speed_section(out: Path) -> list[str]:
    """docs/int8_speed.json (tools/int8_speed.py) as a section, when it exists."""
    path = out / "int8_speed.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    flags = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in data.get("flags", {}).items())
    speedup = data.get("speedup", {})
    lines = ["## Does edgecnn's int8 file keep the int8 speed-up?", "",
             f"`tools/int8_speed.py`: MobileNetV2 at 224×224×3, random weights, {data.get('threads')} threads, five "
             "files timed round-robin in one process (measured "
             f"{data.get('measured_at')}). CPU: {data.get('cpu')}; {flags}.", "",
             "| file | median ms | p10 ms | size |", "|---|---|---|---|"]
    for name, row in data.get("timing", {}).items():
        lines.append(f"| {name} | {_ms(row['median_ms'])} | {_ms(row['p10_ms'])} | {_mb(row['bytes'])} |")
    lines += ["", f"int8 speed-up over float32: edgecnn's files {speedup.get('edgecnn', 0):.2f}×, Keras "
              f"Applications' MobileNetV2 through a plain converter call {speedup.get('keras_applications', 0):.2f}×. "
              "What edgecnn writes runs as fast as the plain converter's file (stripping the signature and "
              "duplicate buffers changes size, not speed). On this CPU int8 is not faster than float32 at all: "
              "without VNNI/AVX-512, XNNPACK's int8 GEMMs widen to 16-bit multiplies and do about the work of "
              "its float32 FMA kernels. The ≥ 1.4× of a bare loop needs a CPU with int8 dot-product "
              "instructions (x86 VNNI, ARMv8.2 dot product on a Raspberry Pi 5 or a phone); re-run the tool "
              "there.", ""]
    return lines


def onnx_section(out: Path) -> list[str]:
    """docs/onnx_compare.json (tools/onnx_compare.py) as a section, when it exists."""
    path = out / "onnx_compare.json"
    head = ["## LiteRT vs ONNX Runtime", ""]
    if not path.is_file():
        return head + ["Not measured: `pip install onnxruntime tf2onnx`, then "
                       "`python tools/onnx_compare.py --json docs/onnx_compare.json`.", ""]
    rows = json.loads(path.read_text()).get("rows", [])
    lines = head + ["`tools/onnx_compare.py` (optional extra, not an edgecnn dependency): the same network, random "
                    "weights, LiteRT float32/int8 and ONNX Runtime's CPU provider float32, interleaved in one "
                    "process with the same thread count.", "",
                    "| model | input | threads | LiteRT float32 ms | LiteRT int8 ms | ONNX Runtime float32 ms "
                    "| max abs diff of float32 outputs | versions |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ms = r["median_ms"]
        versions = ", ".join(f"{k} {v}" for k, v in r.get("versions", {}).items())
        lines.append(f"| {r['model']} | {'×'.join(map(str, r['input_shape']))} | {r['threads']} "
                     f"| {_ms(ms['litert_float32'])} | {_ms(ms['litert_int8'])} | {_ms(ms['onnxruntime_float32'])} "
                     f"| {r['max_abs_diff_float32']:.1e} (outputs span {r.get('float32_output_range', float('nan')):.2g}) "
                     f"| {versions} |")
    return lines + [""]


def write_report(cache: dict[str, Any], out: Path, settings: dict[str, Any]) -> Path:
    from edgecnn.fileio import write_text

    small = sorted(_ok_rows(cache, "small"), key=lambda r: r.get("macs") or 0)
    canonical = sorted(_ok_rows(cache, "canonical"), key=lambda r: r.get("macs") or 0)
    img = out / "img"
    if small:
        plot_accuracy_latency(small, img / "accuracy_vs_latency.png")
        plot_sizes(small, img / "size_per_variant.png")
    if canonical:
        plot_canonical(canonical, img / "canonical_latency.png")
    env = cache.get("meta", {}).get("environment", {})
    versions = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items() if v)
    used = next((r.get("settings") for r in small if r.get("settings")), settings)
    failed = [(t, f, r["error"]) for t in ("small", "canonical") for f, r in cache.get(t, {}).items() if "error" in r]
    loads = [r["latency"].get("loadavg") for t in ("small", "canonical") for r in _ok_rows(cache, t)
             if r.get("latency", {}).get("loadavg") is not None]
    parts = [
        "# Benchmarks: the zoo on its way to the edge",
        "",
        "Generated by `tools/benchmark_zoo.py` (do not edit by hand). Every number below was measured on the "
        "machine described at the end, in one run of the tool; latencies of one row come from the same "
        "process, with the variants invoked in turn (interleaved), so the speed-up columns are ratios taken "
        "under the same conditions.",
        "",
        "## Small (edge) config, trained on Fashion-MNIST",
        "",
        f"Each family's representative at its `small_input` (and its default width, unless the model column "
        f"names one), trained from scratch on a budget (the training "
        f"column: images × epochs, by default {used.get('limit')} × {used.get('epochs')}; accuracies are "
        f"below what full training reaches), then: post-training full int8 (int8 input/output, {used.get('calibration_images')} "
        f"calibration images), quantisation-aware training ({used.get('finetune_epochs')} epoch) → int8, and "
        f"{used.get('sparsity', 0.5):.0%} magnitude pruning ({used.get('finetune_epochs')} epoch) → int8. "
        f"Accuracy is top-1 through the TFLite interpreter on the first {used.get('test_images')} Fashion-MNIST "
        f"test images. Latency: median of up to {used.get('timing_runs')} invokes per variant, "
        f"{used.get('threads')} threads, XNNPACK (ai-edge-litert's default CPU delegate). "
        "Pruning does not shrink a plain .tflite; it shows after compression (the gzip column).",
        "",
        small_table(small) if small else "_No rows measured yet._",
        "",
        "![accuracy vs latency](img/accuracy_vs_latency.png)" if small else "",
        "",
        "![size per variant](img/size_per_variant.png)" if small else "",
        "",
        "## Canonical (paper) input size, random weights",
        "",
        "Timing and size only (random weights, int8 calibrated on random inputs): the efficiency story of "
        "the families at the size their papers report.",
        "",
        canonical_table(canonical) if canonical else "_No rows measured yet._",
        "",
        "![canonical latency](img/canonical_latency.png)" if canonical else "",
        "",
    ]
    parts += int8_speed_section(out) + sparse_section(out) + onnx_section(out)
    if failed:
        parts += ["## Rows that failed", ""]
        parts += [f"- {t}/{f}: {e}" for t, f, e in failed]
        parts += [""]
    parts += [
        "## Machine and versions",
        "",
        f"- CPU: {env.get('cpu', '?')} ({env.get('cores', '?')} cores visible), {env.get('arch', '?')}, "
        f"{env.get('os', '?')}",
        f"- Python {env.get('python', '?')}; {versions}; edgecnn {env.get('edgecnn', '?')}",
        f"- Last updated {cache.get('meta', {}).get('updated', '?')}"
        + (f"; 1-minute load average while timing: {min(loads):.1f}–{max(loads):.1f} "
           "(a shared machine: absolute times are noisy, ratios within a row much less so)" if loads else ""),
        "",
        "## How to reproduce",
        "",
        "```",
        "pip install -e '.[train]'",
        "python tools/benchmark_zoo.py                 # all families; resumes, skipping measured rows",
        "python tools/benchmark_zoo.py --tables small --families resnet --width 1.0   # a heavy family at full width",
        "python tools/benchmark_zoo.py --families resnet,mobilenet --force   # re-measure some rows",
        "python tools/benchmark_zoo.py --retime        # latency only, on a quiet machine",
        "python tools/benchmark_zoo.py --quick --out /tmp/bench   # a 2-minute smoke run",
        "```",
        "",
        "Raw numbers (every row, file paths, p90 latencies, load averages) are in "
        "[benchmarks.json](benchmarks.json).",
        "",
    ]
    return write_text(out / "BENCHMARKS.md", "\n".join(parts))


if __name__ == "__main__":
    sys.exit(main())
