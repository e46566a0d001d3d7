#!/usr/bin/env python
"""Can a pruned model run faster than its dense float32 twin? Measure XNNPACK sparse inference here.

    python tools/sparse_speed.py                      # 224×224 timing at 70/80/90 % sparsity + a trained check
    python tools/sparse_speed.py --quick              # small sizes, few runs
    python tools/sparse_speed.py --json out.json

What the runtime needs (TFLite XNNPACK delegate README, "Sparse Inference"; XNNPACK
``xnn_check_nchw_compatibility`` / ``xnn_subgraph_rewrite_for_nchw``):

* the weights stored sparse: ``TFLiteConverter`` with ``tf.lite.Optimize.EXPERIMENTAL_SPARSITY`` on a pruned
  float model writes them with ``DENSIFY`` ops, and the delegate then asks XNNPACK for sparse inference
  (``XNN_FLAG_HINT_SPARSE_INFERENCE``); no user flag is involved;
* a graph XNNPACK can run in NCHW layout: it starts with a 3×3 stride-2 ``CONV_2D`` on 3 channels with
  padding 1 on every side, then 1×1 convs (≥ 2/3 of their weights zero), 3×3/5×5 depthwise convs with
  explicit symmetric padding (TensorFlow ``SAME`` padding is refused), ADD/MUL/unary ops, and ends in a
  spatial ``MEAN`` — so this script builds a MobileNet-v1-style net with ``ZeroPadding2D`` + ``VALID`` convs;
* **a CPU for which XNNPACK enables NCHW kernels**: on x86 it does so only *without* AVX ("sparse
  microkernels on x86 currently target only SSE, and on processors with AVX ISA dense inference is expected
  to be faster than sparse", ``xnn_is_chw_compatible_config``). On ARM (Raspberry Pi, phones) it is on.

So on an AVX machine the sparse file runs the dense kernels (identical outputs, same time): the script
reports the CPU flags, the outputs' difference (non-zero means another kernel path ran) and the timings,
interleaved in one process, so the result is measured rather than assumed. ``--emulate-cpu Nehalem`` also
runs both files under ``qemu-x86_64-static -cpu Nehalem`` (SSE4.2, no AVX; CPUID is emulated, so XNNPACK
picks its SSE sparse kernels): the outputs then differ and the sparse file wins, in emulated time.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edgecnn.profile import cpu_flags, interleaved_timing

FLAGS = ("sse4_1", "avx", "avx2", "avx512f", "asimd")


def build_sparse_friendly(size: int, classes: int, alpha: float = 1.0, depth: str = "full",
                          softmax: bool = True):
    """MobileNet v1 with explicit padding: the graph XNNPACK's sparse (NCHW) path accepts end to end."""
    from edgecnn._tf import keras

    layers = keras.layers
    inp = keras.Input((size, size, 3), name="input")

    def block(x, filters: int, stride: int, i: int):
        x = layers.ZeroPadding2D(1, name=f"dw{i}_pad")(x)
        x = layers.DepthwiseConv2D(3, stride, padding="valid", use_bias=False, name=f"dw{i}")(x)
        # Folded into the conv by the converter; momentum 0.9 so that short fine-tunes have usable statistics.
        x = layers.BatchNormalization(momentum=0.9, name=f"dw{i}_bn")(x)
        x = layers.ReLU(6.0, name=f"dw{i}_relu")(x)
        x = layers.Conv2D(int(filters * alpha), 1, use_bias=False, name=f"pw{i}")(x)  # where sparsity pays
        x = layers.BatchNormalization(momentum=0.9, name=f"pw{i}_bn")(x)
        return layers.ReLU(6.0, name=f"pw{i}_relu")(x)

    x = layers.ZeroPadding2D(1, name="stem_pad")(inp)
    x = layers.Conv2D(int(32 * alpha), 3, 2, padding="valid", use_bias=False, name="stem")(x)  # 3×3 s2, pad 1
    x = layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    if depth == "short":
        plan = plan[:6]
    for i, (filters, stride) in enumerate(plan, 1):
        x = block(x, filters, stride, i)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    # Without softmax (timing study) the output difference of two kernel paths stays measurable: a random
    # net's softmax is flat to float32 precision.
    out = layers.Dense(classes, activation="softmax" if softmax else None, name="predictions")(x)
    return keras.Model(inp, out, name=f"sparse_mobilenet_{size}")


def pointwise_layers(model) -> list:
    return [layer for layer in model.layers
            if type(layer).__name__ == "Conv2D" and tuple(layer.kernel_size) == (1, 1)]


def magnitude_prune(model, sparsity: float, rescale: bool = False) -> float:
    """Zero the smallest weights of every 1×1 conv (per layer); returns the achieved overall 1×1 sparsity."""
    zeros = total = 0
    for layer in pointwise_layers(model):
        kernel, *rest = layer.get_weights()  # (and the bias, if any)
        threshold = np.quantile(np.abs(kernel), sparsity)
        kernel = np.where(np.abs(kernel) <= threshold, 0.0, kernel).astype(kernel.dtype)
        if rescale:  # keep the activations' scale so a deep random net does not fade to zeros
            kernel = (kernel / np.sqrt(max(1e-6, 1.0 - sparsity))).astype(kernel.dtype)
        layer.set_weights([kernel, *rest])
        zeros += int((kernel == 0).sum())
        total += kernel.size
    return zeros / max(1, total)


def pointwise_sparsity(model) -> float:
    kernels = [layer.get_weights()[0] for layer in pointwise_layers(model)]
    return float(sum((k == 0).sum() for k in kernels) / max(1, sum(k.size for k in kernels)))


def convert(model, sparse: bool) -> bytes:
    from edgecnn._tf import tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if sparse:
        converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    return converter.convert()


def count_ops(model_bytes: bytes) -> dict[str, int]:
    try:
        from edgecnn.tflite_file import read_tflite

        return read_tflite(model_bytes).op_histogram()
    except Exception:  # noqa: BLE001 - op counts are informative only
        return {}


def interleaved(models: dict[str, bytes], threads: int, runs: int, seconds: float) -> tuple[dict, dict]:
    """Median ms per model (invoked in turn) and each model's output for one shared random input."""
    from edgecnn.runtime import make_interpreter

    rng = np.random.default_rng(0)
    interps, outputs = {}, {}
    x = None
    for name, blob in models.items():
        interp = make_interpreter(blob, num_threads=threads)
        interp.allocate_tensors()
        detail = interp.get_input_details()[0]
        if x is None:
            x = rng.random(tuple(detail["shape"]), dtype=np.float32)
        interp.set_tensor(detail["index"], x)
        interp.invoke()
        outputs[name] = interp.get_tensor(interp.get_output_details()[0]["index"]).copy()
        interps[name] = interp
    times = interleaved_timing({n: i.invoke for n, i in interps.items()}, rounds=runs, max_secs=seconds, warmup=2)
    return {n: float(np.median(t)) for n, t in times.items()}, outputs


def timing_study(size: int, sparsities: list[float], threads: int, runs: int, seconds: float,
                 emulate_cpu: str | None = None) -> list[dict]:
    """Random weights at ``size``: dense vs sparse-encoded float32 of the same pruned weights."""
    from edgecnn.zoo.random_weights import he_init

    rows = []
    for sparsity in sparsities:
        model = build_sparse_friendly(size, 1000, softmax=False)
        he_init(model)
        achieved = magnitude_prune(model, sparsity, rescale=True)
        dense, sparse = convert(model, False), convert(model, True)
        ms, out = interleaved({"dense": dense, "sparse": sparse}, threads, runs, seconds)
        emulated = emulate(dense, sparse, emulate_cpu, threads) if emulate_cpu else None
        rows.append({
            "input": size, "target_sparsity": sparsity, "pointwise_sparsity": round(achieved, 4),
            "dense_ms": ms["dense"], "sparse_ms": ms["sparse"], "speedup": ms["dense"] / ms["sparse"],
            "dense_bytes": len(dense), "sparse_bytes": len(sparse),
            "dense_gzip": len(gzip.compress(dense)), "sparse_ops": count_ops(sparse).get("DENSIFY", 0),
            "max_output_difference": float(np.abs(out["dense"] - out["sparse"]).max()),
            "loadavg": os.getloadavg()[0],
            "emulated": emulated,
        })
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def emulate(dense: bytes, sparse: bytes, cpu: str, threads: int, runs: int = 3) -> dict[str, Any]:
    """Time both files in a child under ``qemu-x86_64-static -cpu CPU`` (e.g. Nehalem: SSE4.2, no AVX).

    XNNPACK reads the CPU's features with CPUID, so an emulated CPU without AVX gets its NCHW/sparse
    kernels. Emulated milliseconds are not real ones; what counts is the output difference (another
    kernel path ran) and the order of magnitude of the ratio.
    """
    import shutil
    import tempfile

    qemu = shutil.which("qemu-x86_64-static") or shutil.which("qemu-x86_64")
    if qemu is None:
        return {"cpu": cpu, "error": "qemu-x86_64 not installed (apt-get install qemu-user-static)"}
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / "dense.tflite", Path(tmp) / "sparse.tflite"]
        paths[0].write_bytes(dense)
        paths[1].write_bytes(sparse)
        cmd = [qemu, "-cpu", cpu, sys.executable, str(Path(__file__).resolve()), "--time-files",
               str(paths[0]), str(paths[1]), "--threads", str(threads), "--runs", str(runs)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"cpu": cpu, "error": f"exit {proc.returncode}: {tail[:200]}"}
    result = json.loads(lines[-1])
    result["cpu"] = cpu
    return result


def time_files(dense: str, sparse: str, threads: int, runs: int) -> dict[str, Any]:
    """(Child, TF-free) median ms of two .tflite files and the largest difference of their outputs."""
    ms, out = interleaved({"dense": Path(dense).read_bytes(), "sparse": Path(sparse).read_bytes()}, threads, runs,
                          seconds=1e9)
    return {"dense_ms": ms["dense"], "sparse_ms": ms["sparse"], "speedup": ms["dense"] / ms["sparse"],
            "max_output_difference": float(np.abs(out["dense"] - out["sparse"]).max())}


def accuracy_study(size: int, sparsities: list[float], epochs: int, limit: int, threads: int, runs: int,
                   seconds: float) -> list[dict]:
    """Train on Fashion-MNIST (grey → 3 channels, as the sparse path needs), prune with fine-tuning, compare."""
    from edgecnn.data import load_dataset
    from edgecnn.evaluate import evaluate_tflite
    from edgecnn.optimize import prune
    from edgecnn.preprocess import PreprocessSpec, to_float_input

    spec = PreprocessSpec(height=size, width=size, channels=3, resize="pad")
    data = load_dataset("fashion_mnist", spec, limit=limit)
    model = build_sparse_friendly(size, data.num_classes, alpha=0.5, depth="short")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(to_float_input(data.x_train, spec), data.y_train, epochs=epochs, batch_size=64, verbose=0)
    base_bytes = convert(model, False)
    base_acc = evaluate_tflite(base_bytes, data.x_test, data.y_test, spec, num_threads=threads)["accuracy"]
    weights = model.get_weights()
    rows = []
    for sparsity in sparsities:
        model.set_weights(weights)
        # As many fine-tuning epochs as training ones: one epoch at 75–90 % sparsity loses most of the accuracy.
        pruned = prune(model, sparsity, data=data, spec=spec, epochs=epochs, learning_rate=1e-3, recover_points=None)
        dense, sparse = convert(pruned, False), convert(pruned, True)
        ms, _ = interleaved({"base": base_bytes, "dense": dense, "sparse": sparse}, threads, runs, seconds)
        acc = {name: evaluate_tflite(blob, data.x_test, data.y_test, spec, num_threads=threads)["accuracy"]
               for name, blob in (("dense", dense), ("sparse", sparse))}
        rows.append({
            "input": size, "target_sparsity": sparsity, "pointwise_sparsity": round(pointwise_sparsity(pruned), 4),
            "unpruned_accuracy": base_acc, "pruned_accuracy": acc["dense"], "sparse_file_accuracy": acc["sparse"],
            "unpruned_ms": ms["base"], "dense_ms": ms["dense"], "sparse_ms": ms["sparse"],
            "speedup_vs_unpruned": ms["base"] / ms["sparse"], "test_images": int(len(data.y_test)),
            "train_images": int(len(data.y_train)), "sparse_bytes": len(sparse), "dense_bytes": len(dense),
            "loadavg": os.getloadavg()[0],
        })
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=224, help="input size of the timing study")
    parser.add_argument("--sparsities", default="0.7,0.8,0.9")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--parts", default="timing,trained",
                        help="which studies: timing (native), emulated (needs --emulate-cpu), trained")
    parser.add_argument("--train-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=6000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None,
                        help="write the results here (parts not measured in this run are kept from the file)")
    parser.add_argument("--emulate-cpu", default=None, metavar="MODEL",
                        help="also time under qemu-x86_64 with this CPU model (e.g. Nehalem: no AVX)")
    parser.add_argument("--emulate-size", type=int, default=96, help="input size for the emulated timing")
    parser.add_argument("--time-files", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.time_files:
        print(json.dumps(time_files(*args.time_files, args.threads, args.runs or 3)))
        return 0
    sparsities = [float(s) for s in args.sparsities.split(",")]
    runs = args.runs or (10 if args.quick else 60)
    seconds = 5.0 if args.quick else 30.0
    size = 96 if args.quick and args.size == 224 else args.size
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if args.emulate_cpu:
        parts.add("emulated")

    from edgecnn.runtime import runtime_info

    result: dict[str, Any] = {}
    if args.json and Path(args.json).is_file():  # measure some parts now, others another time
        result = json.loads(Path(args.json).read_text())
    result.update({"cpu_flags": cpu_flags(FLAGS), "runtime": runtime_info(), "threads": args.threads})
    if "timing" in parts:
        result["timing"] = timing_study(size, sparsities, args.threads, runs, seconds)
    if "emulated" in parts:  # a smaller input: emulation runs ~1000× slower
        if not args.emulate_cpu:
            parser.error("--parts emulated needs --emulate-cpu (e.g. Nehalem)")
        result["emulated"] = timing_study(args.emulate_size, sparsities, args.threads, 3, 5.0,
                                          emulate_cpu=args.emulate_cpu)
    if "trained" in parts:
        result["trained"] = accuracy_study(32 if args.quick else args.train_size, sparsities,
                                           1 if args.quick else args.epochs, 600 if args.quick else args.limit,
                                           args.threads, runs, seconds)
    flags = result["cpu_flags"]
    sparse_on = not flags.get("avx", False) if "avx" in flags else None
    result["xnnpack_sparse_kernels_expected"] = sparse_on
    if args.json:
        from edgecnn.fileio import write_json

        write_json(args.json, result)
    print(f"CPU flags: {flags}; XNNPACK NCHW/sparse kernels expected on this CPU: {sparse_on}")
    for row in result.get("timing", []):
        print(f"{row['input']}px random weights, 1×1 sparsity {row['pointwise_sparsity']:.0%}: dense "
              f"{row['dense_ms']:.2f} ms, sparse {row['sparse_ms']:.2f} ms → {row['speedup']:.2f}× "
              f"(size {row['dense_bytes'] / 1e6:.1f} → {row['sparse_bytes'] / 1e6:.1f} MB, max output diff "
              f"{row['max_output_difference']:.2e})")
    for row in result.get("emulated", []):
        emu = row.get("emulated") or {}
        if "error" in emu:
            print(f"emulated {emu.get('cpu')}: {emu['error']}")
            continue
        print(f"emulated {emu.get('cpu')} ({row['input']}px, 1×1 sparsity {row['pointwise_sparsity']:.0%}): "
              f"dense {emu['dense_ms']:.0f} ms, sparse {emu['sparse_ms']:.0f} ms (emulated time) → "
              f"{emu['speedup']:.1f}×, max output diff {emu['max_output_difference']:.1e}")
    for row in result.get("trained", []):
        print(f"{row['input']}px trained, 1×1 sparsity {row['pointwise_sparsity']:.0%}: accuracy "
              f"{row['unpruned_accuracy']:.3f} → {row['sparse_file_accuracy']:.3f}; unpruned {row['unpruned_ms']:.3f} ms, "
              f"sparse {row['sparse_ms']:.3f} ms → {row['speedup_vs_unpruned']:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
