"""Measured time per op through LiteRT's C profiler (ctypes on ``libLiteRt.so``), where the runtime offers it.

The Python Interpreter API has no per-op timing (it lists ops, ``_get_ops_details``, but does not time them).
ai-edge-litert 2.3's ``libLiteRt.so`` has a C API for it: a CompiledModel created with the opaque option
``runtime_options_string`` = ``enable_profiling = true`` records TFLite profiler events
(``LiteRtCompiledModelGetProfiler``, ``LiteRtStartProfiler``/``LiteRtStopProfiler``, ``LiteRtGetProfilerEvents``).
CPU options go in the opaque option ``xnnpack`` (``num_threads = N``; ``kernel_mode = "builtin"`` for TFLite's
builtin kernels).

What the events say:
- ``--delegate none`` (builtin kernels): one OPERATOR_INVOKE event per TFLite op, tagged with its name
  ("CONV_2D") and node index — exact per-op time.
- ``--delegate xnnpack``: one DELEGATE_OPERATOR event per *XNNPACK* operator (e.g. "Convolution (NHWC,
  QC8) IGEMM"; a 1×1 CONV_2D shows as "Fully Connected … GEMM"; indices are XNNPACK's own), plus
  OPERATOR_INVOKE events for the TFLite ops XNNPACK did not take.

The option names and the event struct are internal and changed between releases, so this is pinned to
ai-edge-litert 2.3.x and falls back to ``{"unavailable": reason}``. Times have microsecond resolution.
It must run in a child process (:func:`edgecnn.safety.run_in_child`): a layout mismatch would crash.
"""
from __future__ import annotations

import ctypes
import os
from typing import Any

import numpy as np

SUPPORTED_VERSION_PREFIX = "2.3."
OPERATOR_INVOKE_EVENT = 1 << 1
DELEGATE_OPERATOR_INVOKE_EVENT = 1 << 2
DELEGATE_PROFILED_OPERATOR_INVOKE_EVENT = 1 << 3
_P = ctypes.c_void_p
EVENT_BUDGET = 1000  # events per Start/Stop; more are split into chunks (the buffer size is internal)


class _MemoryUsage(ctypes.Structure):  # tflite::profiling::memory::MemoryUsage in 2.3 (3 fields)
    _fields_ = [("mem_footprint_kb", ctypes.c_int64), ("total_allocated_bytes", ctypes.c_uint64),
                ("in_use_allocated_bytes", ctypes.c_uint64)]


class _Event(ctypes.Structure):  # ProfiledEventData (104 bytes in 2.3)
    _fields_ = [("tag", ctypes.c_char_p), ("event_type", ctypes.c_int32), ("start_us", ctypes.c_uint64),
                ("elapsed_us", ctypes.c_uint64), ("begin_mem", _MemoryUsage), ("end_mem", _MemoryUsage),
                ("metadata1", ctypes.c_uint64), ("metadata2", ctypes.c_uint64), ("source", ctypes.c_int32)]


class _Unavailable(Exception):
    pass


def _library() -> ctypes.CDLL:
    from edgecnn.runtime import runtime_info

    info = runtime_info()
    if info["package"] != "ai-edge-litert":
        raise _Unavailable(f"{info['package']} has no profiler API")
    if not str(info["version"]).startswith(SUPPORTED_VERSION_PREFIX):
        raise _Unavailable(f"LiteRT's profiler options are internal; known for ai-edge-litert "
                           f"{SUPPORTED_VERSION_PREFIX}x, this is {info['version']}")
    import ai_edge_litert

    path = os.path.join(os.path.dirname(ai_edge_litert.__file__), "libLiteRt.so")
    if not os.path.exists(path):
        raise _Unavailable("libLiteRt.so not found in ai_edge_litert")
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        raise _Unavailable(f"cannot load libLiteRt.so ({exc})") from None
    for name in ("LiteRtCompiledModelGetProfiler", "LiteRtStartProfiler", "LiteRtGetProfilerEvents"):
        if not hasattr(lib, name):
            raise _Unavailable(f"libLiteRt.so lacks {name}")
    return lib


class _Session:
    """A profiling-enabled CompiledModel with its input/output buffers (everything kept alive)."""

    def __init__(self, lib: ctypes.CDLL, model_path: str, num_threads: int, builtin_kernels: bool):
        self.lib = lib
        self.keep: list[Any] = []
        self.env = self._out("LiteRtCreateEnvironment", 0, None)
        self.model = self._out("LiteRtCreateModelFromFile", self.env, model_path.encode())
        self.options = self._out("LiteRtCreateOptions")
        self._check("LiteRtSetOptionsHardwareAccelerators", self.options, 1)  # kLiteRtHwAcceleratorCpu
        self._opaque("runtime_options_string", "enable_profiling = true\n")
        cpu = f"num_threads = {int(num_threads)}\n" + ('kernel_mode = "builtin"\n' if builtin_kernels else "")
        self._opaque("xnnpack", cpu)
        self.compiled = self._out("LiteRtCreateCompiledModel", self.env, self.model, self.options)
        self.signature = self._out("LiteRtGetModelSignature", self.model, 0)
        self.inputs = self._buffers("Input")
        self.outputs = self._buffers("Output")
        self.profiler = self._out("LiteRtCompiledModelGetProfiler", self.compiled)
        if not self.profiler.value:
            raise _Unavailable("the compiled model has no profiler (profiling option not accepted)")

    def _check(self, name: str, *args: Any) -> None:
        status = getattr(self.lib, name)(*args)
        if status != 0:
            raise _Unavailable(f"{name} failed (status {status})")

    def _out(self, name: str, *args: Any) -> ctypes.c_void_p:
        handle = _P()
        self._check(name, *args, ctypes.byref(handle))
        return handle

    def _opaque(self, identifier: str, toml: str) -> None:
        payload = ctypes.create_string_buffer(toml.encode())
        destructor = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda _p: None)  # Python owns the payload
        self.keep += [payload, destructor]
        opaque = self._out("LiteRtCreateOpaqueOptions", identifier.encode(), ctypes.cast(payload, _P), destructor)
        self._check("LiteRtAddOpaqueOptions", self.options, opaque)

    def _buffers(self, kind: str) -> Any:
        count = ctypes.c_size_t()
        self._check(f"LiteRtGetNumSignature{kind}s", self.signature, ctypes.byref(count))
        array = (_P * count.value)()
        for i in range(count.value):
            tensor = self._out(f"LiteRtGetSignature{kind}TensorByIndex", self.signature, i)
            ranked = ctypes.create_string_buffer(512)  # LiteRtRankedTensorType (72 bytes): element type + layout
            self.keep.append(ranked)
            self._check("LiteRtGetRankedTensorType", tensor, ranked)
            rank = int.from_bytes(ranked.raw[4:8], "little") & 0x7F
            dims = (ctypes.c_int32 * 8).from_buffer(ranked, 8)
            for k in range(min(rank, 8)):
                if dims[k] < 0:  # a dynamic batch dimension: profile batch 1
                    dims[k] = 1
            requirements = self._out(f"LiteRtGetCompiledModel{kind}BufferRequirements", self.compiled, 0, i)
            array[i] = self._out("LiteRtCreateManagedTensorBufferFromRequirements", self.env, ranked, requirements)
        return array

    def write_input(self, index: int, data: np.ndarray) -> bool:
        """Copy data into an input buffer (False if the runtime would not lock it: zeros are profiled)."""
        address = _P()
        if self.lib.LiteRtLockTensorBuffer(self.inputs[index], ctypes.byref(address), 1) != 0:  # write mode
            return False
        size = ctypes.c_size_t()
        ok = self.lib.LiteRtGetTensorBufferSize(self.inputs[index], ctypes.byref(size)) == 0
        raw = np.ascontiguousarray(data).tobytes()
        if ok and len(raw) <= size.value:
            ctypes.memmove(address, raw, len(raw))
        self.lib.LiteRtUnlockTensorBuffer(self.inputs[index])
        return ok and len(raw) <= size.value

    def run(self) -> None:
        self._check("LiteRtRunCompiledModel", self.compiled, 0, len(self.inputs), self.inputs,
                    len(self.outputs), self.outputs)

    def profiled_runs(self, n: int) -> list[tuple[str, int, int, int]]:
        """``n`` back-to-back runs between Start/Stop: [(tag, event type, elapsed µs, node index)].

        Back to back matters: with a pause between runs the worker threads fall asleep and each op pays
        a wake-up (tens of µs on a busy machine) that the real steady state does not.
        """
        self._check("LiteRtResetProfiler", self.profiler)
        self._check("LiteRtStartProfiler", self.profiler)
        for _ in range(n):
            self.run()
        self._check("LiteRtStopProfiler", self.profiler)
        count = ctypes.c_int()
        self._check("LiteRtGetNumProfilerEvents", self.profiler, ctypes.byref(count))
        if not 0 <= count.value < 1_000_000:
            raise _Unavailable(f"implausible profiler event count {count.value}")
        events = (_Event * count.value)()
        self._check("LiteRtGetProfilerEvents", self.profiler, count.value, events)
        out = []
        for e in events:
            kind = e.event_type & 0xFFFF
            if kind in (OPERATOR_INVOKE_EVENT, DELEGATE_OPERATOR_INVOKE_EVENT, DELEGATE_PROFILED_OPERATOR_INVOKE_EVENT):
                out.append(((e.tag or b"?").decode("utf-8", "replace"), kind, int(e.elapsed_us), int(e.metadata1)))
        return out


def profile_ops(model_path: str, *, num_threads: int | None = None, delegate: str = "xnnpack", runs: int = 20,
                input_npy: str | None = None, value_range: list[float] | None = None) -> dict[str, Any]:
    """Average time per op over ``runs`` profiled runs; ``{"unavailable": reason}`` when it cannot be measured.

    Returns ``{"source", "runs", "by_type": {name: ms per run}, "counts": {name: nodes},
    "by_node": [{"node", "op", "ms"}],
    "kernel": "builtin"|"xnnpack"}``. With XNNPACK, names are XNNPACK operators prefixed "xnn:" and TFLite
    ops outside the delegate keep their TFLite names.
    """
    if delegate not in ("xnnpack", "none"):
        return {"unavailable": f"per-op time is measured on the CPU only (xnnpack or none), not {delegate}"}
    try:
        lib = _library()
        session = _Session(lib, model_path, num_threads or 1, builtin_kernels=(delegate == "none"))
        if input_npy:
            session.write_input(0, np.load(input_npy, allow_pickle=False))
        for _ in range(3):  # warm-up: first runs allocate and pack weights
            session.run()
        first = session.profiled_runs(1)
        per_run = max(1, len(first))
        chunk = max(1, min(runs, EVENT_BUDGET // per_run))
        # Events are grouped by their position in a run, not by (tag, node): XNNPACK numbers its operators per
        # delegate partition, so a model split into several partitions repeats node indices.
        samples: list[list[int]] = [[] for _ in range(per_run)]
        done = 0
        while done < runs:
            n = min(chunk, runs - done)
            events = session.profiled_runs(n)
            if len(events) < n * per_run and n > 1:  # the profiler's buffer overflowed: smaller chunks
                chunk = max(1, n // 2)
                continue
            if len(events) != n * per_run:
                raise _Unavailable(f"the profiler recorded {len(events)} events for {n} runs of {per_run}")
            for k, (tag, kind, elapsed_us, node) in enumerate(events):
                position = k % per_run
                if (tag, kind, node) != first[position][:2] + first[position][3:]:
                    raise _Unavailable("the profiler's events differ from one run to the next")
                samples[position].append(elapsed_us)
            done += n
    except _Unavailable as exc:
        return {"unavailable": str(exc)}
    if not first:
        return {"unavailable": "the profiler recorded no op events"}
    by_type: dict[str, float] = {}
    counts: dict[str, int] = {}
    by_node = []
    for (tag, kind, _elapsed, node), micros in zip(first, samples):  # execution order
        name = f"xnn: {tag}" if kind != OPERATOR_INVOKE_EVENT else tag
        # Median per node: robust to the odd run where a thread was descheduled (2 shared cores here).
        ms = float(np.median(micros)) / 1000.0
        by_type[name] = by_type.get(name, 0.0) + ms
        counts[name] = counts.get(name, 0) + 1
        by_node.append({"node": node, "op": name, "ms": ms, "xnnpack_node": kind != OPERATOR_INVOKE_EVENT})
    kernel = "builtin" if delegate == "none" else "xnnpack"
    source = ("LiteRT profiler, builtin kernels, TFLite ops" if kernel == "builtin" else
              "LiteRT profiler, XNNPACK operators ('xnn:'; a 1×1 conv shows as Fully Connected GEMM) "
              "and TFLite ops left outside XNNPACK")
    return {"source": f"{source}; median of {runs} runs per node, µs resolution", "runs": runs,
            "by_type": by_type, "counts": counts, "by_node": by_node, "kernel": kernel}
