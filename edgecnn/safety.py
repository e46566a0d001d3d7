"""Never crash on a user's file: lint the graph in this process, run the native runtime in a child process.

Two layers (FACTS.md: the runtime's flatbuffer verifier catches garbage, but ~3% of field-level corruptions
that pass it still segfault or abort the process):

1. :func:`load_checked` reads the file with the pure-Python reader (:mod:`edgecnn.tflite_file`) and
   :func:`lint_model` rejects what is known to crash the runtime — an op input of -1 in a required slot, an op
   output or graph input that is a weight, two ops writing one tensor, constant data that does not fill
   its shape, a tensor read before it is written — each with a one-line message.
2. :func:`run_in_child` runs a function (load + allocate + invoke, profiling, prediction) in
   ``python -m edgecnn.safety``: a request goes in as JSON on stdin, the result comes back as a JSON
   file. A signal becomes "the runtime crashed on this model (signal 11, SIGSEGV)"; a hang is killed
   after a timeout. The child imports only numpy and the runtime (about 0.2 s), never TensorFlow.
"""
from __future__ import annotations

import importlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    """Reject structures that crash the native runtime. Raises EdgecnnError with the first problem found."""
    problem = structural_problem(model)
    if problem:
        raise EdgecnnError(f"{label}: malformed model graph ({problem})")


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


# ---- child process --------------------------------------------------------------------------------

def run_in_child(function: str, kwargs: dict[str, Any], *, timeout: float = 300.0, label: str = "model") -> Any:
    """Call ``function`` ("edgecnn.module:name") with JSON-able ``kwargs`` in a child process; return its result.

    EdgecnnError raised in the child comes back as EdgecnnError here (same message and exit code); a
    native crash, a hang past ``timeout`` seconds or any other failure becomes one EdgecnnError line.
    """
    module_name = function.split(":", 1)[0]
    if not module_name.startswith("edgecnn."):
        raise ValueError(f"run_in_child runs edgecnn functions only, not {function}")
    fd, result_path = tempfile.mkstemp(prefix="edgecnn-child-", suffix=".json")
    os.close(fd)
    request = {"function": function, "kwargs": kwargs, "result": result_path}
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        try:
            proc = subprocess.run([sys.executable, "-m", "edgecnn.safety"], input=json.dumps(request),
                                  capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise EdgecnnError(f"{label}: the runtime did not finish within {timeout:.0f} s (killed)") from None
        text = Path(result_path).read_text(encoding="utf-8") if os.path.getsize(result_path) else ""
    finally:
        try:
            os.unlink(result_path)
        except OSError:
            pass
    if proc.returncode < 0:
        raise EdgecnnError(f"{label}: the runtime crashed on this model ({_signal_name(-proc.returncode)})")
    if not text:
        detail = _last_line(proc.stderr) or f"exit code {proc.returncode}"
        raise EdgecnnError(f"{label}: the runtime process failed ({detail})")
    reply = json.loads(text)
    if "error" in reply:
        raise EdgecnnError(reply["error"], exit_code=reply.get("exit_code", 1))
    return reply["value"]


def _signal_name(number: int) -> str:
    try:
        return f"signal {number}, {signal.Signals(number).name}"
    except ValueError:
        return f"signal {number}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip() and not line.startswith("INFO:")]
    return lines[-1][:300] if lines else ""


def _child_main() -> int:
    """Entry point of the child: read the request, call the function, write the reply file."""
    try:
        request = json.loads(sys.stdin.read())
        module_name, func_name = request["function"].split(":", 1)
    except (ValueError, KeyError, TypeError, AttributeError):
        print("python -m edgecnn.safety is the child process of edgecnn.safety.run_in_child "
              "(it reads a JSON request on stdin); not for direct use", file=sys.stderr)
        return 2
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        reply: dict[str, Any] = {"value": func(**request["kwargs"])}
    except EdgecnnError as exc:
        reply = {"error": str(exc), "exit_code": exc.exit_code}
    except MemoryError:
        reply = {"error": "out of memory while running the model"}
    except Exception as exc:  # noqa: BLE001 - reported as one line by the parent
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        reply = {"error": f"the runtime failed: {type(exc).__name__}: {first}".rstrip(": ")}
    Path(request["result"]).write_text(json.dumps(reply), encoding="utf-8")
    return 0


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


if __name__ == "__main__":
    sys.exit(_child_main())
