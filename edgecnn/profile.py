"""Profile .tflite models without TensorFlow: size, load/allocate time, first and steady-state latency, memory,
delegation, and a per-op breakdown.

    from edgecnn.profile import profile
    results = profile(["m_float32.tflite", "m_int8.tflite"], num_threads=2, num_runs=100)
    results[1]["latency_ms"]["p50"], results[1]["vs_first"]["speedup"]

Each model is read and linted here (:mod:`edgecnn.safety`), then all are measured in one child process
(:func:`measure_models`, run through :func:`edgecnn.safety.run_in_child`) so that a model that crashes the
native runtime becomes a one-line error (with several models, each is then tried alone to name the culprit).
Timing follows TFLite's ``benchmark_model``: ``warmup_runs`` invokes, then invokes until ``num_runs`` or
``max_secs``; each run is timed with ``perf_counter_ns`` around ``invoke()`` only (input set once), so the
reported median matches a bare ``invoke()`` loop (tools/bench_profiler.py). Several models are timed
**interleaved** (:func:`interleaved_timing`: a turn of each in turn, round after round), so that a speed-up
between them is a ratio taken under the same machine state, not across minutes of changing load. A turn is
one invoke, or for a model faster than :data:`MIN_TURN_MS` as many back-to-back invokes as fill it
(:func:`turn_bursts`): single interleaved invokes of sub-millisecond files measure thread-pool wake-ups and
the other files' threads more than the file (docs/TIMING.md).
Options are one typed object, :class:`~edgecnn.profile_options.ProfileOptions`.

Per-op time comes from :mod:`edgecnn.op_profiler` (LiteRT's C profiler through ctypes) when
``op_profiling`` is on and the runtime offers it. With XNNPACK the profiler times XNNPACK's operators;
:func:`attribute_xnnpack` maps them back to the TFLite ops in execution order (or, if they do not line
up, they are shown under XNNPACK's names). Otherwise the table says "per-op time unavailable" and shows
each op type's share of the model's MACs instead of inventing times.
"""
from __future__ import annotations

import math
import os
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from edgecnn.errors import EdgecnnError, UsageError
from edgecnn.profile_options import ProfileOptions, default_threads  # noqa: F401 (default_threads: public here too)

PERCENTILES = (50, 90, 99)
# CPU features that decide which XNNPACK kernels run (x86: AVX2/FMA float, VNNI/AVX-512 int8 dot products;
# ARM: NEON, dot product, int8 matrix multiply): quoted with every speed figure.
NOTABLE_CPU_FLAGS = ("sse4_1", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8",
                     "asimd", "asimddp", "i8mm")


def profile(models: list[str | os.PathLike] | str | os.PathLike, options: ProfileOptions | None = None,
            **overrides: Any) -> list[dict[str, Any]]:
    """Profile each model (see module docstring); returns one result dict per model, in order.

    ``options`` (:class:`~edgecnn.profile_options.ProfileOptions`) and/or keyword overrides with the same
    names: ``num_threads``, ``warmup_runs``, ``num_runs``, ``max_secs``, ``delegate`` ("xnnpack", "none",
    "edgetpu" or a delegate library path), ``op_profiling``, ``input`` (a .npy file or an image,
    preprocessed with the model's preprocess.json). Several models are timed in one child process,
    interleaved (:func:`interleaved_timing`), so their ratios are taken under the same conditions.
    """
    if isinstance(models, (str, os.PathLike)):
        models = [models]
    if not models:
        raise UsageError("no model given")
    opts = ProfileOptions.from_kwargs(options, **overrides)
    prepared = [_prepare(Path(m), opts) for m in models]
    try:
        measured = _measure_in_child(prepared, opts)
    finally:
        for item in prepared:
            if item["input_file"]:
                try:
                    os.unlink(item["input_file"])
                except OSError:
                    pass
    results = [_assemble(item, m) for item, m in zip(prepared, measured)]
    add_ratios(results)
    return results


def _prepare(path: Path, opts: ProfileOptions) -> dict[str, Any]:
    """Static facts from the file (read and linted here, in the parent) and the input it will be fed."""
    from edgecnn.safety import load_checked
    from edgecnn.tflite_file import check_model_file, schema_available

    if schema_available():
        model = load_checked(path)
    else:  # tflite_runtime fallback: no schema to read the file; the child process still contains crashes
        check_model_file(path)
        model = None
    input_info, input_file, value_range = _prepare_input(model, path, opts.input)
    return {"path": path, "model": model, "input_info": input_info, "input_file": input_file,
            "value_range": value_range}


def _measure_in_child(prepared: list[dict[str, Any]], opts: ProfileOptions) -> list[dict[str, Any]]:
    """All models in one child process (:func:`measure_models`); a crash names the model that caused it."""
    from edgecnn.safety import run_in_child

    paths = [str(item["path"]) for item in prepared]
    request = {"model_paths": paths, "delegate": opts.delegate, "num_threads": opts.threads(),
               "warmup_runs": opts.warmup_runs, "num_runs": opts.num_runs, "max_secs": opts.max_secs,
               "min_turn_ms": opts.min_turn_ms, "input_npys": [item["input_file"] for item in prepared],
               "value_ranges": [item["value_range"] for item in prepared], "op_profiling": opts.op_profiling}
    # The timing loop may take max_secs per model (twice with per-op profiling); loading gets its own margin.
    timeout = len(paths) * (opts.max_secs * (2 if opts.op_profiling else 1) + 120.0)
    label = paths[0] if len(paths) == 1 else f"{len(paths)} models ({', '.join(Path(p).name for p in paths)})"
    try:
        return run_in_child("edgecnn.profile:measure_models", request, timeout=timeout, label=label)
    except EdgecnnError:
        if len(paths) > 1:
            for path in paths:  # which one? each alone: load, allocate, one invoke
                run_in_child("edgecnn.safety:check_runs", {"model_path": path, "delegate": opts.delegate,
                                                           "num_threads": opts.threads()},
                             timeout=120.0, label=path)
        raise


def _assemble(item: dict[str, Any], measured: dict[str, Any]) -> dict[str, Any]:
    """One model's result: static facts + measurements + the per-op breakdown."""
    path, model = item["path"], item["model"]
    runtime_ops = measured.pop("runtime_ops", [])
    result: dict[str, Any] = {"model": str(path), "name": path.name, "size_bytes": path.stat().st_size}
    if model is not None:
        result.update({"params": model.params, "macs": model.macs, "num_ops": len(model.ops),
                       "fully_int8": model.fully_int8, "input_dtypes": [t.dtype for t in model.input_tensors]})
    else:
        result.update({"params": None, "macs": None, "num_ops": len(runtime_ops), "fully_int8": None,
                       "input_dtypes": None})
    result["input"] = item["input_info"]
    result.update({k: v for k, v in measured.items() if k != "op_times"})
    # Sum of all activation tensors without memory planning: an upper bound of the runtime's arena.
    result["memory"]["activation_bytes"] = activation_bytes(model) if model is not None else None
    op_times = measured.get("op_times")
    if model is not None and op_times and op_times.get("kernel") == "xnnpack":
        attributed = attribute_xnnpack(model, result["delegate"]["delegated"], op_times.get("by_node") or [])
        if attributed is not None:
            op_times = {**op_times, "by_type": attributed, "counts": {}, "source": op_times["source"].replace(
                "XNNPACK operators ('xnn:'; a 1×1 conv shows as Fully Connected GEMM) and TFLite ops left "
                "outside XNNPACK", "XNNPACK operators attributed to the TFLite ops they implement "
                "(in execution order)")}
    result["ops"], result["op_timing"] = op_breakdown(model, op_times, runtime_ops)
    return result


def add_ratios(results: list[dict[str, Any]]) -> None:
    """Speed-up (first p50 / this p50) and size ratio (this size / first size) against the first model."""
    if len(results) < 2:
        return
    base = results[0]
    for r in results:
        p50 = r["latency_ms"]["p50"]
        r["vs_first"] = {
            "speedup": base["latency_ms"]["p50"] / p50 if p50 > 0 else None,
            "size_ratio": r["size_bytes"] / base["size_bytes"] if base["size_bytes"] else None,
        }


# XNNPACK operator names (prefixes) that implement each TFLite op; a 1×1 CONV_2D runs as a fully connected GEMM.
XNNPACK_KINDS: dict[str, tuple[str, ...]] = {
    "CONV_2D": ("Convolution", "Fully Connected"), "DEPTHWISE_CONV_2D": ("Convolution",),
    "FULLY_CONNECTED": ("Fully Connected",), "TRANSPOSE_CONV": ("Deconvolution",), "BATCH_MATMUL": ("Batch Matrix",),
    "ADD": ("Add",), "SUB": ("Subtract",), "MUL": ("Multiply",), "DIV": ("Divide",), "MAXIMUM": ("Maximum",),
    "MINIMUM": ("Minimum",), "SQUARED_DIFFERENCE": ("Squared Difference",), "MEAN": ("Mean", "Global Average"),
    "SUM": ("Sum",), "MAX_POOL_2D": ("Max Pooling",), "AVERAGE_POOL_2D": ("Average Pooling",),
    "SOFTMAX": ("Softmax",), "RESHAPE": ("Static Reshape", "Copy"), "SQUEEZE": ("Static Reshape", "Copy"),
    "EXPAND_DIMS": ("Static Reshape", "Copy"), "CONCATENATION": ("Concatenate", "Copy"),
    "HARD_SWISH": ("HardSwish",), "LOGISTIC": ("Sigmoid",), "TANH": ("Tanh",), "RELU": ("Clamp",),
    "RELU6": ("Clamp",), "RELU_N1_TO_1": ("Clamp",), "LEAKY_RELU": ("Leaky ReLU",), "PRELU": ("PReLU",),
    "ELU": ("ELU",), "PAD": ("Constant Pad",), "QUANTIZE": ("Convert",), "DEQUANTIZE": ("Convert",),
    "RESIZE_BILINEAR": ("Resize Bilinear",), "TRANSPOSE": ("Transpose",), "SLICE": ("Slice",),
    "STRIDED_SLICE": ("Slice",), "SPLIT": ("Split", "Copy"), "DEPTH_TO_SPACE": ("Depth To Space",),
    "SPACE_TO_DEPTH": ("Space To Depth",), "ABS": ("Abs",), "FLOOR": ("Floor",), "CEIL": ("Ceiling",),
    "SQRT": ("Square Root",), "RSQRT": ("Reciprocal Square Root",), "SQUARE": ("Square",), "NEG": ("Negate",), "GELU": ("GELU",),
}
_XNN_HELPERS = ("Static Reshape", "Copy")  # inserted by XNNPACK in front of an op (e.g. FC on a 4-D input)


def attribute_xnnpack_nodes(model: Any, delegated: list[int], by_node: list[dict[str, Any]]) -> dict[int, float] | None:
    """Time per TFLite node index from XNNPACK operator times, or None when the two do not line up.

    XNNPACK builds its operators from the delegated TFLite ops in execution order, one operator per op
    (plus an occasional reshape in front, e.g. flattening before FULLY_CONNECTED). Walking both lists
    in order and checking each pair's kind keeps this honest: any mismatch returns None and the report
    falls back to XNNPACK's own operator names. TFLite ops XNNPACK did not take keep their own node times.
    """
    xnn = [n for n in by_node if n.get("xnnpack_node")]
    ops = [model.ops[i] for i in sorted(delegated)]
    if not xnn or not ops:
        return None
    times: dict[int, float] = {}
    j = 0
    for op in ops:
        kinds = XNNPACK_KINDS.get(op.name)
        if kinds is None:
            return None
        spent = 0.0
        while j < len(xnn) and xnn[j]["op"][5:].startswith(_XNN_HELPERS) and not any(
                xnn[j]["op"][5:].startswith(k) for k in kinds):
            spent += xnn[j]["ms"]
            j += 1
        if j >= len(xnn) or not xnn[j]["op"][5:].startswith(kinds):
            return None
        times[op.index] = spent + xnn[j]["ms"]
        j += 1
    if j != len(xnn):
        return None
    for n in by_node:
        if not n.get("xnnpack_node"):
            times[int(n["node"])] = times.get(int(n["node"]), 0.0) + n["ms"]
    return times


def attribute_xnnpack(model: Any, delegated: list[int], by_node: list[dict[str, Any]]) -> dict[str, float] | None:
    """Per TFLite op type time from XNNPACK operator times (:func:`attribute_xnnpack_nodes`), or None."""
    per_node = attribute_xnnpack_nodes(model, delegated, by_node)
    if per_node is None:
        return None
    times: dict[str, float] = {}
    for index, ms in per_node.items():
        name = model.ops[index].display_name
        times[name] = times.get(name, 0.0) + ms
    return times


def op_breakdown(model: Any, op_times: dict[str, Any] | None,
                 runtime_ops: list[str] | None = None) -> tuple[list[dict[str, Any]], str]:
    """Per op type: count, MACs and MAC share from the file; measured time and share when available.

    Without the file's schema (tflite_runtime fallback) counts come from the runtime's node names and
    MACs are unknown.
    """
    rows: dict[str, dict[str, Any]] = {}
    named = [(op.display_name, op.macs) for op in model.ops] if model is not None else \
        [(name, 0) for name in runtime_ops or []]
    for name, macs in named:
        row = rows.setdefault(name, {"op": name, "count": 0, "macs": 0})
        row["count"] += 1
        row["macs"] += macs
    total_macs = sum(r["macs"] for r in rows.values())
    measured = (op_times or {}).get("by_type") or {}
    total_time = sum(measured.values())
    for name, row in rows.items():
        if model is None:
            row["macs"] = None
        row["mac_share"] = (row["macs"] / total_macs if total_macs else 0.0) if model is not None else None
        row["time_ms"] = measured.get(name) if measured else None
        row["time_share"] = (measured[name] / total_time) if name in measured and total_time else None
    counts = (op_times or {}).get("counts") or {}
    for name, ms in measured.items():  # e.g. XNNPACK operators that have no TFLite twin
        if name not in rows:
            rows[name] = {"op": name, "count": counts.get(name), "macs": None, "mac_share": None, "time_ms": ms,
                          "time_share": ms / total_time if total_time else None}
    order = sorted(rows.values(), key=lambda r: (-(r["time_ms"] if r["time_ms"] is not None else -1.0),
                                                 -(r["macs"] or 0)))
    if op_times and measured:
        note = f"measured: {op_times.get('source', 'runtime profiler')}"
    else:
        why = (op_times or {}).get("unavailable") or "not requested (use --op-profiling)"
        note = f"per-op time unavailable ({why}); MAC share shown instead"
    return order, note


def activation_bytes(model: Any) -> int:
    """Bytes of every non-constant tensor of the main subgraph (no buffer reuse: an arena upper bound)."""
    total = 0
    for t in model.tensors:
        if not t.is_constant and t.dtype in _ITEMSIZE:
            total += t.num_elements * _ITEMSIZE[t.dtype]
    return total


_ITEMSIZE = {"float32": 4, "float16": 2, "int32": 4, "uint8": 1, "int64": 8, "bool": 1, "int16": 2, "int8": 1,
             "float64": 8, "bfloat16": 2}


# ---- input data ------------------------------------------------------------------------------------

def _prepare_input(model: Any, path: Path, source: str | None) -> tuple[dict[str, Any], str | None, list[float]]:
    """Decide what the model is fed: (description, temp .npy for the first input or None, float range)."""
    if model is None:
        if source is not None and not str(source).lower().endswith(".npy"):
            raise EdgecnnError("--input IMAGE needs ai-edge-litert to read the model's input "
                               "(the tflite_runtime fallback cannot); give a .npy file instead")
        if source is None:
            return {"source": "random", "float_range": [0.0, 1.0]}, None, [0.0, 1.0]
        fd, tmp = tempfile.mkstemp(prefix="edgecnn-input-", suffix=".npy")
        os.close(fd)
        try:
            np.save(tmp, np.load(source, allow_pickle=False))
        except (ValueError, OSError, EOFError) as exc:
            os.unlink(tmp)
            raise EdgecnnError(f"{source}: not a readable .npy file ({exc})") from None
        return {"source": str(source), "kind": "npy"}, tmp, [0.0, 1.0]
    first = model.input_tensors[0] if model.inputs else None
    value_range = [0.0, 1.0]
    spec = None
    try:
        from edgecnn.preprocess import PreprocessSpec, find_beside

        spec_path = find_beside(path, "preprocess.json")
        if spec_path is not None:
            spec = PreprocessSpec.load(spec_path)
            ends = [spec.offset, 255.0 * spec.scale + spec.offset]
            value_range = [min(ends), max(ends)]
    except EdgecnnError:
        spec = None
    if source is None:
        return {"source": "random", "float_range": value_range}, None, value_range
    if first is None:
        raise EdgecnnError(f"{path}: the model has no inputs to feed {source}")
    src = Path(source)
    if not src.is_file():
        raise EdgecnnError(f"{src}: no such file" if not src.exists() else f"{src}: not a file")
    if src.suffix.lower() == ".npy":
        try:
            array = np.load(src, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise EdgecnnError(f"{src}: not a readable .npy file ({exc})") from None
        array = _fit_array(array, first, src)
        info = {"source": str(src), "kind": "npy"}
    else:
        from edgecnn.predict import image_to_input

        array = image_to_input(src, model, path, spec=spec)
        info = {"source": str(src), "kind": "image"}
    fd, tmp = tempfile.mkstemp(prefix="edgecnn-input-", suffix=".npy")
    os.close(fd)
    np.save(tmp, array)
    return info, tmp, value_range


def _fit_array(array: np.ndarray, tensor: Any, src: Path) -> np.ndarray:
    """Check an .npy array against the model input (a missing batch dimension is added)."""
    shape = tuple(tensor.shape)
    if array.shape != shape and (1,) + array.shape == shape:
        array = array[None]
    if array.shape != shape:
        raise EdgecnnError(f"{src}: array shape {list(array.shape)} does not match the model input {list(shape)}")
    if str(array.dtype) != tensor.dtype:
        if tensor.quantized and array.dtype.kind == "f" and tensor.dtype in ("int8", "uint8"):
            from edgecnn.preprocess import quantize

            return quantize(array, float(tensor.scales[0]), int(tensor.zero_points[0]), tensor.dtype)
        raise EdgecnnError(f"{src}: array dtype {array.dtype} does not match the model input {tensor.dtype}")
    return array


def random_input(shape: Any, dtype: Any, rng: np.random.Generator, value_range: list[float]) -> np.ndarray:
    """Random data of the right dtype and range (floats in the preprocessing range, integers full range)."""
    dtype = np.dtype(dtype)
    shape = tuple(int(d) for d in shape)
    if dtype.kind == "f":
        return rng.uniform(value_range[0], value_range[1], size=shape).astype(dtype)
    if dtype in (np.int8, np.uint8, np.int16, np.uint16):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    if dtype == np.bool_:
        return rng.integers(0, 1, size=shape, endpoint=True).astype(bool)
    return np.zeros(shape, dtype)  # int32/int64 inputs are usually indices or lengths: zeros are safe


# ---- child side ------------------------------------------------------------------------------------

def _rss_bytes() -> int | None:
    """Current resident set size (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _peak_rss_bytes() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, Linux KiB


def latency_stats(times_ms: np.ndarray) -> dict[str, float]:
    """mean/std/min/p50/p90/p99/max of per-run latencies in milliseconds."""
    pcts = np.percentile(times_ms, PERCENTILES)
    return {"mean": float(times_ms.mean()), "std": float(times_ms.std()), "min": float(times_ms.min()),
            "p50": float(pcts[0]), "p90": float(pcts[1]), "p99": float(pcts[2]), "max": float(times_ms.max())}


class InvokeError(Exception):
    """An invoke failed inside :func:`interleaved_timing`; ``key`` names the runner that raised."""

    def __init__(self, key: Any, error: BaseException):
        super().__init__(str(error))
        self.key, self.error = key, error


# Each runner's turn lasts at least this long: a file faster than that is invoked several times in a row. With
# one invoke per turn, a sub-millisecond file is timed while its own thread pool wakes and the other files' pools
# wind down on the same two cores: measured on a 2-core host (docs/TIMING.md) that put speed-ups against float32
# up to 67 % off and medians up to 5x; turns of ~20 ms kept both within 8 % of each file timed alone.
MIN_TURN_MS = 20.0
MAX_BURST = 1000


def turn_bursts(runners: Mapping[Any, Callable[[], Any]], *, warmup: int, min_turn_ms: float = MIN_TURN_MS,
                max_burst: int = MAX_BURST) -> dict[Any, int]:
    """Warm each runner up, back to back: ``warmup`` calls and at least ``min_turn_ms`` of calls (at most
    ``max_burst`` more), timed only to size each runner's burst.

    A runner's burst is ceil(``min_turn_ms`` / its fastest warm-up call), between 1 and ``max_burst``: so that
    in :func:`interleaved_timing` every runner's turn lasts about ``min_turn_ms`` or one call, whichever is
    longer. Back to back and the fastest call, because a call right after another runner's, or during a stall,
    is only ever slower (up to 7x for a 0.02 ms file) and would size the turn too short. With no warm-up there
    is nothing to size from and every burst is 1. A failing runner raises :class:`InvokeError` naming its key.
    """
    if warmup < 0 or min_turn_ms < 0 or max_burst < 1:
        raise ValueError(f"warmup and min_turn_ms must not be negative and max_burst at least 1, got "
                         f"{warmup}, {min_turn_ms}, {max_burst}")
    calls: dict[Any, list[int]] = {key: [] for key in runners}
    perf = time.perf_counter_ns
    key = None
    try:
        for key, run in runners.items():
            began = perf()
            while warmup and (len(calls[key]) < warmup or
                              (perf() - began < min_turn_ms * 1e6 and len(calls[key]) < warmup + max_burst)):
                start = perf()
                run()
                calls[key].append(perf() - start)
    except Exception as exc:  # noqa: BLE001 - re-raised with the name of the runner that failed
        raise InvokeError(key, exc) from exc
    # A call timed at 0 ns (below the clock's resolution) counts as 1 ns: the fastest there is, so max_burst.
    return {key: int(min(max_burst, max(1, math.ceil(min_turn_ms * 1e6 / max(min(ns), 1))))) if ns else 1
            for key, ns in calls.items()}


def interleaved_timing(runners: Mapping[Any, Callable[[], Any]], *, rounds: int, max_secs: float = math.inf,
                       warmup: int = 0, burst: int | Mapping[Any, int] = 1,
                       listener: Callable[[Any, int], None] | None = None) -> dict[Any, np.ndarray]:
    """Time several runners (e.g. ``interpreter.invoke``) in turn, so that all see the same machine state.

    ``warmup`` untimed calls of each (in turn), then rounds: in each round every runner is called its
    ``burst`` times in a row (one number for all, or key → number, e.g. from :func:`turn_bursts`), each call
    timed with ``perf_counter_ns`` around the call only. Stops after ``rounds`` rounds, or at the end of the
    first round that finishes past ``max_secs``, so every runner gets the same number of turns.
    ``listener(key, round)`` is called after each runner's turn (outside the timed calls): a hook to watch the
    schedule. Returns key → milliseconds of each timed call, in order. A failing runner raises
    :class:`InvokeError` naming its key.
    """
    keys = list(runners)
    bursts = {key: burst for key in keys} if isinstance(burst, int) else {key: burst[key] for key in keys}
    if rounds < 1 or min(bursts.values(), default=1) < 1 or warmup < 0:
        raise ValueError(f"rounds and burst must be at least 1 and warmup not negative, got {rounds}, {burst}, "
                         f"{warmup}")
    times = {key: np.empty(rounds * bursts[key], dtype=np.int64) for key in keys}
    perf = time.perf_counter_ns
    key = None
    done = 0
    try:
        for _ in range(warmup):
            for key in keys:
                runners[key]()
        deadline = perf() + int(max_secs * 1e9) if math.isfinite(max_secs) else None
        end = 0
        for r in range(rounds):
            for key in keys:
                run, buf, n = runners[key], times[key], bursts[key]
                for b in range(r * n, (r + 1) * n):
                    start = perf()
                    run()
                    end = perf()
                    buf[b] = end - start
                if listener is not None:
                    listener(key, r)
            done = r + 1
            if deadline is not None and end > deadline:
                break
    except Exception as exc:  # noqa: BLE001 - re-raised with the name of the runner that failed
        raise InvokeError(key, exc) from exc
    return {key: times[key][:done * bursts[key]] / 1e6 for key in keys}


def ready_interpreter(model: str | os.PathLike | bytes, *, num_threads: int | None = None, delegate: str = "xnnpack",
                      input_npy: str | None = None, value_range: Sequence[float] = (0.0, 1.0), seed: int = 0,
                      where: str = "model") -> Any:
    """An allocated interpreter with its inputs set (``input_npy`` for the first, else random data): ready to
    ``invoke()`` in a timing loop. Random floats are drawn in ``value_range`` (the preprocessing range)."""
    from edgecnn.runtime import allocate, make_interpreter

    interp = make_interpreter(model, num_threads=num_threads, delegate=delegate)
    allocate(interp, where)
    _set_inputs(interp, input_npy, value_range, seed)
    return interp


def _set_inputs(interp: Any, input_npy: str | None, value_range: Sequence[float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    for k, detail in enumerate(interp.get_input_details()):
        if k == 0 and input_npy:
            data = np.load(input_npy, allow_pickle=False)
        else:
            data = random_input(detail["shape"], detail["dtype"], rng, list(value_range))
        interp.set_tensor(detail["index"], data)


def measure_models(model_paths: list[str], delegate: str = "xnnpack", num_threads: int | None = None,
                   warmup_runs: int = 5, num_runs: int = 100, max_secs: float = 60.0,
                   input_npys: list[str | None] | None = None, value_ranges: list[list[float]] | None = None,
                   op_profiling: bool = False, min_turn_ms: float = MIN_TURN_MS,
                   listener: Callable[[Any, int], None] | None = None) -> list[dict[str, Any]]:
    """(Child process) load, allocate and first-invoke each model, then time them all interleaved.

    The timing loop (:func:`interleaved_timing`) gets ``max_secs`` per model and ``num_runs`` turns of each at
    most; a model faster than ``min_turn_ms`` is invoked several times in a row per turn (:func:`turn_bursts`,
    sized from the ``warmup_runs``), so it gets ``num_runs`` × burst timed invokes. Per-op profiling, when
    asked, follows for each model in turn. ``listener`` is passed to the timing loop (for callers in this
    process; the child process has none).
    """
    from edgecnn.runtime import allocate, delegated_ops, explain_runtime_error, make_interpreter, runtime_info

    count = len(model_paths)
    input_npys = input_npys or [None] * count
    value_ranges = value_ranges or [[0.0, 1.0]] * count
    runtime_info()  # import the runtime library first: its loading is not the model's init time
    loaded: list[dict[str, Any]] = []
    for path, npy, value_range in zip(model_paths, input_npys, value_ranges):
        rss_before = _rss_bytes()
        t0 = time.perf_counter_ns()
        interp = make_interpreter(path, num_threads=num_threads, delegate=delegate)
        t1 = time.perf_counter_ns()
        allocate(interp, path)
        t2 = time.perf_counter_ns()
        _set_inputs(interp, npy, value_range or [0.0, 1.0], seed=0)
        try:
            t3 = time.perf_counter_ns()
            interp.invoke()
            t4 = time.perf_counter_ns()
        except (RuntimeError, ValueError) as exc:
            raise EdgecnnError(f"{path}: the runtime failed to run this model: {explain_runtime_error(exc)}") from exc
        rss_after = _rss_bytes()
        loaded.append({"interp": interp, "load_ms": (t1 - t0) / 1e6, "allocate_ms": (t2 - t1) / 1e6,
                       "init_ms": (t2 - t0) / 1e6, "first_inference_ms": (t4 - t3) / 1e6,
                       "model_rss_bytes": (rss_after - rss_before)
                       if rss_after is not None and rss_before is not None else None})
    runners = {i: item["interp"].invoke for i, item in enumerate(loaded)}
    try:
        bursts = turn_bursts(runners, warmup=warmup_runs, min_turn_ms=min_turn_ms)
        times = interleaved_timing(runners, rounds=num_runs, max_secs=max_secs * count, burst=bursts,
                                   listener=listener)
    except InvokeError as exc:
        error = exc.error
        if isinstance(error, (RuntimeError, ValueError)):
            raise EdgecnnError(f"{model_paths[exc.key]}: the runtime failed to run this model: "
                               f"{explain_runtime_error(error)}") from error
        raise error from None
    peak = _peak_rss_bytes()
    machine = machine_info()
    results = []
    for i, (path, item) in enumerate(zip(model_paths, loaded)):
        interp = item.pop("interp")
        stats = latency_stats(times[i])
        delegation = delegated_ops(interp)
        try:  # node names as the runtime sees them (used when the file cannot be read: tflite_runtime)
            runtime_ops = [n["op_name"] for n in interp._get_ops_details() if n.get("op_name") != "DELEGATE"]
        except Exception:  # noqa: BLE001
            runtime_ops = []
        results.append({
            "delegate": {"requested": delegate, "delegate_nodes": delegation["delegate_nodes"],
                         "ops_delegated": len(delegation["delegated"]), "ops_total": delegation["total_ops"],
                         "delegated": delegation["delegated"]},
            "num_threads": num_threads,
            "load_ms": item["load_ms"], "allocate_ms": item["allocate_ms"], "init_ms": item["init_ms"],
            "first_inference_ms": item["first_inference_ms"],
            "latency_ms": stats, "runs": int(len(times[i])), "warmup_runs": int(warmup_runs),
            "throughput_per_s": 1000.0 / stats["mean"] if stats["mean"] > 0 else None,
            # One process holds every model: its peak covers all of them; model_rss_bytes is this one's load.
            "memory": {"peak_rss_bytes": peak, "model_rss_bytes": item["model_rss_bytes"], "arena_bytes": None,
                       "models_in_process": count},
            "timing": {"interleaved": count > 1, "models": count, "rounds": int(len(times[i]) // bursts[i]),
                       "burst": bursts[i], "min_turn_ms": min_turn_ms, "max_secs": max_secs * count},
            "machine": machine,
            "runtime_ops": runtime_ops,
        })
        del interp
    loaded.clear()
    if op_profiling:
        from edgecnn.op_profiler import profile_ops

        for path, npy, value_range, result in zip(model_paths, input_npys, value_ranges, results):
            result["op_times"] = profile_ops(path, num_threads=num_threads, delegate=delegate,
                                             runs=max(1, min(num_runs, 50)), input_npy=npy,
                                             value_range=value_range)
    return results


def measure(model_path: str, delegate: str = "xnnpack", num_threads: int | None = None, warmup_runs: int = 5,
            num_runs: int = 100, max_secs: float = 60.0, input_npy: str | None = None,
            value_range: list[float] | None = None, op_profiling: bool = False) -> dict[str, Any]:
    """(Child process) :func:`measure_models` for one model."""
    return measure_models([model_path], delegate, num_threads, warmup_runs, num_runs, max_secs, [input_npy],
                          [value_range or [0.0, 1.0]], op_profiling)[0]


def machine_info() -> dict[str, Any]:
    """Where the numbers were measured: architecture, CPU and its notable vector extensions, Python, runtime."""
    from edgecnn.runtime import runtime_info

    info = runtime_info()
    return {
        "hostname": socket.gethostname(), "arch": platform.machine(), "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(), "cpu_flags": cpu_flags(), "os": platform.platform(terse=True),
        "python": platform.python_version(), "runtime": info["package"], "runtime_version": info["version"],
        "runtime_fallback": info["fallback"],
    }


def cpu_flags(names: Sequence[str] = NOTABLE_CPU_FLAGS) -> dict[str, bool]:
    """Which of ``names`` the CPU reports (x86 "flags" / ARM "Features" in /proc/cpuinfo); {} elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return {}
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags |= set(line.split(":", 1)[1].split())
    return {name: name in flags for name in names}


# The instructions that decide whether XNNPACK's int8 kernels beat its float32 ones, strongest first.
INT8_DOT_PRODUCT = {"avx512_vnni": "AVX-512 VNNI", "avx_vnni": "AVX-VNNI", "asimddp": "Arm dot product",
                    "i8mm": "Arm i8mm"}


def cpu_class(flags: dict[str, bool] | None) -> str:
    """What a CPU offers int8 kernels, in two words: its dot-product instructions, or its widest SIMD."""
    flags = flags or {}
    for flag, name in INT8_DOT_PRODUCT.items():
        if flags.get(flag):
            return name
    for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("asimd", "Arm NEON"), ("sse4_1", "SSE4.1")):
        if flags.get(flag):
            return name
    return "–"


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.processor() or platform.machine()
    for key in ("model name", "Model", "Hardware", "cpu model", "Processor"):
        for line in text.splitlines():
            if line.startswith(key) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
