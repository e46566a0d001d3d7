"""Random weights that keep a deep network's signal: for timing studies of untrained (canonical) models.

Keras' default initialisers leave the activations of a deep random net near zero (its DepthwiseConv2D
default divides by the channel count too: after 13 MobileNet blocks activations are ~1e-16). Int8
calibration on such a net is odd, and two kernel paths' outputs compare equal by accident. He-normal weights
per *true* fan-in keep every layer's output at the scale of its input.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def he_init(model: Any, seed: int = 0) -> None:
    """Re-draw every Conv2D / DepthwiseConv2D / Dense kernel of ``model`` He-normal per true fan-in (9 for a
    depthwise 3×3), in place; biases and other weights stay."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in ("Conv2D", "DepthwiseConv2D", "Dense"):
            continue
        kernel, *rest = layer.get_weights()
        fan_in = int(np.prod(kernel.shape[:2])) if kind == "DepthwiseConv2D" else int(np.prod(kernel.shape[:-1]))
        kernel = rng.normal(0.0, np.sqrt(2.0 / fan_in), kernel.shape).astype(np.float32)
        layer.set_weights([kernel, *rest])
