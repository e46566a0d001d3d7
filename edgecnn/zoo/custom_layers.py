"""The few layers the zoo needs that tf_keras lacks, written so that tfmot and the TFLite converter accept them.

Why custom layers at all: an expression such as ``x * tf.nn.relu6(x + 3) / 6`` on Keras tensors becomes
``TFOpLambda`` layers, which tfmot refuses to prune or quantise. Wrapping the same arithmetic in a layer keeps
the graph made of layer objects. Each layer here

- subclasses :class:`tfmot.sparsity.keras.PrunableLayer` so whole-model ``prune_low_magnitude`` wraps it
  (their weights are tiny or absent, so ``get_prunable_weights()`` returns ``[]``);
- has ``get_config`` and is registered with ``keras.saving.register_keras_serializable(package="edgecnn")``
  so ``model.save("x.keras")`` / ``keras.models.load_model`` round-trip once this module is imported;
- is listed in :data:`CUSTOM_OBJECTS` (for ``custom_object_scope`` / ``tfmot.quantization.keras.quantize_scope``).

Quantisation-aware training treats them as unsupported layers: annotate them with a ``QuantizeConfig`` that
quantises their output (edgecnn.optimize does). Importing this module imports tfmot (about 1.7 s), so the zoo
imports it only inside the builders that need it.
"""
from __future__ import annotations

from typing import Any

from edgecnn._tf import keras, tf, tfmot

_PrunableLayer = tfmot().sparsity.keras.PrunableLayer
_serializable = keras.saving.register_keras_serializable(package="edgecnn")


@_serializable
class HardSigmoid(keras.layers.Layer, _PrunableLayer):
    """``relu6(x + 3) / 6`` (Howard et al. 2019, MobileNetV3): a piecewise-linear sigmoid.

    Converts to TFLite ADD → RELU6 → MUL (all int8-friendly and Edge TPU–supported). Keras' own
    ``hard_sigmoid`` activation is ``0.2x + 0.5`` clipped, which is a different function.
    """

    def call(self, inputs):
        return tf.nn.relu6(inputs + 3.0) * (1.0 / 6.0)

    def get_prunable_weights(self) -> list:
        return []

    def compute_output_shape(self, input_shape):
        return input_shape


@_serializable
class HardSwish(keras.layers.Layer, _PrunableLayer):
    """``x * relu6(x + 3) / 6`` (MobileNetV3). Written in exactly this form so the TFLite converter fuses it into
    one HARD_SWISH op (which the Edge TPU lacks: use ``activation="relu6"`` on MobileNetV3 for it)."""

    def call(self, inputs):
        return inputs * tf.nn.relu6(inputs + 3.0) * (1.0 / 6.0)

    def get_prunable_weights(self) -> list:
        return []

    def compute_output_shape(self, input_shape):
        return input_shape


@_serializable
class LayerScale(keras.layers.Layer, _PrunableLayer):
    """Per-channel learnable scale ``x * gamma`` (Touvron et al. 2021, CaiT; used by ConvNeXt), gamma starts at
    ``init_value`` (1e-6 in ConvNeXt) so each residual branch starts near zero.

    ``gamma`` has one value per channel: pruning it would switch whole channels off, so it is not prunable.
    """

    def __init__(self, init_value: float = 1e-6, **kwargs: Any):
        super().__init__(**kwargs)
        self.init_value = float(init_value)

    def build(self, input_shape):
        self.gamma = self.add_weight(
            name="gamma", shape=(int(input_shape[-1]),),
            initializer=keras.initializers.Constant(self.init_value), trainable=True,
        )
        super().build(input_shape)

    def call(self, inputs):
        return inputs * self.gamma

    def get_prunable_weights(self) -> list:
        return []

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "init_value": self.init_value}


@_serializable
class ScalarAffine(keras.layers.Layer, _PrunableLayer):
    """``x * scale + offset`` with constant scalars: what ``x + 3``, ``x * 0.5`` or ``x / 255`` on a Keras tensor
    computes as a raw TF op (``TFOpLambda``), as a layer object that tfmot accepts (edgecnn.keras_rewrite makes
    them). Converts to TFLite MUL and/or ADD with a constant; nothing to learn, nothing to prune."""

    def __init__(self, scale: float = 1.0, offset: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.scale = float(scale)
        self.offset = float(offset)

    def call(self, inputs):
        if self.scale != 1.0:
            inputs = inputs * self.scale
        if self.offset != 0.0:
            inputs = inputs + self.offset
        return inputs

    def get_prunable_weights(self) -> list:
        return []

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


#: Every custom layer by the name Keras serialises it under and by its bare class name.
CUSTOM_OBJECTS: dict[str, type] = {}
for _cls in (HardSigmoid, HardSwish, LayerScale, ScalarAffine):
    CUSTOM_OBJECTS[_cls.__name__] = _cls
    CUSTOM_OBJECTS[f"edgecnn>{_cls.__name__}"] = _cls

__all__ = ["CUSTOM_OBJECTS", "HardSigmoid", "HardSwish", "LayerScale", "ScalarAffine"]
