"""Which layers of a quantised model lose accuracy, and which lose time — measured against its float32 twin.

TF-free (LiteRT + numpy): what ``edgecnn explain`` and ``edgecnn convert --explain`` report.

**Error.** Both files run on the same real images with every intermediate tensor kept
(``experimental_preserve_all_tensors``, builtin kernels: a delegate keeps its intermediates to itself). The
converter names each op's output after the Keras layers fused into it, and a float32 and an int8 file made from
one SavedModel share those names, so each quantised op output is dequantised and compared with the float32
tensor of the same name:

- ``snr_db``: signal-to-noise ratio of the int8 tensor against the float32 one, over all images and elements
  (10·log10(Σf² / Σ(f − q)²)). It is *accumulated*: every layer after a bad one is bad too.
- ``layer_snr_db``: the error the layer's own quantisation makes, as an SNR: its output's float32 values
  quantised with the int8 file's scale and zero point (clipping + rounding of *its* range) and, for conv/FC
  layers, its float32 weights against the int8 weights (per channel), combined (noise powers add). It is
  local — the inputs are the float32 model's — so a layer whose range is badly calibrated tops the list and
  the layers after it, whose accumulated SNR is just as bad, do not. Layers are ranked by it, lowest first.
  (The difference of accumulated SNRs between a layer's input and output is no such measure: one bad range
  upstream makes the error of later layers non-linear — a ×40 step turned a depthwise conv after it into the
  "worst" layer in a trial on MobileNetV2.)
- ``rmse_steps``: RMSE in units of the output's int8 step (QuantizationDebugger's ``rmse/scale``; rounding
  alone gives ≈ 0.29, a clipped or badly calibrated range much more).

**Time.** The op profiler (:mod:`edgecnn.op_profiler`, XNNPACK operators attributed to TFLite nodes by
:func:`edgecnn.profile.attribute_xnnpack_nodes`) runs each file in a child process; node times are summed per
layer, for the quantised file and for the float32 file, so a layer that int8 makes slower shows up by name
(e.g. ConvNeXt's LayerNorm, which int8 turns into MEAN/SQUARED_DIFFERENCE/RSQRT ops XNNPACK does not take).

A *layer* here is the Keras layer named last in an op's output tensor name (for a fused conv + BatchNorm +
ReLU, the conv); ops of one layer (e.g. the pieces of a LayerNorm) form one group.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgecnn.errors import EdgecnnError
from edgecnn.preprocess import PreprocessSpec, to_model_input

MAX_SNR_DB = 99.0  # an exact tensor (e.g. an int8 copy of int8-representable data) would be +inf
# "<model>/<layer>/<tf op>" pieces of a fused tensor name ("a/relu/Relu;a/bn/FusedBatchNormV3;a/conv/Conv2D").
_PIECE = re.compile(r"^[^/;]+/(?:quant_)?([^/;]+)(?:/|$)")
_TRAILING_INDEX = re.compile(r"(?<=\D)\d+$")


@dataclass
class LayerRow:
    """One layer's error and time."""

    layer: str
    depth: int  # execution index of the layer's last op in the quantised file
    ops: list[str]
    dtype: str  # of the layer's output in the quantised file ("int8", or "float32" where it was kept float)
    snr_db: float | None
    layer_snr_db: float | None
    range_snr_db: float | None
    weight_snr_db: float | None
    rmse_steps: float | None
    quant_ms: float | None = None
    float_ms: float | None = None
    fused_layers: list[str] = field(default_factory=list)

    @property
    def extra_ms(self) -> float | None:
        """Time the quantised layer costs over the float32 one (positive: int8 is slower here)."""
        if self.quant_ms is None or self.float_ms is None:
            return None
        return self.quant_ms - self.float_ms


@dataclass
class LayerErrorReport:
    images: int
    rows: list[LayerRow]  # in execution order
    output_snr_db: float | None
    top1_agreement: float
    timing: str  # where the times come from, or why there are none
    notes: list[str] = field(default_factory=list)

    def by_harm(self) -> list[LayerRow]:
        """Rows sorted by the error each layer adds (lowest layer SNR first); rows without a measure last."""
        return sorted(self.rows, key=lambda r: (r.layer_snr_db is None, r.layer_snr_db or 0.0, r.depth))

    def slower_in_int8(self, margin_ms: float = 0.0) -> list[LayerRow]:
        """Rows whose quantised ops take longer than their float32 twins, slowest-gap first."""
        rows = [r for r in self.rows if r.extra_ms is not None and r.extra_ms > margin_ms]
        return sorted(rows, key=lambda r: -(r.extra_ms or 0.0))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LayerErrorReport":
        fields = {f for f in LayerRow.__dataclass_fields__}
        rows = [LayerRow(**{k: v for k, v in row.items() if k in fields}) for row in data["rows"]]
        return cls(images=data["images"], rows=rows, output_snr_db=data.get("output_snr_db"),
                   top1_agreement=data.get("top1_agreement", float("nan")), timing=data.get("timing", ""),
                   notes=list(data.get("notes", [])))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for row, data in zip(self.rows, out["rows"]):
            data["extra_ms"] = row.extra_ms
        out["ranking"] = [r.layer for r in self.by_harm()]
        return out


# ---- names ---------------------------------------------------------------------------------------------

def layers_in_name(tensor_name: str) -> list[str]:
    """Keras layer names in a (possibly fused) tensor name, output-most first."""
    out = []
    for piece in tensor_name.split(";"):
        match = _PIECE.match(piece.strip())
        if match and match.group(1) not in out:
            out.append(match.group(1))
    return out


def layer_of(tensor_name: str) -> str:
    """The layer an op belongs to: the input-most Keras layer in its output's name (the conv of conv+BN+ReLU)."""
    names = layers_in_name(tensor_name)
    return names[-1] if names else tensor_name.split(";")[0]


def op_layers(model: Any) -> list[str]:
    """The layer of every op of a read .tflite (index = op index).

    Boundary ops the quantiser adds around a layer kept in float ("tfl.dequantize", "tfl.quantize1") carry no
    layer name: a DEQUANTIZE belongs to the layer it feeds, a QUANTIZE to the layer whose output it converts,
    so a float layer's cost includes its boundaries.
    """
    producer = model.producers()
    consumer: dict[int, int] = {}
    for op in model.ops:
        for t in op.inputs:
            if t >= 0:
                consumer.setdefault(t, op.index)
    names: list[str | None] = []
    for op in model.ops:
        name = model.tensors[op.outputs[0]].name if op.outputs and op.outputs[0] >= 0 else ""
        names.append(layer_of(name) if layers_in_name(name) or op.name not in _BOUNDARY_OPS else None)

    def resolve(index: int, depth: int = 0) -> str:
        if names[index] is not None or depth > 8:
            return names[index] or model.ops[index].name.lower()
        op = model.ops[index]
        if op.name == "DEQUANTIZE" and op.outputs[0] in consumer:
            return resolve(consumer[op.outputs[0]], depth + 1)
        if op.inputs and op.inputs[0] in producer:
            return resolve(producer[op.inputs[0]], depth + 1)
        if op.outputs[0] in consumer:
            return resolve(consumer[op.outputs[0]], depth + 1)
        return model.ops[index].name.lower()

    return [resolve(i) for i in range(len(model.ops))]


_BOUNDARY_OPS = ("QUANTIZE", "DEQUANTIZE")


def _name_key(name: str) -> str:
    # The quantised file sometimes suffixes a fused name with an index ("…/Conv2D1"); compare without it.
    return _TRAILING_INDEX.sub("", name.split(";")[0]) + "|" + ";".join(sorted(layers_in_name(name)))


# ---- running -------------------------------------------------------------------------------------------

def _tensor_batches(model_bytes: bytes, images: np.ndarray, spec: PreprocessSpec,
                    batch: int) -> Iterator[dict[int, np.ndarray]]:
    """Every tensor the builtin kernels computed, float32 (dequantised), ``batch`` images at a time.

    One batch at a time, never the whole set: every intermediate tensor of every image is far more than the
    images (DenseNet-121's concatenations on 1600 images of 32 px took 24 GB before the OOM killer stopped it).
    A model that cannot be resized to ``batch`` runs image by image, and still yields ``batch`` images at once,
    so two files always yield the same images together."""
    from edgecnn.evaluate import dequantize
    from edgecnn.runtime import allocate, make_interpreter

    interp = make_interpreter(model_bytes, num_threads=2, delegate="none", keep_all_tensors=True)
    inp = interp.get_input_details()[0]
    run = batch
    try:
        interp.resize_tensor_input(inp["index"], [batch, *spec.shape])
        allocate(interp)
    except (RuntimeError, ValueError, EdgecnnError):
        run = 1
        interp = make_interpreter(model_bytes, num_threads=2, delegate="none", keep_all_tensors=True)
        allocate(interp)
    details = [d for d in interp.get_tensor_details() if d["dtype"] in (np.float32, np.int8, np.uint8, np.int16)]
    for start in range(0, len(images), batch):
        chunks: dict[int, list[np.ndarray]] = {}
        part = images[start:start + batch]
        for sub in range(0, len(part), run):
            piece = part[sub:sub + run]
            n = len(piece)
            x = to_model_input(piece, spec)
            if n < run:
                x = np.concatenate([x, np.repeat(x[-1:], run - n, axis=0)])
            interp.set_tensor(inp["index"], x)
            interp.invoke()
            for d in details:
                try:
                    value = interp.get_tensor(d["index"])
                except ValueError:  # a tensor without data (e.g. an omitted optional input)
                    continue
                if value.ndim and value.shape[0] == run:
                    chunks.setdefault(d["index"], []).append(dequantize(value[:n], d))
        yield {k: np.concatenate(v) if len(v) > 1 else v[0] for k, v in chunks.items()}


@dataclass
class _ErrorSums:
    """Sums over all images and elements, so that an SNR or RMSE over the whole set needs one batch at a time."""

    signal: float = 0.0       # Σ f²
    noise: float = 0.0        # Σ (f − q)²
    range_noise: float = 0.0  # Σ (f − fake_quant(f))²
    count: int = 0

    def add(self, reference: np.ndarray, test: np.ndarray, fake: np.ndarray | None) -> None:
        ref = reference.astype(np.float64)
        self.signal += float(np.sum(np.square(ref)))
        self.noise += float(np.sum(np.square(ref - test)))
        if fake is not None:
            self.range_noise += float(np.sum(np.square(ref - fake)))
        self.count += ref.size


def _snr_from_sums(signal: float, noise: float) -> float:
    if noise == 0.0:
        return MAX_SNR_DB
    if signal == 0.0:
        return -MAX_SNR_DB
    return float(min(MAX_SNR_DB, max(-MAX_SNR_DB, 10.0 * math.log10(signal / noise))))


def _snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    signal = float(np.sum(np.square(reference, dtype=np.float64)))
    noise = float(np.sum(np.square(reference.astype(np.float64) - test)))
    return _snr_from_sums(signal, noise)


# ---- the comparison ------------------------------------------------------------------------------------

def compare(quant_bytes: bytes, float_bytes: bytes, images_uint8: np.ndarray, spec: PreprocessSpec,
            quant_spec: PreprocessSpec | None = None, *, batch: int = 16) -> LayerErrorReport:
    """Per-layer error of ``quant_bytes`` against ``float_bytes`` on ``images_uint8`` (no timing).

    ``spec`` is the float32 file's preprocessing; ``quant_spec`` the quantised file's (its input dtype and
    quantisation), by default read from the file's input tensor.
    """
    from edgecnn.tflite_file import read_tflite

    quant, floating = read_tflite(quant_bytes), read_tflite(float_bytes)
    if quant_spec is None:
        quant_spec = spec_for_model(quant, spec)
    images = np.asarray(images_uint8)
    if len(images) == 0:
        raise EdgecnnError("no images to compare the two models on")
    float_by_key: dict[str, int] = {}
    for t in floating.tensors:
        if not t.is_constant:
            float_by_key.setdefault(_name_key(t.name), t.index)
    float_producer = floating.producers()

    # Each quantised tensor's float32 twin, by name (through boundary ops, which convert their input unchanged).
    candidates: dict[int, int] = {}
    quant_producer = quant.producers()
    for t in quant.tensors:
        if t.is_constant:
            continue
        twin = float_by_key.get(_name_key(t.name))
        source = t.index
        while twin is None and source in quant_producer and quant.ops[quant_producer[source]].name in _BOUNDARY_OPS:
            source = quant.ops[quant_producer[source]].inputs[0]  # a boundary op converts its input: same values
            twin = float_by_key.get(_name_key(quant.tensors[source].name))
        if twin is None and source in quant.inputs:
            twin = floating.inputs[quant.inputs.index(source)]
        if twin is not None:
            candidates[t.index] = twin

    def fake_quant_of(t: Any) -> tuple[float, int] | None:
        if t.quantized and not t.per_channel and float(t.scales[0]) > 0 and t.dtype in _INT_RANGES:
            return float(t.scales[0]), int(t.zero_points[0]) if t.zero_points.size else 0
        return None

    ranges = {index: fake_quant_of(quant.tensors[index]) for index in candidates}
    sums: dict[int, _ErrorSums] = {}
    out_index, out_twin = quant.outputs[0], floating.outputs[0]
    agreeing, compared = 0, 0
    batches = zip(_tensor_batches(quant_bytes, images, quant_spec, batch),
                  _tensor_batches(float_bytes, images, spec, batch))
    for q_batch, f_batch in batches:
        for index, twin in candidates.items():
            q, f = q_batch.get(index), f_batch.get(twin)
            if q is None or f is None or q.shape != f.shape:
                continue
            rng = ranges[index]
            fake = None if rng is None else _fake_quant(f, rng[0], rng[1], quant.tensors[index].dtype)
            sums.setdefault(index, _ErrorSums()).add(f, q, fake)
        if out_index in q_batch and out_twin in f_batch:
            n = len(q_batch[out_index])
            agreeing += int(np.sum(q_batch[out_index].reshape(n, -1).argmax(1)
                                   == f_batch[out_twin].reshape(n, -1).argmax(1)))
            compared += n

    twins = {index: candidates[index] for index in sums}
    snr = {index: _snr_from_sums(s.signal, s.noise) for index, s in sums.items()}  # accumulated error
    range_snr = {index: _snr_from_sums(s.signal, s.range_noise) for index, s in sums.items()
                 if ranges[index] is not None}  # local: the float32 twin through this tensor's int8 range
    rmse_steps = {index: math.sqrt(s.noise / max(1, s.count)) / ranges[index][0] for index, s in sums.items()
                  if ranges[index] is not None}

    weight_snr: dict[int, float] = {}  # per quantised op: its weights against the float32 twin's
    for op in quant.ops:
        if op.name not in _WEIGHTED or not op.outputs or op.outputs[0] not in twins:
            continue
        float_op = float_producer.get(twins[op.outputs[0]])
        if float_op is None:
            continue
        w_q = _weights(quant, op)
        w_f = _weights(floating, floating.ops[float_op])
        if w_q is not None and w_f is not None and w_q.shape == w_f.shape:
            weight_snr[op.index] = _snr_db(w_f, w_q)

    rows = _group_rows(quant, snr, range_snr, weight_snr, rmse_steps)
    agreement = agreeing / compared if compared else float("nan")
    notes = []
    unmatched = sum(1 for r in rows if r.snr_db is None)
    if unmatched:
        notes.append(f"{unmatched} of {len(rows)} layers have no float32 twin by name (no error shown)")
    return LayerErrorReport(images=len(images), rows=rows, output_snr_db=snr.get(out_index),
                            top1_agreement=agreement, timing="not measured", notes=notes)


_INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
_WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def _fake_quant(values: np.ndarray, scale: float, zero_point: int, dtype: str) -> np.ndarray:
    low, high = _INT_RANGES[dtype]
    q = np.clip(np.round(values.astype(np.float64) / scale) + zero_point, low, high)
    return (q - zero_point) * scale


def _weights(model: Any, op: Any) -> np.ndarray | None:
    """An op's weight tensor as float64 (dequantised per channel if int8), or None."""
    if len(op.inputs) < 2 or op.inputs[1] < 0:
        return None
    t = model.tensors[model._through_dequantize(op.inputs[1])]
    if t.data is None or t.sparse_format or t.dtype not in ("float32", "float16", "int8"):
        return None
    w = np.asarray(t.data, dtype=np.float64).reshape(t.shape)
    if t.dtype == "int8" and t.quantized:
        shape = [1] * w.ndim
        if t.per_channel:
            shape[t.quantized_dimension] = -1
        scales = t.scales.astype(np.float64).reshape(shape)
        zeros = (t.zero_points.astype(np.float64) if t.zero_points.size else np.zeros_like(t.scales)).reshape(shape)
        w = (w - zeros) * scales
    return w


def spec_for_model(model: Any, spec: PreprocessSpec) -> PreprocessSpec:
    """``spec`` with the input dtype and quantisation of a read .tflite (its own preprocess.json)."""
    tensor = model.input_tensors[0]
    quant_spec = PreprocessSpec.from_json({**spec.to_json(), "input_dtype": tensor.dtype
                                           if tensor.dtype in ("int8", "uint8") else "float32"})
    if tensor.dtype in ("int8", "uint8"):
        quant_spec.input_quantization = {"scale": float(tensor.scales[0]), "zero_point": int(tensor.zero_points[0])}
    return quant_spec


def _group_rows(model: Any, snr: dict[int, float], range_snr: dict[int, float], weight_snr: dict[int, float],
                rmse_steps: dict[int, float]) -> list[LayerRow]:
    """One row per layer (the ops named after it), in execution order of their last op."""
    groups: dict[str, list[Any]] = {}
    for op, layer in zip(model.ops, op_layers(model)):
        if op.outputs and op.outputs[0] >= 0:
            groups.setdefault(layer, []).append(op)
    rows = []
    for name, ops in groups.items():
        last = ops[-1]
        out_t = last.outputs[0]
        # The layer's own quantisation: every range inside it (a LayerNorm is several int8 tensors) + weights.
        ranges = [range_snr[op.outputs[0]] for op in ops if op.outputs[0] in range_snr]
        weights = [weight_snr[op.index] for op in ops if op.index in weight_snr]
        parts = ranges + weights
        own = _combine_db(parts) if parts else (MAX_SNR_DB if snr.get(out_t) is not None else None)
        fused = sorted({layer for op in ops for layer in layers_in_name(model.tensors[op.outputs[0]].name)})
        rows.append(LayerRow(layer=name, depth=last.index, ops=[op.display_name for op in ops],
                             dtype=model.tensors[out_t].dtype, snr_db=_round(snr.get(out_t)),
                             layer_snr_db=_round(own), range_snr_db=_round(_combine_db(ranges)) if ranges else None,
                             weight_snr_db=_round(_combine_db(weights)) if weights else None,
                             rmse_steps=_round(rmse_steps.get(out_t), 3), fused_layers=fused))
    return sorted(rows, key=lambda r: r.depth)


def _combine_db(values: list[float]) -> float:
    """SNR of independent errors together: noise powers (relative to each signal) add."""
    total = sum(10.0 ** (-v / 10.0) for v in values)
    return float(min(MAX_SNR_DB, -10.0 * math.log10(total))) if total > 0 else MAX_SNR_DB


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


# ---- time per layer ------------------------------------------------------------------------------------

def layer_times(model_path: str | Path, *, num_threads: int = 2, runs: int = 30) -> tuple[dict[str, float] | None, str]:
    """Milliseconds per layer (summed node times) measured by the op profiler in a child process, or None and why."""
    from edgecnn.profile import attribute_xnnpack_nodes
    from edgecnn.safety import load_checked, run_in_child

    model = load_checked(model_path)
    measured = run_in_child("edgecnn.profile:measure", {
        "model_path": str(model_path), "delegate": "xnnpack", "num_threads": num_threads, "warmup_runs": 3,
        "num_runs": runs, "max_secs": 20.0, "input_npy": None, "value_range": None, "op_profiling": True,
    }, timeout=300.0, label=str(model_path))
    op_times = measured.get("op_times") or {}
    if "unavailable" in op_times:
        return None, f"per-layer time unavailable ({op_times['unavailable']})"
    per_node = attribute_xnnpack_nodes(model, measured["delegate"]["delegated"], op_times.get("by_node") or [])
    if per_node is None:
        return None, "per-layer time unavailable (XNNPACK's operators could not be matched to the file's ops)"
    layers = op_layers(model)
    times: dict[str, float] = {}
    for index, ms in per_node.items():
        times[layers[index]] = times.get(layers[index], 0.0) + ms
    return times, f"op profiler, XNNPACK, {num_threads} threads, median of {runs} runs per op"


def add_times(report: LayerErrorReport, quant_path: str | Path, float_path: str | Path, *,
              num_threads: int = 2) -> None:
    """Fill ``quant_ms``/``float_ms`` of each row from the op profiler (or say why not)."""
    quant_times, why = layer_times(quant_path, num_threads=num_threads)
    float_times, why_float = layer_times(float_path, num_threads=num_threads)
    if quant_times is None or float_times is None:
        report.timing = why if quant_times is None else why_float
        return
    for row in report.rows:
        row.quant_ms = _round(quant_times.get(row.layer), 4)
        # Only layers the float32 file has under the same name have a float time.
        row.float_ms = _round(float_times.get(row.layer), 4) if row.layer in float_times else None
    report.timing = why


# ---- the whole explanation -----------------------------------------------------------------------------

def explain(quant_path: str | Path, float_path: str | Path, images_uint8: np.ndarray,
            spec: PreprocessSpec | None = None, *, timing: bool = True, num_threads: int = 2,
            max_images: int = 200) -> LayerErrorReport:
    """Per-layer error (and time) of a quantised .tflite against its float32 twin on real images.

    ``spec`` is the float32 model's preprocessing (default: the ``preprocess.json`` beside ``float_path``).
    Both files are linted and first run in a child process before this process loads them.
    """
    from edgecnn.preprocess import spec_beside
    from edgecnn.safety import load_checked, run_in_child

    for path in (quant_path, float_path):
        load_checked(path)
        run_in_child("edgecnn.safety:check_runs", {"model_path": str(path), "delegate": "none"}, label=str(path))
    if spec is None:
        spec = spec_beside(float_path)
    images = np.asarray(images_uint8)[:max_images]
    report = compare(Path(quant_path).read_bytes(), Path(float_path).read_bytes(), images, spec)
    if timing:
        add_times(report, quant_path, float_path, num_threads=num_threads)
    return report


# ---- output --------------------------------------------------------------------------------------------

def print_explanation(report: LayerErrorReport, console: Any = None, *, top: int = 15) -> None:
    """The table sorted by harm (most harmful first) and the layers int8 makes slower."""
    from rich.table import Table

    from edgecnn.console import make_console

    console = console or make_console()
    table = Table(title=f"per-layer error of the quantised file vs float32 ({report.images} images), most harmful "
                        "first (layer SNR: its own range and weight quantisation; SNR: accumulated up to its output)")
    for column in ("layer", "depth", "ops", "dtype", "layer SNR dB", "range dB", "weights dB", "SNR dB", "q ms",
                   "fp32 ms"):
        table.add_column(column, justify="left" if column in ("layer", "ops", "dtype") else "right")
    for row in report.by_harm()[:top]:
        table.add_row(row.layer, str(row.depth), _ops_text(row.ops), row.dtype, _num(row.layer_snr_db), _num(row.range_snr_db),
                      _num(row.weight_snr_db), _num(row.snr_db), _num(row.quant_ms, 3), _num(row.float_ms, 3))
    console.print(table)
    if len(report.rows) > top:
        console.print(f"({len(report.rows) - top} more layers in the JSON report)")
    console.print(f"output SNR {_num(report.output_snr_db)} dB; top-1 agreement with float32 "
                  f"{report.top1_agreement:.1%}; time: {report.timing}")
    slower = report.slower_in_int8()
    if slower:
        shown = ", ".join(f"{r.layer} (+{r.extra_ms:.3f} ms)" for r in slower[:6])
        total = sum(r.extra_ms or 0.0 for r in slower)
        console.print(f"slower quantised than float32: {shown}{' …' if len(slower) > 6 else ''} "
                      f"— {total:.3f} ms in all")
    for note in report.notes:
        console.print(f"note: {note}")


def _ops_text(ops: list[str]) -> str:
    counts: dict[str, int] = {}
    for op in ops:
        counts[op] = counts.get(op, 0) + 1
    return ",".join(f"{name}×{n}" if n > 1 else name for name, n in counts.items())


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def plot_explanation(report: LayerErrorReport, path: str | Path, *, title: str = "") -> Path:
    """PNG: accumulated SNR and added error by layer depth (top), quantised vs float32 time per layer (bottom)."""
    from edgecnn.errors import MissingExtraError
    from edgecnn.plots import save_png

    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtraError("the per-layer plot", "train", "matplotlib") from exc
    rows = report.rows
    x = np.arange(len(rows))
    timed = any(r.quant_ms is not None for r in rows)
    fig, axes = plt.subplots(2 if timed else 1, 1, figsize=(max(7.0, 0.12 * len(rows) + 4), 6.5 if timed else 3.6),
                             dpi=100, sharex=True, squeeze=False)
    try:
        ax = axes[0][0]
        ax.bar(x, [r.layer_snr_db if r.layer_snr_db is not None else np.nan for r in rows], color="tab:red", alpha=0.5,
               label="layer SNR: the error the layer adds (dB, lower is worse)")
        ax.plot(x, [r.snr_db if r.snr_db is not None else np.nan for r in rows], "-o", markersize=2,
                color="tab:blue", label="SNR vs float32 (dB)")
        for r in report.by_harm()[:3]:
            ax.annotate(r.layer, (rows.index(r), r.layer_snr_db or 0.0), fontsize=7, rotation=30)
        ax.set_ylabel("dB")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(title or "quantisation error by layer depth")
        if timed:
            ax2 = axes[1][0]
            ax2.bar(x - 0.2, [r.float_ms or 0.0 for r in rows], width=0.4, label="float32 ms")
            ax2.bar(x + 0.2, [r.quant_ms or 0.0 for r in rows], width=0.4, label="quantised ms")
            ax2.set_ylabel("ms per layer")
            ax2.grid(alpha=0.3)
            ax2.legend(fontsize=8)
        axes[-1][0].set_xlabel("layer (execution order)")
        fig.tight_layout()
        save_png(fig, path, dpi=100)
    finally:
        plt.close(fig)
    return Path(path)
