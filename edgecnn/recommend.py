"""``edgecnn recommend``: which model × width × precision meets a latency, size and accuracy bound (TF-free).

From measured rows (benchmarks.json written by ``edgecnn benchmark``) — and, with a host, latencies measured
afresh on the device through :func:`edgecnn.targets.remote.profile_remote` — :func:`recommend` returns:

- the **choice**: among the rows inside every bound, the most accurate (then the fastest, then the smallest);
- the **Pareto front**: rows no other row beats on all three of accuracy (higher), latency and size (lower)
  while being strictly better on one;
- when nothing fits, the **nearest** row: the one whose relative overshoot of the bounds is smallest.

For the Edge TPU only fully-int8 files qualify: its compiler maps ops to the TPU up to the first float
tensor and leaves the rest on the host CPU, so a float or dynamic-range model would not run there at all.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from edgecnn.errors import EdgecnnError, UsageError

TARGETS = ("cpu", "edgetpu")
EDGETPU_NOTE = ("Edge TPU: only fully-int8 rows qualify (every tensor int8; the Edge TPU compiler maps ops up to "
                "the first float one and leaves the rest on the host CPU); latencies are CPU latencies of those "
                "files, not Edge TPU ones — compile the chosen file with `edgecnn convert … --edgetpu` and time it "
                "on the device with `edgecnn profile … --delegate edgetpu`.")


@dataclass(frozen=True)
class Bounds:
    """What the user can afford. ``min_accuracy`` is a fraction (0.85); None means no bound."""

    max_latency_ms: float | None = None
    max_size_mb: float | None = None
    min_accuracy: float | None = None
    target: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("max_latency_ms", "max_size_mb"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise UsageError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if self.min_accuracy is not None and not 0.0 <= self.min_accuracy <= 1.0:
            raise UsageError(f"--min-accuracy must be a fraction (0.85) or a percentage (85), got {self.min_accuracy}")
        if self.target not in TARGETS:
            raise UsageError(f"--target must be one of {', '.join(TARGETS)}, got {self.target!r}")

    @staticmethod
    def accuracy(value: float | None) -> float | None:
        """``85`` and ``0.85`` both mean 85 %."""
        return None if value is None else (value / 100.0 if value > 1.0 else value)

    def describe(self) -> str:
        parts = []
        if self.max_latency_ms is not None:
            parts.append(f"latency ≤ {self.max_latency_ms:g} ms")
        if self.max_size_mb is not None:
            parts.append(f"size ≤ {self.max_size_mb:g} MB")
        if self.min_accuracy is not None:
            parts.append(f"accuracy ≥ {100 * self.min_accuracy:.1f}%")
        return ", ".join(parts) or "no bounds"

    def misses(self, row: dict[str, Any]) -> list[str]:
        """Which bounds ``row`` misses, and by how much (empty: it meets them all)."""
        out = []
        if self.max_latency_ms is not None and row["latency_ms"] > self.max_latency_ms:
            out.append(f"{row['latency_ms']:.3g} ms is {row['latency_ms'] / self.max_latency_ms:.1f}× the "
                       f"{self.max_latency_ms:g} ms bound")
        if self.max_size_mb is not None and row["size_bytes"] / 1e6 > self.max_size_mb:
            mb = row["size_bytes"] / 1e6
            out.append(f"{mb:.3g} MB is {mb / self.max_size_mb:.1f}× the {self.max_size_mb:g} MB bound")
        if self.min_accuracy is not None and row["accuracy"] < self.min_accuracy:
            out.append(f"{100 * row['accuracy']:.1f}% is {100 * (self.min_accuracy - row['accuracy']):.1f} points "
                       f"below {100 * self.min_accuracy:.1f}%")
        return out

    def overshoot(self, row: dict[str, Any]) -> float:
        """How far outside the bounds ``row`` is: the sum of its relative excesses (0 inside)."""
        total = 0.0
        if self.max_latency_ms is not None:
            total += max(0.0, row["latency_ms"] / self.max_latency_ms - 1.0)
        if self.max_size_mb is not None:
            total += max(0.0, row["size_bytes"] / 1e6 / self.max_size_mb - 1.0)
        if self.min_accuracy is not None and self.min_accuracy > 0:
            total += max(0.0, (self.min_accuracy - row["accuracy"]) / self.min_accuracy)
        return total


@dataclass
class Recommendation:
    bounds: Bounds
    candidates: list[dict[str, Any]]
    front: list[dict[str, Any]]
    choice: dict[str, Any] | None
    nearest: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"bounds": vars(self.bounds), "choice": self.choice, "nearest": self.nearest,
                "front": self.front, "candidates": len(self.candidates), "notes": self.notes}


def load_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The measured rows of a benchmarks.json (``edgecnn benchmark -o DIR``)."""
    from edgecnn.benchmark.results import load_results

    results, note = load_results(path, missing_ok=False)
    if note:
        raise EdgecnnError(f"{note}: re-measure with `edgecnn benchmark -o DIR`")
    return results.rows


def eligible(rows: Iterable[dict[str, Any]], target: str = "cpu") -> tuple[list[dict[str, Any]], list[str]]:
    """Rows that can be recommended: measured accuracy, latency and size (and fully int8 for the Edge TPU)."""
    rows = list(rows)
    usable = [r for r in rows if r.get("accuracy") is not None and r.get("latency_ms") and r.get("size_bytes")]
    notes = []
    if len(usable) < len(rows):
        notes.append(f"{len(rows) - len(usable)} rows without a measured accuracy (random-weight canonical rows) "
                     "are left out")
    if target == "edgetpu":
        fully = [r for r in usable if r.get("fully_int8") is True]
        notes.append(EDGETPU_NOTE + f" {len(usable) - len(fully)} rows left out.")
        usable = fully
    return usable, notes


def dominates(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """``a`` is no worse than ``b`` in accuracy, latency and size, and strictly better in one."""
    no_worse = (a["accuracy"] >= b["accuracy"] and a["latency_ms"] <= b["latency_ms"]
                and a["size_bytes"] <= b["size_bytes"])
    better = (a["accuracy"] > b["accuracy"] or a["latency_ms"] < b["latency_ms"] or a["size_bytes"] < b["size_bytes"])
    return no_worse and better


def pareto_front(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows no other row dominates, fastest first."""
    front = [r for r in rows if not any(dominates(other, r) for other in rows if other is not r)]
    return sorted(front, key=lambda r: (r["latency_ms"], -r["accuracy"], r["size_bytes"]))


def recommend(rows: Iterable[dict[str, Any]], bounds: Bounds) -> Recommendation:
    """The choice, the Pareto front and (when nothing fits) the nearest row; see the module docstring."""
    candidates, notes = eligible(rows, bounds.target)
    if not candidates:
        raise EdgecnnError("no measured row with accuracy, latency and size to choose from"
                           + (" among the fully-int8 ones (--target edgetpu)" if bounds.target == "edgetpu" else "")
                           + "; run `edgecnn benchmark` first")
    inside = [r for r in candidates if not bounds.misses(r)]
    choice = min(inside, key=lambda r: (-r["accuracy"], r["latency_ms"], r["size_bytes"])) if inside else None
    nearest = None if inside else min(candidates, key=lambda r: (bounds.overshoot(r), -r["accuracy"]))
    return Recommendation(bounds, candidates, pareto_front(candidates), choice, nearest, notes)


def remeasure(rows: list[dict[str, Any]], bounds: Bounds, host: str, *, identity: str | None = None,
              remote_python: str | None = None, options: Any = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows whose latency was measured again on ``host`` (all candidate files in one interleaved run there).

    Only rows that can still meet the accuracy and size bounds are sent (the latency bound is what is being
    measured); rows whose file is not on this machine are left out, with a note.
    """
    from edgecnn.profile_options import ProfileOptions
    from edgecnn.targets.remote import profile_remote

    candidates, _ = eligible(rows, bounds.target)
    loose = Bounds(None, bounds.max_size_mb, bounds.min_accuracy, bounds.target)
    wanted = [r for r in candidates if not loose.misses(r)]
    present = [r for r in wanted if r.get("file") and Path(r["file"]).is_file()]
    notes = []
    if len(present) < len(wanted):
        notes.append(f"{len(wanted) - len(present)} candidate files are not on this machine (made elsewhere, or "
                     "their benchmark work folder was removed) and were not measured on the host")
    if not present:
        raise EdgecnnError("no candidate file to measure on the host" + (f" ({notes[0]})" if notes else ""))
    options = options or ProfileOptions(num_runs=50, max_secs=10.0)
    results = profile_remote([r["file"] for r in present], options, host, identity, remote_python=remote_python)
    fresh = []
    for row, result in zip(present, results):
        lat = result["latency_ms"]
        fresh.append({**row, "latency_ms": lat["p50"], "p90_ms": lat["p90"], "runs": result.get("runs"),
                      "threads": result.get("num_threads"), "measured_on": result.get("machine"),
                      "latency_source": f"measured on {host}"})
    machine = (results[0].get("machine") or {}) if results else {}
    notes.append(f"latencies measured on {host} ({machine.get('board') or machine.get('cpu') or '?'}, "
                 f"{machine.get('arch') or '?'}), all {len(present)} candidate files interleaved in one process")
    return fresh, notes


# ---- output ----------------------------------------------------------------------------------------------

def describe(row: dict[str, Any]) -> str:
    width = row.get("width")
    what = row["model"] + (f" (width {width:g})" if width not in (None, 1.0) else "") + f" {row['variant']}"
    return (f"{what}: accuracy {100 * row['accuracy']:.1f}%, {row['latency_ms']:.3g} ms, "
            f"{row['size_bytes'] / 1e6:.3g} MB")


def front_table(rec: Recommendation) -> Any:
    from rich.table import Table

    from edgecnn.report import fmt_bytes

    table = Table(title=f"Pareto front: {len(rec.front)} of {len(rec.candidates)} candidates "
                        f"(no other is as accurate, as fast and as small, and better in one)", title_justify="left")
    for column in ("model", "width", "variant", "accuracy", "p50 latency", "size", "bounds"):
        table.add_column(column, justify="left" if column in ("model", "variant", "bounds") else "right")
    for r in rec.front:
        misses = rec.bounds.misses(r)
        mark = "chosen" if r is rec.choice else ("meets" if not misses else "misses " + "; ".join(
            m.split(" is ")[0] for m in misses))
        table.add_row(r["model"], f"{r.get('width') or 1.0:g}", r["variant"], f"{100 * r['accuracy']:.1f}%",
                      f"{r['latency_ms']:.3g} ms", fmt_bytes(r["size_bytes"]), mark)
    return table


def plot_front(rec: Recommendation, path: str | os.PathLike) -> Path:
    """Accuracy vs latency of every candidate (marker area ∝ file size), the front joined, the bounds drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgecnn.plots import save_png

    fig, ax = plt.subplots(figsize=(8, 5.5))
    size = lambda r: 20 + 200 * math.sqrt(r["size_bytes"] / max(c["size_bytes"] for c in rec.candidates))  # noqa: E731
    others = [r for r in rec.candidates if not any(r is f for f in rec.front)]
    ax.scatter([r["latency_ms"] for r in others], [100 * r["accuracy"] for r in others],
               s=[size(r) for r in others], color="lightgrey", edgecolor="grey", label="dominated")
    ax.scatter([r["latency_ms"] for r in rec.front], [100 * r["accuracy"] for r in rec.front],
               s=[size(r) for r in rec.front], color="tab:blue", edgecolor="black", label="Pareto front", zorder=3)
    for r in rec.front:
        ax.annotate(f"{r['model']} {r['variant']}", (r["latency_ms"], 100 * r["accuracy"]), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    pick = rec.choice or rec.nearest
    if pick is not None:
        ax.scatter([pick["latency_ms"]], [100 * pick["accuracy"]], marker="*", s=320, color="gold",
                   edgecolor="black", zorder=4, label="chosen" if rec.choice else "nearest (misses the bounds)")
    if rec.bounds.max_latency_ms is not None:
        ax.axvline(rec.bounds.max_latency_ms, color="tab:red", linestyle="--", linewidth=1, label="bounds")
    if rec.bounds.min_accuracy is not None:
        ax.axhline(100 * rec.bounds.min_accuracy, color="tab:red", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    from edgecnn.benchmark.report import log_axis

    log_axis(ax.xaxis)
    ax.set_xlabel("latency per image, ms (median, log scale)")
    ax.set_ylabel("test accuracy through the interpreter, %")
    ax.set_title(f"Candidates for {rec.bounds.describe()} (marker area ∝ file size)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    save_png(fig, path)
    plt.close(fig)
    return Path(path)
