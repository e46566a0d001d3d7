"""The one place that imports TensorFlow, so that every model is a tf_keras (Keras 2) model.

tensorflow-model-optimization works only on Keras 2 models, and TensorFlow 2.16+ defaults to Keras 3;
``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is first imported. Modules of the training half
do ``from edgecnn._tf import tf, keras``; a base install gets a one-line error naming the extra.
"""
from __future__ import annotations

import contextlib
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow prints oneDNN/CUDA banners on import; users of a CLI do not need them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from edgecnn.errors import MissingExtraError  # noqa: E402



@contextlib.contextmanager
def _native_stderr_silenced():
    """Silence file descriptor 2 while TensorFlow's C++ side starts (absl/CUDA banners ignore
    TF_CPP_MIN_LOG_LEVEL). EDGECNN_DEBUG=1 keeps them."""
    if os.environ.get("EDGECNN_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no real fd 2 (embedded interpreters): nothing to silence
        yield
        return
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


try:
    with _native_stderr_silenced():
        import tensorflow as tf  # noqa: E402
        import tf_keras as keras  # noqa: E402

        # Device discovery prints its CUDA errors on a CPU-only machine; do it here, silenced.
        tf.config.list_physical_devices("GPU")
except ImportError as exc:  # pragma: no cover - exercised in the TF-free CI venv
    from edgecnn.child import memory_cap_hint

    if memory_cap_hint():  # a capped child (the converter): TF's libraries did not fit, it is not missing
        raise MemoryError(f"TensorFlow could not load: {exc}") from exc
    raise MissingExtraError("this command", "train", "TensorFlow, tf_keras, tensorflow-model-optimization") from exc

__all__ = ["tf", "keras", "tfmot"]


def tfmot():
    """Import tensorflow_model_optimization lazily (it is slow and only needed for prune/QAT)."""
    try:
        with _native_stderr_silenced():
            import tensorflow_model_optimization as _tfmot
    except ImportError as exc:  # pragma: no cover
        raise MissingExtraError("pruning and quantisation-aware training", "train",
                                "tensorflow-model-optimization") from exc
    return _tfmot
