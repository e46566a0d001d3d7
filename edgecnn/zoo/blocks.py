"""Building blocks shared by the zoo families, all made of tf_keras layer objects.

Rules every family follows so that tfmot can prune and quantise it and the converter can make full int8
(see docs/DEVELOPING.md): no raw TensorFlow ops on tensors (``x + y`` becomes a TFOpLambda layer that tfmot
rejects: use ``layers.Add()``), no nested models, no preprocessing layers (scaling lives in the input
pipeline, recorded in preprocess.json), custom layers subclass ``PrunableLayer`` and are serialisable.
"""
from __future__ import annotations

from edgecnn._tf import keras

layers = keras.layers


def activation_layer(activation: str, name: str):
    """A Keras layer for an activation name: relu, relu6, hard_swish, swish, gelu, sigmoid, hard_sigmoid."""
    if activation == "relu":
        return layers.ReLU(name=name)
    if activation == "relu6":
        return layers.ReLU(6.0, name=name)
    if activation in ("hard_swish", "hard_sigmoid"):
        from edgecnn.zoo import custom_layers

        return custom_layers.HardSwish(name=name) if activation == "hard_swish" else custom_layers.HardSigmoid(name=name)
    if activation in ("swish", "silu", "gelu", "sigmoid", "tanh"):
        return layers.Activation("swish" if activation == "silu" else activation, name=name)
    raise ValueError(f"unknown activation {activation!r}")


def conv_bn_act(x, filters: int, kernel_size: int | tuple[int, int], strides: int = 1, *,
                activation: str | None = "relu", name: str, padding: str = "same",
                use_bias: bool = False, bn_epsilon: float = 1e-3, bn_momentum: float = 0.99):
    """Conv2D → BatchNormalization → activation (the activation is skipped when ``None``)."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=bn_epsilon, momentum=bn_momentum, name=f"{name}_bn")(x)
    if activation:
        x = activation_layer(activation, f"{name}_{activation}")(x)
    return x


def dwconv_bn_act(x, kernel_size: int, strides: int = 1, *, activation: str | None = "relu", name: str,
                  padding: str = "same", bn_epsilon: float = 1e-3, bn_momentum: float = 0.99):
    """DepthwiseConv2D → BatchNormalization → activation."""
    x = layers.DepthwiseConv2D(kernel_size, strides=strides, padding=padding, use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(epsilon=bn_epsilon, momentum=bn_momentum, name=f"{name}_bn")(x)
    if activation:
        x = activation_layer(activation, f"{name}_{activation}")(x)
    return x


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channel counts to a multiple of ``divisor`` (MobileNet/EfficientNet rule), never down >10%."""
    min_value = min_value or divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


def classifier_head(x, num_classes: int, *, dropout: float = 0.0, name: str = "head"):
    """Global average pooling → optional dropout → Dense logits with softmax."""
    x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return layers.Dense(num_classes, activation="softmax", name=f"{name}_logits")(x)
