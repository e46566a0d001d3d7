"""Read a .tflite file without TensorFlow: ops, tensors, quantisation, weights, parameters, MACs, sparsity.

    from edgecnn.tflite_file import read_tflite
    m = read_tflite("model.tflite")            # or read_tflite(model_bytes)
    m.op_histogram()                           # {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 1, ...}
    m.params, m.macs, m.weight_sparsity        # totals
    [t.dtype for t in m.input_tensors]         # ["int8"]
    m.ops[0].name, m.ops[0].options["stride_w"], m.ops[0].macs

It uses the flatbuffer schema that ships with ai-edge-litert (``ai_edge_litert.schema_py_generated`` on the
``flatbuffers`` package) through its zero-copy accessors: weights are NumPy views into the file's bytes.
Only the main subgraph (0) is described op by op; ``num_subgraphs`` says whether there are others
(control flow). Any malformed input raises :class:`EdgecnnError` with one line — never another exception —
because every vector length is checked against the file size before it is walked and every index is
range-checked (see :func:`edgecnn.safety.lint_model` for the checks that keep the native runtime alive).

Conventions:
- ``Op.name`` is the builtin op name ("CONV_2D"), taken as ``max(BuiltinCode, DeprecatedBuiltinCode)``;
  custom ops are named "CUSTOM" with ``custom_code`` set (e.g. "TFLite_Detection_PostProcess").
- ``Tensor.dtype`` is a NumPy-style name: "float32", "int8", "uint8", "int32", "float16", "int4", ...
- MACs (multiply-accumulates, batch as stored in the file) are counted for CONV_2D, DEPTHWISE_CONV_2D,
  CONV_3D, FULLY_CONNECTED, TRANSPOSE_CONV and BATCH_MATMUL; every other op counts 0.
- ``params``: elements of constant weight-like tensors — the weight and bias inputs of conv/FC ops (per
  op, int32 biases included) plus every other constant of a float or 8/16/4-bit integer type, so a float
  model and its int8 twin count the same (and a model without BatchNormalization counts what Keras
  counts; BatchNormalization is folded into conv weights and biases by the converter); shape/axis
  constants (RESHAPE's shape, MEAN's axes) are not parameters.
- Weight sparsity: fraction of zero weights (value == zero point) of the weight inputs of conv/FC ops;
  weights stored in TFLite's sparse format count their missing elements as zeros.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgecnn.errors import EdgecnnError

FILE_IDENTIFIER = b"TFL3"

_DTYPES = {  # schema TensorType → NumPy-style name (None: no NumPy dtype; data stays raw bytes)
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool", 7: "int16",
    8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64", 13: "resource", 14: "variant",
    15: "uint32", 16: "uint16", 17: "int4", 18: "bfloat16", 19: "int2", 20: "uint4", 21: "float8_e4m3fn",
    22: "float8_e5m2",
}
_NUMPY_DTYPES = {"float32", "float16", "int32", "uint8", "int64", "bool", "int16", "complex64", "int8",
                 "float64", "complex128", "uint64", "uint32", "uint16"}
_SUB_BYTE_BITS = {"int4": 4, "uint4": 4, "int2": 2}
FLOAT_DTYPES = frozenset({"float32", "float16", "float64", "bfloat16"})
WEIGHT_DTYPES = FLOAT_DTYPES | {"int8", "uint8", "int16", "int4", "uint4", "int2"}

# Ops with weights: (weight input slot, bias input slot or None).
WEIGHT_SLOTS = {
    "CONV_2D": (1, 2), "DEPTHWISE_CONV_2D": (1, 2), "CONV_3D": (1, 2), "FULLY_CONNECTED": (1, 2),
    "TRANSPOSE_CONV": (1, 3), "CONV_3D_TRANSPOSE": (1, 3),
}
MAC_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "CONV_3D", "FULLY_CONNECTED", "TRANSPOSE_CONV",
                     "CONV_3D_TRANSPOSE", "BATCH_MATMUL"})

_ENUM_OPTIONS = {"padding": {0: "SAME", 1: "VALID"},
                 "fusedActivationFunction": {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH",
                                             5: "SIGN_BIT", 6: "SIGMOID"}}


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError as exc:  # tflite_runtime ships no schema
        raise EdgecnnError("reading .tflite files needs ai-edge-litert (it ships the schema): "
                           "pip install ai-edge-litert") from exc
    return schema


def schema_available() -> bool:
    """Whether the flatbuffer schema (from ai-edge-litert) is importable."""
    try:
        from ai_edge_litert import schema_py_generated  # noqa: F401
    except ImportError:
        return False
    return True


def check_model_file(path: str | os.PathLike) -> int:
    """Cheap checks without the schema (path, folder, empty, TFL3 identifier); returns the size in bytes."""
    data = read_model_bytes(path)
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise EdgecnnError(f"{path}: not a .tflite model (no TFL3 identifier)")
    return len(data)


def _names(enum_class: Any) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_") and isinstance(v, int)}


@dataclass
class Tensor:
    """One tensor of the main subgraph. ``data`` is a read-only NumPy view of a constant's bytes, else None."""

    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: str
    buffer: int
    scales: np.ndarray  # float32, empty if not quantised
    zero_points: np.ndarray  # int64, empty if not quantised
    quantized_dimension: int = 0
    data: np.ndarray | None = None
    is_variable: bool = False
    sparse_format: bool = False  # stored in TFLite's compressed sparse format (data holds non-zeros only)

    @property
    def is_constant(self) -> bool:
        """Has data in the file (a weight, bias or shape constant) rather than being computed."""
        return self.data is not None

    @property
    def quantized(self) -> bool:
        return self.scales.size > 0

    @property
    def num_elements(self) -> int:
        return int(math.prod(self.shape)) if self.shape else 1

    @property
    def per_channel(self) -> bool:
        return self.scales.size > 1

    def quantization(self) -> dict[str, Any]:
        """JSON-friendly scale/zero point (a scalar for per-tensor, lists for per-channel)."""
        if not self.quantized:
            return {}
        if self.per_channel:
            return {"scale": [float(s) for s in self.scales], "zero_point": [int(z) for z in self.zero_points],
                    "quantized_dimension": self.quantized_dimension}
        return {"scale": float(self.scales[0]), "zero_point": int(self.zero_points[0]) if self.zero_points.size else 0}

    def zero_fraction(self) -> float | None:
        """Fraction of elements equal to zero (the zero point for per-tensor quantised data)."""
        if self.data is None or self.dtype not in _NUMPY_DTYPES or self.num_elements == 0:
            return None
        values = self.data.reshape(-1)
        zero = 0
        if self.quantized and not self.per_channel and self.zero_points.size:
            zero = int(self.zero_points[0])
        zeros = int(np.count_nonzero(values == zero))
        if self.sparse_format:  # only non-zeros are stored
            zeros += max(self.num_elements - values.size, 0)
        return zeros / self.num_elements


@dataclass
class Op:
    """One operator of the main subgraph, in execution order."""

    index: int
    name: str
    opcode_index: int
    version: int
    inputs: tuple[int, ...]  # tensor indices; -1 marks an omitted optional input
    outputs: tuple[int, ...]
    custom_code: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    macs: int = 0

    @property
    def display_name(self) -> str:
        return f"CUSTOM({self.custom_code})" if self.custom_code else self.name


@dataclass
class TFLiteModel:
    """What a .tflite file holds (main subgraph in detail). Build it with :func:`read_tflite`."""

    path: str | None
    size_bytes: int
    version: int
    description: str
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    num_subgraphs: int
    num_buffers: int
    subgraph_op_counts: list[int]
    buffer: bytes = field(repr=False, default=b"")

    # ---- views -------------------------------------------------------------------------------------
    @property
    def input_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.inputs]

    @property
    def output_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.outputs]

    def op_histogram(self) -> dict[str, int]:
        """Op name → count, most frequent first."""
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.display_name] = counts.get(op.display_name, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def macs_by_op_type(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for op in self.ops:
            out[op.display_name] = out.get(op.display_name, 0) + op.macs
        return out

    def producers(self) -> dict[int, int]:
        """Tensor index → index of the op that writes it."""
        return {t: op.index for op in self.ops for t in op.outputs if t >= 0}

    def _through_dequantize(self, tensor_index: int) -> int:
        """Weights may reach an op through DEQUANTIZE (float16/dynamic-range models) or DENSIFY (TFLite's
        sparse format): return the stored constant."""
        producer = self.producers().get(tensor_index)
        if producer is not None and self.ops[producer].name in ("DEQUANTIZE", "DENSIFY") and self.ops[producer].inputs:
            source = self.ops[producer].inputs[0]
            if source >= 0 and self.tensors[source].is_constant:
                return source
        return tensor_index

    def weight_tensors(self) -> list[Tensor]:
        """The stored weights (filters, FC matrices, constant matmul operands), each once."""
        seen: dict[int, Tensor] = {}
        for op in self.ops:
            slots = [WEIGHT_SLOTS[op.name][0]] if op.name in WEIGHT_SLOTS else [0, 1] if op.name == "BATCH_MATMUL" else []
            for slot in slots:
                if slot < len(op.inputs) and op.inputs[slot] >= 0:
                    t = self.tensors[self._through_dequantize(op.inputs[slot])]
                    if t.is_constant:
                        seen.setdefault(t.index, t)
        return [seen[k] for k in sorted(seen)]

    @property
    def params(self) -> int:
        """Parameters of the converted graph (see module docstring).

        The weight and bias inputs of conv/FC ops count once per op that uses them: the converter stores
        identical constants once (e.g. the all-zero biases of an untrained model), Keras counts them per
        layer. Any other weight-like constant counts once.
        """
        total = 0
        in_slots: set[int] = set()
        for op in self.ops:
            if op.name not in WEIGHT_SLOTS:
                continue
            for slot in WEIGHT_SLOTS[op.name]:
                if slot is None or slot >= len(op.inputs) or op.inputs[slot] < 0:
                    continue
                t = self.tensors[self._through_dequantize(op.inputs[slot])]
                if t.is_constant and (t.dtype in WEIGHT_DTYPES or t.dtype in ("int32", "int64")):
                    total += t.num_elements
                    in_slots.add(t.index)
        for t in self.tensors:
            if t.is_constant and t.index not in in_slots and t.dtype in WEIGHT_DTYPES:
                total += t.num_elements
        return total

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    def sparsity_by_tensor(self) -> dict[str, float]:
        """Weight tensor name → fraction of zeros."""
        out = {}
        for t in self.weight_tensors():
            frac = t.zero_fraction()
            if frac is not None:
                out[t.name] = frac
        return out

    @property
    def weight_sparsity(self) -> float:
        """Fraction of zeros over all weight tensors (0.0 when there are none)."""
        zeros = total = 0.0
        for t in self.weight_tensors():
            frac = t.zero_fraction()
            if frac is not None:
                zeros += frac * t.num_elements
                total += t.num_elements
        return zeros / total if total else 0.0

    def float_tensors(self) -> list[Tensor]:
        """Tensors of a float type (an 'all int8' model has none; int32 biases are fine)."""
        return [t for t in self.tensors if t.dtype in FLOAT_DTYPES]

    @property
    def fully_int8(self) -> bool:
        """Every tensor integer (int8/uint8 activations, int8 weights, int32 biases): no float math left."""
        return not self.float_tensors() and any(t.dtype in ("int8", "uint8") for t in self.tensors)

    def float_ops(self) -> list[Op]:
        """Ops that read or write a float tensor (the ops an int8 conversion left in float)."""
        floats = {t.index for t in self.float_tensors()}
        return [op for op in self.ops if any(i in floats for i in (*op.inputs, *op.outputs) if i >= 0)]

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly description (what ``edgecnn inspect --json`` prints, minus runtime facts)."""
        def io(t: Tensor) -> dict[str, Any]:
            return {"name": t.name, "index": t.index, "shape": list(t.shape),
                    "shape_signature": list(t.shape_signature), "dtype": t.dtype, "quantization": t.quantization()}

        return {
            "path": self.path, "size_bytes": self.size_bytes, "schema_version": self.version,
            "num_subgraphs": self.num_subgraphs, "num_ops": len(self.ops), "num_tensors": len(self.tensors),
            "inputs": [io(t) for t in self.input_tensors], "outputs": [io(t) for t in self.output_tensors],
            "op_histogram": self.op_histogram(), "params": self.params, "macs": self.macs,
            "macs_by_op_type": self.macs_by_op_type(),
            "weight_sparsity": self.weight_sparsity, "sparsity_by_tensor": self.sparsity_by_tensor(),
            "fully_int8": self.fully_int8, "float_tensors": len(self.float_tensors()),
            "float_ops": [op.display_name for op in self.float_ops()],
            "dtypes": _count([t.dtype for t in self.tensors]),
        }


def _count(items: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


# ---- reading -------------------------------------------------------------------------------------

def read_tflite(source: str | os.PathLike | bytes | bytearray | memoryview) -> TFLiteModel:
    """Parse a .tflite file (path or bytes). Raises EdgecnnError (one line) for anything malformed."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label, path = bytes(source), "model", None
    else:
        path = str(source)
        data, label = read_model_bytes(source), str(source)
    if len(data) < 8:
        raise EdgecnnError(f"{label}: not a .tflite model (only {len(data)} bytes)")
    if data[4:8] != FILE_IDENTIFIER:
        raise EdgecnnError(f"{label}: not a .tflite model (no TFL3 identifier; got {data[4:8]!r})")
    try:
        model = _parse(data, path)
    except EdgecnnError as exc:
        raise EdgecnnError(f"{label}: corrupt .tflite file ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - garbage offsets raise struct.error/IndexError/ValueError/...
        raise EdgecnnError(f"{label}: corrupt .tflite file (bad flatbuffer: {type(exc).__name__})") from None
    return model


def read_model_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of a model file, with one-line errors for missing paths, folders and empty files."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise EdgecnnError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise EdgecnnError(f"{p}: is a directory, not a .tflite file") from None
    except PermissionError:
        raise EdgecnnError(f"{p}: permission denied") from None
    except OSError as exc:
        raise EdgecnnError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise EdgecnnError(f"{p}: empty file (0 bytes), not a .tflite model")
    return data


def _check_len(n: int, limit: int, what: str) -> int:
    if n < 0 or n > limit:
        raise EdgecnnError(f"{what}: impossible length {n}")
    return n


def _as_tuple(arr: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in arr) if isinstance(arr, np.ndarray) else ()


def _parse(data: bytes, path: str | None) -> TFLiteModel:
    schema = _schema()
    op_names = _names(schema.BuiltinOperator)
    size = len(data)
    root = schema.Model.GetRootAs(data, 0)

    codes: list[tuple[str, str | None]] = []
    for i in range(_check_len(root.OperatorCodesLength(), size // 4, "operator codes")):
        code = root.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = op_names.get(builtin, f"UNKNOWN_OP_{builtin}")
        custom = code.CustomCode()
        custom_str = custom.decode("utf-8", "replace") if name == "CUSTOM" and custom else None
        codes.append((name, custom_str, code.Version()))

    num_buffers = _check_len(root.BuffersLength(), size // 4, "buffers")
    n_sub = _check_len(root.SubgraphsLength(), size // 4, "subgraphs")
    if n_sub == 0:
        raise EdgecnnError("no subgraph")
    sub_counts = [_check_len(root.Subgraphs(s).OperatorsLength(), size // 4, "operators") for s in range(n_sub)]
    graph = root.Subgraphs(0)

    tensors: list[Tensor] = []
    buffer_cache: dict[int, np.ndarray | None] = {}
    for i in range(_check_len(graph.TensorsLength(), size // 4, "tensors")):
        t = graph.Tensors(i)
        dtype = _DTYPES.get(t.Type(), f"type{t.Type()}")
        shape = _as_tuple(t.ShapeAsNumpy())
        signature = _as_tuple(t.ShapeSignatureAsNumpy()) or shape
        buf_index = t.Buffer()
        if not 0 <= buf_index < max(num_buffers, 1):
            raise EdgecnnError(f"tensor {i} points at buffer {buf_index} of {num_buffers}")
        if buf_index not in buffer_cache:
            buffer_cache[buf_index] = _buffer_bytes(root, buf_index, data) if num_buffers else None
        raw = buffer_cache[buf_index]
        q = t.Quantization()
        scales = np.zeros(0, np.float32)
        zero_points = np.zeros(0, np.int64)
        qdim = 0
        if q is not None:
            s = q.ScaleAsNumpy()
            z = q.ZeroPointAsNumpy()
            scales = np.asarray(s, np.float32) if isinstance(s, np.ndarray) else scales
            zero_points = np.asarray(z, np.int64) if isinstance(z, np.ndarray) else zero_points
            qdim = q.QuantizedDimension()
        name = t.Name()
        tensors.append(Tensor(
            index=i, name=name.decode("utf-8", "replace") if name else f"tensor_{i}", shape=shape,
            shape_signature=signature, dtype=dtype, buffer=buf_index, scales=scales, zero_points=zero_points,
            quantized_dimension=qdim, data=_typed(raw, dtype, shape) if raw is not None else None,
            is_variable=bool(t.IsVariable()), sparse_format=t.Sparsity() is not None))

    n_tensors = len(tensors)

    def indices(arr: Any, what: str, allow_optional: bool) -> tuple[int, ...]:
        values = _as_tuple(arr)
        for v in values:
            if v >= n_tensors or v < (-1 if allow_optional else 0):
                raise EdgecnnError(f"{what} refers to tensor {v} of {n_tensors}")
        return values

    ops: list[Op] = []
    for i in range(sub_counts[0]):
        o = graph.Operators(i)
        opcode = o.OpcodeIndex()
        if not 0 <= opcode < len(codes):
            raise EdgecnnError(f"op {i} has opcode index {opcode} of {len(codes)}")
        name, custom, version = codes[opcode]
        ops.append(Op(index=i, name=name, opcode_index=opcode, version=version, custom_code=custom,
                      inputs=indices(o.InputsAsNumpy(), f"op {i} ({name}) input", True),
                      outputs=indices(o.OutputsAsNumpy(), f"op {i} ({name}) output", True),
                      options=_options(schema, o)))
    inputs = list(indices(graph.InputsAsNumpy(), "graph input", False))
    outputs = list(indices(graph.OutputsAsNumpy(), "graph output", False))
    description = root.Description()
    model = TFLiteModel(path=path, size_bytes=size, version=root.Version(),
                        description=description.decode("utf-8", "replace") if description else "",
                        tensors=tensors, ops=ops, inputs=inputs, outputs=outputs, num_subgraphs=n_sub,
                        num_buffers=num_buffers, subgraph_op_counts=sub_counts, buffer=data)
    for op in ops:
        op.macs = op_macs(op, tensors)
    return model


def _buffer_bytes(root: Any, index: int, data: bytes) -> np.ndarray | None:
    """A buffer's bytes (zero-copy), inline or (models > 2 GB) at an offset after the flatbuffer."""
    buf = root.Buffers(index)
    offset, length = buf.Offset(), buf.Size()
    if offset > 1:
        if offset + length > len(data):
            raise EdgecnnError(f"buffer {index} runs past the end of the file")
        return np.frombuffer(data, np.uint8, count=length, offset=offset) if length else None
    raw = buf.DataAsNumpy()  # numpy bounds-checks the vector against the file
    if not isinstance(raw, np.ndarray) or raw.size == 0:
        return None
    return raw


def _typed(raw: np.ndarray, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """View raw bytes as the tensor's dtype and shape where they fit (sparse/packed data stays flat)."""
    if dtype not in _NUMPY_DTYPES:
        return raw
    itemsize = np.dtype(dtype).itemsize
    if raw.size % itemsize:
        return raw
    arr = raw.view(dtype)
    if shape and math.prod(shape) == arr.size:
        return arr.reshape(shape)
    if not shape and arr.size == 1:
        return arr.reshape(())
    return arr


def _options(schema: Any, op: Any) -> dict[str, Any]:
    """The op's builtin options as a plain dict (snake_case keys; enums as names)."""
    kind = op.BuiltinOptionsType()
    if not kind:
        return {}
    table = op.BuiltinOptions()
    if table is None:
        return {}
    obj = schema.BuiltinOptionsCreator(kind, table)
    if obj is None:
        return {}
    out: dict[str, Any] = {}
    for key, value in vars(obj).items():
        if key in _ENUM_OPTIONS:
            value = _ENUM_OPTIONS[key].get(value, value)
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif not isinstance(value, (int, float, bool, str, list, type(None))):
            continue
        out[_snake(key)] = value
    return out


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def op_macs(op: Op, tensors: list[Tensor]) -> int:
    """Multiply-accumulates of one op from the shapes in the file (0 for ops without a weight product)."""
    if op.name not in MAC_OPS:
        return 0

    def shape(slot: int, outputs: bool = False) -> tuple[int, ...] | None:
        ids = op.outputs if outputs else op.inputs
        if slot >= len(ids) or ids[slot] < 0:
            return None
        return tensors[ids[slot]].shape or None

    out = shape(0, outputs=True)
    w = shape(1)
    if op.name == "TRANSPOSE_CONV":  # inputs: output_shape, weights [O, H, W, I], input
        inp = shape(2)
        if not inp or not w or len(w) != 4:
            return 0
        return math.prod(inp) * w[0] * w[1] * w[2]
    if op.name == "CONV_3D_TRANSPOSE":  # inputs: output_shape, weights [D, H, W, O, I], input
        inp = shape(2)
        if not inp or not w or len(w) != 5:
            return 0
        return math.prod(inp) * w[0] * w[1] * w[2] * w[3]
    if not out:
        return 0
    n_out = math.prod(out)
    if op.name == "CONV_2D" and w and len(w) == 4:  # weights [O, H, W, I/groups]
        return n_out * w[1] * w[2] * w[3]
    if op.name == "DEPTHWISE_CONV_2D" and w and len(w) == 4:  # weights [1, H, W, C*mult]
        return n_out * w[1] * w[2]
    if op.name == "CONV_3D" and w and len(w) == 5:  # weights [D, H, W, I, O]
        return n_out * w[0] * w[1] * w[2] * w[3]
    if op.name == "FULLY_CONNECTED" and w and len(w) == 2:  # weights [units, in]
        return n_out * w[1]
    if op.name == "BATCH_MATMUL":
        a = shape(0)
        if not a or len(a) < 2:
            return 0
        k = a[-2] if op.options.get("adj_x") else a[-1]
        return n_out * k
    return 0
