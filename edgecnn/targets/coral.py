"""Coral Edge TPU: a static compatibility report, the compiler run, and its log parser (TensorFlow-free).

The rules come from Coral's documentation, "TensorFlow models on the Edge TPU"
(https://coral.ai/docs/edgetpu/models-intro/), sections "Model requirements" and "Supported operations":

- every tensor 8-bit quantised (int8/uint8; int32 biases and constant index tensors are fine),
- tensor sizes constant at compile time (no dynamic sizes),
- tensors 1-, 2- or 3-dimensional; a tensor with more dimensions may be larger than 1 only in its 3 innermost
  dimensions (so batch 1),
- only the operations in the "Supported operations" table, each with its documented limitation,
- one subgraph: "the compiler cannot partition the model more than once", so the first operation it cannot map
  and every operation after it run on the CPU (the *cut point*).

Operations missing from that table are reported the way the compiler's own log does ("Operation not
supported"). HARD_SWISH and LEAKY_RELU are not in it and real compiler logs show them unmapped
(github.com/google-coral/edgetpu issues 272, 353), so MobileNetV3-style models should use ReLU/ReLU6 for the
Edge TPU. TRANSPOSE is mapped from compiler 16 on (Coral's table; the Coral team in google-coral/edgetpu#193,
2021-08-03: "Compiler version 16 supports 'Transpose' operations"; compiler 15 logged it "Operation not
supported", #342), though compiler-16 logs also show it left on the CPU for an "unspecified limitation" (#433).

Op versions: the compiler reads a model with the TensorFlow Lite built into it, and an op version newer than
that stops the whole compilation ("Didn't find op for builtin opcode … Invalid model"); see
:mod:`edgecnn.targets.coral_versions`.

A float model's ends: the float→int8 QUANTIZE on a model input and the DEQUANTIZE on a model output run on
the CPU (the compiler logs them as not mapped) without cutting the graph; int8/uint8 model I/O avoids them.

This is a prediction from documented rules, not the compiler: the compiler has extra, undocumented limits
("Operation is otherwise supported, but not mapped due to some unspecified limitation"), e.g. for very large
tensors. :func:`compile_for_edgetpu` runs the real compiler when it is installed and :func:`parse_compiler_log`
turns its log into the same kind of table.
"""
from __future__ import annotations

import math
import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from edgecnn.errors import EdgecnnError
from edgecnn.tflite_file import Op, Tensor

DOCS_URL = "https://coral.ai/docs/edgetpu/models-intro/#supported-operations"

# Op name (TFLite builtin) → the limitation documented for it ("" = none). Checked in _op_problem().
SUPPORTED_OPS: dict[str, str] = {
    "ADD": "",
    "AVERAGE_POOL_2D": "No fused activation function.",
    "CONCATENATION": "No fused activation function. If any input is a compile-time constant tensor, there must be "
                     "only 2 inputs, and this constant tensor must be all zeroes.",
    "CONV_2D": "Must use the same dilation in x and y dimensions.",
    "DEPTHWISE_CONV_2D": "Must use the same dilation in x and y dimensions.",
    "EXPAND_DIMS": "",
    "FULLY_CONNECTED": "Only the default format is supported for fully-connected weights. Output tensor is "
                       "one-dimensional.",
    "L2_NORMALIZATION": "",
    "LOGISTIC": "",
    "LSTM": "Unidirectional LSTM only.",
    "MAXIMUM": "",
    "MAX_POOL_2D": "No fused activation function.",
    "MEAN": "No reduction in batch dimension. If a z-reduction, the z-dimension must be multiple of 4.",
    "MINIMUM": "",
    "MUL": "",
    "PACK": "No packing in batch dimension.",
    "PAD": "No padding in batch dimension.",
    # Coral's full text (mirrored on developer.axis.com's ARTPEC-7 "supported ops" page) goes on: "If using
    # Keras PReLU with 4D input (batch, height, width, channels), then shared_axes must be [1,2] so each filter
    # has only one set of parameters."
    "PRELU": "Alpha must be 1-dimensional (only the innermost dimension can be >1 size); a Keras PReLU on "
             "images needs shared_axes=[1, 2].",
    "QUANTIZE": "",
    "REDUCE_MAX": "Cannot operate on the batch dimension.",
    "REDUCE_MIN": "Cannot operate on the batch dimension.",
    "RELU": "",
    "RELU6": "",
    "RELU_N1_TO_1": "",
    "RESHAPE": "Certain reshapes might not be mapped for large tensor sizes.",
    "RESIZE_BILINEAR": "Input/output is a 3-dimensional tensor; depending on size it may stay on the CPU.",
    "RESIZE_NEAREST_NEIGHBOR": "Input/output is a 3-dimensional tensor; depending on size it may stay on the CPU.",
    "RSQRT": "",
    "SLICE": "",
    "SOFTMAX": "Supports only 1-D input tensor with a max of 16,000 elements.",
    "SPACE_TO_DEPTH": "",
    "SPLIT": "No splitting in batch dimension.",
    "SQUARED_DIFFERENCE": "",
    "SQUEEZE": "",
    "STRIDED_SLICE": "Supported only when all strides are equal to 1, with ellipsis-axis-mask == 0 and "
                     "new-axis-mask == 0.",
    "SUB": "",
    "SUM": "No reduction in batch dimension. If a z-reduction, the z-dimension must be multiple of 4.",
    "TANH": "",
    "TRANSPOSE": "Mapped from compiler 16 on; some shapes stay on the CPU (an unspecified limitation).",
    "TRANSPOSE_CONV": "",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "Unidirectional LSTM only.",
}

# Hints for ops that edgecnn models meet and the Edge TPU does not map.
_UNSUPPORTED_HINTS = {
    "HARD_SWISH": "build the model with activation='relu6' where it offers that",
    "LEAKY_RELU": "use ReLU for the Edge TPU",
    "DEQUANTIZE": "a float tensor inside the graph: some layer was left unquantised",
    "CUSTOM": "custom ops never run on the Edge TPU",
    "GELU": "the Edge TPU needs a ReLU-style activation here",
}

_EIGHT_BIT = {"int8", "uint8"}
_FLOAT = {"float32", "float16", "float64", "bfloat16"}
_INDEX_DTYPES = {"int32", "int64"}

# On-chip parameter cache: the compiler's logs show "used" + "remaining" of about 7 MiB (of 8 MB SRAM).
ON_CHIP_CACHE_BYTES = 7 * 2**20

# The compiler's own status wordings (as printed in its "Operator  Count  Status" table).
MAPPED = "Mapped to Edge TPU"
NOT_SUPPORTED = "Operation not supported"
BAD_DTYPE = "Operation is working on an unsupported data type"
BAD_RANK = "Tensor has unsupported rank (up to 3 innermost dimensions mapped)"
AFTER_CUT = "More than one subgraph is not supported"
DYNAMIC = "Tensor has dynamic size"  # ours: the docs require "tensor sizes constant at compile-time"
UNREADABLE_VERSION = "Didn't find op for builtin opcode"  # the compiler's parse error: the whole model fails
LIMITATION = "Documented limitation not met"  # ours: the op is in the table but breaks its stated limitation
EDGE_OF_MODEL = "Runs on the CPU at the model's input/output"  # ours: float↔int8 conversion at the ends

INSTALL_HINT = (
    "edgetpu_compiler is not installed. It runs only on x86-64 Debian/Ubuntu; install it from Coral's apt "
    "repository:\n"
    "  curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | "
    "sudo gpg --dearmor -o /usr/share/keyrings/coral-edgetpu.gpg\n"
    "  echo 'deb [signed-by=/usr/share/keyrings/coral-edgetpu.gpg] https://packages.cloud.google.com/apt "
    "coral-edgetpu-stable main' | sudo tee /etc/apt/sources.list.d/coral-edgetpu.list\n"
    "  sudo apt-get update && sudo apt-get install edgetpu-compiler\n"
    "then: edgetpu_compiler -s -o OUT_DIR MODEL.tflite (or run `edgecnn convert --edgetpu` again). "
    "On other machines use Coral's web compiler notebook "
    "(colab.research.google.com/github/google-coral/tutorials/blob/master/compile_for_edgetpu.ipynb)."
)


# ----------------------------------------------------------------------------------------------------------
# The static report
# ----------------------------------------------------------------------------------------------------------

def _const_ints(t: Tensor) -> list[int] | None:
    if t.data is None or t.dtype not in ("int32", "int64", "int8", "uint8"):
        return None
    return [int(v) for v in t.data.reshape(-1)]


def _axes(op: Op, tensors: list[Tensor], slot: int, of: int) -> list[int] | None:
    """Constant axes in input ``slot``, made non-negative for the rank of input ``of``."""
    if len(op.inputs) <= max(slot, of) or op.inputs[slot] < 0:
        return None
    values = _const_ints(tensors[op.inputs[slot]])
    if values is None:
        return None
    rank = len(tensors[op.inputs[of]].shape)
    return [v + rank if v < 0 else v for v in values]


def _tensor_problem(t: Tensor) -> tuple[str, str] | None:
    """A model-requirement problem of one tensor that an op reads or writes."""
    if t.is_constant:
        # weights int8/uint8; biases int32 (quantised); shapes, axes and paddings plain int32/int64
        if t.dtype in _EIGHT_BIT or t.dtype in _INDEX_DTYPES:
            return None
        return BAD_DTYPE, f"{t.dtype} constant '{t.name}' (not quantised)"
    if t.dtype not in _EIGHT_BIT:
        return BAD_DTYPE, f"{t.dtype} tensor '{t.name}'"
    if any(d < 0 for d in t.shape_signature[1:]):
        return DYNAMIC, f"'{t.name}' has shape signature {list(t.shape_signature)}"
    if len(t.shape) > 3 and any(d > 1 for d in t.shape[:-3]):
        return BAD_RANK, f"'{t.name}' has shape {list(t.shape)}"
    return None


def _op_problem(op: Op, tensors: list[Tensor]) -> tuple[str, str] | None:
    """(compiler-style status, detail) if the compiler would not map ``op`` under the documented rules."""
    name = op.name
    if name not in SUPPORTED_OPS:
        what = op.display_name
        hint = _UNSUPPORTED_HINTS.get(name)
        return NOT_SUPPORTED, f"{what} is not in the Edge TPU's supported-operations table" + (
            f" ({hint})" if hint else "")
    for i in list(op.inputs) + list(op.outputs):
        if 0 <= i < len(tensors):
            problem = _tensor_problem(tensors[i])
            if problem:
                return problem
    opts = op.options or {}
    ins = [tensors[i] for i in op.inputs if 0 <= i < len(tensors)]
    out = tensors[op.outputs[0]] if op.outputs and 0 <= op.outputs[0] < len(tensors) else None

    def limit(detail: str) -> tuple[str, str]:
        return LIMITATION, f"{detail} (documented: {SUPPORTED_OPS[name]})"

    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION"):
        if opts.get("fused_activation_function", "NONE") not in ("NONE", 0, None):
            return limit(f"fused activation {opts['fused_activation_function']}")
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        if opts.get("dilation_h_factor", 1) != opts.get("dilation_w_factor", 1):
            return limit(f"dilation {opts.get('dilation_w_factor')}×{opts.get('dilation_h_factor')}")
    if name == "CONCATENATION":
        consts = [t for t in ins if t.is_constant]
        if consts and (len(ins) != 2 or any(any(v != 0 for v in (_const_ints(t) or [1])) for t in consts)):
            return limit("a constant input that is not a 2-input all-zero padding")
    if name == "FULLY_CONNECTED":
        if opts.get("weights_format", 0) not in (0, "DEFAULT"):
            return limit(f"weights format {opts.get('weights_format')}")
        if out is not None and sum(1 for d in out.shape if d > 1) > 1:
            return limit(f"output shape {list(out.shape)}")
    if name in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN") and ins:
        axes = _axes(op, tensors, 1, 0)
        shape = ins[0].shape
        if axes is not None and len(shape) > 1 and 0 in axes:
            return limit("reduces the batch dimension")
        if axes is not None and name in ("MEAN", "SUM") and shape and (len(shape) - 1) in axes and shape[-1] % 4:
            return limit(f"z-reduction over {shape[-1]} channels")
    if name == "PAD" and len(ins) > 1:
        pads = _const_ints(ins[1])
        if pads and len(pads) >= 2 and len(ins[0].shape) == 4 and (pads[0] or pads[1]):
            return limit("pads the batch dimension")
    if name == "SOFTMAX" and ins:
        shape = ins[0].shape
        elements = math.prod(max(d, 1) for d in shape)
        if sum(1 for d in shape if d > 1) > 1 or elements > 16000:
            return limit(f"input shape {list(shape)}")
    if name == "STRIDED_SLICE":
        if opts.get("ellipsis_mask", 0) or opts.get("new_axis_mask", 0):
            return limit("ellipsis or new-axis mask")
        strides = _const_ints(ins[3]) if len(ins) > 3 else None
        if strides is not None and any(v != 1 for v in strides):
            return limit(f"strides {strides}")
    if name == "SPLIT" and _axes(op, tensors, 0, 1) == [0]:
        return limit("splits the batch dimension")
    if name == "PACK" and opts.get("axis", None) == 0:
        return limit("packs along the batch dimension")
    if name == "PRELU" and len(ins) > 1 and sum(1 for d in ins[1].shape[:-1] if d > 1):
        return limit(f"alpha has shape {list(ins[1].shape)}")
    return None


def _boundary(op: Op, tensors: list[Tensor], inputs: list[int], outputs: list[int]) -> str | None:
    """A float↔8-bit conversion at a model input or output: runs on the CPU without cutting the graph."""
    if op.name == "QUANTIZE" and op.inputs and op.inputs[0] in inputs and tensors[op.inputs[0]].dtype in _FLOAT:
        return "converts the float model input to 8 bits on the CPU (int8/uint8 model input avoids it)"
    if op.name == "DEQUANTIZE" and op.outputs and op.outputs[0] in outputs:
        return "converts the 8-bit result to a float model output on the CPU (int8/uint8 output avoids it)"
    return None


def pin_batch_to_one(model_bytes: bytes) -> bytes:
    """The same .tflite with a dynamic batch (shape signature -1, shape 1) fixed to 1 in every tensor.

    TensorFlow 2 writes Keras models with batch -1 in each tensor's shape signature; the Edge TPU needs static
    shapes (Coral's model requirements), and its delegate refuses graphs with dynamic-sized tensors. Only
    the signature changes: shapes, ops and weights are the bytes they were.
    """
    import numpy as np
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    model = fbu.convert_bytearray_to_object(bytearray(model_bytes))
    changed = False
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            sig, shape = tensor.shapeSignature, tensor.shape
            if sig is not None and len(sig) and shape is not None and len(shape) and sig[0] == -1 and shape[0] == 1:
                tensor.shapeSignature = np.concatenate([[1], np.asarray(sig)[1:]]).astype(np.int32)
                changed = True
    return bytes(fbu.convert_object_to_bytearray(model)) if changed else model_bytes


def compatibility_report(model_path: str | os.PathLike) -> dict[str, Any]:
    """Predict how ``edgetpu_compiler`` would map a .tflite, from Coral's documented rules (no TensorFlow).

    Returns a JSON-friendly dict:
    ``edgetpu_compatible`` (bool: every op maps, allowing the float↔int8 conversions at a float model's ends),
    ``verdict`` (one line), ``cut_at``/``cut_op``/``cut_reason`` (the first op the compiler cannot map — it and
    every op after it run on the CPU — or None), ``counts`` (total/mapped/cpu/unsupported), ``checks`` (the
    model requirements as ``{"rule", "ok", "detail"}``), ``warnings``, ``ops`` (per op: ``index``, ``op``,
    ``status`` = ``mapped``|``cpu``|``unsupported``, ``compiler_status`` in the compiler's wording, ``reason``)
    and ``table`` (op, count, status: the compiler's "Operator Count Status" table as predicted).
    """
    from edgecnn.tflite_file import read_tflite

    path = Path(model_path)
    if not path.is_file():
        raise EdgecnnError(f"{path}: no such file")
    model = read_tflite(path)
    tensors, inputs, outputs = model.tensors, list(model.inputs), list(model.outputs)

    from edgecnn.targets.coral_versions import COMPILER, version_problem

    entries: list[dict[str, Any]] = []
    cut: dict[str, Any] | None = None
    unreadable: list[str] = []  # ops the compiler cannot even parse: it refuses the whole model
    for op in model.ops:
        boundary = _boundary(op, tensors, inputs, outputs)
        problem = None if boundary else _op_problem(op, tensors)
        too_new = version_problem(op.name, op.version)
        if too_new:
            unreadable.append(f"op {op.index} {too_new}")
            status, compiler_status, reason = "unsupported", UNREADABLE_VERSION, too_new
        elif boundary:
            status, compiler_status, reason = "cpu", EDGE_OF_MODEL, boundary
        elif problem:
            status, (compiler_status, reason) = "unsupported", problem
            if cut is None:
                cut = {"index": op.index, "op": op.display_name, "reason": f"{compiler_status}: {reason}"}
        elif cut is not None:
            status, compiler_status = "cpu", AFTER_CUT
            reason = f"supported, but after the cut at op {cut['index']} ({cut['op']}) everything runs on the CPU"
        else:
            status, compiler_status, reason = "mapped", MAPPED, ""
        entries.append({"index": op.index, "op": op.display_name, "version": op.version, "status": status,
                        "compiler_status": compiler_status, "reason": reason})

    activations = [t for t in tensors if not t.is_constant]
    # the float ends of a float-I/O model are the I/O check's business, not the quantisation check's
    edge_tensors = {i for op in model.ops if _boundary(op, tensors, inputs, outputs)
                    for i in (op.inputs[:1] if op.name == "QUANTIZE" else op.outputs[:1])}
    float_acts = [t for t in activations if t.dtype in _FLOAT and t.index not in edge_tensors]
    eight_bit = [t for t in activations if t.dtype in _EIGHT_BIT]
    io = [tensors[i] for i in inputs + outputs]
    dyn_batch = [t for t in activations if t.shape_signature and t.shape_signature[0] < 0]
    dyn_other = [t for t in activations if any(d < 0 for d in t.shape_signature[1:])]
    big_rank = [t for t in activations if len(t.shape) > 3 and any(d > 1 for d in t.shape[:-3])]
    checks = [
        {"rule": f"op versions {COMPILER} reads", "ok": not unreadable,
         "detail": unreadable[0] + (f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else "")
         if unreadable else "all"},
        {"rule": "one subgraph", "ok": model.num_subgraphs == 1,
         "detail": f"{model.num_subgraphs} subgraph(s)" + (
             "" if model.num_subgraphs == 1 else "; control flow is not supported, only the main one is analysed")},
        {"rule": "8-bit quantised tensors", "ok": bool(eight_bit) and not float_acts,
         "detail": ("every activation is int8/uint8" if eight_bit and not float_acts else
                    f"{len(float_acts)} float tensor(s), e.g. '{float_acts[0].name}'" if float_acts else
                    "no 8-bit tensors")},
        {"rule": "int8/uint8 model input and output", "ok": all(t.dtype in _EIGHT_BIT for t in io),
         "detail": ", ".join(f"{t.name}: {t.dtype}" for t in io)},
        {"rule": "static shapes", "ok": not dyn_other,
         "detail": ("no dynamic sizes" + (" (batch -1 in the signature, run as 1)" if dyn_batch else "")
                    if not dyn_other else
                    f"'{dyn_other[0].name}' has shape signature {list(dyn_other[0].shape_signature)}")},
        {"rule": "batch 1, at most 3 dimensions larger than 1", "ok": not big_rank,
         "detail": "yes" if not big_rank else f"'{big_rank[0].name}' has shape {list(big_rank[0].shape)}"},
    ]
    warnings: list[str] = []
    if not eight_bit:
        warnings.append("Model not quantized: the compiler refuses the whole model (\"Invalid model\"); convert "
                        "with full int8 quantisation (edgecnn convert --int8 or --edgetpu)")
    if dyn_batch and not dyn_other:
        warnings.append("the batch dimension is -1 in the shape signature; the Edge TPU runs it as 1, so never "
                        "resize the input to a larger batch (convert with --edgetpu to pin it)")
    weight_bytes = sum(int(t.data.nbytes) for t in tensors if t.is_constant)
    if weight_bytes > ON_CHIP_CACHE_BYTES:
        warnings.append(f"{weight_bytes / 2**20:.1f} MiB of weights: more than the ~7 MiB the Edge TPU caches "
                        f"on-chip, so the rest streams from the host at every inference (slower)")
    if any(e["status"] == "mapped" and e["op"] in ("RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
           for e in entries):
        warnings.append("RESHAPE/RESIZE map unless their tensors are large (documented; the limit is not)")

    counts = Counter(e["status"] for e in entries)
    n, mapped = len(entries), counts.get("mapped", 0)
    compatible = bool(cut is None and mapped and model.num_subgraphs == 1 and eight_bit and not unreadable)
    if unreadable:
        verdict = f"does not compile: {unreadable[0]} (the compiler then refuses the whole model)"
    elif not eight_bit:
        verdict = "does not compile: Model not quantized (a float model)"
    elif compatible:
        edges = counts.get("cpu", 0)
        verdict = ("maps fully to the Edge TPU" if not edges else
                   f"maps to the Edge TPU except {edges} float↔int8 conversion(s) at the model's ends")
    elif cut is not None:
        verdict = (f"partially: {mapped} of {n} ops on the Edge TPU, cut at op {cut['index']} ({cut['op']}); "
                   f"{n - mapped} ops run on the CPU")
    else:
        verdict = "not compatible: " + "; ".join(c["detail"] for c in checks if not c["ok"])

    table = Counter((e["op"], e["compiler_status"]) for e in entries)
    return {
        "model": str(path),
        "target": "coral",
        "edgetpu_compatible": compatible,
        "verdict": verdict,
        "cut_at": cut["index"] if cut else None,
        "cut_op": cut["op"] if cut else None,
        "cut_reason": cut["reason"] if cut else None,
        "counts": {"total": n, "mapped": mapped, "cpu": counts.get("cpu", 0),
                   "unsupported": counts.get("unsupported", 0)},
        "weight_bytes": weight_bytes,
        "checks": checks,
        "warnings": warnings,
        "ops": entries,
        "table": [{"op": op, "count": c, "status": st} for (op, st), c in table.items()],
        "rules": DOCS_URL,
    }


def print_report(report: dict[str, Any], console: Any = None) -> None:
    """Print a :func:`compatibility_report` as rich tables (checks, then every op)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    mark = "[green]yes[/green]" if report["edgetpu_compatible"] else "[red]no[/red]"
    console.print(f"[bold]Edge TPU[/bold] {report['model']}: compatible {mark} — {report['verdict']}")
    checks = Table("requirement", "ok", "detail", title="Model requirements", title_justify="left")
    for c in report["checks"]:
        checks.add_row(c["rule"], "✓" if c["ok"] else "[red]✗[/red]", c["detail"])
    console.print(checks)
    ops = Table("#", "op", "status", "why", title="Operations", title_justify="left")
    colour = {"mapped": "green", "cpu": "yellow", "unsupported": "red"}
    for e in report["ops"]:
        why = "" if e["status"] == "mapped" else f"{e['compiler_status']}: {e['reason']}"
        ops.add_row(str(e["index"]), e["op"], f"[{colour[e['status']]}]{e['status']}[/]", why)
    console.print(ops)
    for w in report["warnings"]:
        console.print(f"[yellow]note:[/yellow] {w}")
    console.print(f"rules: {report['rules']}")


# ----------------------------------------------------------------------------------------------------------
# The real compiler
# ----------------------------------------------------------------------------------------------------------

_ROW = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s+(\d+)\s+(\S.*?)\s*$")
_FIELDS = {
    "compiler_version": (re.compile(r"Edge TPU Compiler version\s+(\S+)"), str),
    "compile_ms": (re.compile(r"Model compiled successfully in\s+(\d+)\s*ms"), int),
    "input_model": (re.compile(r"^Input model:\s*(.+)$", re.M), str),
    "output_model": (re.compile(r"^Output model:\s*(.+)$", re.M), str),
    "input_size": (re.compile(r"^Input size:\s*(.+)$", re.M), str),
    "output_size": (re.compile(r"^Output size:\s*(.+)$", re.M), str),
    "on_chip_memory_used": (re.compile(r"On-chip memory used for caching model parameters:\s*(\S+)"), str),
    "on_chip_memory_remaining": (re.compile(r"On-chip memory remaining for caching model parameters:\s*(\S+)"), str),
    "off_chip_memory_used": (re.compile(r"Off-chip memory used for streaming uncached model parameters:\s*(\S+)"),
                             str),
    "edgetpu_subgraphs": (re.compile(r"Number of Edge TPU subgraphs:\s*(\d+)"), int),
    "total_ops": (re.compile(r"Total number of operations:\s*(\d+)"), int),
    "edgetpu_ops": (re.compile(r"Number of operations that will run on Edge TPU:\s*(\d+)"), int),
    "cpu_ops": (re.compile(r"Number of operations that will run on CPU:\s*(\d+)"), int),
    "log_file": (re.compile(r"^Operation log:\s*(.+)$", re.M), str),
}


def parse_compiler_log(text: str) -> dict[str, Any]:
    """Parse ``edgetpu_compiler`` output (stdout with ``-s``, or its ``*_edgetpu.log``) into a dict.

    Keys: ``compiled`` (bool), ``error`` (one line or None), the summary numbers (``compiler_version``,
    ``total_ops``, ``edgetpu_ops``, ``cpu_ops``, ``edgetpu_subgraphs``, memory lines, …; None when absent)
    and ``ops``: the "Operator Count Status" rows as ``{"op", "count", "status", "mapped"}``.
    ``fully_mapped`` is true when every listed operation is mapped to the Edge TPU.
    """
    result: dict[str, Any] = {}
    for key, (pattern, cast) in _FIELDS.items():
        m = pattern.search(text)
        result[key] = cast(m.group(1).strip()) if m else None
    rows: list[dict[str, Any]] = []
    in_table = False
    for line in text.splitlines():
        if re.match(r"^\s*Operator\s+Count\s+Status\s*$", line):
            in_table = True
            continue
        if in_table:
            m = _ROW.match(line)
            if m:
                status = m.group(3)
                rows.append({"op": m.group(1), "count": int(m.group(2)), "status": status,
                             "mapped": status == MAPPED})
            elif line.strip() and rows:
                in_table = False  # the table ended (a following message)
    result["ops"] = rows
    invalid = re.search(r"^Invalid model:.*\n(.+)$", text, re.M)
    errors = [ln.strip() for ln in text.splitlines()
              if re.match(r"^\s*(ERROR|Error|Internal compiler error|Compilation failed)", ln)]
    success = "Model compiled successfully" in text
    result["compiled"] = success and not errors
    if invalid:
        # "Model could not be parsed" says less than the ERROR line before it (e.g. an op version too new)
        cause = f" ({errors[0].split('. An older version')[0]})" if errors else ""
        result["error"] = f"Invalid model: {invalid.group(1).strip()}{cause}"
    elif errors:
        result["error"] = errors[0]
    elif not success and rows == []:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        result["error"] = lines[-1] if lines else "no output from edgetpu_compiler"
    else:
        result["error"] = None
    if rows:
        mapped = sum(r["count"] for r in rows if r["mapped"])
        total = sum(r["count"] for r in rows)
        # the compiler prints the two "Number of operations…" lines only when some ops stay on the CPU
        if result["edgetpu_ops"] is None:
            result["edgetpu_ops"] = mapped
        if result["cpu_ops"] is None:
            result["cpu_ops"] = total - mapped
        if result["total_ops"] is None:
            result["total_ops"] = total
    elif result["compiled"] and result["total_ops"] is not None and result["cpu_ops"] is None:
        result["edgetpu_ops"], result["cpu_ops"] = result["total_ops"], 0
    result["fully_mapped"] = bool(result["compiled"] and result["cpu_ops"] == 0)
    return result


def find_compiler() -> str | None:
    """Path of ``edgetpu_compiler`` on PATH, or None."""
    return shutil.which("edgetpu_compiler")


def compile_for_edgetpu(tflite_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                        timeout: float = 600.0) -> dict[str, Any]:
    """Run ``edgetpu_compiler`` on a full-int8 .tflite, keeping ``*_edgetpu.tflite`` and its log in ``out_dir``.

    Never raises for a missing or failing compiler (the input model is still Edge-TPU-ready); instead the
    result says what happened: ``compiled`` (bool), ``compiler`` (path or None), ``edgetpu_model`` and
    ``log_path`` (paths or None), ``log`` (:func:`parse_compiler_log` of its output), ``message`` (one line),
    ``install`` (only when the compiler is missing: how to install it), ``error`` (only when the compiler ran
    and failed or timed out: one line) and ``report`` (the static :func:`compatibility_report`, so the user
    knows what to expect either way). A missing compiler is not an error: the model is ready to compile.
    """
    src = Path(tflite_path)
    if not src.is_file():
        raise EdgecnnError(f"{src}: no such file")
    out = Path(out_dir)
    result: dict[str, Any] = {"input_model": str(src), "compiled": False, "compiler": None, "edgetpu_model": None,
                              "log_path": None, "log": None}
    try:
        result["report"] = compatibility_report(src)
    except EdgecnnError as exc:  # the compiler is the authority; the static report is a courtesy
        result["report"] = None
        result["report_error"] = str(exc)
    compiler = find_compiler()
    if compiler is None:
        arch = platform.machine().lower()
        note = "" if arch in ("x86_64", "amd64") else f" (this machine is {arch}: the compiler exists only for x86-64)"
        result["install"] = INSTALL_HINT
        result["message"] = (f"edgetpu_compiler not found on PATH{note}; {src.name} is Edge-TPU-ready: compile it "
                             f"where the compiler is installed")
        return result
    result["compiler"] = compiler
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgecnnError(f"cannot create {out}: {exc.strerror or exc}") from exc
    # Compile into a private folder, then move the results in: a failed or killed run leaves no half file.
    with tempfile.TemporaryDirectory(prefix=".edgetpu-", dir=out) as tmp:
        cmd = [compiler, "-s", "-o", tmp, str(src.resolve())]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            result["error"] = f"edgetpu_compiler did not finish within {timeout:.0f} s"
            return result
        except OSError as exc:
            result["error"] = f"cannot run {compiler}: {exc.strerror or exc}"
            return result
        text = proc.stdout + ("\n" + proc.stderr if proc.stderr.strip() else "")
        log = parse_compiler_log(text)
        produced = sorted(Path(tmp).glob("*_edgetpu.tflite"))
        logs = sorted(Path(tmp).glob("*_edgetpu.log"))
        if logs and not log["ops"]:  # without -s output the table is only in the log file
            file_log = parse_compiler_log(logs[0].read_text(errors="replace"))
            log["ops"] = file_log["ops"]
            for key in ("edgetpu_ops", "cpu_ops", "total_ops"):
                log[key] = log[key] if log[key] is not None else file_log[key]
        result["log"] = log
        result["returncode"] = proc.returncode
        if proc.returncode != 0 or not produced:
            result["error"] = log["error"] or f"edgetpu_compiler exited with code {proc.returncode}"
            return result
        final = out / produced[0].name
        os.replace(produced[0], final)
        result["edgetpu_model"] = str(final)
        if logs:
            final_log = out / logs[0].name
            os.replace(logs[0], final_log)
            result["log_path"] = str(final_log)
        result["compiled"] = True
        result["message"] = (f"compiled {final.name}: {log.get('edgetpu_ops')} ops on the Edge TPU, "
                             f"{log.get('cpu_ops')} on the CPU")
    return result


def print_compile_result(result: dict[str, Any], console: Any = None) -> None:
    """Print a :func:`compile_for_edgetpu` result: the compiler's op table, or how to install it."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if result["compiler"] is None:
        console.print(f"[yellow]Edge TPU: {result['message']}[/yellow]")
        console.print(result["install"], markup=False, highlight=False)
        if result.get("report"):
            console.print(f"static prediction: {result['report']['verdict']}")
        return
    log = result.get("log") or {}
    if log.get("ops"):
        table = Table("op", "count", "on Edge TPU", "status", title=f"edgetpu_compiler {log.get('compiler_version')}",
                      title_justify="left")
        for r in log["ops"]:
            table.add_row(r["op"], str(r["count"]), "yes" if r["mapped"] else "[red]no[/red]", r["status"])
        console.print(table)
    if result["compiled"]:
        console.print(f"Edge TPU model: {result['edgetpu_model']} ({log.get('edgetpu_ops')} ops on the Edge TPU, "
                      f"{log.get('cpu_ops')} on the CPU; on-chip memory used {log.get('on_chip_memory_used')})")
    else:
        console.print(f"[red]edgetpu_compiler failed:[/red] {result['error']}")
