"""``edgecnn benchmark``: measure zoo models through the product and write benchmarks.json, BENCHMARKS.md, plots.

For each (config, model) still to measure — see :func:`edgecnn.benchmark.results.plan_jobs` (resume) —
:func:`edgecnn.benchmark.measure.measure_model` runs in a child process (:func:`edgecnn.safety.run_in_child`);
benchmarks.json is rewritten atomically after each model, so a killed benchmark loses one model at most and
the next run continues where it stopped. The training runs and .tflite files stay in ``work`` (by default
under ~/.cache/edgecnn/benchmark), so that ``retime`` can measure latency again later (e.g. on a quiet
machine) without training anything.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

from edgecnn.benchmark.measure import now, time_variants
from edgecnn.benchmark.results import CONFIGS, Results, Settings, load_results, plan_jobs, save_results
from edgecnn.benchmark.variants import parse_variants
from edgecnn.errors import EdgecnnError, UsageError

Log = Callable[[str], None]
RESULTS_FILE = "benchmarks.json"
REPORT_FILE = "BENCHMARKS.md"
VERSIONED_PACKAGES = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert", "numpy")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def default_work_dir(out: Path) -> Path:
    """Run folders and .tflite files (hundreds of MB for VGG at 224 px) stay out of the output folder."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = hashlib.sha1(str(out.resolve()).encode()).hexdigest()[:8]
    return cache / "edgecnn" / "benchmark" / f"{out.resolve().name}-{tag}"


def choose_models(names: Sequence[str] | None, *, quick: bool = False) -> list[tuple[str, str]]:
    """(model, family) pairs: every registered model (LeNet-5 alone with ``quick``), or those named.

    A name is a model name or alias (``mobilenet`` is MobileNetV2), a family (``resnet``: all its models)
    or a glob (``mobilenet_v3*``). Unknown names are a UsageError with the closest names.
    """
    from edgecnn.zoo import get_spec, list_models

    every = [(name, get_spec(name).family) for name in list_models()]
    if not names:
        return [(m, f) for m, f in every if m == "lenet5"] if quick else every
    chosen: list[tuple[str, str]] = []
    families = {f for _, f in every}
    for item in (n.strip().lower() for n in names if n.strip()):
        if any(c in item for c in "*?["):
            matched = [(m, f) for m, f in every if m in list_models(item)]
            if not matched:
                raise UsageError(f"no model matches {item!r} (see `edgecnn models`)")
            chosen += matched
            continue
        try:
            spec = get_spec(item)  # a name or alias wins over a family of the same name ("mobilenet")
        except UsageError:
            if item not in families:
                raise
            chosen += [(m, f) for m, f in every if f == item]
        else:
            chosen.append((spec.name, spec.family))
    return list(dict.fromkeys(chosen))


def environment() -> dict[str, object]:
    """The machine and versions the numbers were measured with (CPU flags decide XNNPACK's kernels)."""
    from importlib import metadata

    from edgecnn import __version__
    from edgecnn.profile import machine_info

    versions: dict[str, str | None] = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    machine = machine_info()
    return {"cpu": machine["cpu"], "cpu_flags": machine["cpu_flags"], "cores": machine["cpu_count"],
            "arch": machine["arch"], "os": machine["os"], "python": machine["python"], "versions": versions,
            "edgecnn": __version__}


def run(names: Sequence[str] | None = None, *, out: str | os.PathLike, work: str | os.PathLike | None = None,
        configs: Iterable[str] = ("small",), variants: str | Sequence[str] | None = None, quick: bool = False,
        settings: Settings | None = None, force: bool = False, retime: bool = False, report_only: bool = False,
        timeout: float = 3 * 3600.0, command: str | None = None, log: Log = _stderr) -> Results:
    """Benchmark ``names`` (see :func:`choose_models`) and write ``out``/benchmarks.json, BENCHMARKS.md and img/.

    ``configs``: "small" (trained on Fashion-MNIST at each model's small input; accuracy, size, latency) and/or
    "canonical" (paper input, random weights: size and latency). ``variants``: names of
    :data:`edgecnn.benchmark.variants.VARIANTS` (a comma-separated string or a list; None: the defaults).
    ``settings``: the budget (default :class:`Settings`, or :meth:`Settings.quick_run` with ``quick``).
    Rows measured before with the same settings are kept (``force`` re-measures them); ``retime`` only times
    the existing files again; ``report_only`` rewrites the report from benchmarks.json.
    """
    out = Path(out)
    configs = list(dict.fromkeys(configs))
    bad = [c for c in configs if c not in CONFIGS]
    if bad or not configs:
        raise UsageError(f"unknown benchmark config {bad[0] if bad else '(none)'!r} (choose from {', '.join(CONFIGS)})")
    results_path = out / RESULTS_FILE
    results, note = load_results(results_path)
    if note:
        log(f"note: {note}")
    if report_only and not results.rows and not results.failures:
        raise EdgecnnError(f"no rows in {results_path} to report (measure some with `edgecnn benchmark -o {out}`)")
    if not report_only:
        if out.exists() and not out.is_dir():
            raise EdgecnnError(f"-o {out}: a file, not a folder")
        chosen_variants = parse_variants(",".join(variants) if isinstance(variants, (list, tuple)) else variants)
        settings = settings or (Settings.quick_run() if quick else Settings())
        work_dir = Path(work) if work is not None else default_work_dir(out)
        models = choose_models(names, quick=quick)
        session = now()
        results.sessions[session] = {"command": command, "started": session, "settings": settings.to_json(),
                                     "environment": environment(), "work": str(work_dir)}
        if retime:
            _retime(results, models, configs, settings, session, results_path, log)
        else:
            _measure(results, models, configs, chosen_variants, settings, force, work_dir, session, timeout,
                     results_path, log)
        results.sessions[session]["finished"] = now()
        save_results(results_path, results)
    from edgecnn.benchmark.report import write_report

    path = write_report(results, out)
    log(f"wrote {path}, {results_path} and plots in {out / 'img'}")
    return results


def _measure(results: Results, models: list[tuple[str, str]], configs: list[str], variants: list[str],
             settings: Settings, force: bool, work: Path, session: str, timeout: float, results_path: Path,
             log: Log) -> None:
    from edgecnn.child import ChildLimits, run_in_child

    jobs, done = plan_jobs(results, models, configs, variants, settings, force=force)
    for name in done:
        log(f"{name}: measured already with these settings, skipped")
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    for i, job in enumerate(jobs, 1):
        log_file = logs / f"{job.config}-{job.model}.log"
        what = f"converting {', '.join(job.convert)}" + (f"; re-timing {', '.join(job.keep)}" if job.keep else "")
        log(f"[{i}/{len(jobs)}] {job.config}/{job.model}: {what} (log: {log_file})")
        replaced = job.variants
        try:
            reply = run_in_child("edgecnn.benchmark.measure:measure_model",
                                 {"job": dict(vars(job)), "settings": settings.to_json(), "work": str(work),
                                  "log_file": str(log_file)},
                                 label=f"{job.config}/{job.model}",
                                 # training and conversion: the converter's memory cap, the benchmark's timeout
                                 limits=ChildLimits(timeout, ChildLimits.converter().memory,
                                                    ChildLimits.converter().memory_setting))
        except EdgecnnError as exc:  # a crash, a timeout or a failure outside any variant
            error = str(exc).removeprefix(f"{job.config}/{job.model}: ")  # the report names the model already
            reply = {"rows": [], "failures": [{"config": job.config, "model": job.model, "variant": None,
                                               "error": f"{error} (log: {log_file})", "at": now()}]}
            replaced = job.convert  # the rows it was to re-time stay as they were
        for row in reply["rows"]:
            row["session"] = session
        results.merge(job.config, job.model, replaced, reply["rows"], reply["failures"])
        save_results(results_path, results)  # after every model: a kill loses one model at most
        log("    " + _summary(reply))
        elapsed = time.monotonic() - started
        if i < len(jobs):
            log(f"    {elapsed / 60:.0f} min so far; about {elapsed / i * (len(jobs) - i) / 60:.0f} min to go "
                "at this pace")


def _summary(reply: dict) -> str:
    parts = []
    for row in reply["rows"]:
        acc = f"{100 * row['accuracy']:.1f}% " if row.get("accuracy") is not None else ""
        parts.append(f"{row['variant']} {acc}{row['latency_ms']:.3g} ms")
    parts += [f"{f['variant'] or 'model'} FAILED: {f['error']}" for f in reply["failures"]]
    return "; ".join(parts) or "nothing measured"


def _retime(results: Results, models: list[tuple[str, str]], configs: list[str], settings: Settings,
            session: str, results_path: Path, log: Log) -> None:
    """Latency only, from the files of the rows already measured (no training, no conversion, no TensorFlow)."""
    for config in configs:
        for model, _ in models:
            rows = {r["variant"]: r for r in results.rows_of(config, model)}
            present = {v: r for v, r in rows.items() if r.get("file") and Path(r["file"]).is_file()}
            if not rows:
                continue
            if len(present) < len(rows):
                gone = sorted(set(rows) - set(present))
                log(f"{config}/{model}: files of {', '.join(gone)} are gone (re-measure them without --retime)")
            if not present:
                continue
            log(f"{config}/{model}: re-timing {', '.join(present)}")
            timing, failures = time_variants(present, _with_rows_threads(settings, present), log)
            for variant, fields in timing.items():
                present[variant].update(fields, session=session)
            for variant, error in failures.items():
                log(f"    {variant}: {error}")
            save_results(results_path, results)


def _with_rows_threads(settings: Settings, rows: dict) -> Settings:
    """Re-time with the thread count the rows were measured with (it is part of their fingerprint)."""
    import dataclasses

    threads = {r.get("threads") for r in rows.values() if r.get("threads")}
    return dataclasses.replace(settings, threads=threads.pop()) if len(threads) == 1 else settings


__all__ = ["run", "choose_models", "environment", "default_work_dir"]
