"""A small baseline CNN (three VGG-style conv–BN–ReLU–max-pool blocks); no paper, a common teaching model.

Also holds the knob checks shared by the classic families (LeNet … DenseNet).
"""
from __future__ import annotations

from edgecnn._tf import keras
from edgecnn.errors import UsageError
from edgecnn.zoo.blocks import activation_layer, check_activation, conv_bn_act
from edgecnn.zoo.registry import register_model

layers = keras.layers

#: Activations the classic families accept (what :func:`edgecnn.zoo.blocks.activation_layer` builds).
ACTIVATIONS = ("relu", "relu6", "swish", "silu", "gelu", "hard_swish", "tanh", "sigmoid")


def check_knobs(model: str, width: float, activation: str) -> None:
    """One-line UsageErrors for the knobs every classic family has (a user's typo, not a bug)."""
    if not width > 0:
        raise UsageError(f"{model}: width must be positive, got {width}")
    check_activation(activation, ACTIVATIONS, model)


def scaled(channels: int, width: float) -> int:
    """Channels times the width multiplier, at least 1 (classic nets have no divisibility rule)."""
    if width <= 0:
        raise UsageError(f"width must be positive, got {width}")
    return max(1, int(round(channels * width)))


@register_model("simple_cnn", family="simple", paper="baseline: 3 conv-BN-ReLU-max-pool blocks (no paper)",
                params=405_450, macs=1_936_426_240, canonical_input=(224, 224, 3), canonical_classes=10,
                small_input=(28, 28, 1), min_input=8, aliases=("simple",))
def simple_cnn(input_shape=(224, 224, 3), num_classes=10, width: float = 1.0, activation: str = "relu"):
    """Three blocks of 3×3 conv (64/128/256 × ``width``) → BN → activation → 2×2 max-pool, then global
    average pooling → Dense 128 → activation → Dropout 0.5 → Dense(num_classes, softmax).

    Canonical (224×224×3, 10 classes): 405,450 learnable params (406,346 with the BN moving
    statistics that Keras counts too), 1.94 G MACs. At 28×28×1: 0.06 G MACs.
    Three 2× pools need at least 8×8 pixels.
    """
    check_knobs("simple_cnn", width, activation)
    inputs = keras.Input(input_shape, name="input")
    x = inputs
    for i, filters in enumerate((64, 128, 256), start=1):
        x = conv_bn_act(x, scaled(filters, width), 3, activation=activation, name=f"block{i}")
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    x = layers.Dense(scaled(128, width), name="head_fc")(x)
    x = activation_layer(activation, f"head_{activation}")(x)
    x = layers.Dropout(0.5, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="simple_cnn")
