#!/usr/bin/env python
"""The "What it measured here" table of docs/PRECISION.md, from the plan reports in docs/precision/.

Each ``*_planned.report.json`` is what ``edgecnn convert --int8 --max-drop 0.5`` wrote inside ``edgecnn
benchmark`` (copied from the benchmark's work folder). The table goes between the ``precision-table`` markers:

    python tools/precision_table.py            # rewrite the table in docs/PRECISION.md
    python tools/precision_table.py --print    # only print it
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgecnn.profile import cpu_class
from edgecnn.report import fmt_bytes

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- precision-table: begin (tools/precision_table.py) -->", "<!-- precision-table: end -->"


def row(report: dict, widths: dict[str, float]) -> str:
    plan = report["plan"]
    by_name = {c["name"]: c for c in plan["candidates"]}
    chosen, base = by_name[plan["chosen"]], by_name["float32"]
    full = by_name.get("full int8")
    wrote = chosen["name"]
    if chosen["kind"] == "mixed":
        layers = chosen["float_layers"]
        wrote += ": " + ", ".join(layers[:3]) + (f" … (+{len(layers) - 3})" if len(layers) > 3 else "")
    model = report["model"] + (f" (width {widths[report['model']]:g})" if widths.get(report["model"]) else "")
    full_speed = f"{full['speedup_vs_float32']:.2f}×" if full else "–"
    timing = plan.get("timing") or {}
    cpu = cpu_class((timing.get("machine") or {}).get("cpu_flags"))

    def drop(value: float | None) -> str:
        return "–" if value is None else f"{value:+.2f}"

    sigma = chosen.get("val_sigma_points")  # reports from before the plan's margin have none
    val = drop(chosen["val_drop_points"]) + ("" if sigma is None else f" (σ {sigma:.2f})")
    return (f"| {model} | {wrote} | {val} → {drop(chosen.get('test_drop_points'))} "
            f"| {chosen['speedup_vs_float32']:.2f}× | {full_speed} "
            f"| {fmt_bytes(chosen['size_bytes'])} (float32 {fmt_bytes(base['size_bytes'])}) "
            f"| {cpu}, {timing.get('measured_at', '?')} |")


def benchmark_widths(path: Path) -> dict[str, float]:
    """Width multipliers other than 1 of the benchmark's small-config models (docs/benchmarks.json)."""
    rows = json.loads(path.read_text())["rows"] if path.is_file() else []
    return {r["model"]: r["width"] for r in rows if r.get("config") == "small" and r.get("width") not in (None, 1.0)}


def table(folder: Path) -> str:
    widths = benchmark_widths(folder.parent / "benchmarks.json")
    lines = ["| model | plan wrote | validation drop → test drop (points) | × float32 speed | full int8 × float32 "
             "| size | timed on |", "|---|---|---|---|---|---|---|"]
    for path in sorted(folder.glob("*_planned.report.json")):
        lines.append(row(json.loads(path.read_text()), widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="print the table instead of rewriting the doc")
    args = parser.parse_args(argv)
    text = table(ROOT / "docs" / "precision")
    if args.print:
        print(text)
        return 0
    doc = ROOT / "docs" / "PRECISION.md"
    content = doc.read_text()
    if BEGIN not in content or END not in content:
        print(f"{doc}: no {BEGIN} … {END} markers", file=sys.stderr)
        return 1
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    sys.path.insert(0, str(ROOT))
    from edgecnn.fileio import write_text

    write_text(doc, f"{head}{BEGIN}\n{text}\n{END}{tail}")
    print(f"wrote the table of {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
