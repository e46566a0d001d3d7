"""LeNet-5: LeCun et al. 1998, Gradient-Based Learning Applied to Document Recognition, Proc. IEEE 86(11)."""
from __future__ import annotations

from edgecnn._tf import keras
from edgecnn.zoo.blocks import activation_layer, resolve_stem
from edgecnn.zoo.registry import register_model
from edgecnn.zoo.simple import check_knobs, scaled

layers = keras.layers


@register_model("lenet5", family="lenet", paper="LeCun et al. 1998, Gradient-Based Learning Applied to "
                "Document Recognition, Proc. IEEE", params=61_706, macs=416_520,
                canonical_input=(32, 32, 1), canonical_classes=10, small_input=(28, 28, 1), min_input=28,
                aliases=("lenet", "lenet_5"))
def lenet5(input_shape=(32, 32, 1), num_classes=10, width: float = 1.0, activation: str = "tanh",
           stem: str = "auto"):
    """C1 5×5 conv 6 → S2 2×2 average pool → C3 5×5 conv 16 → S4 pool → C5 5×5 conv 120 → F6 Dense 84 →
    Dense(num_classes, softmax); channels × ``width``.

    Canonical (32×32×1, 10 classes; C3 fully connected to S2, as most re-implementations): 61,706 params,
    416,520 MACs (the paper's 60,000 params uses C3's sparse connection table).
    Stem: ``classic`` (valid C1, 32×32 and up) or ``small`` (C1 padded "same", as LeNet on 28×28 MNIST is
    usually built, equivalent to the paper's 2-pixel border); ``auto`` picks small below 32 px.
    The paper's scaled tanh and RBF output are replaced by tanh and softmax.
    """
    check_knobs("lenet5", width, activation)
    chosen = resolve_stem(stem, input_shape, model="lenet5", imagenet_min=32, small_min=28, small_below=32,
                          large="classic")
    inputs = keras.Input(input_shape, name="input")
    x = layers.Conv2D(scaled(6, width), 5, padding="same" if chosen == "small" else "valid", name="c1_conv")(inputs)
    x = activation_layer(activation, f"c1_{activation}")(x)
    x = layers.AveragePooling2D(2, name="s2_pool")(x)
    x = layers.Conv2D(scaled(16, width), 5, name="c3_conv")(x)
    x = activation_layer(activation, f"c3_{activation}")(x)
    x = layers.AveragePooling2D(2, name="s4_pool")(x)
    x = layers.Conv2D(scaled(120, width), 5, name="c5_conv")(x)
    x = activation_layer(activation, f"c5_{activation}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(scaled(84, width), name="f6_fc")(x)
    x = activation_layer(activation, f"f6_{activation}")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="lenet5")
