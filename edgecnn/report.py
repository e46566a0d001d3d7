"""Render results: rich tables for people, JSON/CSV/markdown for files and scripts.

The profile/inspect/predict renderers take the plain dicts that :mod:`edgecnn.profile`,
:mod:`edgecnn.inspect_model` and :mod:`edgecnn.predict` return, so local and remote (SSH) results print the
same way; :func:`print_convert_report` prints :class:`edgecnn.convert.ConvertReport` (read by attribute, so
this module never imports the TensorFlow half).
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterable

from rich.table import Table


# ---- numbers --------------------------------------------------------------------------------------

def fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 0.01:
        return f"{value * 1000:.2f} µs"
    if value < 1:
        return f"{value * 1000:.1f} µs"
    if value < 100:
        return f"{value:.3f} ms"
    return f"{value:.1f} ms"


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "–"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.2f} {unit}"
    return f"{int(value)} B"


def fmt_count(value: float | None) -> str:
    if value is None:
        return "–"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.2f}{unit}"
    return str(int(value))


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


# ---- JSON -------------------------------------------------------------------------------------------

def to_json(obj: Any) -> str:
    """JSON text (NumPy scalars/arrays made plain); one object, or a list for several results."""
    return json.dumps(obj, indent=2, default=_plain) + "\n"


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


# ---- profile ----------------------------------------------------------------------------------------

PROFILE_COLUMNS = ("model", "size_bytes", "params", "macs", "delegate", "ops_delegated", "num_threads", "init_ms",
                   "first_inference_ms", "mean_ms", "std_ms", "min_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms",
                   "throughput_per_s", "runs", "peak_rss_bytes", "speedup", "size_ratio")


def profile_rows(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flat rows (for CSV and markdown) from profile results."""
    rows = []
    for r in results:
        lat = r.get("latency_ms", {})
        deleg = r.get("delegate", {}) or {}
        ratios = r.get("vs_first", {}) or {}
        rows.append({
            "model": r.get("model"), "size_bytes": r.get("size_bytes"), "params": r.get("params"),
            "macs": r.get("macs"), "delegate": deleg.get("requested"),
            "ops_delegated": f"{deleg.get('ops_delegated')}/{deleg.get('ops_total')}",
            "num_threads": r.get("num_threads"), "init_ms": r.get("init_ms"),
            "first_inference_ms": r.get("first_inference_ms"),
            **{f"{k}_ms": lat.get(k) for k in ("mean", "std", "min", "p50", "p90", "p99", "max")},
            "throughput_per_s": r.get("throughput_per_s"), "runs": r.get("runs"),
            "peak_rss_bytes": (r.get("memory") or {}).get("peak_rss_bytes"),
            "speedup": ratios.get("speedup"), "size_ratio": ratios.get("size_ratio"),
        })
    return rows


def profile_csv(results: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=PROFILE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in profile_rows(results):
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def interleaving_note(results: list[dict[str, Any]]) -> str:
    """One sentence on how several models were timed (empty for one model or an older remote profiler)."""
    timing = (results[0].get("timing") or {}) if len(results) > 1 else {}
    if not timing.get("interleaved"):
        return ""
    turn = timing.get("min_turn_ms")
    bursts = (f"; a model faster than {turn:g} ms ran back to back for {turn:g} ms a turn" if turn else "")
    return (f"The {timing['models']} models were timed interleaved in one process (a turn of each in turn, "
            f"{timing['rounds']} rounds{bursts}), so the speed-up row is a ratio taken under the same conditions; "
            f"peak RSS is that process's, holding all {timing['models']} models.")


def _runs(result: dict[str, Any]) -> str:
    """Timed invokes, as turns × burst when a fast model ran several invokes a turn."""
    timing = result.get("timing") or {}
    burst = timing.get("burst") or 1
    return f"{result.get('runs')} = {timing.get('rounds')} × {burst}" if burst > 1 else str(result.get("runs"))


def profile_table(results: list[dict[str, Any]]) -> Table:
    """Metrics as rows, one column per model (fits a terminal for a few models); ratios against the first."""
    interleaved = bool((results[0].get("timing") or {}).get("interleaved")) if results else False
    title = "Profile (steady-state latency over timed runs" + (", models interleaved in one process)"
                                                               if interleaved else ")")
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for r in results:
        table.add_column(r.get("name") or str(r.get("model")), justify="right", overflow="fold")

    def row(label: str, fn: Any) -> None:
        table.add_row(label, *(fn(r) for r in results))

    def lat(key: str) -> Any:
        return lambda r: fmt_ms(r["latency_ms"][key])

    row("file size", lambda r: fmt_bytes(r.get("size_bytes")))
    row("params / MACs", lambda r: f"{fmt_count(r.get('params'))} / {fmt_count(r.get('macs'))}")
    row("load + allocate", lambda r: fmt_ms(r.get("init_ms")))
    row("first run", lambda r: fmt_ms(r.get("first_inference_ms")))
    row("mean ± std", lambda r: f"{fmt_ms(r['latency_ms']['mean'])} ± {fmt_ms(r['latency_ms']['std'])}")
    for key in ("min", "p50", "p90", "p99", "max"):
        row(key, lat(key))
    row("throughput", lambda r: f"{r['throughput_per_s']:.1f}/s" if r.get("throughput_per_s") else "–")
    row("runs (threads)", lambda r: f"{_runs(r)} ({r.get('num_threads')})")
    row("delegate: ops taken", lambda r: "{} {}/{}".format((r.get("delegate") or {}).get("requested"),
                                                          (r.get("delegate") or {}).get("ops_delegated"),
                                                          (r.get("delegate") or {}).get("ops_total")))
    row("peak RSS", lambda r: fmt_bytes((r.get("memory") or {}).get("peak_rss_bytes")))
    if len(results) > 1:
        row("speed-up vs first (p50)", lambda r: fmt_ratio((r.get("vs_first") or {}).get("speedup")))
        row("size vs first", lambda r: fmt_ratio((r.get("vs_first") or {}).get("size_ratio")))
    return table


def op_table(result: dict[str, Any]) -> Table:
    """Per op type of one model: count, MACs, MAC share, measured time/share where available."""
    timed = any(row.get("time_ms") is not None for row in result.get("ops", []))
    table = Table(title=f"Ops of {result.get('name') or result.get('model')}", title_justify="left")
    table.add_column("op")
    for col in ("count", "MACs", "MAC share") + (("time", "time share") if timed else ()):
        table.add_column(col, justify="right")
    for row in result.get("ops", []):
        cells = [row["op"], "–" if row.get("count") is None else str(row["count"]), fmt_count(row.get("macs")),
                 fmt_pct(row.get("mac_share"))]
        if timed:
            cells += [fmt_ms(row.get("time_ms")), fmt_pct(row.get("time_share"))]
        table.add_row(*cells)
    return table


def machine_line(machine: dict[str, Any] | None) -> str:
    if not machine:
        return ""
    parts = [machine.get("hostname") or machine.get("host"), machine.get("arch"), machine.get("cpu"),
             f"{machine.get('cpu_count') or machine.get('cores')} cores"
             if (machine.get("cpu_count") or machine.get("cores")) else None,
             f"Python {machine['python']}" if machine.get("python") else None,
             f"{machine.get('runtime')} {machine.get('runtime_version')}" if machine.get("runtime") else None]
    flags = [name for name, present in (machine.get("cpu_flags") or {}).items() if present]
    if flags:
        parts.append("CPU flags " + " ".join(flags))
    return "Measured on " + ", ".join(str(p) for p in parts if p)


def profile_markdown(results: list[dict[str, Any]]) -> str:
    """A report.md: the latency table, the machine, then each model's op table."""
    lines = ["# edgecnn profile", ""]
    machine = results[0].get("machine") if results else None
    if machine:
        lines += [machine_line(machine) + ".", ""]
    note = interleaving_note(results)
    if note:
        lines += [note, ""]
    head = ["model", "size", "params", "MACs", "init", "first run", "mean", "std", "p50", "p90", "p99",
            "delegate (ops)"]
    several = len(results) > 1
    if several:
        head += ["speed-up", "size ratio"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        lat = r["latency_ms"]
        deleg = r.get("delegate") or {}
        cells = [f"`{r.get('name') or r.get('model')}`", fmt_bytes(r.get("size_bytes")), fmt_count(r.get("params")),
                 fmt_count(r.get("macs")), fmt_ms(r.get("init_ms")), fmt_ms(r.get("first_inference_ms")),
                 fmt_ms(lat["mean"]), fmt_ms(lat["std"]), fmt_ms(lat["p50"]), fmt_ms(lat["p90"]), fmt_ms(lat["p99"]),
                 f"{deleg.get('requested')} ({deleg.get('ops_delegated')}/{deleg.get('ops_total')})"]
        if several:
            ratios = r.get("vs_first") or {}
            cells += [fmt_ratio(ratios.get("speedup")), fmt_ratio(ratios.get("size_ratio"))]
        lines.append("| " + " | ".join(cells) + " |")
    for r in results:
        lines += ["", f"## Ops of `{r.get('name') or r.get('model')}`", "", f"Per-op timing: {r.get('op_timing')}.",
                  "", "| op | count | MACs | MAC share | time | time share |", "|---|---|---|---|---|---|"]
        for row in r.get("ops", []):
            lines.append(f"| {row['op']} | {row.get('count') if row.get('count') is not None else '–'} | "
                         f"{fmt_count(row.get('macs'))} | {fmt_pct(row.get('mac_share'))} | "
                         f"{fmt_ms(row.get('time_ms'))} | {fmt_pct(row.get('time_share'))} |")
    return "\n".join(lines) + "\n"


# ---- inspect ----------------------------------------------------------------------------------------

def io_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Inputs and outputs", title_justify="left")
    for col in ("", "name", "shape", "dtype", "scale", "zero point"):
        table.add_column(col)
    for kind in ("inputs", "outputs"):
        for t in summary[kind]:
            q = t.get("quantization") or {}
            scale, zp = q.get("scale"), q.get("zero_point")
            table.add_row(kind[:-1], t["name"], str(t["shape_signature"]), t["dtype"],
                          "–" if scale is None else (f"{scale:.6g}" if not isinstance(scale, list) else "per-channel"),
                          "–" if zp is None else (str(zp) if not isinstance(zp, list) else "per-channel"))
    return table


def histogram_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Ops", title_justify="left")
    for col, justify in (("op", "left"), ("count", "right"), ("MACs", "right"), ("MAC share", "right"),
                         ("on XNNPACK", "right")):
        table.add_column(col, justify=justify)
    macs = summary.get("macs_by_op_type", {})
    total = summary.get("macs") or 0
    delegated = (summary.get("runtime") or {}).get("delegated_by_type") or {}
    for op, count in summary["op_histogram"].items():
        table.add_row(op, str(count), fmt_count(macs.get(op, 0)),
                      fmt_pct(macs.get(op, 0) / total) if total else "–",
                      f"{delegated.get(op, 0)}/{count}" if (summary.get("runtime") or {}).get("ok") else "–")
    return table


# ---- predict ----------------------------------------------------------------------------------------

def predict_table(results: list[dict[str, Any]]) -> Table:
    table = Table(title="Predictions", title_justify="left")
    table.add_column("image")
    table.add_column("rank", justify="right")
    table.add_column("label")
    table.add_column("score", justify="right")
    for r in results:
        for rank, item in enumerate(r["top_k"], 1):
            table.add_row(r["image"] if rank == 1 else "", str(rank), item["label"], f"{item['score']:.4f}")
    return table


# ---- edgecnn convert ----------------------------------------------------------------------------

def print_convert_report(report: Any, console: Any = None) -> None:
    """`edgecnn convert`'s output for a :class:`edgecnn.convert.ConvertReport`: one row per variant,
    per-layer sparsity when pruned, the precision plan, notes, the Edge TPU result."""
    from edgecnn.console import make_console

    if console is None:
        console = make_console()
    title = f"{report.model}: {report.test_images} test images through the LiteRT interpreter"
    table = Table(title=title)
    for column in ("variant", "size", "× fp32", "gzip", "accuracy", "agree", "conv s", "XNNPACK"):
        table.add_column(column, justify="left" if column in ("variant", "XNNPACK") else "right")
    for r in report.variants:
        label = r.variant + (" (sparse)" if r.sparse_encoding else "")
        if r.precision is not None and r.precision != r.variant:
            label += f" → plan: {r.precision}"
        table.add_row(label, fmt_bytes(r.size_bytes),
                      f"{r.ratio_to_float32:.3f}" if r.ratio_to_float32 else "-", fmt_bytes(r.gzip_bytes),
                      _pct2(r.accuracy), _pct2(r.agreement_with_float32), f"{r.convert_seconds:.1f}", r.xnnpack)
    console.print(table)
    for r in report.variants:
        console.print(f"{r.variant}: {r.path}")
    if report.optimisations.get("prune") is not None:
        for r in report.variants:
            if r.layer_sparsity:
                layers = sorted(r.layer_sparsity.items(), key=lambda kv: -kv[1])
                shown = ", ".join(f"{k} {v:.0%}" for k, v in layers[:8])
                more = f" … (+{len(layers) - 8})" if len(layers) > 8 else ""
                console.print(f"{r.variant}: weight zeros in the file {r.weight_sparsity:.1%} — {shown}{more}")
    if report.explain:
        from edgecnn.layer_error import LayerErrorReport, print_explanation

        print_explanation(LayerErrorReport.from_json(report.explain), console)
        if report.explain.get("plot"):
            console.print(f"plot: {report.explain['plot']}")
    if report.plan:
        print_precision_plan(report.plan, console)
    for note in report.notes:
        console.print(f"note: {note}")
    if report.edgetpu:
        tpu = report.edgetpu
        if "compiler" in tpu:  # a compile_for_edgetpu result: the compiler's op table or how to install it
            from edgecnn.targets.coral import print_compile_result

            print_compile_result(tpu, console)
        else:
            console.print(f"Edge TPU: {tpu.get('error') or tpu.get('message') or 'done'}")
    if report.report_path:
        console.print(f"report: {report.report_path}")


def print_precision_plan(plan: dict[str, Any], console: Any) -> None:
    """Every candidate the precision plan tried: validation (the choice) and test (the report) accuracy, size, time."""
    margin = plan.get("margin_sigmas") or 0.0
    budget = f"drop + {margin:g} σ ≤ {plan['max_drop_points']}" if margin else f"drop ≤ {plan['max_drop_points']}"
    table = Table(title=f"precision plan: {budget} points on {plan['val_images']} validation images; times "
                        f"interleaved in one process ({plan['timing'].get('threads')} threads)")
    for column in ("candidate", "float layers", "val acc", "val drop", "σ", "test acc", "size", "ms", "× fp32", ""):
        table.add_column(column, justify="left" if column in ("candidate", "") else "right")
    for c in plan["candidates"]:
        mark = "← written" if c["name"] == plan["chosen"] else ("over budget" if not c["within_budget"] else "")
        table.add_row(c["name"], str(len(c["float_layers"])), _pct2(c["val_accuracy"]),
                      f"{c['val_drop_points']:+.2f}",
                      "-" if c.get("val_sigma_points") is None else f"{c['val_sigma_points']:.2f}",
                      _pct2(c["test_accuracy"]), fmt_bytes(c["size_bytes"]),
                      f"{c['latency_ms']:.3f}" if c["latency_ms"] is not None else "-",
                      f"{c['speedup_vs_float32']:.2f}" if c["speedup_vs_float32"] else "-", mark)
    console.print(table)
    console.print(f"plan: {plan['chosen']} — {plan['reason']}")
    if plan.get("edgetpu") and plan.get("edgetpu_would_keep_float"):
        console.print("plan: for the CPU it would have kept in float: " + ", ".join(plan["edgetpu_would_keep_float"]))


def _pct2(value: float | None) -> str:  # accuracies to 0.01 points, as convert always printed them
    return "-" if value is None else f"{value:.2%}"
