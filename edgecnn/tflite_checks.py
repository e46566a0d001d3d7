"""TensorFlow-free checks and measurements of a converted .tflite (runtime half).

What :mod:`edgecnn.convert` asks of every file it writes — does it run (and does XNNPACK take it), is an
integer model free of float32 tensors, its input dtype and quantisation, its gzip size, the zeros per layer
in its stored weights — answered from the bytes with :mod:`edgecnn.tflite_file` and :mod:`edgecnn.runtime`,
so the same checks work on a device that has only LiteRT.
"""
from __future__ import annotations

import gzip
import re
from typing import Any

import numpy as np

from edgecnn.errors import EdgecnnError

INTEGER_DTYPES = ("int8", "uint8")

# "<model name>/<layer name>/<op>" in tensor names and converter error locations.
LAYER_IN_NAME = re.compile(r"(?:^|[;\"'\s(])[A-Za-z0-9_.\-]+/(?:quant_)?([A-Za-z0-9_.\-]+)/")


def first_run(model_bytes: bytes) -> dict[str, Any]:
    """Load with the default delegate, allocate and invoke once on zeros; report what XNNPACK took.

    When XNNPACK refuses the model ("failed to create XNNPACK runtime", e.g. a MUL scale ratio below 2^-16)
    the model is run once more on the builtin kernels, so the parent can say "refused" rather than fail.
    """
    from edgecnn.runtime import delegated_ops, make_interpreter

    def run(delegate: str):
        interp = make_interpreter(model_bytes, num_threads=1, delegate=delegate)
        interp.allocate_tensors()
        detail = interp.get_input_details()[0]
        interp.set_tensor(detail["index"], np.zeros(detail["shape"], dtype=detail["dtype"]))
        interp.invoke()
        return interp

    try:
        interp = run("xnnpack")
    except RuntimeError as exc:
        run("none")  # the builtin kernels must run it; if not, the error goes to the parent
        return {"xnnpack": "refused", "xnnpack_error": str(exc).strip().splitlines()[0][:200]}
    info = delegated_ops(interp)
    total = info.get("total_ops")
    taken = len(info.get("delegated") or [])
    if info.get("delegate_nodes") is None:
        xnnpack = "unknown"
    elif taken == 0:
        xnnpack = "refused"
    elif total and taken < total:
        xnnpack = f"partial ({taken} of {total} ops)"
    else:
        xnnpack = "all ops"
    return {"xnnpack": xnnpack}


def check_fully_integer(model_bytes: bytes, variant: str) -> None:
    """An int8/uint8 model must have no float32 tensor: name the layers that stayed float and what to do."""
    from edgecnn.tflite_file import read_tflite

    info = read_tflite(model_bytes)
    if not info.float_tensors():
        return
    culprits = []
    for op in info.float_ops():
        if op.name in ("QUANTIZE", "DEQUANTIZE"):
            continue
        names = [info.tensors[i].name for i in op.outputs if i >= 0]
        match = LAYER_IN_NAME.search((names[0] if names else "") + "/")
        label = f"layer '{match.group(1)}' ({op.name})" if match else op.name
        if label not in culprits:
            culprits.append(label)
    what = ", ".join(culprits[:3]) + (f" and {len(culprits) - 3} more" if len(culprits) > 3 else "")
    raise EdgecnnError(f"{variant}: {what or 'some ops'} cannot run in int8 and stayed float32; try --dynamic or "
                       "--fp16 (float activations), or replace that layer with int8-friendly ones")


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def layer_sparsity(model_bytes: bytes) -> tuple[float, dict[str, float]]:
    """Zeros per weight tensor as stored in the .tflite (names shortened to the Keras layer)."""
    from edgecnn.tflite_file import read_tflite

    info = read_tflite(model_bytes)
    per_layer: dict[str, float] = {}
    for name, frac in info.sparsity_by_tensor().items():
        match = LAYER_IN_NAME.search(name + "/")
        key = match.group(1) if match else name.split(";")[0]
        per_layer[key] = round(float(frac), 4)
    return float(info.weight_sparsity), per_layer


def io_quantization(model_bytes: bytes) -> tuple[str, dict[str, float] | None, int]:
    """Input dtype, its (scale, zero_point), and the number of float32 tensors in the file."""
    from edgecnn.tflite_file import read_tflite

    info = read_tflite(model_bytes)
    tensor = info.input_tensors[0]
    quant = None
    if tensor.dtype in INTEGER_DTYPES:
        quant = {"scale": float(tensor.scales[0]), "zero_point": int(tensor.zero_points[0])}
    floats = sum(1 for t in info.float_tensors() if t.dtype == "float32")
    return tensor.dtype, quant, floats
