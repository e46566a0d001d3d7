#!/usr/bin/env python
"""How long a turn must be when several .tflite files are timed interleaved: the data behind
``edgecnn.profile.MIN_TURN_MS`` (docs/TIMING.md).

For each model of the benchmark (the files in docs/benchmarks.json, re-made by ``edgecnn benchmark``), its files
are timed through ``edgecnn.profile.profile`` three ways, each ``--repeats`` times:

- alone: each file in its own profile call (its own process): back-to-back invokes, TFLite benchmark_model's
  convention and the steady state of an app classifying frame after frame — the reference;
- interleaved with turns of at least ``--turns`` ms each (0: one invoke a turn, what edgecnn did until it had
  turns; ``MIN_TURN_MS`` is the default now).

The error of a mode is how far its speed-up against float32 lies from the speed-up measured alone (per file).

    python tools/timing_turns.py                         # every small-config model → docs/timing/
    python tools/timing_turns.py lenet5 resnet18 --repeats 2 --turns 0,5,20
    python tools/timing_turns.py --report-only            # table and plot again from docs/timing/turns.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from edgecnn.benchmark.results import load_results
from edgecnn.fileio import write_json, write_text
from edgecnn.profile import MIN_TURN_MS, machine_info, profile

ROOT = Path(__file__).resolve().parents[1]
ALONE = "alone"


def mode_name(turn_ms: float) -> str:
    return "one invoke a turn" if turn_ms == 0 else f"turns of {turn_ms:g} ms"


def files_of(benchmarks: Path, config: str) -> dict[str, dict[str, str]]:
    """model → variant → file, for the rows whose file is still on this machine."""
    results, _ = load_results(benchmarks, missing_ok=False)
    found: dict[str, dict[str, str]] = {}
    for r in results.rows_of(config):
        if r.get("file") and Path(r["file"]).is_file():
            found.setdefault(r["model"], {})[r["variant"]] = r["file"]
    return found


def time_model(files: dict[str, str], turns: list[float], threads: int, runs: int) -> dict[str, dict[str, float]]:
    """mode → variant → median ms, one measurement of each mode."""
    names = list(files)
    out: dict[str, dict[str, float]] = {}
    for mode, turn in [(ALONE, None)] + [(mode_name(t), t) for t in turns]:
        if turn is None:
            out[mode] = {n: profile(files[n], num_threads=threads, num_runs=runs)[0]["latency_ms"]["p50"]
                         for n in names}
        else:
            results = profile([files[n] for n in names], num_threads=threads, num_runs=runs, min_turn_ms=turn)
            out[mode] = {n: r["latency_ms"]["p50"] for n, r in zip(names, results)}
    return out


def summarise(measured: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per mode: the median over repeats of each variant's median ms, and its speed-up vs float32."""
    summary = {}
    for mode in measured[0]:
        variants = measured[0][mode]
        ms = {v: float(np.median([m[mode][v] for m in measured])) for v in variants}
        summary[mode] = {"ms": ms, "speedup": {v: ms["float32"] / ms[v] for v in ms}}
    return summary


def errors(summary: dict[str, dict]) -> dict[str, dict[str, float]]:
    """Per interleaved mode: the largest relative error of a speed-up and of a median against alone."""
    alone = summary[ALONE]
    out = {}
    for mode in [m for m in summary if m != ALONE]:
        s = summary[mode]
        out[mode] = {
            "max_speedup_error": max(abs(s["speedup"][v] / alone["speedup"][v] - 1) for v in s["speedup"]),
            "max_median_error": max(abs(s["ms"][v] / alone["ms"][v] - 1) for v in s["ms"]),
        }
    return out


def markdown(data: dict) -> str:
    machine = data["machine"]
    flags = ", ".join(f for f, on in (machine.get("cpu_flags") or {}).items() if on)
    modes = [mode_name(t) for t in data["turns_ms"]]
    lines = [f"Measured {data['measured_at']} on {machine.get('cpu')} ({flags}), {data['threads']} threads, "
             f"{data['runs']} turns per file, median of {data['repeats']} repeats (each its own process); data: "
             "docs/timing/turns.json (tools/timing_turns.py). Each cell: the largest error, over the model's files, "
             "of the speed-up against float32 (and of the median) measured interleaved, against the same measured "
             "with each file alone.", "",
             "| model | float32 alone | " + " | ".join(f"{m}: speed-up (median) error" for m in modes) + " |",
             "|---|---:|" + "---:|" * len(modes)]
    for model, m in data["models"].items():
        e = m["errors"]
        cells = [f"{e[mode]['max_speedup_error']:.0%} ({e[mode]['max_median_error']:.0%})" for mode in modes]
        lines.append(f"| {model} | {m['summary'][ALONE]['ms']['float32']:.3f} ms | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from edgecnn.plots import save_png

    fig, ax = plt.subplots(figsize=(8, 4))
    for turn, marker in zip(data["turns_ms"], "osD^v"):
        mode = mode_name(turn)
        xs = [m["summary"][ALONE]["ms"]["float32"] for m in data["models"].values()]
        ys = [100 * m["errors"][mode]["max_speedup_error"] for m in data["models"].values()]
        ax.scatter(xs, ys, marker=marker, label=f"interleaved, {mode}")
    ax.set_xscale("log")
    ax.set_xlabel("float32 median alone (ms), one point per model")
    ax.set_ylabel("largest speed-up error vs alone (%)")
    ax.legend()
    ax.set_title("Interleaved timing against each file timed alone")
    save_png(fig, path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="models of docs/benchmarks.json (default: all with files here)")
    parser.add_argument("--config", default="small")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--turns", default="0,2,5,20,50", help="turn lengths (ms) to compare, comma-separated")
    parser.add_argument("-o", "--out", default=str(ROOT / "docs" / "timing"))
    parser.add_argument("--report-only", action="store_true", help="no timing: table and plot from turns.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.report_only:
        data = json.loads((out / "turns.json").read_text())
        write_text(out / "turns.md", markdown(data))
        plot(data, out / "turns.png")
        print(markdown(data))
        return 0
    available = files_of(ROOT / "docs" / "benchmarks.json", args.config)
    models = args.models or sorted(available)
    missing = [m for m in models if m not in available or "float32" not in available[m]]
    if missing:
        print(f"no files here for: {', '.join(missing)} (run edgecnn benchmark first)", file=sys.stderr)
        return 1
    turns = [float(t) for t in args.turns.split(",")]
    data = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine_info(),
            "threads": args.threads, "runs": args.runs, "repeats": args.repeats, "min_turn_ms": MIN_TURN_MS,
            "turns_ms": turns, "models": {}}
    for model in models:
        print(f"{model}: timing {len(available[model])} files", file=sys.stderr)
        measured = [time_model(available[model], turns, args.threads, args.runs) for _ in range(args.repeats)]
        summary = summarise(measured)
        data["models"][model] = {"files": available[model], "measured": measured, "summary": summary,
                                 "errors": errors(summary)}
    write_json(out / "turns.json", data)
    write_text(out / "turns.md", markdown(data))
    plot(data, out / "turns.png")
    print(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
