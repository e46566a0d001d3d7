"""BENCHMARKS.md and its plots from benchmarks.json (TensorFlow-free; plots need matplotlib).

The report says what each number is and where it came from: per section, how many runs of
``edgecnn benchmark`` made its rows, when they were timed and under what load; per model, when it was timed;
at the end, every machine (CPU, vector extensions, versions) that measured a row. It claims "one run" only
when that is true. The studies of tools/ (int8_speed.json, sparse_speed.json, onnx_compare.json in the same
folder) become sections of their own when present.
"""
from __future__ import annotations

import json
import math
import os
import statistics
from pathlib import Path
from typing import Any

from edgecnn.benchmark.results import Results
from edgecnn.benchmark.variants import VARIANTS
from edgecnn.plots import save_png
from edgecnn.profile import cpu_class

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")


# ---- numbers ----------------------------------------------------------------------------------------------

def _mb(n: float | None) -> str:
    return "–" if n is None else (f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB")


def _count(n: float | None) -> str:
    if n is None:
        return "–"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.2f} {unit}"
    return str(int(n))


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _ms(v: float | None) -> str:
    return "–" if v is None else (f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}")


def _shape(shape: list[int] | None) -> str:
    return "×".join(map(str, shape or []))


def _model_label(r: dict[str, Any]) -> str:
    width = r.get("width")
    return r["model"] if width in (None, 1.0) else f"{r['model']} (width {width:g})"


def _by_model(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows grouped by model, models in order of MACs, variants in registry order."""
    order = {name: i for i, name in enumerate(VARIANTS)}
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: (r.get("macs") or 0, r["model"], order.get(r["variant"], 99))):
        groups.setdefault(r["model"], []).append(r)
    return groups


# ---- tables -----------------------------------------------------------------------------------------------

def _session_cpu(sessions: dict[str, dict[str, Any]], row: dict[str, Any]) -> str:
    return cpu_class(((sessions.get(row.get("session")) or {}).get("environment") or {}).get("cpu_flags"))


def _cpu_of(group: list[dict[str, Any]], sessions: dict[str, dict[str, Any]]) -> str:
    return " + ".join(sorted({_session_cpu(sessions, g) for g in group}))


def models_table(rows: list[dict[str, Any]], config: str, sessions: dict[str, dict[str, Any]] | None = None) -> str:
    """One line per model: what it is, its training budget, when it was timed, on which kind of CPU, under what
    load."""
    sessions = sessions or {}
    if config == "small":
        head = ("| model | family | input | params | MACs | training: images × epochs, time | Keras test acc "
                "| timed (UTC) | CPU | load |")
    else:
        head = "| model | family | input | params (published) | MACs (published) | timed (UTC) | CPU | load |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for model, group in _by_model(rows).items():
        r = group[0]
        when = max(g.get("measured_at") or "" for g in group)[:16]
        cpu = _cpu_of(group, sessions)
        load = [g["loadavg"] for g in group if g.get("loadavg") is not None]
        load_text = f"{max(load):.1f}" if load else "–"
        if config == "small":
            t = r.get("train") or {}
            train = f"{t.get('images', '?')} × {t.get('epochs', '?')}"
            if t.get("seconds") is not None:
                train += f", {t['seconds']:.0f} s" + (f" ({t['cpu_seconds']:.0f} CPU s)" if t.get("cpu_seconds") else "")
            lines.append(f"| {_model_label(r)} | {r['family']} | {_shape(r['input_shape'])} | {_count(r.get('params'))} "
                         f"| {_count(r.get('macs'))} | {train} | {_pct(t.get('keras_test_accuracy'))} | {when} "
                         f"| {cpu} | {load_text} |")
        else:
            lines.append(f"| {r['model']} | {r['family']} | {_shape(r['input_shape'])} | {_count(r.get('params'))} "
                         f"({_count(r.get('published_params'))}) | {_count(r.get('macs'))} "
                         f"({_count(r.get('published_macs'))}) | {when} | {cpu} | {load_text} |")
    return "\n".join(lines)


def variants_table(rows: list[dict[str, Any]], config: str) -> str:
    """One line per (model, variant): accuracy, size, latency and the speed-up over the model's float32."""
    accuracy = config == "small"
    head = ("| model | variant | " + ("accuracy | agrees with float32 | " if accuracy else "")
            + "size | gzip | p50 ms | p90 ms | × float32 speed | fully int8 | XNNPACK ops |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for model, group in _by_model(rows).items():
        base = next((g for g in group if g["variant"] == "float32"), None)
        for r in group:
            speed = (f"{base['latency_ms'] / r['latency_ms']:.2f}×" if base and r.get("latency_ms") else "–")
            cells = [_model_label(r), VARIANTS[r["variant"]].label if r["variant"] in VARIANTS else r["variant"]]
            if accuracy:
                cells += [_pct(r.get("accuracy")), _pct(r.get("agreement_with_float32"))]
            cells += [_mb(r.get("size_bytes")), _mb(r.get("gzip_bytes")), _ms(r.get("latency_ms")),
                      _ms(r.get("p90_ms")), speed, {True: "yes", False: "no"}.get(r.get("fully_int8"), "–"),
                      r.get("ops_delegated") or "–"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def provenance(rows: list[dict[str, Any]], sessions: dict[str, dict[str, Any]]) -> str:
    """How many runs of the tool made these rows, when they were timed, the load, the time spent."""
    ids = sorted({r.get("session") for r in rows if r.get("session")})
    stamps = sorted(r["measured_at"] for r in rows if r.get("measured_at"))
    loads = [r["loadavg"] for r in rows if r.get("loadavg") is not None]
    spent = {(r["model"], r.get("session")): r.get("job_seconds") or 0 for r in rows}
    if len(ids) == 1:
        command = sessions.get(ids[0], {}).get("command")
        text = "All rows of this section were measured in one run of `edgecnn benchmark`" + (
            f" (`{command}`)" if command else "")
    else:
        text = (f"The rows of this section come from {len(ids)} runs of `edgecnn benchmark` (each model's line "
                "says when it was timed)")
    if stamps:
        first, last = stamps[0][:16], stamps[-1][:16]
        text += f", timed at {first} UTC" if first == last else f", timed between {first} and {last} UTC"
    if loads:
        text += (f"; the 1-minute load average while timing was {min(loads):.1f}–{max(loads):.1f} "
                 "(absolute times move with it; the ratios within a model much less)")
    kinds = sorted({_session_cpu(sessions, r) for r in rows})
    if len(kinds) > 1:
        text += (f"; the runs met more than one kind of CPU ({', '.join(kinds)}: the Models table's CPU column says "
                 "which timed each model), and int8's speed over float32 depends on it — XNNPACK's int8 kernels "
                 "gain most from int8 dot-product instructions (VNNI), so compare int8 speed-ups only between "
                 "models timed on the same kind")
    total = sum(spent.values())
    if total:
        took = f"{total / 3600:.1f} h" if total >= 3600 else f"{total / 60:.0f} min"
        text += f"; measuring took {took} in all (training, conversion, evaluation, timing)"
    return text + "."


# ---- plots ------------------------------------------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def log_axis(axis: Any) -> None:
    """A log axis labelled 1, 2, 5, 10, … (no 2×10⁻² minor labels)."""
    import matplotlib.ticker

    axis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def plot_accuracy_latency(rows: list[dict[str, Any]], path: Path) -> None:
    plt = _pyplot()

    variants = [v for v in VARIANTS if any(r["variant"] == v for r in rows)]
    markers = {v: MARKERS[i % len(MARKERS)] for i, v in enumerate(variants)}
    fig, ax = plt.subplots(figsize=(8.5, 5.8))
    colours = plt.get_cmap("tab20").colors
    for i, (model, group) in enumerate(_by_model(rows).items()):
        points = [(r["latency_ms"], 100 * r["accuracy"], r["variant"]) for r in group
                  if r.get("latency_ms") and r.get("accuracy") is not None]
        if not points:
            continue
        colour = colours[i % len(colours)]
        for x, y, v in points:
            ax.scatter(x, y, marker=markers[v], color=colour, s=45, edgecolor="black", linewidth=0.4)
        ax.annotate(_model_label(group[0]), points[0][:2], fontsize=7, xytext=(4, 3), textcoords="offset points")
    for v in variants:
        ax.scatter([], [], marker=markers[v], color="grey", label=VARIANTS[v].label)
    ax.set_xscale("log")
    log_axis(ax.xaxis)
    ax.set_xlabel("latency per image, ms (median, log scale)")
    ax.set_ylabel("Fashion-MNIST test accuracy through the interpreter, %")
    ax.set_title("Accuracy vs latency at the small (edge) config")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    save_png(fig, path)
    plt.close(fig)


def plot_bars(rows: list[dict[str, Any]], key: str, ylabel: str, title: str, path: Path) -> None:
    """One group of bars per model, one bar per variant, log scale."""
    plt = _pyplot()
    groups = _by_model(rows)
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in rows)]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(groups) + 2), 4.8))
    width = 0.8 / max(1, len(variants))
    for k, variant in enumerate(variants):
        xs, ys = [], []
        for i, group in enumerate(groups.values()):
            r = next((g for g in group if g["variant"] == variant and g.get(key)), None)
            if r is not None:
                xs.append(i + (k - (len(variants) - 1) / 2) * width)
                ys.append(r[key] / (1e6 if key.endswith("bytes") else 1.0))
        ax.bar(xs, ys, width=width, label=VARIANTS[variant].label)
    ax.set_xticks(range(len(groups)), [_model_label(g[0]) for g in groups.values()], rotation=35, ha="right",
                  fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    save_png(fig, path)
    plt.close(fig)


# ---- the tools' studies -------------------------------------------------------------------------------

def _flags_text(flags: dict[str, bool]) -> str:
    return ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items())


def int8_speed_section(out: Path) -> list[str]:
    """int8_speed.json (tools/int8_speed.py) as a section, when it exists."""
    path = out / "int8_speed.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    speedup = data.get("speedup", {})
    lines = ["## Does edgecnn's int8 file keep the int8 speed-up?", "",
             f"`tools/int8_speed.py`: MobileNetV2 at 224×224×3, random weights, {data.get('threads')} threads, five "
             f"files timed round-robin in one process (measured {data.get('measured_at')}). CPU: {data.get('cpu')}; "
             f"{_flags_text(data.get('flags', {}))}.", "",
             "| file | median ms | p10 ms | size |", "|---|---|---|---|"]
    for name, row in data.get("timing", {}).items():
        lines.append(f"| {name} | {_ms(row['median_ms'])} | {_ms(row['p10_ms'])} | {_mb(row['bytes'])} |")
    lines += ["", f"int8 speed-up over float32: edgecnn's files {speedup.get('edgecnn', 0):.2f}×, Keras "
              f"Applications' MobileNetV2 through a plain converter call {speedup.get('keras_applications', 0):.2f}×. "
              "XNNPACK's int8 kernels gain most on CPUs with int8 dot-product instructions (x86 VNNI, ARMv8.2 dot "
              "product on a Raspberry Pi 5 or a phone); on AVX2 alone they do about the work of its float32 FMA "
              "kernels. Re-run the tool on the target to see its ratio.", ""]
    return lines


def sparse_section(out: Path) -> list[str]:
    """sparse_speed.json (tools/sparse_speed.py) as a section, when it exists."""
    path = out / "sparse_speed.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    expected = data.get("xnnpack_sparse_kernels_expected")
    lines = ["## Pruned vs dense: XNNPACK sparse inference", "",
             "`tools/sparse_speed.py`: a MobileNet-v1-style net built the way XNNPACK's sparse (NCHW) path "
             "requires (explicit padding, 3×3 stride-2 stem on 3 channels, 1×1 convs, spatial mean), its 1×1 "
             "convs pruned, converted with `tf.lite.Optimize.EXPERIMENTAL_SPARSITY` (weights stored sparse "
             "with DENSIFY ops) and timed against the dense encoding of the same weights, interleaved, "
             f"{data.get('threads', 2)} threads. CPU flags: {_flags_text(data.get('cpu_flags', {}))}. XNNPACK uses "
             f"its sparse kernels on x86 only without AVX, so here they are expected: **{'yes' if expected else 'no'}** "
             "(a max output difference of exactly 0 confirms the dense kernels ran).", "",
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


def onnx_section(out: Path) -> list[str]:
    """onnx_compare.json (tools/onnx_compare.py) as a section, when it exists."""
    path = out / "onnx_compare.json"
    if not path.is_file():
        return []
    rows = json.loads(path.read_text()).get("rows", [])
    lines = ["## LiteRT vs ONNX Runtime", "",
             "`tools/onnx_compare.py` (optional extra, not an edgecnn dependency): the same network, random "
             "weights, LiteRT float32/int8 and ONNX Runtime's CPU provider float32, interleaved in one "
             "process with the same thread count.", "",
             "| model | input | threads | LiteRT float32 ms | LiteRT int8 ms | ONNX Runtime float32 ms "
             "| max abs diff of float32 outputs | versions |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ms = r["median_ms"]
        versions = ", ".join(f"{k} {v}" for k, v in r.get("versions", {}).items())
        lines.append(f"| {r['model']} | {_shape(r['input_shape'])} | {r['threads']} "
                     f"| {_ms(ms['litert_float32'])} | {_ms(ms['litert_int8'])} | {_ms(ms['onnxruntime_float32'])} "
                     f"| {r['max_abs_diff_float32']:.1e} (outputs span {r.get('float32_output_range', float('nan')):.2g}) "
                     f"| {versions} |")
    return lines + [""]


# ---- the document -------------------------------------------------------------------------------------

def _settings_of(rows: list[dict[str, Any]], results: Results) -> dict[str, Any]:
    for r in rows:
        settings = results.sessions.get(r.get("session"), {}).get("settings")
        if settings:
            return settings
    return {}


def turns_text(rows: list[dict[str, Any]]) -> str:
    """How each file's turn in the interleaved timing loop was made, from what the rows recorded."""
    turns = sorted({r.get("min_turn_ms") or 0.0 for r in rows if r.get("latency_ms") is not None})
    if turns == [0.0]:
        return "one invoke of each in turn"
    made = " or ".join(f"{t:g} ms" for t in turns if t) + (" (or one invoke, for rows timed before turns)"
                                                           if 0.0 in turns else "")
    return f"a turn of each in turn: back-to-back invokes filling {made}, or one invoke of a slower file"


def small_section(rows: list[dict[str, Any]], results: Results, img: Path) -> list[str]:
    s = _settings_of(rows, results)
    labels = ", ".join(VARIANTS[v].label for v in VARIANTS if any(r["variant"] == v for r in rows))
    lines = ["## Small (edge) config, trained on Fashion-MNIST", "",
             f"Every model at its `small_input` (heavy families at width 0.5 unless a run said otherwise: the model "
             f"column names any width), trained from scratch with `edgecnn train` on a budget (the training column; "
             f"by default {s.get('train_images', '?')} images × {s.get('epochs', '?')} epoch(s), so accuracies are below "
             f"what full training reaches), then converted with `edgecnn convert` to: {labels} (int8 calibrated on "
             f"{s.get('calibration_samples', '?')} training images, fine-tuning {s.get('finetune_epochs', '?')} "
             f"epoch(s)). Accuracy is top-1 through the LiteRT interpreter on the run's held-out test images "
             f"(`edgecnn.evaluate`). Latency: `edgecnn.profile` with every file of a model timed interleaved in one "
             f"process ({turns_text(rows)}), "
             f"median (p50) and p90 over up to {s.get('timing_runs', '?')} turns "
             f"per file, {s.get('threads', '?')} threads, XNNPACK; the speed-up column is a ratio taken "
             "under the same conditions. Pruning does not shrink a plain .tflite; it shows after compression "
             "(gzip).", "", provenance(rows, results.sessions), "",
             "### Models", "", models_table(rows, "small", results.sessions), "",
             "### Variants", "", variants_table(rows, "small"), ""]
    lines += targets_section(rows)
    plot_accuracy_latency(rows, img / "accuracy_vs_latency.png")
    plot_bars(rows, "size_bytes", "file size, MB (log scale)", "Model file size per variant (small config)",
              img / "size_per_variant.png")
    return lines + ["![accuracy vs latency](img/accuracy_vs_latency.png)", "",
                    "![size per variant](img/size_per_variant.png)", ""]


def paired_sigma_points(row: dict[str, Any]) -> float | None:
    """Standard error, in points, of a variant's accuracy minus its float32 file's on the same test images.

    Per image the difference of the two "correct" indicators is −1, 0 or +1, and it is non-zero only where the two
    files disagree, so its variance is at most the disagreement rate d and the mean's standard error at most
    sqrt(d / n) (the paired view of McNemar's test). A miss smaller than two of these is what another draw of
    test images could move either way."""
    agreement, n = row.get("agreement_with_float32"), row.get("test_images")
    if agreement is None or not n:
        return None
    return 100.0 * math.sqrt(max(0.0, 1.0 - float(agreement)) / int(n))


def _verdict(name: str, ok: bool, over: float, sigma: float | None) -> str:
    if ok:
        return f"{name} ✓"
    if sigma is None:
        return f"{name} ✗ by {over:.2f} pt"
    within = " (within noise)" if over < 2 * sigma else ""
    return f"{name} ✗ by {over:.2f} pt, σ {sigma:.2f}{within}"


def timing_noise(rows: list[dict[str, Any]]) -> float | None:
    """How far apart this table typically times files that run the same kernels: float16-weight files are expanded
    to float32 when loaded, so |1 − float32 / float16| per model is timing noise alone; its median over the
    models (the largest would let one noisy model excuse every other)."""
    spreads = []
    for group in _by_model(rows).values():
        by = {r["variant"]: r for r in group}
        f32, f16 = by.get("float32", {}).get("latency_ms"), by.get("float16", {}).get("latency_ms")
        if f32 and f16:
            spreads.append(abs(1.0 - f32 / f16))
    return statistics.median(spreads) if spreads else None


def _speed_verdict(speed: float, noise: float | None) -> str:
    within = ", within timing noise" if noise is not None and 1.0 - speed <= noise else ""
    return f"plan ✗ ({speed:.2f}× float32{within})"


def _pruned_on_labels(row: dict[str, Any] | None) -> bool:
    """A pruned row fine-tuned on the labels alone: measured before pruning distilled by default (rows without
    a ``finetune`` record), or with ``--distill 0``."""
    return row is not None and row.get("accuracy") is not None and \
        not (row.get("finetune") or {}).get("prune_distill")


def _labels_only_legend(rows: list[dict[str, Any]]) -> list[str]:
    if not any(_pruned_on_labels(r) for r in rows if r["variant"] == "pruned_int8"):
        return []
    return ["† the pruned file was fine-tuned on the labels alone: measured before pruning distilled from the dense "
            "model by default (docs/RECIPES.md); the other pruned rows were fine-tuned on the dense model's "
            "predictions.", ""]


def _pruned_cell(row: dict[str, Any] | None, points: str) -> str:
    """The pruned drop, marked when pruning was retried from the dense model (over budget on validation)."""
    if row is None:
        return points
    finetune = row.get("finetune") or {}
    attempts, epochs = finetune.get("prune_attempts") or [], finetune.get("prune_epochs")
    if len(attempts) > 1:
        more = f" (re-pruned, {epochs} epochs)" if epochs == attempts[-1] else " (retry not better)"
    else:
        more = f" ({epochs} epochs)" if epochs and epochs > 1 else ""
    return points + more + (" †" if _pruned_on_labels(row) else "")


def _one_epoch_legend(rows: list[dict[str, Any]]) -> list[str]:
    pruned = [r for r in rows if r["variant"] == "pruned_int8" and r.get("accuracy") is not None]
    if not pruned:
        return []
    text = ("Pruning fine-tunes one epoch; if the pruned model is then more than 1 point below the dense one on "
            "validation, it prunes again from the dense model over 2 epochs with a gradual schedule and keeps the "
            "better of the two (\"re-pruned\" when that is the retry).")
    if any("prune_epochs" not in (r.get("finetune") or {}) for r in pruned):
        text += (" Pruned rows without a record of it were measured before the retry existed, with exactly one "
                 "epoch (what `--prune-max-epochs 1` does); docs/pruning/recovery.md lists, per model, whether the "
                 "default stops after that epoch too.")
    return [text, ""]


def _plan_margin_legend(rows: list[dict[str, Any]]) -> list[str]:
    """How the plan judged its validation drop: with the standard-error margin, or (older rows) the drop alone."""
    planned = [r for r in rows if r.get("variant") == "planned"]
    margins = sorted({r["plan_margin_sigmas"] for r in planned if r.get("plan_margin_sigmas") is not None})
    if not margins:
        return []
    shown = " or ".join(f"{m:g}" for m in margins)
    text = (f"The plan counts a file within the budget when its validation drop plus {shown} σ (the drop's standard "
            "error on the validation images, shown beside it) is at most 0.5 points.")
    if any(r.get("plan_margin_sigmas") is None for r in planned):
        text += (" Plan rows without a σ were planned before that margin existed, on the drop alone (what "
                 "`--max-drop-margin 0` does).")
    return [text, ""]


def _val_drop_cell(plan: dict[str, Any], pts: Any) -> str:
    cell = pts(plan.get("plan_val_drop_points"))
    sigma = plan.get("plan_val_sigma_points")
    return cell if sigma is None else f"{cell} (σ {sigma:.1f})"


def targets_section(rows: list[dict[str, Any]]) -> list[str]:
    """Issue-level targets per model: the precision plan (within 0.5 points of float32 on the test images and no
    slower), 50 %-pruned int8 within 1.5 points, QAT at least as good as post-training int8."""
    noise = timing_noise(rows)
    noise_text = ("" if noise is None else
                  f" A plan slower than float32 by no more than {100 * noise:.1f} % is marked within timing noise: "
                  "float16-weight files run the same float32 kernels, and this table times them that far from "
                  "float32 (median over the models).")
    lines = ["### Accuracy and speed targets", "",
             "Points are top-1 differences to the model's float32 file on the test images; speed is the "
             "benchmark's own interleaved timing (× float32). The plan (`edgecnn convert --int8 --max-drop 0.5`) "
             "chose on the *validation* split, so its test drop is an independent check. A miss is given in points "
             "with σ, the standard error of that difference on these test images from how often the two files "
             "disagree (paired, as in McNemar's test): a miss under 2σ is within what another draw of test images "
             "could move either way. The 50 %-pruned file gets no σ: its agreement was measured against the pruned "
             "model's own float32, not this float32 file." + noise_text, "",
             *_plan_margin_legend(rows), *_labels_only_legend(rows), *_one_epoch_legend(rows),
             "| model | float32 | plan wrote | float layers | plan: val drop → test drop | plan × float32 speed "
             "| int8 (PTQ) | QAT int8 | 50 %-pruned int8 | targets met |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for model, group in _by_model(rows).items():
        by = {r["variant"]: r for r in group}
        base = by.get("float32")
        if base is None or base.get("accuracy") is None:
            continue

        def drop(name: str) -> float | None:
            r = by.get(name)
            if r is None or r.get("accuracy") is None:
                return None
            # rounded: accuracies are counts over N images, and 0.709375 - 0.704375 is 0.5000000000000004 points
            return round(100.0 * (base["accuracy"] - r["accuracy"]), 6)

        def pts(value: float | None) -> str:
            return "–" if value is None else f"{0.0 - value:+.1f}"  # 0.0 - 0.0 is +0.0, -0.0 is not

        plan = by.get("planned") or {}
        plan_speed = base["latency_ms"] / plan["latency_ms"] if plan.get("latency_ms") else None
        met = []
        if plan_speed is not None and drop("planned") is not None:
            if plan_speed < 1.0:
                met.append(_speed_verdict(plan_speed, noise))
            else:
                met.append(_verdict("plan", drop("planned") <= 0.5, drop("planned") - 0.5,
                                    paired_sigma_points(by["planned"])))
        if drop("pruned_int8") is not None:
            # No σ: `convert --prune` measures the pruned file's agreement against the *pruned* model's float32,
            # so how often it disagrees with this (dense) float32 file is not known here.
            met.append(_verdict("pruned", drop("pruned_int8") <= 1.5, drop("pruned_int8") - 1.5, None))
        if drop("qat_int8") is not None and drop("int8") is not None:
            # QAT − PTQ: each against float32, so the two standard errors add (Minkowski: an upper bound)
            sigmas = [paired_sigma_points(by[name]) for name in ("qat_int8", "int8")]
            sigma = None if None in sigmas else sum(sigmas)
            met.append(_verdict("QAT ≥ PTQ", drop("qat_int8") <= drop("int8"), drop("qat_int8") - drop("int8"), sigma))
        layers = plan.get("plan_float_layers") or []
        shown = ", ".join(layers[:3]) + (f" … (+{len(layers) - 3})" if len(layers) > 3 else "")
        cells = [_model_label(base), _pct(base["accuracy"]), plan.get("plan_precision") or "–",
                 f"{len(layers)}: {shown}" if layers else ("0" if plan else "–"),
                 f"{_val_drop_cell(plan, pts)} → {pts(drop('planned'))}" if plan else "–",
                 f"{plan_speed:.2f}×" if plan_speed else "–",
                 pts(drop("int8")), pts(drop("qat_int8")),
                 _pruned_cell(by.get("pruned_int8"), pts(drop("pruned_int8"))),
                 " ".join(met) or "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def canonical_section(rows: list[dict[str, Any]], results: Results, img: Path) -> list[str]:
    s = _settings_of(rows, results)
    lines = ["## Canonical (paper) input size, random weights", "",
             "Timing and size only: each model as its paper specifies it (input, 1000 classes), He-normal random "
             f"weights, int8 calibrated on {s.get('canonical_calibration', '?')} random inputs, converted by the "
             "conversion step of `edgecnn convert` (`edgecnn.convert.convert_saved_model`) and timed like the "
             "small config. The params/MACs columns show the published numbers in brackets.", "",
             provenance(rows, results.sessions), "",
             "### Models", "", models_table(rows, "canonical", results.sessions), "", "### Variants", "",
             variants_table(rows, "canonical"), ""]
    plot_bars(rows, "latency_ms", "latency per image, ms (median, log scale)",
              "Latency per variant at the paper's input size (random weights)", img / "canonical_latency.png")
    return lines + ["![canonical latency](img/canonical_latency.png)", ""]


def machines_section(results: Results) -> list[str]:
    used = {r.get("session") for r in results.rows}
    seen: list[str] = []
    lines = ["## Machines and versions", ""]
    for session, info in sorted(results.sessions.items()):
        env = info.get("environment") or {}
        if session not in used or not env:
            continue
        versions = ", ".join(f"{k} {v}" for k, v in (env.get("versions") or {}).items() if v)
        flags = " ".join(k for k, v in (env.get("cpu_flags") or {}).items() if v) or "none of the notable ones"
        text = (f"- CPU: {env.get('cpu', '?')} ({env.get('cores', '?')} cores), {env.get('arch', '?')}, "
                f"{env.get('os', '?')}; CPU flags: {flags}; Python {env.get('python', '?')}; {versions}; "
                f"edgecnn {env.get('edgecnn', '?')}")
        if text not in seen:
            seen.append(text)
    return lines + (seen or ["- (no rows yet)"]) + [""]


def reproduce_section() -> list[str]:
    return ["## How to reproduce", "", "```",
            "pip install -e '.[train]'",
            "edgecnn benchmark --small --canonical -o docs   # every model; resumes, skipping measured rows",
            "edgecnn benchmark resnet --force -o docs        # re-measure one family",
            "edgecnn benchmark --retime -o docs              # latency only, of the files already made (quiet machine)",
            "edgecnn benchmark --quick -o /tmp/bench         # one small model in a couple of minutes",
            "edgecnn recommend --from docs/benchmarks.json --max-latency-ms 2 --max-size-mb 4 --min-accuracy 85",
            "```", "",
            "Every row (with its file, p90, load average, the commands that make its file and the settings it was "
            "measured with) is in [benchmarks.json](benchmarks.json).", ""]


def write_report(results: Results, out: str | os.PathLike) -> Path:
    """Write ``out``/BENCHMARKS.md and ``out``/img/*.png; returns the markdown path."""
    from edgecnn.fileio import write_text

    out = Path(out)
    img = out / "img"
    small = [r for r in results.rows if r["config"] == "small" and r.get("latency_ms") is not None]
    canonical = [r for r in results.rows if r["config"] == "canonical" and r.get("latency_ms") is not None]
    parts = ["# Benchmarks: the zoo on its way to the edge", "",
             "Generated by `edgecnn benchmark` (do not edit by hand): training, conversion, accuracy and timing "
             "all go through the same code as `edgecnn train`, `edgecnn convert` and `edgecnn profile`. Choose a "
             "model for your bounds with `edgecnn recommend` (below).", ""]
    parts += small_section(small, results, img) if small else ["## Small (edge) config", "", "_No rows yet._", ""]
    if canonical:
        parts += canonical_section(canonical, results, img)
    parts += int8_speed_section(out) + sparse_section(out) + onnx_section(out)
    if results.failures:
        parts += ["## Rows that failed", ""]
        parts += [f"- {f['config']}/{f['model']}" + (f" {f['variant']}" if f.get("variant") else "")
                  + f": {f['error']}" for f in results.failures]
        parts += [""]
    parts += machines_section(results) + reproduce_section()
    return write_text(out / "BENCHMARKS.md", "\n".join(parts))
