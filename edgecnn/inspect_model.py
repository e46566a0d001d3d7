"""A static report of a .tflite file, plus which ops the CPU delegate (XNNPACK) takes — TensorFlow-free.

    from edgecnn.inspect_model import inspect_model
    info = inspect_model("model_int8.tflite")
    info["fully_int8"], info["op_histogram"], info["runtime"]["ops_delegated"]

Static facts (inputs/outputs with quantisation, op histogram, parameters, MACs, weight sparsity, float
tensors left) come from :mod:`edgecnn.tflite_file`. Delegation is a fact of the runtime: the model is loaded,
allocated and run once on zeros in a child process (:func:`edgecnn.safety.check_runs`). If the runtime
cannot run the model (e.g. a custom op it lacks), ``runtime`` says so (``ok`` false, ``error``) and the
static report is still returned.
"""
from __future__ import annotations

import os
from typing import Any

from edgecnn.errors import EdgecnnError, UsageError

TARGETS = ("cpu", "coral")


def inspect_model(model_path: str | os.PathLike, *, runtime: bool = True, delegate: str = "xnnpack",
                  target: str = "cpu") -> dict[str, Any]:
    """Everything ``edgecnn inspect`` shows, as a JSON-friendly dict."""
    from edgecnn.safety import load_checked, run_in_child

    if target not in TARGETS:
        raise UsageError(f"--target must be one of {', '.join(TARGETS)}, got {target!r}")
    model = load_checked(model_path)
    info = model.summary()
    info["float_tensor_names"] = [t.name for t in model.float_tensors()][:20]
    if runtime:
        try:
            ran = run_in_child("edgecnn.safety:check_runs", {"model_path": str(model_path), "delegate": delegate},
                               timeout=120.0, label=str(model_path))
            taken = set(ran["delegated"])
            by_type: dict[str, int] = {}
            for op in model.ops:
                if op.index in taken:
                    by_type[op.display_name] = by_type.get(op.display_name, 0) + 1
            info["runtime"] = {
                "ok": True, "delegate": delegate, "delegate_nodes": ran["delegate_nodes"],
                "ops_delegated": len(taken), "ops_total": len(model.ops), "delegated_by_type": by_type,
                "not_delegated": [{"index": op.index, "op": op.display_name} for op in model.ops
                                  if op.index not in taken],
            }
        except EdgecnnError as exc:
            info["runtime"] = {"ok": False, "delegate": delegate, "error": str(exc)}
    if target == "coral":
        from edgecnn.targets.coral import compatibility_report

        info["coral"] = compatibility_report(model_path)
    return info
