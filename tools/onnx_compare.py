#!/usr/bin/env python
"""LiteRT (float32, int8) vs ONNX Runtime (float32) on the same architecture, timed in one process.

    pip install onnxruntime tf2onnx        # optional: not a dependency of edgecnn
    python tools/onnx_compare.py                       # mobilenet_v2 at its canonical 224×224×3
    python tools/onnx_compare.py --models mobilenet_v2,resnet18 --json docs/onnx_compare.json

The number a desktop user compares against is ONNX Runtime's CPU execution provider on the same network.
Each model is built by the zoo (random weights: timing only), converted to TFLite float32 and full int8 the
way ``edgecnn convert`` does (:func:`edgecnn.benchmark.measure.keras_to_tflite`), and to ONNX with tf2onnx;
the three are invoked in turn (:func:`edgecnn.profile.interleaved_timing`) with the same thread count (ONNX
Runtime's threads told not to spin), and the outputs of float32 LiteRT and ONNX Runtime are compared as a
conversion check.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np


def to_onnx(model, opset: int = 17) -> bytes:
    """Keras (tf_keras) model → ONNX bytes through a tf.function (tf2onnx)."""
    import tf2onnx

    from edgecnn._tf import tf

    spec = (tf.TensorSpec((1, *model.input_shape[1:]), tf.float32, name="input"),)
    fn = tf.function(lambda x: model(x, training=False))
    onnx_model, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=opset)
    return onnx_model.SerializeToString()


def _feed(interp: Any, x: np.ndarray) -> None:
    """Set a float input (already in the preprocessing range), quantised for an int8/uint8 model."""
    from edgecnn.preprocess import quantize

    detail = interp.get_input_details()[0]
    if detail["dtype"] != np.float32:
        scale, zero_point = detail["quantization"]
        x = quantize(x, scale, zero_point, detail["dtype"])
    interp.set_tensor(detail["index"], x.astype(detail["dtype"]))


def compare(name: str, threads: int, runs: int, seconds: float, work: Path) -> dict[str, Any]:
    import onnxruntime as ort

    from edgecnn.benchmark.measure import keras_to_tflite
    from edgecnn.profile import interleaved_timing, ready_interpreter
    from edgecnn.zoo import create_model, get_spec
    from edgecnn.zoo.random_weights import he_init

    spec = get_spec(name)
    rng = np.random.default_rng(0)
    model = create_model(name)
    he_init(model)  # random weights that keep their signal: a flat softmax would make the output check vacuous
    calib = rng.random((16, *spec.canonical_input), dtype=np.float32)
    made = keras_to_tflite(model, {key: (key.split("_")[1], work / f"{name}_{key}.tflite")
                                   for key in ("litert_float32", "litert_int8")}, calib)
    onnx_bytes = to_onnx(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Spinning ORT threads would steal the cores from whatever runs next in the interleaved loop.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    x = rng.random((1, *spec.canonical_input), dtype=np.float32)

    runners, outputs = {}, {}
    for key, info in made.items():
        interp = ready_interpreter(info["file"], num_threads=threads)
        _feed(interp, x)
        interp.invoke()
        runners[key] = interp.invoke
        detail = interp.get_output_details()[0]
        outputs[key] = interp.get_tensor(detail["index"]).astype(np.float32)
    input_name = session.get_inputs()[0].name
    runners["onnxruntime_float32"] = lambda: session.run(None, {input_name: x})
    outputs["onnxruntime_float32"] = runners["onnxruntime_float32"]()[0]
    times = interleaved_timing(runners, rounds=runs, max_secs=seconds, warmup=3)
    median = {k: float(np.median(v)) for k, v in times.items()}
    return {
        "model": name, "input_shape": list(spec.canonical_input), "threads": threads,
        "median_ms": median, "runs": len(times["litert_float32"]),
        "max_abs_diff_float32": float(np.abs(outputs["litert_float32"] - outputs["onnxruntime_float32"]).max()),
        # A check that the comparison is not vacuous: random weights can leave a near-uniform output.
        "float32_output_range": float(np.ptp(outputs["litert_float32"])),
        "sizes": {"litert_float32": made["litert_float32"]["size_bytes"],
                  "litert_int8": made["litert_int8"]["size_bytes"], "onnx_float32": len(onnx_bytes)},
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
