"""benchmarks.json: the settings rows depend on, the rows themselves, and what is left to measure (TF-free).

The file (schema 2)::

    {"schema": 2,
     "rows": [{"config": "small", "model": "lenet5", "variant": "int8", "accuracy": 0.76, "latency_ms": 0.09,
               "size_bytes": 70700, ...}, ...],
     "failures": [{"config": "small", "model": "vgg16", "variant": "qat_int8", "error": "...", ...}],
     "sessions": {"2026-12-01T10:00:00Z": {"command": "edgecnn benchmark ...", "environment": {...}}}}

One row per (config, model, variant). A row is reused (resume) when its ``fingerprint`` — the settings its
numbers depend on — equals the current one; :func:`plan_jobs` lists the (config, model) pairs that still
need work and which of their existing rows (and files) can be kept.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from edgecnn.benchmark.variants import VARIANTS
from edgecnn.errors import EdgecnnError

SCHEMA = 2
CONFIGS = ("small", "canonical")
# Small-table width of the families whose full-width rows would take an hour or more on 2 cores (measured by
# the former tools/benchmark_zoo.py: ConvNeXt-Tiny trains 11 minutes an epoch of 8000 images at width 1.0,
# 2.3 at 0.5; the others cost 0.18-0.89 G MACs per image at full width); --width overrides it for every model.
SMALL_WIDTH = {"convnext": 0.5, "vgg": 0.5, "googlenet": 0.5, "resnet": 0.5, "densenet": 0.5}
# What makes a number of each config what it is (timing_runs/seconds only change its precision).
FINGERPRINT_KEYS = {
    "small": ("epochs", "train_images", "test_images", "finetune_epochs", "calibration_samples", "threads", "quick"),
    "canonical": ("canonical_calibration", "threads", "quick"),
}


@dataclass(frozen=True)
class Settings:
    """The budget of one benchmark run. The defaults are the published small table's (8000 images × 3 epochs)."""

    epochs: int = 3                  # training epochs (8000 × 3: SimpleCNN reaches ~84%; 2000 × 2 left BN nets near chance)
    train_images: int = 8000         # training images (the run's validation and test splits get 1/5 of that each)
    test_images: int | None = None   # accuracy on at most this many of the run's test images (None: all)
    finetune_epochs: int = 1         # QAT / pruning fine-tuning
    calibration_samples: int = 200   # int8 calibration images: what `edgecnn convert` uses
    canonical_calibration: int = 32  # random inputs calibrating random-weight canonical models (timing only)
    width: float | None = None       # None: SMALL_WIDTH for heavy families, else each model's own small default
    threads: int = 2
    timing_runs: int = 100           # timed invokes per file at most
    timing_seconds: float = 10.0     # timing budget per file (all files of a model are timed together)
    quick: bool = False

    @classmethod
    def quick_run(cls, **overrides: Any) -> "Settings":
        """A couple of minutes for one small model: little data, one epoch, few timed runs."""
        # 1000 images × 2 epochs: LeNet-5 is well above chance (a 300 × 1 run was not) within seconds of training.
        return cls(**{"epochs": 2, "train_images": 1000, "timing_runs": 20, "timing_seconds": 2.0, "quick": True,
                      **overrides})

    def with_overrides(self, **values: Any) -> "Settings":
        return dataclasses.replace(self, **{k: v for k, v in values.items() if v is not None})

    def width_for(self, family: str) -> float | None:
        return self.width if self.width is not None else SMALL_WIDTH.get(family)

    def fingerprint(self, config: str, width: float | None = None) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        fp = {"config": config, **{k: values[k] for k in FINGERPRINT_KEYS[config]}}
        if config == "small":
            fp["width"] = width
        return fp

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Results:
    """The contents of benchmarks.json."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def rows_of(self, config: str, model: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["config"] == config and (model is None or r["model"] == model)]

    def row(self, config: str, model: str, variant: str) -> dict[str, Any] | None:
        return next((r for r in self.rows if (r["config"], r["model"], r["variant"]) == (config, model, variant)),
                    None)

    def merge(self, config: str, model: str, variants: Iterable[str], rows: list[dict[str, Any]],
              failures: list[dict[str, Any]]) -> None:
        """Replace the rows of ``variants`` of one model (and its failures) by fresh ones."""
        variants = set(variants)
        self.rows = [r for r in self.rows
                     if not (r["config"] == config and r["model"] == model and r["variant"] in variants)] + rows
        self.failures = [f for f in self.failures if not (f["config"] == config and f["model"] == model)] + failures

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "rows": self.rows, "failures": self.failures, "sessions": self.sessions}


def load_results(path: str | os.PathLike, *, missing_ok: bool = True) -> tuple[Results, str | None]:
    """(results, a note for the user or None). A file of the former tool is not reused; a damaged one is an error."""
    from edgecnn.fileio import read_json

    path = Path(path)
    if not path.exists() and missing_ok:
        return Results(), None
    data = read_json(path)
    if not isinstance(data, dict):
        raise EdgecnnError(f"{path}: not a benchmarks.json (expected a JSON object with a 'rows' list)")
    if data.get("schema") == 1:
        return Results(), (f"{path} was written by the former tools/benchmark_zoo.py (its own conversion and "
                           "timing code); none of its rows are reused")
    if data.get("schema") != SCHEMA or not isinstance(data.get("rows"), list):
        raise EdgecnnError(f"{path}: not a benchmarks.json of schema {SCHEMA} (no 'rows' list); "
                           "write it with `edgecnn benchmark -o DIR`")
    return Results(rows=list(data["rows"]), failures=list(data.get("failures", [])),
                   sessions=dict(data.get("sessions", {}))), None


def save_results(path: str | os.PathLike, results: Results) -> None:
    from edgecnn.fileio import write_json

    write_json(path, results.to_json())


# ---- what to measure ----------------------------------------------------------------------------------

@dataclass
class Job:
    """One (config, model) to measure: ``convert`` are made now, ``keep`` are reused (file and accuracy) and
    re-timed with them, so the latencies of one model always come from one interleaved loop."""

    config: str
    model: str
    family: str
    width: float | None
    convert: list[str]
    keep: dict[str, dict[str, Any]]
    fingerprint: dict[str, Any]

    @property
    def variants(self) -> list[str]:
        return [v for v in VARIANTS if v in self.convert or v in self.keep]


def variants_for(config: str, variants: Iterable[str]) -> list[str]:
    """Random-weight (canonical) models have no data to fine-tune or plan on: only plain conversions."""
    return [v for v in variants if config == "small" or not VARIANTS[v].needs_data]


def plan_jobs(results: Results, models: list[tuple[str, str]], configs: Iterable[str], variants: list[str],
              settings: Settings, *, force: bool = False) -> tuple[list[Job], list[str]]:
    """(jobs, names of the (config, model) pairs already measured). ``models`` are (name, family) pairs."""
    jobs, done = [], []
    for config in configs:
        wanted = variants_for(config, variants)
        if not wanted:
            continue
        for model, family in models:
            width = settings.width_for(family) if config == "small" else None
            fp = settings.fingerprint(config, width)
            keep, convert = {}, []
            for variant in wanted:
                row = None if force else results.row(config, model, variant)
                if row is not None and row.get("fingerprint") == fp and row.get("latency_ms") is not None:
                    keep[variant] = row
                else:
                    convert.append(variant)
            if not convert:
                done.append(f"{config}/{model}")
                continue
            # A reused row needs its file, to be timed again next to the new ones.
            keep = {v: r for v, r in keep.items() if r.get("file") and Path(r["file"]).is_file()}
            convert = [v for v in wanted if v not in keep]
            jobs.append(Job(config, model, family, width, convert, keep, fp))
    return jobs, done
