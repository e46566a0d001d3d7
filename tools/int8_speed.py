#!/usr/bin/env python
"""Does the int8 file edgecnn writes keep the speed-up a bare LiteRT loop gets? MobileNetV2 at 224×224×3.

    python tools/int8_speed.py                         # writes docs/int8_speed.json (read by benchmark_zoo.py)
    python tools/int8_speed.py --rounds 10 --json /tmp/x.json

Five files, timed in one process, round-robin in blocks of 10 invokes (2 threads, XNNPACK), so that every
file sees the same machine state:

* edgecnn's MobileNetV2 float32 and full int8 (int8 I/O) exactly as ``edgecnn convert`` writes them
  (converter, then :func:`edgecnn.convert.strip_for_runtime`);
* the same int8 model straight from the converter (no stripping): does edgecnn's post-processing cost time?
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

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
TOOLS = Path(__file__).resolve().parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

import numpy as np  # noqa: E402

FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "asimddp", "i8mm")


def cpu_info() -> dict[str, Any]:
    from benchmark_zoo import environment
    from sparse_speed import cpu_flags

    return {"cpu": environment()["cpu"], "flags": cpu_flags(FLAGS)}


def build_files(folder: Path) -> dict[str, Path]:
    from benchmark_zoo import _converter_int8
    from sparse_speed import he_init

    from edgecnn._tf import keras, tf
    from edgecnn.convert import strip_for_runtime
    from edgecnn.zoo import create_model

    calib = np.random.default_rng(0).random((8, 224, 224, 3), dtype=np.float32)

    def convert(model, int8: bool) -> bytes:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        if int8:
            _converter_int8(converter, calib)
        return converter.convert()

    zoo = create_model("mobilenet_v2")
    he_init(zoo)
    reference = keras.applications.MobileNetV2(weights=None)
    he_init(reference)
    blobs = {
        "edgecnn float32": strip_for_runtime(convert(zoo, False)),
        "edgecnn int8": strip_for_runtime(zoo_int8 := convert(zoo, True)),
        "edgecnn int8, not stripped": zoo_int8,
        "Keras Applications float32": convert(reference, False),
        "Keras Applications int8": convert(reference, True),
    }
    paths = {}
    for i, (name, blob) in enumerate(blobs.items()):
        paths[name] = folder / f"{i}.tflite"
        paths[name].write_bytes(blob)
    return paths


def time_interleaved(paths: dict[str, Path], rounds: int, threads: int) -> dict[str, dict[str, float]]:
    """Per file: median and p10 latency over ``rounds`` blocks of 10 invokes, files taken in turn."""
    from benchmark_zoo import interleaved_latency

    timing = interleaved_latency(paths, threads, runs=rounds, seconds=float("inf"), burst=10)
    return {name: {"median_ms": timing["median_ms"][name], "p10_ms": timing["p10_ms"][name],
                   "runs": timing["runs"], "bytes": path.stat().st_size}
            for name, path in paths.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="blocks of 10 invokes per file")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=str(ROOT / "docs" / "int8_speed.json"))
    args = parser.parse_args(argv)

    from benchmark_zoo import _now

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
        "measured_at": _now(),
    }
    write_json(args.json, result)
    for name, row in timing.items():
        print(f"{name:32s} {row['median_ms']:7.2f} ms  (p10 {row['p10_ms']:.2f}, {row['bytes'] / 1e6:.2f} MB)")
    print(f"int8 speed-up: edgecnn {result['speedup']['edgecnn']:.2f}×, "
          f"Keras Applications + plain converter {result['speedup']['keras_applications']:.2f}×  → {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
