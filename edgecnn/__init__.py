"""edgecnn: convolutional neural networks from a Keras definition to a fast, small model on an edge device.

The package is split in two halves. The training half (zoo, data, train, optimize, convert, evaluate)
needs the ``[train]`` extra (TensorFlow + tf_keras + tfmot). The runtime half (runtime, tflite_file,
profile, inspect, predict, targets) imports no TensorFlow and runs on a Raspberry Pi with only the base
install. Importing :mod:`edgecnn` itself stays TensorFlow-free; the public functions below import their
half lazily.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "create_model", "list_models", "train", "convert", "profile"]


def create_model(name: str, **kwargs: Any):
    """Build a registered model (see :func:`edgecnn.zoo.create_model`)."""
    from edgecnn.zoo import create_model as _create

    return _create(name, **kwargs)


def list_models(pattern: str = "*") -> list[str]:
    """Names of registered models matching a glob pattern."""
    from edgecnn.zoo import list_models as _list

    return _list(pattern)


def train(*args: Any, **kwargs: Any):
    """Train a model; see :func:`edgecnn.train.train`."""
    from edgecnn.train import train as _train

    return _train(*args, **kwargs)


def convert(*args: Any, **kwargs: Any):
    """Optimise and convert a model to TFLite; see :func:`edgecnn.convert.convert`."""
    from edgecnn.convert import convert as _convert

    return _convert(*args, **kwargs)


def profile(*args: Any, **kwargs: Any):
    """Profile a .tflite file; see :func:`edgecnn.profile.profile`."""
    from edgecnn.profile import profile as _profile

    return _profile(*args, **kwargs)
