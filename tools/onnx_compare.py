#!/usr/bin/env python
"""LiteRT (float32, int8) vs ONNX Runtime (float32) on the same architecture, timed in one process.

    pip install onnxruntime tf2onnx        # optional: not a dependency of edgecnn
    python tools/onnx_compare.py                       # mobilenet_v2 at its canonical 224×224×3
    python tools/onnx_compare.py --models mobilenet_v2,resnet18 --json docs/onnx_compare.json

The number a desktop user compares against is ONNX Runtime's CPU execution provider on the same network.
Each model is built by the zoo (random weights: timing only), converted to TFLite float32 and full int8 the
way the benchmark does, and to ONNX with tf2onnx; the three are invoked in turn (interleaved) with the same
thread count, and the outputs of float32 LiteRT and ONNX Runtime are compared as a conversion check.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tools"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402


def to_onnx(model, opset: int = 17) -> bytes:
    """Keras (tf_keras) model → ONNX bytes through a tf.function (tf2onnx)."""
    import tf2onnx

    from edgecnn._tf import tf

    spec = (tf.TensorSpec((1, *model.input_shape[1:]), tf.float32, name="input"),)
    fn = tf.function(lambda x: model(x, training=False))
    onnx_model, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=opset)
    return onnx_model.SerializeToString()


def compare(name: str, threads: int, runs: int, seconds: float, work: Path) -> dict[str, Any]:
    import onnxruntime as ort

    from benchmark_zoo import _interpreter, _model_input, to_tflite
    from edgecnn.zoo import create_model, get_spec

    spec = get_spec(name)
    rng = np.random.default_rng(0)
    model = create_model(name)
    from sparse_speed import he_init

    he_init(model)  # random weights that keep their signal: a flat softmax would make the output check vacuous
    calib = rng.random((16, *spec.canonical_input), dtype=np.float32)
    blobs = {"litert_float32": to_tflite(model, False), "litert_int8": to_tflite(model, True, calib)}
    onnx_bytes = to_onnx(model)
    work.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, blob in blobs.items():
        paths[key] = work / f"{name}_{key}.tflite"
        paths[key].write_bytes(blob)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    x = rng.random((1, *spec.canonical_input), dtype=np.float32)

    runners, outputs = {}, {}
    for key, path in paths.items():
        interp = _interpreter(path, threads)
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        interp.set_tensor(inp["index"], _model_input(x, inp))
        runners[key] = interp.invoke
        interp.invoke()
        outputs[key] = interp.get_tensor(out["index"]).astype(np.float32)
    input_name = session.get_inputs()[0].name
    runners["onnxruntime_float32"] = lambda: session.run(None, {input_name: x})
    outputs["onnxruntime_float32"] = runners["onnxruntime_float32"]()[0]
    for run in runners.values():  # warm-up
        for _ in range(3):
            run()
    times: dict[str, list[float]] = {k: [] for k in runners}
    deadline = time.perf_counter() + seconds
    for i in range(runs):
        for key, run in runners.items():
            t0 = time.perf_counter_ns()
            run()
            times[key].append((time.perf_counter_ns() - t0) / 1e6)
        if i >= 4 and time.perf_counter() > deadline:
            break
    median = {k: float(np.median(v)) for k, v in times.items()}
    return {
        "model": name, "input_shape": list(spec.canonical_input), "threads": threads,
        "median_ms": median, "runs": len(times["litert_float32"]),
        "max_abs_diff_float32": float(np.abs(outputs["litert_float32"] - outputs["onnxruntime_float32"]).max()),
        # A check that the comparison is not vacuous: random weights can leave a near-uniform output.
        "float32_output_range": float(np.ptp(outputs["litert_float32"])),
        "sizes": {"litert_float32": len(blobs["litert_float32"]), "litert_int8": len(blobs["litert_int8"]),
                  "onnx_float32": len(onnx_bytes)},
        "versions": {"onnxruntime": ort.__version__, "tf2onnx": __import__("tf2onnx").__version__},
        "loadavg": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="mobilenet_v2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--work", default="/tmp/edgecnn_onnx_compare")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    try:
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as exc:
        print(f"Error: ONNX Runtime comparison needs onnxruntime and tf2onnx ({exc.name} missing): "
              "pip install onnxruntime tf2onnx", file=sys.stderr)
        return 1
    rows = [compare(name.strip(), args.threads, args.runs, args.seconds, Path(args.work))
            for name in args.models.split(",") if name.strip()]
    for row in rows:
        ms = row["median_ms"]
        print(f"{row['model']} {'×'.join(map(str, row['input_shape']))}, {row['threads']} threads: "
              f"LiteRT float32 {ms['litert_float32']:.2f} ms, LiteRT int8 {ms['litert_int8']:.2f} ms, "
              f"ONNX Runtime float32 {ms['onnxruntime_float32']:.2f} ms "
              f"(max |diff| float32 outputs {row['max_abs_diff_float32']:.1e})")
    if args.json:
        from edgecnn.fileio import write_json

        write_json(args.json, {"rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
