"""Never crash on a user's file: lint the graph in this process, run the native runtime in a child process.

Two layers (the runtime's flatbuffer verifier catches garbage, but some field-level corruptions that pass it
still segfault or abort the process: tests/test_fuzz.py):

1. :func:`load_checked` reads the file with the pure-Python reader (:mod:`edgecnn.tflite_file`) and
   :func:`lint_model` rejects what is known to crash the runtime — an op input of -1 in a required slot, an op
   output or graph input that is a weight, two ops writing one tensor, constant data that does not fill
   its shape, a tensor read before it is written — each with a one-line message.
2. :func:`run_in_child` (:mod:`edgecnn.child`, re-exported here) runs a function (load + allocate + invoke,
   profiling, prediction) in a child process with an isolated ``sys.path``, a timeout and a memory cap. A
   signal becomes "the runtime crashed on this model (signal 11, SIGSEGV)". :func:`check_runs` is the
   child side of "does the runtime run this model". The child imports only numpy and the runtime (about
   0.2 s), never TensorFlow.
"""
from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from edgecnn.child import run_in_child  # noqa: F401 - the public name callers import from here
from edgecnn.errors import EdgecnnError

if TYPE_CHECKING:
    from edgecnn.tflite_file import TFLiteModel

# Input slots that may hold -1 (an omitted optional tensor), for ops whose slots are all known.
_OPTIONAL_SLOTS: dict[str, set[int]] = {
    "CONV_2D": {2}, "DEPTHWISE_CONV_2D": {2}, "FULLY_CONNECTED": {2}, "CONV_3D": {2}, "TRANSPOSE_CONV": {3},
    "RESHAPE": {1}, "ADD": set(), "SUB": set(), "MUL": set(), "DIV": set(), "CONCATENATION": set(),
    "MEAN": set(), "SUM": set(), "PAD": set(), "PADV2": set(), "MAX_POOL_2D": set(), "AVERAGE_POOL_2D": set(),
    "SOFTMAX": set(), "LOGISTIC": set(), "TANH": set(), "RELU": set(), "RELU6": set(), "HARD_SWISH": set(),
    "QUANTIZE": set(), "DEQUANTIZE": set(), "STRIDED_SLICE": set(), "TRANSPOSE": set(), "BATCH_MATMUL": set(),
    "GATHER": set(), "SQUEEZE": set(), "SHAPE": set(), "MAXIMUM": set(), "MINIMUM": set(), "PRELU": set(),
    "RESIZE_BILINEAR": set(), "RESIZE_NEAREST_NEIGHBOR": set(), "LEAKY_RELU": set(), "SLICE": set(),
    "SPLIT": set(), "PACK": set(), "UNPACK": set(), "EXPAND_DIMS": set(), "ARG_MAX": set(),
}
MAX_TENSOR_BYTES = 1 << 34  # 16 GiB: a larger tensor is a corrupt shape, not a model


def lint_model(model: "TFLiteModel", label: str = "model") -> None:
    """Reject structures that crash the native runtime, and tensors no runtime child could hold.
    Raises EdgecnnError with the first problem found."""
    problem = structural_problem(model)
    if problem:
        raise EdgecnnError(f"{label}: malformed model graph ({problem})")
    problem = memory_problem(model, declared_bytes_limit())
    if problem:
        raise EdgecnnError(f"{label}: {problem}")


def declared_bytes_limit() -> int | None:
    """The most bytes a model's non-constant tensors may declare: a quarter of the runtime child's memory cap
    (the runtime also holds the weights, XNNPACK's packed copy of them and its own buffers: VGG16 float32
    peaked at 4.5x its file size with per-op profiling). None when the cap is switched off."""
    from edgecnn.child import ChildLimits

    cap = ChildLimits.runtime().memory
    return None if cap is None else cap // 4


def declared_bytes(model: "TFLiteModel") -> int:
    """Bytes of every non-constant tensor of the main subgraph, as declared (no buffer reuse)."""
    return sum(t.num_elements * _FIXED_SIZE.get(t.dtype, 8) for t in model.tensors if not t.is_constant)


def memory_problem(model: "TFLiteModel", limit: int | None) -> str | None:
    """Why the model's declared tensors do not fit in ``limit`` bytes (naming the largest), or None."""
    if limit is None:
        return None
    total = declared_bytes(model)
    if total <= limit:
        return None
    from edgecnn.child import RUNTIME_MEMORY_ENV, fmt_size

    largest = max((t for t in model.tensors if not t.is_constant),
                  key=lambda t: t.num_elements * _FIXED_SIZE.get(t.dtype, 8))
    size = largest.num_elements * _FIXED_SIZE.get(largest.dtype, 8)
    return (f"its tensors declare {fmt_size(total)} (tensor {largest.index} '{largest.name}' "
            f"{list(largest.shape)} {largest.dtype} alone {fmt_size(size)}), more than the {fmt_size(limit)} "
            f"edgecnn allows (a quarter of the runtime's memory cap, {RUNTIME_MEMORY_ENV})")


def structural_problem(model: "TFLiteModel") -> str | None:
    """The first crash-prone structural problem of the main subgraph, or None."""
    tensors = model.tensors
    graph_inputs = set(model.inputs)
    for i in model.inputs:
        if tensors[i].is_constant:
            return f"graph input {i} '{tensors[i].name}' is a constant"
    for t in tensors:
        if any(d < 0 for d in t.shape):
            return f"tensor {t.index} '{t.name}' has a negative dimension {list(t.shape)}"
        if t.shape and math.prod(t.shape) * 8 > MAX_TENSOR_BYTES:
            return f"tensor {t.index} '{t.name}' has an impossible shape {list(t.shape)}"
        if t.is_constant and not t.sparse_format and t.dtype in _FIXED_SIZE:
            need = t.num_elements * _FIXED_SIZE[t.dtype]
            have = t.data.nbytes if t.data is not None else 0
            if have != need:
                return f"tensor {t.index} '{t.name}' has {have} bytes of data, its shape needs {need}"
    producer: dict[int, int] = {}
    for op in model.ops:
        optional = _OPTIONAL_SLOTS.get(op.name)
        for slot, t in enumerate(op.inputs):
            if t == -1 and (slot == 0 or (optional is not None and slot not in optional)):
                return f"op {op.index} ({op.display_name}) input {slot} is missing (-1 in a required slot)"
        if not op.outputs:
            return f"op {op.index} ({op.display_name}) has no output"
        for t in op.outputs:
            if t < 0:
                return f"op {op.index} ({op.display_name}) has an output of -1"
            if tensors[t].is_constant and not tensors[t].is_variable:  # variables (RNN state) are written
                return f"op {op.index} ({op.display_name}) writes into constant tensor {t} '{tensors[t].name}'"
            if t in graph_inputs:
                return f"op {op.index} ({op.display_name}) writes into graph input {t}"
            if t in producer:
                return f"tensor {t} '{tensors[t].name}' is written by two ops ({producer[t]} and {op.index})"
            producer[t] = op.index
    for op in model.ops:
        for t in op.inputs:
            if t >= 0 and producer.get(t, -1) >= op.index:
                return f"op {op.index} ({op.display_name}) reads tensor {t} before op {producer[t]} writes it"
    for t in model.outputs:
        if t not in producer and t not in graph_inputs and not tensors[t].is_constant:
            return f"graph output {t} '{tensors[t].name}' is never computed"
    return None


_FIXED_SIZE = {"float32": 4, "float16": 2, "int32": 4, "uint8": 1, "int64": 8, "bool": 1, "int16": 2,
               "int8": 1, "float64": 8, "uint64": 8, "uint32": 4, "uint16": 2, "complex64": 8, "complex128": 16}


def load_checked(path: str | os.PathLike) -> "TFLiteModel":
    """Read and lint a model file: a TFLiteModel that is safe to hand to the runtime, or EdgecnnError."""
    from edgecnn.tflite_file import read_tflite

    model = read_tflite(path)
    lint_model(model, str(path))
    if not model.ops:
        raise EdgecnnError(f"{path}: the model has no ops")
    return model


# ---- child side of the runtime checks (run through edgecnn.child.run_in_child) -----------------------

def check_runs(model_path: str, delegate: str = "xnnpack", num_threads: int | None = None) -> dict[str, Any]:
    """(Child side) load, allocate and invoke once on zeros; what the runtime did with the model."""
    import numpy as np

    from edgecnn.runtime import allocate, delegated_ops, make_interpreter

    interp = make_interpreter(model_path, num_threads=num_threads, delegate=delegate)
    allocate(interp, model_path)
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    try:
        interp.invoke()
    except (RuntimeError, ValueError) as exc:
        from edgecnn.runtime import explain_runtime_error

        raise EdgecnnError(f"{model_path}: the runtime failed to run this model: {explain_runtime_error(exc)}") from exc
    return delegated_ops(interp)

