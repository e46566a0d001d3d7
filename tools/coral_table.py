"""Write docs/CORAL.md: the Edge TPU compatibility of every model in the zoo, from edgecnn's static report.

    python tools/coral_table.py                  # every registered model, small config, full int8
    python tools/coral_table.py resnet18 vgg11   # some models only (prints the table, still writes the doc)
    python tools/coral_table.py --keep DIR       # keep the converted .tflite files in DIR
    python tools/coral_table.py --keep DIR --reuse   # …and reuse them (convert only models not there yet)

Each model is built at its small configuration (the registry's ``small_input``, 10 classes, untrained
weights: op mapping does not depend on weight values), converted to full int8 with int8 input/output and
the batch pinned to 1 (what ``edgecnn convert --edgetpu`` hands the compiler), in a child process (the
converter can crash on a bad graph), and then analysed by :func:`edgecnn.targets.coral.compatibility_report`
in this process, which needs no TensorFlow. Models whose ``activation`` knob defaults to a swish also get a
ReLU6 row. Needs the [train] extra; takes a few minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "CORAL.md"


def convert_one(name: str, knobs: dict, out: str) -> None:
    """Child process: build ``name`` (small config) and write its full-int8, batch-1 .tflite to ``out``."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import numpy as np

    from edgecnn._tf import tf
    from edgecnn.zoo import create_model, get_spec

    spec = get_spec(name)
    model = create_model(name, input_shape=spec.small_input, num_classes=10, **knobs)
    shape = (1, *spec.small_input)
    fn = tf.function(lambda x: model(x, training=False))
    concrete = fn.get_concrete_function(tf.TensorSpec(shape, tf.float32, name="image"))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
    rng = np.random.default_rng(0)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([rng.random(shape, dtype=np.float32)] for _ in range(16))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    Path(out).write_bytes(converter.convert())


def _rows(names: list[str]) -> list[tuple[str, dict]]:
    from edgecnn.zoo import get_spec

    rows = []
    for name in names:
        spec = get_spec(name)
        rows.append((name, {}))
        default = str(spec.knobs.get("activation", ""))
        if "swish" in default:  # the Edge TPU has no hard-swish; the families offer relu6 instead
            rows.append((name, {"activation": "relu6"}))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="registered model names (default: all)")
    parser.add_argument("--keep", default=None, help="folder to keep the converted .tflite files in")
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: reuse .tflite files already there instead of converting again")
    parser.add_argument("--one", nargs=3, metavar=("NAME", "KNOBS_JSON", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        convert_one(args.one[0], json.loads(args.one[1]), args.one[2])
        return 0

    from edgecnn.targets.coral import compatibility_report
    from edgecnn.zoo import get_spec, list_models

    names = args.models or list_models()
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="coral-table-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for name, knobs in _rows(names):
        spec = get_spec(name)
        label = name + "".join(f" {k}={v}" for k, v in knobs.items())
        out = workdir / (name + "".join(f"_{v}" for v in knobs.values()) + "_int8.tflite")
        t0 = time.time()
        if args.reuse and out.exists():
            proc = subprocess.CompletedProcess([], 0, "", "")
        else:
            out.unlink(missing_ok=True)
            proc = subprocess.run([sys.executable, __file__, "--one", name, json.dumps(knobs), str(out)],
                                  capture_output=True, text=True, timeout=1800)
        seconds = time.time() - t0
        if proc.returncode != 0 or not out.exists():
            tail = [ln for ln in proc.stderr.splitlines() if ln.strip()][-1:] or [f"exit {proc.returncode}"]
            results.append({"label": label, "family": spec.family, "input": spec.small_input,
                            "error": tail[0][:160]})
            print(f"{label}: conversion failed ({tail[0][:160]})", flush=True)
            continue
        report = compatibility_report(out)
        unsupported = sorted({e["op"] for e in report["ops"] if e["status"] == "unsupported"})
        results.append({"label": label, "family": spec.family, "input": spec.small_input,
                        "size": out.stat().st_size, "report": report, "unsupported": unsupported})
        print(f"{label}: {report['verdict']} ({seconds:.0f} s)", flush=True)
    DOC.write_text(render(results))
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


def render(results: list[dict]) -> str:
    lines = [
        "# Coral Edge TPU compatibility of the zoo",
        "",
        "Generated by `python tools/coral_table.py` (do not edit by hand). Each model at its small configuration",
        "(10 classes, untrained), converted to full int8 with int8 input/output and batch 1, then checked by",
        "`edgecnn inspect --target coral` against Coral's documented rules",
        "([supported operations and model requirements](https://coral.ai/docs/edgetpu/models-intro/)).",
        "This predicts what `edgetpu_compiler` does; the compiler has extra, undocumented size limits, so run it",
        "(`edgecnn convert NAME --edgetpu`) for the final word.",
        "",
        "| model | family | input | weights | ops | on Edge TPU | compatible | verdict |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for r in results:
        shape = "×".join(str(d) for d in r["input"])
        if "error" in r:
            lines.append(f"| {r['label']} | {r['family']} | {shape} | – | – | – | – | conversion failed: "
                         f"{r['error']} |")
            continue
        rep = r["report"]
        c = rep["counts"]
        weights = f"{rep['weight_bytes'] / 2**20:.1f} MiB" + (" ⚠" if rep["weight_bytes"] > 7 * 2**20 else "")
        lines.append(f"| {r['label']} | {r['family']} | {shape} | {weights} | {c['total']} | "
                     f"{c['mapped']} | {'yes' if rep['edgetpu_compatible'] else 'no'} | {rep['verdict']} |")
    problems = [r for r in results if "report" in r and not r["report"]["edgetpu_compatible"]]
    lines += ["", "## What keeps ops off the Edge TPU", ""]
    if not problems:
        lines.append("Nothing: every model maps fully.")
    for r in problems:
        rep = r["report"]
        lines.append(f"- **{r['label']}**: cut at op {rep['cut_at']} ({rep['cut_op']}): {rep['cut_reason']}. "
                     f"Unsupported op types: {', '.join(r['unsupported']) or 'none'}.")
    lines += [
        "",
        "## Reading the table",
        "",
        "- *on Edge TPU* counts the ops the compiler would map. The compiler maps ops up to the first one it",
        "  cannot map and runs that op and **everything after it** on the CPU, so one unsupported op early in",
        "  the graph costs most of the speed-up.",
        "- A float-I/O model (the converter's default) adds a QUANTIZE at the input and a DEQUANTIZE at the",
        "  output that run on the CPU; they do not cut the graph. `edgecnn convert --edgetpu` writes int8 I/O.",
        "- Hard-swish (MobileNetV3), GELU (ConvNeXt) and LeakyReLU are not in Coral's op table; pick",
        "  `activation='relu6'` where a family offers it (rows with `activation=relu6`). Swish (EfficientNet)",
        "  maps, as a LOGISTIC and a MUL per activation: more ops than the relu6 variant.",
        "- *weights* ⚠: more than the ~7 MiB the Edge TPU caches on-chip; the rest streams from the host at",
        "  every inference, which costs speed (the compiler reports it as \"Off-chip memory used\").",
        "- The models were converted from the zoo at the commit that last changed this file; untrained",
        "  weights do not change which ops appear.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
