#!/usr/bin/env python
"""Would int16 activations × int8 weights be a useful precision for the plan on this CPU? A timing study.

    python tools/int16x8_speed.py                      # writes docs/int16x8_speed.json
    python tools/int16x8_speed.py --models mobilenet_v2 --json /tmp/x.json

For each model (its small config, He-normal random weights: kernel speed does not depend on the values):
float32, full int8 and the converter's 16×8 mode (``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``),
each loaded with LiteRT's default CPU delegate (XNNPACK) and timed in turn in one process
(:func:`edgecnn.profile.interleaved_timing`). The JSON records how many of each file's ops XNNPACK took: ops
it leaves run on TFLite's builtin (reference-grade for int16) kernels. The precision plan
(:mod:`edgecnn.precision_plan`) offers 16×8 only where this study shows it fast.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parents[1] / "docs"


def convert_16x8(saved_model: str, calibration: np.ndarray) -> bytes:
    from edgecnn._tf import tf
    from edgecnn.tflite_edit import strip_for_runtime

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([calibration[i:i + 1]] for i in range(len(calibration)))
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return strip_for_runtime(converter.convert())


def study(name: str, rounds: int, threads: int) -> dict:
    import edgecnn
    from edgecnn._tf import tf
    from edgecnn.benchmark.measure import keras_to_tflite
    from edgecnn.profile import interleaved_timing, ready_interpreter
    from edgecnn.runtime import delegated_ops
    from edgecnn.zoo.random_weights import he_init

    from edgecnn.train import SMALL_INPUT_KNOBS
    from edgecnn.zoo import get_spec

    small = get_spec(name).small_input
    model = edgecnn.create_model(name, input_shape=tuple(small), num_classes=10, **SMALL_INPUT_KNOBS.get(name, {}))
    he_init(model)
    shape = tuple(int(v) for v in model.inputs[0].shape[1:])
    calibration = np.random.default_rng(0).random((32, *shape), dtype=np.float32)
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        made = keras_to_tflite(model, {"float32": ("float32", Path(tmp) / "f.tflite"),
                                       "int8": ("int8", Path(tmp) / "i.tflite")}, calibration)
        for key, info in made.items():
            files[key] = Path(info["file"]).read_bytes()
        saved = Path(tmp) / "sm"
        tf.saved_model.save(model, str(saved))
        files["int16x8"] = convert_16x8(str(saved), calibration)
    interps = {k: ready_interpreter(v, num_threads=threads, where=k) for k, v in files.items()}
    taken = {k: delegated_ops(i) for k, i in interps.items()}
    times = interleaved_timing({k: i.invoke for k, i in interps.items()}, rounds=rounds, warmup=3, burst=5,
                               max_secs=60.0)
    median = {k: float(np.median(t)) for k, t in times.items()}
    return {"model": name, "input": list(shape), "median_ms": median,
            "speedup_vs_float32": {k: median["float32"] / v for k, v in median.items()},
            "size_bytes": {k: len(v) for k, v in files.items()},
            "xnnpack_ops": {k: f"{len(v['delegated'])} of {v['total_ops']}" for k, v in taken.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--models", default="mobilenet_v2,resnet18,convnext_tiny")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=str(DOCS / "int16x8_speed.json"))
    args = parser.parse_args()
    import os

    from edgecnn.fileio import write_json
    from edgecnn.profile import machine_info

    rows = [study(name, args.rounds, args.threads) for name in args.models.split(",")]
    load = os.getloadavg()[0]
    write_json(args.json, {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "threads": args.threads,
                           "loadavg_1min": load, "machine": machine_info(), "rows": rows})
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
