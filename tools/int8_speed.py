#!/usr/bin/env python
"""Does the int8 file edgecnn writes keep the speed-up a bare LiteRT loop gets? MobileNetV2 at 224×224×3.

    python tools/int8_speed.py                         # writes docs/int8_speed.json (a section of BENCHMARKS.md)
    python tools/int8_speed.py --rounds 10 --json /tmp/x.json

Five files, timed in one process, round-robin in blocks of 10 invokes (2 threads, XNNPACK), so that every
file sees the same machine state:

* edgecnn's MobileNetV2 float32 and full int8 (int8 I/O) exactly as ``edgecnn convert`` writes them
  (:func:`edgecnn.benchmark.measure.keras_to_tflite`: convert's own conversion step, then
  :func:`edgecnn.tflite_edit.strip_for_runtime`);
* the same model through one bare converter call (no stripping): does edgecnn's pipeline cost time?
* Keras Applications' MobileNetV2 float32 and int8 from a plain converter call: the reference ratio
  ("a bare LiteRT loop") on this CPU.

Random weights (He-normal, so that activations keep their scale) and random calibration images: the timing of
the int8 kernels does not depend on the values. The CPU's vector extensions are recorded: XNNPACK's int8
kernels gain most with VNNI / AVX-512 (x86) or dot-product instructions (ARM).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

DOCS = Path(__file__).resolve().parents[1] / "docs"
FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "asimddp", "i8mm")


def cpu_info() -> dict[str, Any]:
    from edgecnn.profile import cpu_flags, machine_info

    return {"cpu": machine_info()["cpu"], "flags": cpu_flags(FLAGS)}


def plain_convert(model: Any, int8: bool, calib: np.ndarray) -> bytes:
    """The reference: one bare converter call (full int8 with int8 I/O), nothing edgecnn adds."""
    from edgecnn._tf import tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x[None, ...]] for x in calib)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


def build_files(folder: Path) -> dict[str, Path]:
    from edgecnn._tf import keras
    from edgecnn.benchmark.measure import keras_to_tflite
    from edgecnn.zoo import create_model
    from edgecnn.zoo.random_weights import he_init

    calib = np.random.default_rng(0).random((8, 224, 224, 3), dtype=np.float32)
    zoo = create_model("mobilenet_v2")
    he_init(zoo)
    reference = keras.applications.MobileNetV2(weights=None)
    he_init(reference)
    made = keras_to_tflite(zoo, {"edgecnn float32": ("float32", folder / "0.tflite"),
                                 "edgecnn int8": ("int8", folder / "1.tflite")}, calib)
    paths = {name: Path(info["file"]) for name, info in made.items()}
    for i, (name, blob) in enumerate({
        "edgecnn model, plain converter int8": plain_convert(zoo, True, calib),
        "Keras Applications float32": plain_convert(reference, False, calib),
        "Keras Applications int8": plain_convert(reference, True, calib),
    }.items(), start=2):
        paths[name] = folder / f"{i}.tflite"
        paths[name].write_bytes(blob)
    return paths


def time_interleaved(paths: dict[str, Path], rounds: int, threads: int) -> dict[str, dict[str, float]]:
    """Per file: median and p10 latency over ``rounds`` blocks of 10 invokes, files taken in turn."""
    from edgecnn.profile import interleaved_timing, ready_interpreter

    runners = {name: ready_interpreter(path, num_threads=threads).invoke for name, path in paths.items()}
    times = interleaved_timing(runners, rounds=rounds, warmup=3, burst=10)
    return {name: {"median_ms": float(np.median(times[name])), "p10_ms": float(np.percentile(times[name], 10)),
                   "runs": int(len(times[name])), "bytes": path.stat().st_size}
            for name, path in paths.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="blocks of 10 invokes per file")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=str(DOCS / "int8_speed.json"))
    args = parser.parse_args(argv)

    from edgecnn.benchmark.measure import now
    from edgecnn.fileio import write_json

    with tempfile.TemporaryDirectory() as tmp:
        paths = build_files(Path(tmp))
        timing = time_interleaved(paths, args.rounds, args.threads)
    ms = {name: row["median_ms"] for name, row in timing.items()}
    result = {
        **cpu_info(), "threads": args.threads, "model": "mobilenet_v2", "input_shape": [224, 224, 3],
        "timing": timing,
        "speedup": {"edgecnn": ms["edgecnn float32"] / ms["edgecnn int8"],
                    "keras_applications": ms["Keras Applications float32"] / ms["Keras Applications int8"]},
        "measured_at": now(),
    }
    write_json(args.json, result)
    for name, row in timing.items():
        print(f"{name:36s} {row['median_ms']:7.2f} ms  (p10 {row['p10_ms']:.2f}, {row['bytes'] / 1e6:.2f} MB)")
    print(f"int8 speed-up: edgecnn {result['speedup']['edgecnn']:.2f}×, "
          f"Keras Applications + plain converter {result['speedup']['keras_applications']:.2f}×  → {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
