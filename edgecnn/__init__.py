"""edgecnn: convolutional neural networks from a Keras definition to a fast, small model on an edge device.

The package is split in two halves, listed module by module in :mod:`edgecnn.layout`. The training half
(zoo, train, optimize, convert, ...) needs the ``[train]`` extra (TensorFlow + tf_keras + tfmot). The runtime
half (runtime, tflite_file, profile, inspect, predict, evaluate, data, targets, ...) imports no TensorFlow and
runs on a Raspberry Pi with only the base install. Importing :mod:`edgecnn` itself stays TensorFlow-free; the
public functions below import their half lazily.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "create_model", "list_models", "train", "convert", "profile"]

# `train`, `convert` and `profile` are submodules (each with a function of the same name:
# ``edgecnn.train.train(...)``), imported on first use so that ``import edgecnn`` stays TensorFlow-free.
_LAZY_SUBMODULES = ("train", "convert", "profile", "zoo", "data", "runs", "optimize", "evaluate",
                    "preprocess", "runtime", "tflite_file", "predict", "inspect_model", "benchmark", "recommend")


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'edgecnn' has no attribute {name!r}")


def create_model(name: str, **kwargs: Any):
    """Build a registered model (see :func:`edgecnn.zoo.create_model`)."""
    from edgecnn.zoo import create_model as _create

    return _create(name, **kwargs)


def list_models(pattern: str = "*") -> list[str]:
    """Names of registered models matching a glob pattern."""
    from edgecnn.zoo import list_models as _list

    return _list(pattern)
