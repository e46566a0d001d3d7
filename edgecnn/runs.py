"""Run folders: where one training run keeps its model and everything needed to use it (TensorFlow-free).

A run folder ``runs/<model>`` (then ``runs/<model>-2``, ``-3`` … never overwriting another run) holds:

- ``model.keras``: the trained model (written last, so its presence marks the end of a run);
- ``labels.txt``: class names, one per line, in output order;
- ``preprocess.json``: the exact input preprocessing (:class:`edgecnn.preprocess.PreprocessSpec`);
- ``config.json``: how the run was made (model, input shape, knobs, data, epochs, seeds, versions);
- ``metrics.json``: train/val/test accuracy and loss, epochs run, best epoch, seconds, per-epoch history;
- ``training_curve.png``: accuracy and loss per epoch;
- ``checkpoint/``: resume state (weights + optimiser after every epoch).

A run is *complete* when ``model.keras``, ``metrics.json`` and ``config.json`` exist; an interrupted run has
only ``config.json`` and ``checkpoint/``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from edgecnn.errors import EdgecnnError
from edgecnn.fileio import read_json, write_text

MODEL_FILE = "model.keras"
LABELS_FILE = "labels.txt"
PREPROCESS_FILE = "preprocess.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
CURVE_FILE = "training_curve.png"
CHECKPOINT_DIR = "checkpoint"
COMPLETE_FILES = (MODEL_FILE, METRICS_FILE, CONFIG_FILE)


def new_run_dir(model: str, root: str | os.PathLike = "runs") -> Path:
    """Create and return a fresh run folder: ``root/model``, else ``root/model-2``, ``-3`` …

    ``mkdir`` without ``exist_ok`` makes the choice race-free when two trainings start at once.
    """
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgecnnError(f"cannot create {root}: {exc.strerror or exc}") from exc
    n = 1
    while True:
        candidate = root / (model if n == 1 else f"{model}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
        except OSError as exc:
            raise EdgecnnError(f"cannot create {candidate}: {exc.strerror or exc}") from exc


def run_dirs(model: str, root: str | os.PathLike = "runs") -> list[Path]:
    """Existing folders named ``model`` or ``model-N`` under ``root``, in numbering order."""
    root = Path(root)
    if not root.is_dir():
        return []
    pattern = re.compile(rf"^{re.escape(model)}(?:-(\d+))?$")
    found = []
    for path in root.iterdir():
        match = pattern.match(path.name)
        if match and path.is_dir():
            found.append((int(match.group(1) or 1), path))
    return [path for _, path in sorted(found)]


def is_complete(run_dir: str | os.PathLike, model: str | None = None) -> bool:
    """True when the run finished (model.keras, metrics.json, config.json) and, if given, was of ``model``."""
    run_dir = Path(run_dir)
    if not all((run_dir / name).is_file() for name in COMPLETE_FILES):
        return False
    if model is None:
        return True
    try:
        return read_config(run_dir).get("model") == model
    except EdgecnnError:
        return False


def newest_run(model: str, root: str | os.PathLike = "runs") -> Path | None:
    """The most recently finished complete run of ``model`` under ``root`` (by metrics.json time), or None."""
    complete = [p for p in run_dirs(model, root) if is_complete(p, model)]
    if not complete:
        return None
    return max(enumerate(complete), key=lambda ip: ((ip[1] / METRICS_FILE).stat().st_mtime, ip[0]))[1]


def newest_unfinished_run(model: str, root: str | os.PathLike = "runs") -> Path | None:
    """The newest run of ``model`` that has a checkpoint but did not finish (what ``--resume`` picks)."""
    candidates = []
    for index, path in enumerate(run_dirs(model, root)):
        state = path / CHECKPOINT_DIR / "state.json"
        if state.is_file() and not is_complete(path):
            try:
                if read_config(path).get("model") != model:
                    continue
            except EdgecnnError:
                continue
            candidates.append((state.stat().st_mtime, index, path))
    return max(candidates)[2] if candidates else None


def read_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """config.json of a run, with a one-line error when it is missing or not a run folder."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise EdgecnnError(f"{run_dir}: not a run folder (no {CONFIG_FILE})")
    config = read_json(path)
    if not isinstance(config, dict):
        raise EdgecnnError(f"{path}: expected a JSON object")
    return config


def read_metrics(run_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise EdgecnnError(f"{run_dir}: no {METRICS_FILE} (the run did not finish)")
    return read_json(path)


def write_labels(run_dir: str | os.PathLike, labels: list[str]) -> Path:
    """labels.txt: one class name per line, in the order of the model's outputs."""
    bad = [label for label in labels if not label.strip() or "\n" in label or "\r" in label]
    if bad:
        raise EdgecnnError(f"labels must be non-empty single lines, got {bad[0]!r}")
    return write_text(Path(run_dir) / LABELS_FILE, "".join(f"{label}\n" for label in labels))


def read_labels(run_dir: str | os.PathLike) -> list[str]:
    from edgecnn.preprocess import read_labels as _read

    return _read(Path(run_dir) / LABELS_FILE)
