"""The TFLite interpreter without TensorFlow: ai-edge-litert, else tflite_runtime (with a warning), plus delegates.

    from edgecnn.runtime import make_interpreter
    interp = make_interpreter("model.tflite", num_threads=2)              # XNNPACK (the default CPU delegate)
    interp = make_interpreter(model_bytes, delegate="none")              # reference builtin kernels only
    interp = make_interpreter("m_edgetpu.tflite", delegate="edgetpu")    # Coral (libedgetpu must be installed)
    interp = make_interpreter("m.tflite", delegate="/opt/libmy_delegate.so")  # an external delegate plugin

``make_interpreter`` returns an *un-allocated* interpreter (call ``allocate_tensors()``), so callers can time
loading and allocation separately. Errors become :class:`EdgecnnError` with one line for the user.

Native crashes (segfaults on malformed models) cannot be caught here: :mod:`edgecnn.safety` runs the first
load/invoke in a child process. This module never imports TensorFlow.
"""
from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from edgecnn.errors import EdgecnnError

DELEGATES = ("xnnpack", "none", "edgetpu")

# Edge TPU runtime library names per OS (Coral docs; docs/CORAL.md).
EDGETPU_LIBRARY = {"linux": "libedgetpu.so.1", "darwin": "libedgetpu.1.dylib", "win32": "edgetpu.dll"}

EDGETPU_INSTALL_HINT = ("install the Edge TPU runtime (Debian/Ubuntu/Raspberry Pi OS: add Coral's apt repository, "
                        "then `apt-get install libedgetpu1-std`; see https://coral.ai/software/#edgetpu-runtime) "
                        "and plug in the Coral device")

TFLITE_RUNTIME_WARNING = ("ai-edge-litert is not installed; falling back to tflite_runtime, which is unmaintained "
                          "since 2023: it needs numpy<2, cannot load some models made by TensorFlow ≥2.18 "
                          "(e.g. FULLY_CONNECTED version 12) and runs int8 models without XNNPACK on x86 "
                          "(much slower). Install ai-edge-litert for real numbers: pip install ai-edge-litert")


@functools.lru_cache(maxsize=1)
def _backend() -> tuple[Any, str, bool]:
    """(interpreter module, package name, is_fallback). Imported lazily and once."""
    try:
        from ai_edge_litert import interpreter as module

        return module, "ai-edge-litert", False
    except ImportError:
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from tflite_runtime import interpreter as module  # type: ignore[import-not-found]
    except ImportError as exc:
        raise EdgecnnError("no TFLite runtime installed: pip install ai-edge-litert") from exc
    except Exception as exc:  # e.g. "compiled using NumPy 1.x cannot be run in NumPy 2"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgecnnError(f"tflite_runtime is installed but does not load ({first}); "
                           "pip install ai-edge-litert") from exc
    print(f"Warning: {TFLITE_RUNTIME_WARNING}", file=sys.stderr)
    return module, "tflite-runtime", True


def runtime_info() -> dict[str, Any]:
    """Which runtime package runs the models: ``{"package", "version", "fallback"}``."""
    from importlib import metadata

    module, package, fallback = _backend()
    try:
        version = metadata.version(package)
    except metadata.PackageNotFoundError:  # e.g. a source build
        version = getattr(module, "__version__", "unknown")
    return {"package": package, "version": version, "fallback": fallback}


def _op_resolver(module: Any, name: str) -> Any:
    resolver = getattr(module, "OpResolverType", None)
    return getattr(resolver, name) if resolver is not None else None


def edgetpu_library_name() -> str:
    """The Edge TPU delegate library for this OS."""
    platform = "darwin" if sys.platform == "darwin" else "win32" if sys.platform.startswith("win") else "linux"
    return EDGETPU_LIBRARY[platform]


def load_delegate_or_explain(name_or_path: str, options: dict[str, Any] | None = None) -> Any:
    """Load an external delegate ("edgetpu" or a library path) or raise EdgecnnError saying what to install.

    ``load_delegate`` raises OSError for a missing library, AttributeError for a library that is not a
    TFLite delegate plugin (no ``tflite_plugin_create_delegate``) and ValueError when the plugin refuses
    to start (e.g. no Edge TPU plugged in); tests/test_runtime.py checks each message.
    """
    module, _, _ = _backend()
    is_edgetpu = name_or_path == "edgetpu"
    library = edgetpu_library_name() if is_edgetpu else str(name_or_path)
    if not is_edgetpu and (os.sep in library or "/" in library):
        path = Path(library)
        if not path.exists():
            raise EdgecnnError(f"delegate library {library}: no such file")
        if path.is_dir():
            raise EdgecnnError(f"delegate library {library}: is a directory, not a shared library")
    _check_plugin_library(library, is_edgetpu)
    _quiet_delegate_finalizer(module)
    try:
        return module.load_delegate(library, options or {})
    except OSError as exc:
        if is_edgetpu:
            raise EdgecnnError(f"Edge TPU delegate library {library} not found: {EDGETPU_INSTALL_HINT}") from exc
        raise EdgecnnError(f"cannot load delegate library {library}: {_first_line(exc)}") from exc
    except AttributeError as exc:
        raise EdgecnnError(f"{library} is not a TFLite delegate plugin "
                           "(it has no tflite_plugin_create_delegate)") from exc
    except ValueError as exc:
        why = _first_line(exc) or "no reason given"
        if is_edgetpu:
            raise EdgecnnError(f"the Edge TPU delegate failed to start ({why}): is a Coral device plugged in?") from exc
        raise EdgecnnError(f"delegate {library} failed to start: {why}") from exc


def _check_plugin_library(library: str, is_edgetpu: bool) -> None:
    """Open the library with ctypes first: a missing or non-plugin library then fails cleanly.

    (ai_edge_litert's ``Delegate`` leaves a half-built object whose ``__del__`` prints a traceback.)
    """
    import ctypes

    try:
        lib = ctypes.CDLL(library)
    except OSError as exc:
        if is_edgetpu:
            raise EdgecnnError(f"Edge TPU delegate library {library} not found: {EDGETPU_INSTALL_HINT}") from exc
        raise EdgecnnError(f"cannot load delegate library {library}: {_first_line(exc)}") from exc
    if not all(hasattr(lib, name) for name in ("tflite_plugin_create_delegate", "tflite_plugin_destroy_delegate")):
        raise EdgecnnError(f"{library} is not a TFLite delegate plugin (it has no tflite_plugin_create_delegate)")


def _quiet_delegate_finalizer(module: Any) -> None:
    """Silence the 'Exception ignored in Delegate.__del__' traceback of a delegate that failed to start."""
    delegate_del = getattr(getattr(module, "Delegate", None), "__del__", None)
    previous = sys.unraisablehook
    if delegate_del is None or getattr(previous, "_edgecnn", False):
        return

    def hook(unraisable: Any) -> None:
        if unraisable.object is delegate_del:
            return
        previous(unraisable)

    hook._edgecnn = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else ""


def make_interpreter(model: str | os.PathLike | bytes, *, num_threads: int | None = None,
                     delegate: str = "xnnpack", keep_all_tensors: bool = False) -> Any:
    """A TFLite ``Interpreter`` for a model file or its bytes, not yet allocated.

    ``delegate``: ``"xnnpack"`` (the runtime's default CPU delegate), ``"none"`` (builtin kernels without
    any default delegate — what ``benchmark_model --use_xnnpack=false`` measures), ``"edgetpu"``, or the
    path of an external delegate library. ``num_threads`` ≥ 1 or None for the runtime's default.
    ``keep_all_tensors`` keeps every intermediate tensor readable after ``invoke`` (per-layer comparisons;
    only ops outside a delegate have them, so use it with ``delegate="none"``).
    """
    module, _, _ = _backend()
    if num_threads is not None and num_threads < 1:
        raise EdgecnnError(f"--num-threads must be at least 1, got {num_threads}", exit_code=2)
    kwargs: dict[str, Any] = {}
    if num_threads is not None:
        kwargs["num_threads"] = int(num_threads)
    if keep_all_tensors:
        kwargs["experimental_preserve_all_tensors"] = True
    if delegate == "none":
        resolver = _op_resolver(module, "BUILTIN_WITHOUT_DEFAULT_DELEGATES")
        if resolver is not None:
            kwargs["experimental_op_resolver_type"] = resolver
    elif delegate != "xnnpack":
        kwargs["experimental_delegates"] = [load_delegate_or_explain(delegate)]
    if isinstance(model, (bytes, bytearray, memoryview)):
        if len(model) == 0:
            raise EdgecnnError("the model is empty (0 bytes)")
        kwargs["model_content"] = bytes(model)
        where = "model"
    else:
        path = Path(model)
        if not path.exists():
            raise EdgecnnError(f"{path}: no such file")
        if path.is_dir():
            raise EdgecnnError(f"{path}: is a directory, not a .tflite file")
        if path.stat().st_size == 0:
            raise EdgecnnError(f"{path}: empty file (0 bytes), not a .tflite model")
        kwargs["model_path"] = str(path)
        where = str(path)
    try:
        return module.Interpreter(**kwargs)
    except (ValueError, RuntimeError) as exc:
        raise EdgecnnError(f"{where}: the runtime cannot load this model: {explain_runtime_error(exc)}") from exc


def explain_runtime_error(exc: BaseException | str) -> str:
    """One readable line from the runtime's (often multi-line) error text."""
    text = str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:  # the most useful lines first
        if "unresolved custom op" in line or "Didn't find op" in line or "not a valid Flatbuffer" in line:
            return line.rstrip(".")
    return (lines[0] if lines else type(exc).__name__).rstrip(".")


def allocate(interpreter: Any, where: str = "model") -> None:
    """``allocate_tensors`` with the runtime's errors turned into one line (e.g. a custom op it lacks)."""
    try:
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        from edgecnn.child import memory_cap_hint

        reason = explain_runtime_error(exc)
        # The runtime does not say when an allocation failed (XNNPACK: "failed to reshape runtime", the
        # builtin kernels: a bare RuntimeError); under a memory cap that is a likely cause.
        vague = reason in ("RuntimeError", "ValueError") or "failed to reshape" in reason
        hint = memory_cap_hint() if vague else ""
        raise EdgecnnError(f"{where}: the runtime cannot prepare this model: {reason}{hint}") from exc


def delegated_ops(interpreter: Any) -> dict[str, Any]:
    """Which of the file's ops a delegate took, from the allocated interpreter's node list.

    After delegation the interpreter keeps the original nodes and appends one DELEGATE node per partition;
    a partition is the ops between the delegate node's inputs and its outputs. Returns
    ``{"delegate_nodes": n, "delegated": sorted op indices, "total_ops": ops in the file}``.
    """
    try:
        nodes = interpreter._get_ops_details()  # private: without it the answer is "unknown"
    except Exception:  # noqa: BLE001 - a runtime without it: unknown, not an error
        return {"delegate_nodes": None, "delegated": [], "total_ops": None}
    originals = [n for n in nodes if n.get("op_name") != "DELEGATE"]
    delegate_nodes = [n for n in nodes if n.get("op_name") == "DELEGATE"]
    producer = {}
    for node in originals:
        for t in node["outputs"]:
            producer[int(t)] = node["index"]
    by_index = {n["index"]: n for n in originals}
    taken: set[int] = set()
    for dnode in delegate_nodes:
        boundary = {int(t) for t in dnode["inputs"]}
        stack = [int(t) for t in dnode["outputs"]]
        seen: set[int] = set()
        while stack:
            tensor = stack.pop()
            if tensor in seen or tensor in boundary or tensor not in producer:
                continue
            seen.add(tensor)
            op = producer[tensor]
            taken.add(op)
            stack.extend(int(t) for t in by_index[op]["inputs"] if int(t) >= 0)
    return {"delegate_nodes": len(delegate_nodes), "delegated": sorted(taken), "total_ops": len(originals)}
