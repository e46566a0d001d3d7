"""The one way edgecnn runs its own code in a child process: isolated imports, a timeout, a memory cap (TF-free).

Native code can kill the process that runs it (field-level corruptions of a .tflite that pass the runtime's
verifier can segfault it, see tests/test_fuzz.py; the TFLite converter has crashed on some models), so the
runtime's first load, profiling, prediction and every conversion run in a child process. :func:`run_in_child` calls
``"edgecnn.module:function"`` there with JSON-able keyword arguments and returns its JSON-able result:

- **isolated imports**: ``python -m`` and ``python -c`` put the current folder first on ``sys.path``, so a
  ``json.py`` in the folder where a user runs ``edgecnn inspect`` would be imported and run by the child.
  The child is started with ``-c`` and a bootstrap that removes that entry before importing anything, then
  loads *the parent's own* edgecnn package by file location (so a checkout in the current folder or an
  older install elsewhere cannot replace it). Not ``-P``: it exists only from Python 3.11 (edgecnn supports
  3.10). Not ``-I``: it also drops ``PYTHONPATH`` and the user site-packages, which breaks
  ``pip install --user edgecnn`` and PYTHONPATH-based setups.
- **timeout**: always set; a child still running after it is killed and the call raises :class:`ChildTimedOut`.
- **memory cap**: the child limits its own address space (``RLIMIT_AS``) before importing anything heavy, so a
  model that declares a gigantic tensor fails with "out of memory" instead of taking the machine down.
  TensorFlow reserves far more address space than it touches, so the converter gets its own, larger
  default (:data:`DEFAULT_CONVERTER_MEMORY`); both are configurable by environment variables.

A request goes in as JSON on stdin, the reply comes back in a JSON file. EdgecnnError raised in the child
comes back as EdgecnnError (same message and exit code); a signal, a hang, exhausted memory or any other
failure becomes one :class:`ChildFailed` line.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgecnn.errors import EdgecnnError, UsageError

GiB = 1 << 30

RUNTIME_MEMORY_ENV = "EDGECNN_RUNTIME_MEMORY"
CONVERTER_MEMORY_ENV = "EDGECNN_CONVERT_MEMORY"
CONVERTER_TIMEOUT_ENV = "EDGECNN_CONVERT_TIMEOUT"

# Address space (VmPeak) measured on this 2-core x86-64 machine with ai-edge-litert 2.3.0 / TF 2.21:
# the runtime child needs 0.2 GB for MobileNetV2 (224, float32 or int8), 1.3 GB for VGG16 float32 (a 553 MB
# file) and 2.5 GB for VGG16 float32 with per-op profiling. 8 GiB leaves 3x that and stops a model that
# declares tens of GiB of tensors.
DEFAULT_RUNTIME_MEMORY = 8 * GiB
# The converter child (TF) needs 3.0 GB for MobileNetV2 (224, float32 and full int8) and 8.1 GB / 10.1 GB for
# VGG16 float32 / full int8 (138 M parameters); TF's thread pools add address space on machines with more
# cores. 32 GiB is 3x the largest zoo model's need.
DEFAULT_CONVERTER_MEMORY = 32 * GiB
# Full-int8 conversion of canonical VGG16 (224x224) took 100 s here with 4 calibration images; 200 images,
# the optional sparse pass and a slower machine multiply that. A hung converter is killed after an hour.
DEFAULT_CONVERTER_TIMEOUT = 3600.0
DEFAULT_RUNTIME_TIMEOUT = 300.0


@dataclass(frozen=True)
class ChildLimits:
    """What a child process may use: ``timeout`` seconds, ``memory`` bytes of address space (None: no cap).

    ``memory_setting`` names the environment variable that sets the cap, for the error message.
    """

    timeout: float
    memory: int | None
    memory_setting: str = RUNTIME_MEMORY_ENV
    timeout_setting: str | None = None

    @classmethod
    def runtime(cls, timeout: float = DEFAULT_RUNTIME_TIMEOUT) -> "ChildLimits":
        """Limits of a LiteRT child (load, profile, predict): ``$EDGECNN_RUNTIME_MEMORY`` or 8 GiB."""
        return cls(timeout, memory_limit(RUNTIME_MEMORY_ENV, DEFAULT_RUNTIME_MEMORY), RUNTIME_MEMORY_ENV)

    @classmethod
    def converter(cls) -> "ChildLimits":
        """Limits of a TFLite-converter child: ``$EDGECNN_CONVERT_TIMEOUT`` (s) or 3600, memory
        ``$EDGECNN_CONVERT_MEMORY`` or 32 GiB."""
        return cls(timeout_limit(CONVERTER_TIMEOUT_ENV, DEFAULT_CONVERTER_TIMEOUT),
                   memory_limit(CONVERTER_MEMORY_ENV, DEFAULT_CONVERTER_MEMORY), CONVERTER_MEMORY_ENV,
                   CONVERTER_TIMEOUT_ENV)


def parse_size(text: str) -> int | None:
    """``"8G"``, ``"512M"``, ``"8GiB"``, ``"1073741824"`` → bytes (binary units); ``"0"``/``"none"``/``"off"`` → None."""
    value = text.strip().lower()
    if value in ("0", "none", "off", "unlimited"):
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", value)
    if not match:
        raise ValueError(text)
    number, unit = float(match.group(1)), match.group(2)
    size = int(number * (1 << (10 * " kmgt".index(unit or " "))))
    if size <= 0:
        raise ValueError(text)
    return size


def memory_limit(variable: str, default: int) -> int | None:
    """The cap ``$variable`` sets (see :func:`parse_size`), else ``default``; a bad value is a UsageError."""
    text = os.environ.get(variable)
    if text is None or not text.strip():
        return default
    try:
        return parse_size(text)
    except ValueError:
        raise UsageError(f"{variable}={text!r}: expected a size such as 8G or 512M, or 0 for no cap") from None


def timeout_limit(variable: str, default: float) -> float:
    """Seconds from ``$variable``, else ``default``; a bad value is a UsageError."""
    text = os.environ.get(variable)
    if text is None or not text.strip():
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise UsageError(f"{variable}={text!r}: expected a positive number of seconds")
    return seconds


def fmt_size(size: int) -> str:
    return f"{size / GiB:.3g} GiB" if size >= GiB else f"{size / (1 << 20):.3g} MiB"


class ChildFailed(EdgecnnError):
    """The child process did not return a result; ``stderr`` holds what it printed."""

    def __init__(self, message: str, stderr: str = ""):
        super().__init__(message)
        self.stderr = stderr


class ChildCrashed(ChildFailed):
    """The child was killed by a signal (a native crash); ``signal_name`` says which, ``memory_note`` (or "")
    that it ran out of memory first."""

    def __init__(self, message: str, stderr: str, signal_name: str, memory_note: str = ""):
        super().__init__(message, stderr)
        self.signal_name = signal_name
        self.memory_note = memory_note


class ChildTimedOut(ChildFailed):
    """The child was still running at its timeout and was killed."""


class ChildOutOfMemory(ChildFailed):
    """The child hit its address-space cap."""


@dataclass
class ChildResult:
    """A finished child: the function's return ``value`` and everything the child printed on ``stderr``."""

    value: Any
    stderr: str


def run_in_child(function: str, kwargs: dict[str, Any], *, timeout: float = DEFAULT_RUNTIME_TIMEOUT,
                 label: str = "model", limits: ChildLimits | None = None) -> Any:
    """Call ``function`` ("edgecnn.module:name") with JSON-able ``kwargs`` in a child process; return its result.

    ``limits`` default to :meth:`ChildLimits.runtime` with ``timeout``. Raises EdgecnnError (the child's own,
    or a :class:`ChildFailed` line starting with ``label``).
    """
    return run_child(function, kwargs, limits=limits or ChildLimits.runtime(timeout), label=label).value


def run_child(function: str, kwargs: dict[str, Any], *, limits: ChildLimits, label: str = "model",
              env: dict[str, str] | None = None) -> ChildResult:
    """:func:`run_in_child` that also returns the child's stderr, with extra environment variables ``env``."""
    module_name = function.split(":", 1)[0]
    if not module_name.startswith("edgecnn."):
        raise ValueError(f"run_in_child runs edgecnn functions only, not {function}")
    fd, result_path = tempfile.mkstemp(prefix="edgecnn-child-", suffix=".json")
    os.close(fd)
    request = {"function": function, "kwargs": kwargs, "result": result_path, "memory": limits.memory,
               "memory_setting": limits.memory_setting}
    child_env = dict(os.environ)
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    child_env.update(env or {})
    try:
        try:
            proc = subprocess.run(child_command(), input=json.dumps(request), capture_output=True, text=True,
                                  timeout=limits.timeout, env=child_env)
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            hint = f"; {limits.timeout_setting}=SECONDS allows longer" if limits.timeout_setting else ""
            raise ChildTimedOut(f"{label}: the child process did not finish within {limits.timeout:g} s (killed)"
                                f"{hint}", stderr) from None
        text = Path(result_path).read_text(encoding="utf-8") if os.path.getsize(result_path) else ""
    finally:
        try:
            os.unlink(result_path)
        except OSError:
            pass
    if proc.returncode < 0:
        name = _signal_name(-proc.returncode)
        # C++ `new` under the cap throws std::bad_alloc, which ends in abort(): say so
        oom = f" after running out of memory ({_cap_text(limits)})" if _out_of_memory(proc.stderr) else ""
        raise ChildCrashed(f"{label}: the runtime crashed on this model ({name}){oom}", proc.stderr, name, oom)
    if not text:
        detail = _last_line(proc.stderr) or f"exit code {proc.returncode}"
        raise ChildFailed(f"{label}: the runtime process failed ({detail})", proc.stderr)
    reply = json.loads(text)
    if reply.get("out_of_memory"):
        raise ChildOutOfMemory(f"{label}: ran out of memory ({_cap_text(limits)})", proc.stderr)
    if "error" in reply:
        raise EdgecnnError(reply["error"], exit_code=reply.get("exit_code", 1))
    return ChildResult(reply["value"], proc.stderr)


def _cap_text(limits: ChildLimits) -> str:
    if limits.memory is None:
        return f"no cap is set; {limits.memory_setting}=8G would stop it earlier"
    return (f"the child process may use {fmt_size(limits.memory)} of address space; raise it with "
            f"{limits.memory_setting}={_doubled(limits.memory)}, or 0 for no cap")


def _doubled(size: int) -> str:
    """Twice ``size`` as a setting: ``16G``, ``512M``."""
    doubled = 2 * size
    return f"{doubled // GiB}G" if doubled % GiB == 0 else f"{doubled >> 20}M"


# How native code says it hit RLIMIT_AS: C++ `new` (then abort), glibc/dlopen, absl's allocator inside TF.
_OOM_MARKERS = ("std::bad_alloc", "Cannot allocate memory", "out of memory", "mmap error: 12")


def _out_of_memory(stderr: str) -> bool:
    return any(marker in (stderr or "") for marker in _OOM_MARKERS)


def _signal_name(number: int) -> str:
    try:
        return f"signal {number}, {signal.Signals(number).name}"
    except ValueError:
        return f"signal {number}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip() and not line.startswith("INFO:")]
    return lines[-1][:300] if lines else ""


# ---- the child side ------------------------------------------------------------------------------------

# `python -c` puts '' (the current folder) first on sys.path, after the interpreter's own start-up imports;
# the bootstrap drops it before anything else is imported, then loads the parent's edgecnn package from
# its own folder. PYTHONSAFEPATH=1 (3.11+) leaves no '' entry: nothing to drop then.
_BOOTSTRAP = """\
import sys
if sys.path[:1] == [""]:
    del sys.path[0]
import importlib.util
spec = importlib.util.spec_from_file_location("edgecnn", {init!r}, submodule_search_locations=[{package!r}])
module = importlib.util.module_from_spec(spec)
sys.modules["edgecnn"] = module
spec.loader.exec_module(module)
from edgecnn.child import child_main
sys.exit(child_main())
"""


def child_command() -> list[str]:
    """The command line of a child process: this interpreter, the isolating bootstrap."""
    package = Path(__file__).resolve().parent
    return [sys.executable, "-c", _BOOTSTRAP.format(init=str(package / "__init__.py"), package=str(package))]


def _cap_address_space(memory: int | None) -> None:
    if memory is None:
        return
    try:
        import resource
    except ImportError:  # Windows: no RLIMIT_AS; the timeout still applies
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# (cap in bytes, the variable that sets it) of this process when it is a capped child, for memory_cap_hint().
_ACTIVE_CAP: tuple[int, str] | None = None


def memory_cap_hint() -> str:
    """"; … may need more than the N GiB this process may use (VARIABLE)" in a capped child, else ""."""
    if _ACTIVE_CAP is None:
        return ""
    cap, setting = _ACTIVE_CAP
    return (f"; it may need more memory than the {fmt_size(cap)} of address space this process may use "
            f"(raise it with {setting}={_doubled(cap)}, or 0 for no cap)")


def child_main() -> int:
    """Entry point of the child: read the request, cap memory, call the function, write the reply file."""
    try:
        request = json.loads(sys.stdin.read())
        module_name, func_name = request["function"].split(":", 1)
        result_path = request["result"]
    except (ValueError, KeyError, TypeError, AttributeError):
        print("this is the child process of edgecnn.child.run_in_child (it reads a JSON request on stdin); "
              "not for direct use", file=sys.stderr)
        return 2
    _cap_address_space(request.get("memory"))
    if request.get("memory"):
        global _ACTIVE_CAP
        _ACTIVE_CAP = (int(request["memory"]), str(request.get("memory_setting") or RUNTIME_MEMORY_ENV))
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        reply: dict[str, Any] = {"value": func(**request["kwargs"])}
    except EdgecnnError as exc:
        reply = {"error": str(exc), "exit_code": exc.exit_code}
    except MemoryError:
        reply = {"out_of_memory": True}
    except Exception as exc:  # noqa: BLE001 - reported as one line by the parent
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        reply = {"error": f"the runtime failed: {type(exc).__name__}: {first}".rstrip(": ")}
    Path(result_path).write_text(json.dumps(reply), encoding="utf-8")
    return 0
